package lensfit

import (
	"context"
	"math"
	"testing"

	"github.com/lenscore/lenscore/lens"
)

// TestPolyFitExact: a quartic through 9 points is recovered to rounding.
func TestPolyFitExact(t *testing.T) {
	want := []float64{1.5, -2, 0.25, 3, -0.75}
	var x, y []float64
	for i := -4; i <= 4; i++ {
		u := 0.3 * float64(i)
		x = append(x, u)
		y = append(y, polyEval(want, u/1.2))
	}
	got, err := polyFit(x, y, 1.2, 4)
	if err != nil {
		t.Fatal(err)
	}
	for j := range want {
		if math.Abs(got[j]-want[j]) > 1e-10 {
			t.Errorf("c_%d = %.12g, want %g", j, got[j], want[j])
		}
	}
}

// scanObjective is θ_E, e1 free (amplitude fixed) with log posterior
// −½((θ_E − 1)/σ₁)² − ½(e1/σ₂)² + A sin(2π e1/P).
func scanObjective(t *testing.T, s1, s2, amp, period float64) *Objective {
	t.Helper()
	pr := lens.DefaultPriors(2)
	for _, i := range []int{lens.PE2, lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	o, err := NewObjective(nil, pr, lens.Params{1, 0, 0, 0, 0, 0, 0}, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	o.like = func(p lens.Params, _ float64) (float64, error) {
		a, b := (p[lens.PThetaE]-1)/s1, p[lens.PE1]/s2
		return -0.5*a*a - 0.5*b*b + amp*math.Sin(2*math.Pi*p[lens.PE1]/period), nil
	}
	return o
}

// TestScanMeasuresRipples: along a Gaussian line the quartic leaves nothing
// and its width is the Gaussian's (found from the probe's curvature, so
// the line spans ±5σ); along a line with a sine ripple of amplitude A and
// a period a tenth of the line, the residual's RMS is A/√2 (the quartic
// absorbs little of ten periods) and its maximum close to A.
func TestScanMeasuresRipples(t *testing.T) {
	const amp = 0.4
	o := scanObjective(t, 0.01, 0.02, amp, 0.02)
	res, err := Scan(context.Background(), o, []float64{1, 0}, ScanOptions{Points: 201})
	if err != nil {
		t.Fatal(err)
	}
	th, e1 := res.Lines[0], res.Lines[1]
	if th.Name != "theta_e" || e1.Name != "e1" {
		t.Fatalf("lines %s, %s", th.Name, e1.Name)
	}
	if th.RMS > 1e-9 || math.Abs(th.Sigma/0.01-1) > 1e-6 || math.Abs(th.Half/0.05-1) > 1e-6 {
		t.Errorf("Gaussian line: ripple RMS %g (want 0), σ %g (want 0.01), half-width %g (want 0.05)", th.RMS, th.Sigma, th.Half)
	}
	// The probe at ±0.1×0.05 sees the ripple too, so the half-width is
	// only roughly 5σ; the ripple measurement does not depend on it.
	if math.Abs(e1.RMS/(amp/math.Sqrt2)-1) > 0.1 || e1.Max < 0.85*amp || e1.Max > 1.15*amp {
		t.Errorf("rippled line (half-width %g): RMS %.4f, max %.4f; want ≈ %.4f and ≈ %.2f", e1.Half, e1.RMS, e1.Max, amp/math.Sqrt2, amp)
	}
	if res.Evaluations != 1+2*2+2*201 {
		t.Errorf("%d evaluations, want %d", res.Evaluations, 1+2*2+2*201)
	}
	if _, err := Scan(context.Background(), o, []float64{1, 0}, ScanOptions{Points: 8}); err == nil {
		t.Error("an even number of points was accepted")
	}
}
