package diag

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gaussianSims draws J truths θ ~ N(0, I_d), observations y = θ + n with
// n ~ N(0, I_d), and K samples from N(y/2 + bias, (widen² / 2) I). With
// widen = 1 and bias = 0 this is the exact posterior.
func gaussianSims(seed uint64, J, K, d int, widen, bias float64) ([][][]float64, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	truths := make([][]float64, J)
	samples := make([][][]float64, J)
	sd := widen * math.Sqrt(0.5)
	for j := range J {
		th := make([]float64, d)
		y := make([]float64, d)
		for i := range d {
			th[i] = rng.NormFloat64()
			y[i] = th[i] + rng.NormFloat64()
		}
		truths[j] = th
		samples[j] = make([][]float64, K)
		for k := range K {
			s := make([]float64, d)
			for i := range d {
				s[i] = y[i]/2 + bias + sd*rng.NormFloat64()
			}
			samples[j][k] = s
		}
	}
	return samples, truths
}

func at(r *TARPResult, alpha float64) float64 {
	return r.ECP[int(math.Round(alpha*float64(len(r.Alpha)-1)))]
}

func TestTARPCalibrated(t *testing.T) {
	const J, K = 400, 200
	for _, d := range []int{1, 16} {
		s, th := gaussianSims(5, J, K, d, 1, 0)
		res, err := TARP(s, th, TARPOptions{Seed: 1, Bootstrap: 200})
		if err != nil {
			t.Fatal(err)
		}
		// 3 MC standard deviations at α = 1/2 plus the 1/(K+1) bias of a
		// K-sample rank.
		lim := 3*0.5/math.Sqrt(J) + 1.0/(K+1)
		t.Logf("d=%d calibrated: max|ECP−α| = %.4f at α=%.2f (limit %.4f); boot σ(0.5)=%.4f", d, res.MaxDev, res.AtAlpha, lim, res.BootSigma[50])
		if res.MaxDev > lim {
			t.Errorf("d=%d: calibrated posterior max|ECP−α| = %.4f > %.4f", d, res.MaxDev, lim)
		}
		if b, want := res.BootSigma[50], res.Sigma[50]; math.Abs(b-want) > 0.3*want {
			t.Errorf("d=%d: bootstrap σ(0.5) = %.4f, binomial %.4f", d, b, want)
		}
		if res.ECP[0] != 0 || res.Sigma[50] != 0.5/math.Sqrt(J) {
			t.Errorf("ECP(0) = %g, σ(0.5) = %g", res.ECP[0], res.Sigma[50])
		}
	}
}

