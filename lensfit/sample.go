package lensfit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/mcmc"
	"github.com/lenscore/lenscore/progress"
	"gonum.org/v1/gonum/mat"
)

// Moves of the lens-posterior chains (FitOptions.Moves).
const (
	MovesLaplace = "laplace" // Student-t independence proposal + random walk from the Laplace approximation
	MovesDE      = "de"      // those, and differential-evolution moves between the chains
)

// DEFraction is the share of differential-evolution moves with MovesDE; the
// others are split between the independence proposal (¾) and the random
// walk (¼) as without them.
const DEFraction = 0.5

// mhOptions returns the options of mcmc.Chains for opt.Moves.
func mhOptions(opt FitOptions) mcmc.MHOptions {
	if opt.Moves == MovesDE {
		return mcmc.MHOptions{PDE: DEFraction}
	}
	return mcmc.MHOptions{}
}

// Stop reasons of the sampler (FitResult.Stop).
const (
	StopConverged = "converged" // R̂ and ESS targets met
	StopBudget    = "budget"    // Steps reached first
)

// flipStarts returns the orientation-flipped variants of a mode x: the
// ellipticity reversed (e1, e2 → −e1, −e2, the major axis turned by 90°),
// and, when the shear is free, the ellipticity and the shear both reversed.
// An ellipticity along one axis and a shear along the other distort the
// arcs alike, so the evidence has a second, flipped maximum that an
// optimiser started at e = 0 may fall into; these starts make the fit find
// both and keep the better. Nil when e1 or e2 is fixed.
func flipStarts(o *Objective, x []float64) [][]float64 {
	idx := func(p int) int {
		for k, i := range o.free {
			if i == p {
				return k
			}
		}
		return -1
	}
	ie1, ie2, ig1, ig2 := idx(lens.PE1), idx(lens.PE2), idx(lens.PGamma1), idx(lens.PGamma2)
	if ie1 < 0 || ie2 < 0 {
		return nil
	}
	a := slices.Clone(x)
	a[ie1], a[ie2] = -x[ie1], -x[ie2]
	out := [][]float64{a}
	if ig1 >= 0 && ig2 >= 0 {
		b := slices.Clone(a)
		b[ig1], b[ig2] = -x[ig1], -x[ig2]
		out = append(out, b)
	}
	// Keep only the variants inside the prior (always, for symmetric
	// bounds); a variant outside is replaced by the mode itself, which
	// the optimiser leaves at once.
	for i, v := range out {
		if math.IsInf(o.LogPrior(v), -1) {
			out[i] = slices.Clone(x)
		}
	}
	return out
}

// flipMinE is the ellipticity |e| below which a mode is too nearly round
// (q > 0.9) for its flipped orientation to be a separate mode worth an
// optimiser run.
const flipMinE = 0.05

// betterFlip returns the flipStarts variant of x with the higher log
// posterior, or nil when there is none or |e| of x is below flipMinE.
func betterFlip(o *Objective, x []float64) []float64 {
	fl := flipStarts(o, x)
	if len(fl) == 0 {
		return nil
	}
	p, _ := o.Unpack(x)
	if math.Hypot(p[lens.PE1], p[lens.PE2]) < flipMinE {
		return nil
	}
	best := fl[0]
	if len(fl) > 1 && o.LogPost(fl[1]) > o.LogPost(fl[0]) {
		best = fl[1]
	}
	return best
}

// bestStart returns the index of the best of rs (−1 if none is finite).
func bestStart(rs []StartResult) int {
	b := -1
	for i, r := range rs {
		if !math.IsInf(r.LogPost, -1) && !math.IsNaN(r.LogPost) && (b < 0 || r.LogPost > rs[b].LogPost) {
			b = i
		}
	}
	return b
}

