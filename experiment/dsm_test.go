package experiment

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/posterior"
)

// TestDSMAnalytic draws "galaxies" from N(0, s²I) and checks the loss of
// the exact prior against L(σ) = s²/(s²+σ²), and that a prior with the
// wrong width is measured as worse by the paired difference.
func TestDSMAnalytic(t *testing.T) {
	const side, s0 = 8, 0.5
	s := tinySetup(t, side, s0)
	r := rand.New(rand.NewPCG(3, 4))
	s.Galaxies, s.Names = nil, nil
	for range 200 {
		g := make([]float64, side*side)
		for i := range g {
			g[i] = s0 * r.NormFloat64()
		}
		s.Galaxies = append(s.Galaxies, g)
	}
	wide, err := posterior.NewIsoGaussian(make([]float64, side*side), 2*s0, s.VE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := DSM(context.Background(), s, []NamedPrior{{Name: "wide", Prior: wide, VE: s.VE}}, DSMOptions{Sigmas: 6, Batch: 7}, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, "dsm.png"))
	var js DSMResult
	readJSON(t, filepath.Join(dir, "dsm.json"), &js)
	if len(js.Priors) != 2 || len(js.Sigma) != 6 || js.Galaxies != 200 {
		t.Fatalf("dsm.json: %d priors, %d levels, %d galaxies", len(js.Priors), len(js.Sigma), js.Galaxies)
	}
	exact, bad := res.Priors[0], res.Priors[1]
	var mean float64
	for k, sig := range res.Sigma {
		want := s0 * s0 / (s0*s0 + sig*sig)
		mean += want / 6
		// per-pixel loss averaged over 200×64 pixels: relative spread ≈ √(2/12800)
		if d := math.Abs(exact.Loss[k] - want); d > 5*exact.SE[k]+1e-12 || d > 0.05*want {
			t.Errorf("σ = %.3g: exact prior loss %.5f ± %.5f, analytic %.5f", sig, exact.Loss[k], exact.SE[k], want)
		}
		if exact.Diff[k] != 0 {
			t.Errorf("σ = %.3g: difference of the first prior to itself %g", sig, exact.Diff[k])
		}
		// The wide prior's excess error (σ s_wide − σ s_true)² is
		// σ²(1/(s²+σ²) − 1/(4s²+σ²))² E‖x‖²/N with E‖x‖²/N = s²+σ².
		a, b := 1/(s0*s0+sig*sig), 1/(4*s0*s0+sig*sig)
		excess := sig * sig * (a - b) * (a - b) * (s0*s0 + sig*sig)
		if excess > 0.01 && (bad.Diff[k] < 5*bad.DSE[k] || math.Abs(bad.Diff[k]-excess) > 0.1*excess+5*bad.DSE[k]) {
			t.Errorf("σ = %.3g: wide prior excess %.5f ± %.5f, want %.5f", sig, bad.Diff[k], bad.DSE[k], excess)
		}
	}
	if math.Abs(exact.Mean-mean) > 0.02*mean {
		t.Errorf("mean loss %.5f, analytic %.5f", exact.Mean, mean)
	}
	if _, err := DSM(context.Background(), s, []NamedPrior{{Name: "nil"}}, DSMOptions{}, t.TempDir()); err == nil {
		t.Error("nil reference prior accepted")
	}
}

func TestParseStepConfigs(t *testing.T) {
	got, err := ParseStepConfigs("em:N, pc:N/8,em+tweedie:100", 1593)
	if err != nil {
		t.Fatal(err)
	}
	want := []SamplerConfig{
		{Name: "EM N", Sampler: "em", Steps: 1593},
		{Name: "PC N/8", Sampler: "pc", Steps: 199, Corrector: 1, SNR: posterior.DefaultSNR},
		{Name: "EM+Tweedie 100", Sampler: "em", Steps: 100, Denoise: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d configs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("config %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"em", "xx:10", "em:0", "em:N/0", "pc:N/x", "em:-3", ""} {
		if _, err := ParseStepConfigs(bad, 100); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestDSMBySet checks the per-data-set breakdown: a set's mean equals the
// loss of a run on that set's galaxies alone (same galaxy indices, so the
// same draws), the sets average to the overall mean, and a set drawn from a
// wider distribution than the prior is measured as worse.
func TestDSMBySet(t *testing.T) {
	const side, s0 = 8, 0.5
	s := tinySetup(t, side, s0)
	r := rand.New(rand.NewPCG(5, 6))
	s.Galaxies, s.Names, s.Sets = nil, nil, nil
	for j := range 30 {
		w, set := s0, "narrow"
		if j >= 20 {
			w, set = 3*s0, "wide"
		}
		g := make([]float64, side*side)
		for i := range g {
			g[i] = w * r.NormFloat64()
		}
		s.Galaxies, s.Sets = append(s.Galaxies, g), append(s.Sets, set)
	}
	o := DSMOptions{Sigmas: 5, Batch: 6}
	res, err := DSM(context.Background(), s, nil, o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := res.Priors[0].BySet
	if len(b) != 2 || b[0].Set != "narrow" || b[0].Galaxies != 20 || b[1].Set != "wide" || b[1].Galaxies != 10 {
		t.Fatalf("by set: %+v", b)
	}
	if b[0].Diff != 0 || b[1].Diff != 0 {
		t.Errorf("paired difference of the first prior to itself: %g, %g", b[0].Diff, b[1].Diff)
	}
	if w := (20*b[0].Mean + 10*b[1].Mean) / 30; math.Abs(w-res.Priors[0].Mean) > 1e-12 {
		t.Errorf("sets average to %.6f, overall mean %.6f", w, res.Priors[0].Mean)
	}
	if b[1].Mean < b[0].Mean+5*(b[0].SE+b[1].SE) {
		t.Errorf("wide set %.4f ± %.4f not worse than narrow %.4f ± %.4f", b[1].Mean, b[1].SE, b[0].Mean, b[0].SE)
	}
	alone := s
	alone.Galaxies, alone.Sets = s.Galaxies[:20], nil
	ra, err := DSM(context.Background(), alone, nil, o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ra.Priors[0].BySet != nil {
		t.Errorf("breakdown without sets: %+v", ra.Priors[0].BySet)
	}
	if math.Abs(ra.Priors[0].Mean-b[0].Mean) > 1e-12 {
		t.Errorf("narrow set %.6f, run on it alone %.6f", b[0].Mean, ra.Priors[0].Mean)
	}
}