// TestTARPMiscalibrated checks the direction of the departures. With
// references far from the posterior compared with its width, ‖s−r‖ −
// ‖θ−r‖ ≈ u·(s−θ) + (‖(s−μ)⊥‖² − ‖(θ−μ)⊥‖²)/(2‖μ−r‖), u the unit vector
// from r to the posterior mean μ. In many dimensions the second, radial
// term dominates: over-dispersed samples lie farther from r than the
// truth, f is small and ECP(α) lies ABOVE the diagonal; under-dispersed
// samples lie closer, f is large and ECP lies BELOW. (In one dimension only
// the first term exists: f = Φ(z·σ_true/σ_post) and the curve is
// S-shaped, symmetric about α = 1/2.)
func TestTARPMiscalibrated(t *testing.T) {
	const J, K, d = 300, 100, 16
	over, th := gaussianSims(7, J, K, d, 2, 0)
	ro, _ := TARP(over, th, TARPOptions{Seed: 2})
	under, th2 := gaussianSims(7, J, K, d, 0.5, 0)
	ru, _ := TARP(under, th2, TARPOptions{Seed: 2})
	biased, th3 := gaussianSims(7, J, K, d, 1, 1)
	rb, _ := TARP(biased, th3, TARPOptions{Seed: 2})
	sd := 0.5 / math.Sqrt(J)
	t.Logf("over: ECP(.5)=%.3f max %.3f; under: ECP(.5)=%.3f max %.3f; biased: max %.3f at %.2f",
		at(ro, 0.5), ro.MaxDev, at(ru, 0.5), ru.MaxDev, rb.MaxDev, rb.AtAlpha)
	if at(ro, 0.5) < 0.5+5*sd {
		t.Errorf("over-dispersed ECP(0.5) = %.3f, want well above 0.5", at(ro, 0.5))
	}
	if at(ru, 0.5) > 0.5-5*sd {
		t.Errorf("under-dispersed ECP(0.5) = %.3f, want well below 0.5", at(ru, 0.5))
	}
	if rb.MaxDev < 5*sd {
		t.Errorf("biased posterior max|ECP−α| = %.3f, want > %.3f", rb.MaxDev, 5*sd)
	}
	// One dimension: S-shape, over-dispersed below the diagonal at α=0.25
	// and above at α=0.75.
	o1, t1 := gaussianSims(8, J, K, 1, 2, 0)
	r1, _ := TARP(o1, t1, TARPOptions{Seed: 3})
	if !(at(r1, 0.25) < 0.25-3*sd && at(r1, 0.75) > 0.75+3*sd) {
		t.Errorf("1-D over-dispersed ECP(0.25)=%.3f ECP(0.75)=%.3f, want S-shape", at(r1, 0.25), at(r1, 0.75))
	}
}

func TestTARPDeterministicAndNormalized(t *testing.T) {
	s, th := gaussianSims(9, 50, 40, 3, 1, 0)
	a, _ := TARP(s, th, TARPOptions{Seed: 4, Normalize: true})
	b, _ := TARP(s, th, TARPOptions{Seed: 4, Normalize: true})
	for j := range a.F {
		if a.F[j] != b.F[j] {
			t.Fatalf("same seed gave f[%d] = %g and %g", j, a.F[j], b.F[j])
		}
	}
	c, _ := TARP(s, th, TARPOptions{Seed: 5})
	if c.References[0][0] == a.References[0][0] {
		t.Error("different seeds gave the same reference point")
	}
	// A per-dimension affine change of units leaves normalised TARP
	// unchanged (the default reference box transforms with the data).
	sc := []float64{1000, 1, 0.001}
	sh := []float64{5, -3, 0}
	tr := func(v []float64) []float64 {
		o := make([]float64, len(v))
		for i := range v {
			o[i] = sc[i]*v[i] + sh[i]
		}
		return o
	}
	s2 := make([][][]float64, len(s))
	th2 := make([][]float64, len(th))
	for j := range s {
		th2[j] = tr(th[j])
		for _, x := range s[j] {
			s2[j] = append(s2[j], tr(x))
		}
	}
	n2, _ := TARP(s2, th2, TARPOptions{Seed: 4, Normalize: true})
	u2, _ := TARP(s2, th2, TARPOptions{Seed: 4})
	diffU := 0
	for j := range a.F {
		if n2.F[j] != a.F[j] {
			t.Errorf("normalised f[%d] changed with units: %g vs %g", j, n2.F[j], a.F[j])
		}
		if u2.F[j] != a.F[j] {
			diffU++
		}
	}
	if diffU == 0 {
		t.Error("unnormalised TARP is unchanged by a change of units; the test cannot discriminate")
	}
	// Caller-given references are used as given.
	refs := make([][]float64, len(th))
	for j := range refs {
		refs[j] = []float64{100, 100, 100}
	}
	g, _ := TARP(s, th, TARPOptions{References: refs})
	if g.References[3][1] != 100 {
		t.Error("caller references not used")
	}
	if _, err := TARP(s, th[:3], TARPOptions{}); err == nil {
		t.Error("mismatched J accepted")
	}
	if _, err := TARP(s, th, TARPOptions{References: refs[:2]}); err == nil {
		t.Error("short References accepted")
	}
}