// laplace returns the Laplace approximation of the posterior at x,
// N(x, (−∇²log p)⁻¹), with the Hessian from central differences: first the
// curvature scale σ_k = h/sqrt(2f(x) − f(x+h) − f(x−h)) of each axis
// (h = step/5, σ_k capped at the step), then the full Hessian with steps σ_k
// (4 evaluations per pair). If it is not negative definite, the
// approximation is diagonal with widths σ_k (ok = false). Cost 2d + 2d²
// evaluations. Once ctx is cancelled the remaining evaluations are skipped
// and ctx's error is returned.
func laplace(ctx context.Context, o *Objective, x, steps []float64) (prop mcmc.Proposal, ok bool, err error) {
	d := len(x)
	hess, sd, _ := negHessian(ctx, o, x, steps, false) // −∇² log p
	if err := ctx.Err(); err != nil {
		return prop, false, err
	}
	prop = mcmc.Proposal{Mean: slices.Clone(x), L: make([][]float64, d)}
	var chol mat.Cholesky
	if chol.Factorize(hess) {
		var cov mat.SymDense
		if err := chol.InverseTo(&cov); err == nil {
			c := make([][]float64, d)
			for i := range c {
				c[i] = make([]float64, d)
				for j := 0; j <= i; j++ {
					c[i][j] = cov.At(i, j)
				}
			}
			if l, err := mcmc.Cholesky(c); err == nil {
				prop.L = l
				return prop, true, nil
			}
		}
	}
	for i := range prop.L {
		prop.L[i] = make([]float64, d)
		prop.L[i][i] = sd[i]
	}
	return prop, false, nil
}

// initialChains draws w starts from the proposal widened by 1.5 (chains
// that start apart make R̂ a test of independent starts), redrawing points
// outside the prior (stream 0xba11+restart of the seed; restart counts the
// re-optimisations before this start).
func initialChains(o *Objective, prop mcmc.Proposal, w int, seed, restart uint64) [][]float64 {
	d := len(prop.Mean)
	rng := rand.New(rand.NewPCG(seed, 0xba11+restart))
	out := make([][]float64, w)
	z := make([]float64, d)
	for i := range out {
		y := slices.Clone(prop.Mean)
		for try := 0; try < 100; try++ {
			for k := range z {
				z[k] = rng.NormFloat64()
			}
			for k := range y {
				y[k] = prop.Mean[k]
				for l := 0; l <= k; l++ {
					y[k] += 1.5 * prop.L[k][l] * z[l]
				}
			}
			if !math.IsInf(o.LogPost(y), -1) {
				break
			}
			copy(y, prop.Mean)
		}
		out[i] = y
	}
	return out
}

// diagnose returns split-R̂, τ and ESS per parameter of the kept steps
// chain[burn:] ([step][chain][param]).
func diagnose(chain [][][]float64, burn int) (rhat, tau, ess []float64) {
	kept := chain[burn:]
	if len(kept) < 4 {
		return
	}
	w, d := len(kept[0]), len(kept[0][0])
	for k := 0; k < d; k++ {
		ch := make([][]float64, w)
		for c := range ch {
			ch[c] = make([]float64, len(kept))
			for t, st := range kept {
				ch[c][t] = st[c][k]
			}
		}
		r, _ := mcmc.SplitRHat(ch)
		t, e, _ := mcmc.AutocorrTime(ch)
		rhat, tau, ess = append(rhat, r), append(tau, t), append(ess, e)
	}
	return
}

// converged reports whether every R̂ is below rmax and every ESS at least
// emin.
func converged(rhat, ess []float64, rmax, emin float64) bool {
	if len(rhat) == 0 {
		return false
	}
	for k := range rhat {
		if !(rhat[k] < rmax) || !(ess[k] >= emin) {
			return false
		}
	}
	return true
}

