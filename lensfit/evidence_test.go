package lensfit

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
	"gonum.org/v1/gonum/mat"
)

func sigmaOne(float64) float64 { return 1 }

// smallProblem is a tiny lens with a PSF, a noise map and a mask.
func smallProblem(t testing.TB, nObs, nSrc int) (lens.Config, Data, *posterior.GRF, lens.Params) {
	t.Helper()
	psf, err := lens.GaussianPSF(0.2, 0.12, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lens.Config{Obs: lens.Grid{N: nObs, Scale: 0.12}, Src: lens.Grid{N: nSrc, Scale: 0.08}, PSF: psf}
	rng := rand.New(rand.NewPCG(3, 4))
	p := make([]float64, nSrc*nSrc)
	for ky := 0; ky < nSrc; ky++ {
		for kx := 0; kx < nSrc; kx++ {
			fy, fx := float64(min(ky, nSrc-ky)), float64(min(kx, nSrc-kx))
			p[ky*nSrc+kx] = 0.5/(1+fx*fx+fy*fy) + 0.01*rng.Float64()
		}
	}
	g, err := posterior.NewGRF(nSrc, nSrc, 0.05, p, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	truth := lens.Params{0.5, 0.1, -0.05, 0.02, -0.03, 0.03, 0.01}
	src := make([]float64, nSrc*nSrc)
	posterior.Draw(src, g, rng)
	op, err := lens.NewOperator(truth.Mass(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := nObs * nObs
	y := make([]float64, m)
	op.Apply(y, src)
	sig := make([]float64, m)
	keep := make([]bool, m)
	for i := range y {
		sig[i] = 0.02 + 0.02*rng.Float64()
		y[i] += sig[i] * rng.NormFloat64()
		keep[i] = i%7 != 3
	}
	return cfg, Data{Y: y, SigmaN: sig, Keep: keep}, g, truth
}

// denseLogEvidence is log N(y | Aμ₀ + Bm, N + a²AΣ₀Aᵀ + B diag(s²) Bᵀ) over
// the kept pixels, by a dense Cholesky of the data covariance.
func denseLogEvidence(t *testing.T, cfg lens.Config, d Data, prior posterior.GaussianPrior, p lens.Params, logA float64, extra []Component) float64 {
	op, err := lens.NewOperator(p.Mass(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, n := op.Dims()
	var kept []int
	for i := 0; i < m; i++ {
		if d.Keep == nil || d.Keep[i] {
			kept = append(kept, i)
		}
	}
	a := mat.NewDense(len(kept), n, nil)
	for r, i := range kept {
		for j := 0; j < n; j++ {
			a.Set(r, j, op.At(i, j))
		}
	}
	s := prior.Cov()
	var as, cov mat.Dense
	as.Mul(a, s)
	cov.Mul(&as, a.T())
	cov.Scale(math.Exp(2*logA), &cov)
	mean := make([]float64, m)
	op.Apply(mean, prior.Mean())
	for r, i := range kept {
		sg := d.SigmaN[0]
		if len(d.SigmaN) > 1 {
			sg = d.SigmaN[i]
		}
		cov.Set(r, r, cov.At(r, r)+sg*sg)
		for r2, i2 := range kept {
			for _, c := range extra {
				cov.Set(r, r2, cov.At(r, r2)+c.Sigma*c.Sigma*c.Image[i]*c.Image[i2])
			}
		}
	}
	res := make([]float64, len(kept))
	for r, i := range kept {
		res[r] = d.Y[i] - mean[i]
		for _, c := range extra {
			res[r] -= c.Mean * c.Image[i]
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(mat.NewSymDense(len(kept), cov.RawMatrix().Data)) {
		t.Fatal("data covariance not positive definite")
	}
	z := mat.NewVecDense(len(kept), nil)
	if err := ch.SolveVecTo(z, mat.NewVecDense(len(kept), res)); err != nil {
		t.Fatal(err)
	}
	return -0.5 * (mat.Dot(z, mat.NewVecDense(len(kept), res)) + ch.LogDet() + float64(len(kept))*math.Log(2*math.Pi))
}

func TestEvidenceMatchesDense(t *testing.T) {
	cfg, d, g, truth := smallProblem(t, 20, 8)
	m := cfg.Obs.Len()
	extra := []Component{{Image: make([]float64, m), Mean: 0.3, Sigma: 2}, {Image: make([]float64, m), Mean: 0, Sigma: 10}}
	for i := range extra[0].Image {
		x, y := cfg.Obs.Coord(i%cfg.Obs.N), cfg.Obs.Coord(i/cfg.Obs.N)
		extra[0].Image[i] = math.Exp(-(x*x + y*y) / 0.1)
		extra[1].Image[i] = 1 / (1 + 4*(x*x+2*y*y))
	}
	iso, err := posterior.NewIsoGaussian(make([]float64, 64), 0.3, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	smooth, err := SmoothGRF(8, 2)
	if err != nil {
		t.Fatal(err)
	}
	other := truth
	other[lens.PThetaE] *= 1.1
	other[lens.PGamma1] = -0.04
	// A small asymmetric PSF: some kept pixels at the corners see no
	// source, and the orientation of the taps matters.
	cfgSmall := cfg
	cfgSmall.PSF = &lens.PSF{Rows: 3, Cols: 5, Kernel: []float64{0.01, 0.02, 0.05, 0.03, 0, 0.04, 0.1, 0.3, 0.12, 0.05, 0.02, 0.06, 0.1, 0.07, 0.03}}
	cfgSuper4 := cfg
	cfgSuper4.Supersample = 4
	for _, c := range []struct {
		name  string
		cfg   lens.Config
		prior posterior.GaussianPrior
		p     lens.Params
		logA  float64
		extra []Component
	}{
		{"grf", cfg, g, truth, 0, nil}, {"grf-scaled-extra", cfg, g, other, 0.4, extra},
		{"iso", cfg, iso, truth, -0.3, nil}, {"iso-extra", cfg, iso, other, 0.2, extra[:1]},
		{"grf-small-psf-extra", cfgSmall, g, other, -0.2, extra},
		{"smooth", cfg, smooth, truth, -1, nil}, {"smooth-super4-extra", cfgSuper4, smooth, other, -0.5, extra},
	} {
		want := denseLogEvidence(t, c.cfg, d, c.prior, c.p, c.logA, c.extra)
		for _, route := range []Route{RouteSource, RouteData} {
			ev, err := NewEvidence(c.cfg, d, c.prior)
			if err != nil {
				t.Fatal(err)
			}
			ev.SetRoute(route)
			got, err := ev.LogEvidence(c.p.Mass(), c.logA, c.extra)
			if err != nil {
				t.Fatal(err)
			}
			if ev.LastRoute() != route {
				t.Errorf("%s: route %v taken, want %v", c.name, ev.LastRoute(), route)
			}
			if route == RouteData && c.name == "grf-small-psf-extra" {
				inI := map[int32]bool{}
				for _, i := range ev.ds.act {
					inI[i] = true
				}
				beyond := 0
				for _, j := range ev.ds.dil {
					if !inI[j] {
						beyond++
					}
				}
				// Some kept pixels see no source, and the PSF reaches
				// pixels outside the coupled set (masked ones).
				if len(ev.ds.rest) == 0 || beyond == 0 {
					t.Errorf("%s: %d kept pixels outside I, %d pixels of J outside I: the test does not exercise every branch",
						c.name, len(ev.ds.rest), beyond)
				}
			}
			if rel := math.Abs(got-want) / math.Abs(want); !(rel <= 1e-8) {
				t.Errorf("%s (%v route): log evidence %.12g, dense %.12g (relative error %.2g)", c.name, route, got, want, rel)
			}
		}
	}
}

// TestRoutesPosteriorMean: the posterior mean of the source and of the
// component amplitudes agrees between the source- and data-space routes.
func TestRoutesPosteriorMean(t *testing.T) {
	cfg, d, g, truth := smallProblem(t, 10, 8)
	m := cfg.Obs.Len()
	extra := []Component{{Image: make([]float64, m), Mean: 0.3, Sigma: 2}}
	for i := range extra[0].Image {
		x, y := cfg.Obs.Coord(i%cfg.Obs.N), cfg.Obs.Coord(i/cfg.Obs.N)
		extra[0].Image[i] = math.Exp(-(x*x + y*y) / 0.3)
	}
	iso, err := posterior.NewIsoGaussian(make([]float64, 64), 0.3, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	for _, prior := range []posterior.GaussianPrior{g, iso} {
		var means [2][]float64
		for r, route := range []Route{RouteSource, RouteData} {
			ev, err := NewEvidence(cfg, d, prior)
			if err != nil {
				t.Fatal(err)
			}
			ev.SetRoute(route)
			if _, err := ev.LogEvidence(truth.Mass(), 0.3, extra); err != nil {
				t.Fatal(err)
			}
			means[r] = make([]float64, 65)
			if err := ev.PosteriorMean(means[r][:64], means[r][64:]); err != nil {
				t.Fatal(err)
			}
		}
		for j := range means[0] {
			if math.Abs(means[0][j]-means[1][j]) > 1e-9*(1+math.Abs(means[0][j])) {
				t.Fatalf("%T: posterior mean [%d] = %.12g (source route), %.12g (data route)", prior, j, means[0][j], means[1][j])
			}
		}
	}
}

// annulusProblem is the 64² benchmark geometry with an annular mask
// 0.6″–2″ (about 1900 kept pixels) when masked.
func annulusProblem(t testing.TB, nSrc int, masked bool) (lens.Config, Data, *posterior.GRF) {
	psf, err := lens.GaussianPSF(0.1, 0.078125, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lens.Config{Obs: lens.Grid{N: 64, Scale: 0.078125}, Src: lens.Grid{N: nSrc, Scale: 3.2 / float64(nSrc)}, PSF: psf}
	p := make([]float64, nSrc*nSrc)
	for ky := 0; ky < nSrc; ky++ {
		for kx := 0; kx < nSrc; kx++ {
			fy, fx := float64(min(ky, nSrc-ky)), float64(min(kx, nSrc-kx))
			p[ky*nSrc+kx] = 1 / (1 + (fx*fx+fy*fy)*(fx*fx+fy*fy))
		}
	}
	g, err := posterior.NewGRF(nSrc, nSrc, 0.05, p, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, 64*64)
	for i := range y {
		y[i] = 0.01 * rng.NormFloat64()
	}
	var keep []bool
	if masked {
		keep = make([]bool, len(y))
		for i := range keep {
			x, y := cfg.Obs.Coord(i%64), cfg.Obs.Coord(i/64)
			r := math.Hypot(x, y)
			keep[i] = r >= 0.6 && r <= 2
		}
	}
	return cfg, Data{Y: y, SigmaN: []float64{0.01}, Keep: keep}, g
}

// TestAutoRoute: the automatic choice takes the data-space route for an
// annular mask (≈ 1900 kept pixels) and a 64² source, and the source-space
// route for a full 64² image and a 32² source.
func TestAutoRoute(t *testing.T) {
	mass := lens.Params{1.2, 0.1, -0.05, 0.02, -0.03, 0.03, 0.01}.Mass()
	for _, c := range []struct {
		masked bool
		nSrc   int
		want   Route
	}{{true, 64, RouteData}, {false, 32, RouteSource}} {
		cfg, d, g := annulusProblem(t, c.nSrc, c.masked)
		ev, err := NewEvidence(cfg, d, g)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ev.LogEvidence(mass, 0, nil); err != nil {
			t.Fatal(err)
		}
		if ev.LastRoute() != c.want {
			t.Errorf("masked=%v: route %v, want %v", c.masked, ev.LastRoute(), c.want)
		}
		if c.masked {
			// The data route's loops run on goroutines here (|I|·|J| is
			// large): a few small closures, no buffers, per evaluation.
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			if _, err := ev.LogEvidence(mass, 0.1, nil); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&m1)
			if b := m1.TotalAlloc - m0.TotalAlloc; b > 4096 {
				t.Errorf("data route with goroutines: %d bytes allocated per evaluation, want ≤ 4096", b)
			}
		}
	}
}

// TestPosteriorMeanMatchesInvert compares the posterior mean with
// posterior.Invert at the same amplitude (no extra components).
func TestPosteriorMeanMatchesInvert(t *testing.T) {
	cfg, d, g, truth := smallProblem(t, 10, 8)
	ev, err := NewEvidence(cfg, d, g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.LogEvidence(truth.Mass(), math.Log(1.5), nil); err != nil {
		t.Fatal(err)
	}
	mu := make([]float64, 64)
	if err := ev.PosteriorMean(mu, nil); err != nil {
		t.Fatal(err)
	}
	op, _ := lens.NewOperator(truth.Mass(), cfg)
	inv, err := posterior.Invert(op, d.Y, d.SigmaN, g, posterior.InvertOptions{Keep: d.Keep, Scale: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	for j := range mu {
		if math.Abs(mu[j]-inv.Mean[j]) > 1e-9*(1+math.Abs(inv.Mean[j])) {
			t.Fatalf("mean[%d] = %g, Invert %g", j, mu[j], inv.Mean[j])
		}
	}
	if math.Abs(ev.last-inv.LogEvidence) > 1e-8*math.Abs(inv.LogEvidence) {
		t.Errorf("log evidence %g, Invert %g", ev.last, inv.LogEvidence)
	}
}

// sersicProblem is a noise-free simulation of a Sérsic source rendered on
// the source grid, so that y = A x_true exactly at the true lens.
func sersicProblem(t testing.TB, nObs, nSrc int, truth lens.Params, sigma float64) (lens.Config, Data, []float64) {
	t.Helper()
	psf, err := lens.GaussianPSF(0.12, 0.1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lens.Config{Obs: lens.Grid{N: nObs, Scale: 0.1}, Src: lens.Grid{N: nSrc, Scale: 0.06}, PSF: psf}
	src := lens.Render(lens.Sersic{Amp: 1, RSersic: 0.15, NSersic: 1.2, Q: 0.7, Phi: 0.4, CenterX: 0.05, CenterY: -0.03}, cfg.Src, 4)
	op, err := lens.NewOperator(truth.Mass(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float64, cfg.Obs.Len())
	op.Apply(y, src)
	return cfg, Data{Y: y, SigmaN: []float64{sigma}}, src
}

// TestEvidencePeaksAtTruth: with noise-free data the evidence is larger at
// the true lens than a small step away along every parameter.
func TestEvidencePeaksAtTruth(t *testing.T) {
	truth := lens.Params{0.8, 0.12, -0.08, 0.03, -0.02, 0.04, -0.03}
	cfg, d, _ := sersicProblem(t, 24, 20, truth, 0.01)
	iso, err := posterior.NewIsoGaussian(make([]float64, 400), 0.5, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvidence(cfg, d, iso)
	if err != nil {
		t.Fatal(err)
	}
	at := func(p lens.Params) float64 {
		v, err := ev.LogEvidence(p.Mass(), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	best := at(truth)
	steps := [lens.NumParams]float64{0.016, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01}
	for i, h := range steps {
		for _, s := range []float64{-1, 1, -3, 3} {
			p := truth
			p[i] += s * h
			if v := at(p); !(v < best) {
				t.Errorf("%s %+g: log evidence %.3f, not below %.3f at the truth", lens.ParamNames[i], s*h, v, best)
			}
		}
	}
}

func TestEvidenceSteadyStateAllocations(t *testing.T) {
	cfg, d, g, truth := smallProblem(t, 10, 8)
	m := cfg.Obs.Len()
	extra := []Component{{Image: make([]float64, m), Sigma: 2}}
	for i := range extra[0].Image {
		extra[0].Image[i] = 1 / (1 + float64(i%7))
	}
	for _, route := range []Route{RouteAuto, RouteSource, RouteData} {
		ev, err := NewEvidence(cfg, d, g)
		if err != nil {
			t.Fatal(err)
		}
		ev.SetRoute(route)
		mass, other := truth.Mass(), lens.Params{0.55, 0, 0.05, 0, 0, 0, 0}.Mass()
		if _, err := ev.LogEvidence(mass, 0, extra); err != nil {
			t.Fatal(err)
		}
		// The OpenBLAS calls (through purego) allocate a few small argument
		// blocks; the evaluation itself allocates nothing.
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for i := range 6 {
			if i%2 == 0 {
				ev.LogEvidence(other, 0.1, extra)
			} else {
				ev.LogEvidence(mass, 0, extra)
			}
		}
		runtime.ReadMemStats(&m1)
		if b := (m1.TotalAlloc - m0.TotalAlloc) / 6; b > 1024 {
			t.Errorf("%v route: %d bytes allocated per evaluation, want ≤ 1024", route, b)
		}
	}
}

// TestExtraComponentAmplitude: a lens-light template added to the data
// with amplitude 0.7 is recovered by the posterior mean of its wide-prior
// amplitude, and including it raises the evidence.
func TestExtraComponentAmplitude(t *testing.T) {
	truth := lens.Params{0.8, 0.12, -0.08, 0.03, -0.02, 0.04, -0.03}
	cfg, d, _ := sersicProblem(t, 24, 20, truth, 0.01)
	light := lens.Render(lens.Sersic{Amp: 1, RSersic: 0.5, NSersic: 4, Q: 0.8, Phi: 0.2}, cfg.Obs, 2)
	conv := make([]float64, len(light))
	cfg.PSF.Convolve(conv, light, cfg.Obs.N)
	for i := range d.Y {
		d.Y[i] += 0.7 * conv[i]
	}
	iso, _ := posterior.NewIsoGaussian(make([]float64, 400), 0.5, sigmaOne)
	ev, err := NewEvidence(cfg, d, iso)
	if err != nil {
		t.Fatal(err)
	}
	without, err := ev.LogEvidence(truth.Mass(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	with, err := ev.LogEvidence(truth.Mass(), 0, []Component{{Image: conv, Sigma: 100}})
	if err != nil {
		t.Fatal(err)
	}
	src, amp := make([]float64, 400), make([]float64, 1)
	if err := ev.PosteriorMean(src, amp); err != nil {
		t.Fatal(err)
	}
	if math.Abs(amp[0]-0.7) > 0.01 {
		t.Errorf("lens-light amplitude %g, want 0.7", amp[0])
	}
	if !(with > without+100) {
		t.Errorf("log evidence with the lens light %g, without %g", with, without)
	}
}
