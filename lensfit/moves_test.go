package lensfit

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/mcmc"
)

// rippledRidge returns an objective over θ_E, e1, e2, γ1, γ2 (centre and
// amplitude fixed) whose log posterior is a Gaussian ridge — every pair of
// parameters correlated with ρ — with ripples amp·cos(2π(x_k − μ_k)/p_k)
// along each axis, as the pixelated source puts on J2303's evidence, bent
// by κ (x_i → x_i − κσ_i u², u = (x_0 − μ_0)/σ_0, i ≥ 1).
func rippledRidge(t *testing.T, mu, sd, period []float64, rho, amp, kappa float64) *Objective {
	t.Helper()
	d := len(mu)
	c := make([][]float64, d)
	for i := range c {
		c[i] = make([]float64, d)
		for j := 0; j <= i; j++ {
			c[i][j] = rho * sd[i] * sd[j]
			if i == j {
				c[i][j] = sd[i] * sd[i]
			}
		}
	}
	l, err := mcmc.Cholesky(c)
	if err != nil {
		t.Fatal(err)
	}
	pr := lens.DefaultPriors(1.2)
	pr.P[lens.PCenterX].Fixed, pr.P[lens.PCenterY].Fixed = true, true
	o, err := NewObjective(nil, pr, lens.Params{mu[0], mu[1], mu[2], 0, 0, mu[3], mu[4]}, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float64, d)
	o.like = func(p lens.Params, _ float64) (float64, error) {
		x := []float64{p[lens.PThetaE], p[lens.PE1], p[lens.PE2], p[lens.PGamma1], p[lens.PGamma2]}
		var lp float64
		u := (x[0] - mu[0]) / sd[0]
		for i := range x {
			s := x[i] - mu[i]
			if i > 0 {
				s -= kappa * sd[i] * u * u
			}
			for k := 0; k < i; k++ {
				s -= l[i][k] * z[k]
			}
			z[i] = s / l[i][i]
			lp += -0.5*z[i]*z[i] + amp*math.Cos(2*math.Pi*(x[i]-mu[i])/period[i])
		}
		return lp, nil
	}
	return o
}

// TestFitDEOnRippledBentRidge: a 5-parameter posterior shaped like
// J2303's — a ridge (ρ = 0.98) bent by κ = 0.1 and rippled (amplitude ½
// per axis, so the Laplace fit at the mode is several times too narrow and
// the wrong shape) — sampled by Fit with the same budget (8 chains, 1200
// steps, re-optimisation off) and three seeds, with the Laplace-built moves
// and with differential-evolution moves added (MovesDE): the DE chains end
// with a lower max split-R̂ for every seed, below 1.08, while the others
// stay above 1.08 for every seed.
func TestFitDEOnRippledBentRidge(t *testing.T) {
	mu := []float64{1.2, 0.1, -0.05, 0.02, 0.01}
	sd := []float64{0.03, 0.04, 0.06, 0.02, 0.03}
	per := []float64{0.06, 0.05, 0.05, 0.02, 0.02}
	for seed := uint64(3); seed <= 5; seed++ {
		var r [2]float64
		for k, mv := range []string{MovesLaplace, MovesDE} {
			opt := FitOptions{Starts: 1, MaxEval: 100, Walkers: 8, Steps: 1200, Burn: 40, CheckEvery: 20, Samples: 10, Seed: seed,
				Moves: mv, Fingerprint: "ridge", MaxReopt: -1}
			res, err := Fit(context.Background(), rippledRidge(t, mu, sd, per, 0.98, 0.5, 0.1), opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Moves != mv || math.IsNaN(res.AcceptDE) != (mv == MovesLaplace) {
				t.Errorf("moves %q, DE acceptance %g, want %q", res.Moves, res.AcceptDE, mv)
			}
			r[k] = slices.Max(res.RHat)
			t.Logf("seed %d, %s moves: %s after %d steps (burn-in %d), R̂ %.3v, ESS %.0f, acceptance %.2f (DE %.2f)",
				seed, mv, res.Stop, len(res.Chain), res.Burn, res.RHat, res.ESS, res.Acceptance, res.AcceptDE)
		}
		if !(r[1] < r[0]) || r[1] > 1.08 || r[0] < 1.08 {
			t.Errorf("seed %d: max R̂ %.3f with DE moves, %.3f without", seed, r[1], r[0])
		}
	}
}

// TestFitDEResume: a Fit with DE moves interrupted while sampling and
// resumed gives the chains of the uninterrupted run; fewer than 3 chains
// and unknown moves are refused.
func TestFitDEResume(t *testing.T) {
	mu := []float64{1.2, 0.1, -0.05, 0.02, 0.01}
	sd := []float64{0.03, 0.04, 0.06, 0.02, 0.03}
	per := []float64{0.06, 0.05, 0.05, 0.02, 0.02}
	opt := FitOptions{Starts: 1, MaxEval: 100, Walkers: 6, Steps: 120, Burn: 20, CheckEvery: 20, Samples: 10, Seed: 9, Moves: MovesDE,
		Fingerprint: "ridge", MaxReopt: -1}
	res, err := Fit(context.Background(), rippledRidge(t, mu, sd, per, 0.98, 0.5, 0.1), opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Checkpoint, opt.CheckpointEvery = filepath.Join(t.TempDir(), "ck.json"), 1
	ctx, cancel := context.WithCancel(context.Background())
	o2 := rippledRidge(t, mu, sd, per, 0.98, 0.5, 0.1)
	o2.hook = (&cancelAfter{n: res.Evaluations - 6*50, cancel: cancel}).tick
	if _, err := Fit(ctx, o2, opt); err == nil {
		t.Fatal("interrupted fit returned no error")
	}
	opt.Resume = true
	res2, err := Fit(context.Background(), rippledRidge(t, mu, sd, per, 0.98, 0.5, 0.1), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res2.Chain, res.Chain) || res2.Evaluations != res.Evaluations || res2.AcceptDE != res.AcceptDE {
		t.Errorf("resumed run: %d steps, %d evaluations, DE acceptance %g; uninterrupted %d, %d, %g",
			len(res2.Chain), res2.Evaluations, res2.AcceptDE, len(res.Chain), res.Evaluations, res.AcceptDE)
	}
	if _, err := Fit(context.Background(), rippledRidge(t, mu, sd, per, 0.98, 0.5, 0.1), FitOptions{Walkers: 2, Moves: MovesDE}); err == nil {
		t.Error("DE moves with 2 chains accepted")
	}
	if _, err := Fit(context.Background(), rippledRidge(t, mu, sd, per, 0.98, 0.5, 0.1), FitOptions{Moves: "stretch"}); err == nil {
		t.Error("unknown moves accepted")
	}
}