// Reopt records one re-optimisation of the MAP from the chains' best point
// (FitOptions.ReoptGain).
type Reopt struct {
	// Step: the chains' steps (since their last start) when it was
	// triggered; those steps were discarded.
	Step int `json:"step"`
	// AtEval: the evaluations of the full objective before it.
	AtEval int `json:"at_evaluation"`
	// OldLogPost: the MAP's log posterior then; From, FromLogPost: the
	// best point the chains had visited, where the refinement started.
	OldLogPost  float64   `json:"old_map_log_posterior"`
	From        []float64 `json:"from"`
	FromLogPost float64   `json:"from_log_posterior"`
	// X, LogPost: the new MAP (never below FromLogPost).
	X         []float64 `json:"x"`
	LogPost   float64   `json:"log_posterior"`
	Evals     int       `json:"evaluations"`
	Converged bool      `json:"converged"`
	// LaplaceFull: the new Laplace approximation from the full Hessian.
	LaplaceFull bool `json:"laplace_full_hessian"`
}

// chainBest returns the point of chain with the highest log density in lp
// (the first of ties) and that density.
func chainBest(chain [][][]float64, lp [][]float64) ([]float64, float64) {
	var bx []float64
	best := math.Inf(-1)
	for s, row := range lp {
		for w, v := range row {
			if v > best {
				bx, best = chain[s][w], v
			}
		}
	}
	return bx, best
}

// startChains fits the Laplace approximation at x and starts Walkers chains
// from it: restart r (0 for the first start) draws the starts from stream
// 0xba11+r and runs the chains on stream 1+r of the seed.
func startChains(ctx context.Context, o *Objective, x []float64, opt FitOptions, r int) (*mcmc.Chains, mcmc.Proposal, bool, error) {
	prop, ok, err := laplace(ctx, o, x, o.Steps())
	if err != nil {
		return nil, prop, ok, err
	}
	start := initialChains(o, prop, opt.Walkers, opt.Seed, uint64(r))
	ch, err := mcmc.NewChains(o.LogPost, start, prop, mhOptions(opt), opt.Seed, 1+uint64(r))
	if err != nil {
		return nil, prop, ok, fmt.Errorf("lensfit: %w", err)
	}
	return ch, prop, ok, nil
}

// Burn-in extension: at most maxExtensions times, when a marginal width
// of the proposal differs from the kept draws' by more than extendRatio.
const (
	maxExtensions = 3
	extendRatio   = 1.5
)

// widthMismatch reports whether some marginal standard deviation of a
// differs from b's by more than the factor r.
func widthMismatch(a, b mcmc.Proposal, r float64) bool {
	for k := range a.L {
		var va, vb float64
		for j := 0; j <= k; j++ {
			va += a.L[k][j] * a.L[k][j]
			vb += b.L[k][j] * b.L[k][j]
		}
		if q := math.Sqrt(vb / va); !(q <= r && q >= 1/r) {
			return true
		}
	}
	return false
}

