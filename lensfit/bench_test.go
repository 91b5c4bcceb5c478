package lensfit

import (
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
)

// BenchmarkLogEvidence64 is one evidence evaluation at a 64² source and a
// 64² observation with an 11×11-tap Gaussian PSF and a GRF prior (the
// issue's speed goal: ≤ 0.5 s on 2 cores).
// It also reports the process CPU time per evaluation (cpu-s/op, all
// threads), which on a shared machine bounds the unloaded wall time from
// above for one thread.
func BenchmarkLogEvidence64(b *testing.B) {
	b.Run("threads=1", func(b *testing.B) { benchEvidence(b, 64, 0.05, 1) })
	b.Run("threads=2", func(b *testing.B) { benchEvidence(b, 64, 0.05, 2) })
}

// BenchmarkLogEvidence32 is the same observation with a 32² source of
// twice the pixel size (the lens-recovery experiment's evidence grid), on
// one and two threads.
func BenchmarkLogEvidence32(b *testing.B) {
	b.Run("threads=1", func(b *testing.B) { benchEvidence(b, 32, 0.1, 1) })
	b.Run("threads=2", func(b *testing.B) { benchEvidence(b, 32, 0.1, 2) })
}

func benchEvidence(b *testing.B, n int, srcScale float64, threads int) {
	psf, err := lens.GaussianPSF(0.1, 0.078125, 0)
	if err != nil {
		b.Fatal(err)
	}
	cfg := lens.Config{Obs: lens.Grid{N: 64, Scale: 0.078125}, Src: lens.Grid{N: n, Scale: srcScale}, PSF: psf}
	p := make([]float64, n*n)
	for ky := 0; ky < n; ky++ {
		for kx := 0; kx < n; kx++ {
			fy, fx := float64(min(ky, n-ky)), float64(min(kx, n-kx))
			p[ky*n+kx] = 1 / (1 + (fx*fx+fy*fy)*(fx*fx+fy*fy))
		}
	}
	g, err := posterior.NewGRF(n, n, 0.05, p, sigmaOne)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, 64*64)
	for i := range y {
		y[i] = 0.01 * rng.NormFloat64()
	}
	ev, err := NewEvidence(cfg, Data{Y: y, SigmaN: []float64{0.01}}, g)
	if err != nil {
		b.Fatal(err)
	}
	if threads > 0 {
		ev.SetThreads(threads)
	}
	lp := lens.Params{1.2, 0.1, -0.05, 0.02, -0.03, 0.03, 0.01}
	mass := lp.Mass()
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ev.LogEvidence(mass, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := func(r syscall.Rusage) float64 {
		return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)*1e-6
	}
	b.ReportMetric((cpu(r1)-cpu(r0))/float64(b.N), "cpu-s/op")
}

// BenchmarkLogEvidenceRoutes compares, in one run, the two exact routes
// (and the automatic choice) at a 64² source and a 64² observation, with
// and without an annular mask 0.6″–2″ (≈ 1900 kept pixels), on two
// threads: mask=annulus/route=source is the former implementation.
func BenchmarkLogEvidenceRoutes(b *testing.B) {
	mass := lens.Params{1.2, 0.1, -0.05, 0.02, -0.03, 0.03, 0.01}.Mass()
	for _, masked := range []bool{true, false} {
		cfg, d, g := annulusProblem(b, 64, masked)
		ev, err := NewEvidence(cfg, d, g)
		if err != nil {
			b.Fatal(err)
		}
		ev.SetThreads(2)
		name := "mask=none"
		if masked {
			name = "mask=annulus"
		}
		for _, route := range []Route{RouteSource, RouteData, RouteAuto} {
			b.Run(name+"/route="+route.String(), func(b *testing.B) {
				ev.SetRoute(route)
				if _, err := ev.LogEvidence(mass, 0, nil); err != nil { // buffers
					b.Fatal(err)
				}
				var r0, r1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := ev.LogEvidence(mass, 0, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
				b.ReportMetric((cpuSeconds(r1)-cpuSeconds(r0))/float64(b.N), "cpu-s/op")
				if route == RouteData || route == RouteAuto {
					b.ReportMetric(float64(len(ev.ds.act)), "I")
					b.ReportMetric(float64(len(ev.ds.dil)), "J")
				}
			})
		}
	}
}

func cpuSeconds(r syscall.Rusage) float64 {
	return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)*1e-6
}
