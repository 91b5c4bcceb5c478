package posterior

import (
	"context"
	"gonum.org/v1/gonum/mat"
	"math"
	"testing"
)

// Bias of the approximate likelihood scores against the exact posterior for
// the lens-like operator (8×8 source, 10×10 image, SIS + PSF) at two noise
// levels. Logged: RMS over pixels of (sample mean − μ_post)/σ_post, the
// largest such value and the mean ratio of sample to exact variance. The
// exact likelihood is run alongside as the Monte Carlo reference. Only loose
// sanity bounds are asserted: these are approximations.
func TestConvolvedLikelihoodBias(t *testing.T) {
	for _, sn := range []float64{0.1, 0.02} {
		p := newProblem(t, false, sn)
		conv, _ := NewConvolved(p.op, p.y, p.sn, nil, testVE.Sigma)
		diag, _ := NewDiag(p.op, p.y, p.sn, nil, testVE.Sigma)
		for _, c := range []struct {
			name string
			lik  Likelihood
		}{{"exact", p.exact}, {"convolved", conv}, {"diag", diag}} {
			res, err := Sample(context.Background(), p.prior, c.lik, testVE, Options{Seed: 7, Chains: 500})
			if err != nil {
				t.Fatal(err)
			}
			n := len(p.inv.Mean)
			var rms, worst, vr float64
			for i := 0; i < n; i++ {
				var m, v float64
				for _, s := range res.Samples {
					m += s[i] / float64(len(res.Samples))
				}
				for _, s := range res.Samples {
					v += (s[i] - m) * (s[i] - m) / float64(len(res.Samples)-1)
				}
				z := (m - p.inv.Mean[i]) / p.inv.Std[i]
				rms += z * z / float64(n)
				worst = math.Max(worst, math.Abs(z))
				vr += v / (p.inv.Std[i] * p.inv.Std[i]) / float64(n)
			}
			rms = math.Sqrt(rms)
			t.Logf("σ_n=%-5g %-9s: mean error RMS %.3f σ_post (max %.2f), variance ratio %.3f (MC noise on the mean error ≈ %.3f σ_post)",
				sn, c.name, rms, worst, vr, 1/math.Sqrt(float64(len(res.Samples))))
			if c.name == "diag" {
				continue // logged only: unstable with EM at the auto step count (see below)
			}
			if rms > 5 || vr < 0.1 || vr > 20 {
				t.Errorf("σ_n=%g %s: implausible bias (RMS %.2f, variance ratio %.2f)", sn, c.name, rms, vr)
			}
		}
	}
	// Why diag diverges: its likelihood precision Aᵀdiag(1/(σ²d))A has
	// largest eigenvalue κ/σ² with κ = λ_max(Aᵀ diag(1/d) A) ≫ 1 when PSF
	// blurring correlates neighbouring rows; EM is stable only while
	// g²Δt·κ/σ² = (γ²−1)κ < 2 with γ = (σ_max/σ_min)^(1/N).
	p := newProblem(t, false, 0.1)
	m, n := p.op.Dims()
	d := make([]float64, m)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			d[i] += p.op.a[i*n+j] * p.op.a[i*n+j]
		}
	}
	b := mat.NewSymDense(n, nil)
	for i := 0; i < m; i++ {
		if d[i] == 0 {
			continue
		}
		for j := 0; j < n; j++ {
			for k := j; k < n; k++ {
				b.SetSym(j, k, b.At(j, k)+p.op.a[i*n+j]*p.op.a[i*n+k]/d[i])
			}
		}
	}
	var e mat.EigenSym
	e.Factorize(b, false)
	ev := e.Values(nil)
	steps, _ := testVE.StepsFor(n, DefaultTarget)
	g := math.Pow(testVE.SigmaMax/testVE.SigmaMin, 1/float64(steps))
	t.Logf("diag stiffness κ = %.1f; (γ²−1)κ = %.2f at %d steps (EM stable below 2)", ev[n-1], (g*g-1)*ev[n-1], steps)
	if ev[n-1] < 1 {
		t.Errorf("κ = %g < 1 is impossible (λ_max(AᵀD⁻¹A) ≥ 1)", ev[n-1])
	}
}