// sample runs the posterior stage of Fit from the mode x (log posterior
// mapLP): Laplace approximation, Walkers chains of mcmc.Chains, the proposal
// adapted to the second half of the draws at half the burn-in and at its
// end, then steps until the diagnostics of the kept steps (checked every
// CheckEvery steps) meet RHatTarget and ESSTarget or Steps is reached.
// At every check (every CheckEvery steps since the chains started), if the
// best point of the chains beats the MAP by more than ReoptGain, the MAP is
// refined from that point and the chains restart there (at most MaxReopt
// times). It fills res.Chain, LogProb, Acceptance, RHat, Tau, ESS, Stop,
// Reoptimised and the Laplace fields.
func sample(ctx context.Context, o *Objective, ck *checkpoint, x []float64, mapLP float64, opt FitOptions, save func() error, res *FitResult) error {
	if n := len(ck.Reopts); n > 0 {
		x, mapLP = ck.Reopts[n-1].X, ck.Reopts[n-1].LogPost
	}
	var ch *mcmc.Chains
	var err error
	if ck.Chains != nil {
		ch, err = mcmc.RestoreChains(o.LogPost, ck.Chains, mhOptions(opt))
		if err != nil {
			return fmt.Errorf("lensfit: %w", err)
		}
	} else {
		e0 := o.Evals
		var prop mcmc.Proposal
		var ok bool
		if ch, prop, ok, err = startChains(ctx, o, x, opt, len(ck.Reopts)); err != nil {
			if ctx.Err() != nil { // a cancelled Laplace approximation is redone on resume
				o.Evals = e0
				return errors.Join(err, save())
			}
			return err
		}
		ck.Laplace, ck.LaplaceFull = &prop, ok
	}
	var bar *progress.Bar
	newBar := func(label string) {
		if opt.Progress != nil {
			bar = progress.New(opt.Progress, label, ch.Steps(), opt.Steps)
		}
	}
	newBar("posterior steps (stops when converged)")
	last := time.Now()
	var rhat, tau, ess []float64
	for {
		n := ch.Steps()
		if n > 0 && n%opt.CheckEvery == 0 && len(ck.Reopts) < opt.MaxReopt {
			if bx, blp := chainBest(ck.Chain, ck.LogProb); blp > mapLP+opt.ReoptGain {
				// The chains found higher ground than the MAP: the
				// optimiser stopped short (e.g. on a ripple of the
				// evidence). Refine from the chains' best point, refit
				// the Laplace approximation there and restart. A
				// cancelled re-optimisation is redone on resume.
				e0 := o.Evals
				reoptBudget := max(opt.MaxEval, 150*o.Dim())
				var rbar *progress.Bar
				if opt.Progress != nil {
					fmt.Fprintf(opt.Progress, "\nthe chains reached log posterior %.2f, %.2f above the MAP's %.2f: re-optimising from there\n", blp, blp-mapLP, mapLP)
					rbar = progress.New(opt.Progress, "re-optimisation evaluations", 0, reoptBudget)
				}
				tick := func() {
					if rbar != nil {
						rbar.Update(min(o.Evals-e0, reoptBudget-1))
					}
				}
				cancelled := func(err error) error {
					o.Evals = e0
					ck.Chains = ch.Save()
					return errors.Join(err, save())
				}
				r, err := refine(ctx, o, o, bx, o.Steps(), reoptBudget, tick)
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return cancelled(err)
				}
				rec := Reopt{Step: n, AtEval: e0, OldLogPost: mapLP, From: slices.Clone(bx), FromLogPost: blp, X: r.X, LogPost: r.F, Evals: r.Evals, Converged: r.Conv}
				if !(r.F >= blp) { // refine returns its best evaluation, the start included; kept for safety
					rec.X, rec.LogPost = slices.Clone(bx), blp
				}
				nch, prop, ok, err := startChains(ctx, o, rec.X, opt, len(ck.Reopts)+1)
				if err != nil {
					if ctx.Err() != nil {
						return cancelled(err)
					}
					return err
				}
				rec.Evals = o.Evals - e0
				rec.LaplaceFull = ok
				ck.Reopts = append(ck.Reopts, rec)
				ck.Laplace, ck.LaplaceFull, ck.Adapted = &prop, ok, false
				ck.Extended, ck.Extensions = 0, 0
				ck.Chain, ck.LogProb = nil, nil
				ch = nch
				ck.Chains = ch.Save()
				if err := save(); err != nil {
					return err
				}
				if rbar != nil {
					rbar.Force(reoptBudget, fmt.Sprintf("evaluations=%d", rec.Evals), fmt.Sprintf("log_posterior=%.2f", rec.LogPost))
				}
				x, mapLP = rec.X, rec.LogPost
				rhat, tau, ess = nil, nil, nil
				newBar(fmt.Sprintf("posterior steps after re-optimisation %d", len(ck.Reopts)))
				last = time.Now()
				continue
			}
		}
		burn := opt.Burn + ck.Extended
		kept := n - burn
		if kept >= 2*opt.CheckEvery && kept%opt.CheckEvery == 0 {
			rhat, tau, ess = diagnose(ck.Chain, burn)
			if converged(rhat, ess, opt.RHatTarget, opt.ESSTarget) {
				res.Stop = StopConverged
				break
			}
			// The proposal does not match the kept draws' widths (it
			// was adapted to a burn-in that had not spread yet, e.g.
			// from a Laplace approximation on a ripple of the
			// evidence): refit it to the kept draws and make them
			// burn-in too, so that the kept draws come from one kernel.
			if ck.Extensions < maxExtensions && n+2*opt.CheckEvery <= opt.Steps {
				var pts [][]float64
				for _, st := range ck.Chain[burn:] {
					pts = append(pts, st...)
				}
				if p, err := mcmc.ProposalFromSamples(pts); err == nil && widthMismatch(ch.Save().Proposal, *p, extendRatio) {
					if ch.SetProposal(*p) == nil {
						ck.Extended += kept
						ck.Extensions++
						ck.Adapted = true
						rhat, tau, ess = nil, nil, nil
						if opt.Progress != nil {
							fmt.Fprintf(opt.Progress, "\nthe proposal's widths differ from the draws' by more than ×%g: refitted, burn-in extended to %d steps\n", extendRatio, n)
						}
					}
				}
			}
		}
		if n >= opt.Steps {
			res.Stop = StopBudget
			break
		}
		if err := ctx.Err(); err != nil {
			ck.Chains = ch.Save()
			return errors.Join(err, save())
		}
		ch.Step()
		row := make([][]float64, ch.Walkers())
		lps := make([]float64, ch.Walkers())
		for k := range row {
			row[k] = slices.Clone(ch.Walker(k))
			lps[k] = ch.LogProb(k)
		}
		ck.Chain = append(ck.Chain, row)
		ck.LogProb = append(ck.LogProb, lps)
		if n := ch.Steps(); n == opt.Burn || n == opt.Burn/2 {
			// Adapt the proposal to the second half of the draws so far,
			// at half the burn-in and at its end (kept as it was if that
			// fails).
			var pts [][]float64
			for _, st := range ck.Chain[n/2:] {
				pts = append(pts, st...)
			}
			if p, err := mcmc.ProposalFromSamples(pts); err == nil {
				if ch.SetProposal(*p) == nil {
					ck.Adapted = true
				}
			}
		}
		if time.Since(last) >= opt.CheckpointEvery {
			ck.Chains = ch.Save()
			if err := save(); err != nil {
				return err
			}
			last = time.Now()
		}
		if bar != nil {
			a, _, _ := ch.Acceptance()
			msg := []string{fmt.Sprintf("acceptance=%.2f", a), fmt.Sprintf("evals=%d", o.Evals)}
			if opt.Moves == MovesDE {
				msg = append(msg, fmt.Sprintf("de_acceptance=%.2f", ch.AcceptanceDE()))
			}
			if rhat != nil {
				msg = append(msg, fmt.Sprintf("max_rhat=%.3f", slices.Max(rhat)), fmt.Sprintf("min_ess=%.0f", slices.Min(ess)))
			}
			bar.Update(ch.Steps(), msg...)
		}
	}
	ck.Chains = ch.Save()
	if err := save(); err != nil {
		return err
	}
	res.Burn = opt.Burn + ck.Extended
	if res.Stop != StopConverged {
		rhat, tau, ess = diagnose(ck.Chain, res.Burn)
	}
	res.Chain, res.LogProb = ck.Chain, ck.LogProb
	res.Acceptance, res.AcceptIndep, res.AcceptRW = ch.Acceptance()
	res.AcceptDE, res.Moves = ch.AcceptanceDE(), opt.Moves
	res.RHat, res.Tau, res.ESS = rhat, tau, ess
	res.Laplace, res.LaplaceFull, res.Adapted = ck.Laplace, ck.LaplaceFull, ck.Adapted
	res.Reoptimised = ck.Reopts
	return nil
}
