package lensfit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/mcmc"
	"github.com/lenscore/lenscore/progress"
	"github.com/lenscore/lenscore/weights"
)

// ScaleName is the name of the source-prior amplitude parameter,
// log10 a (the prior covariance is a²Σ₀).
const ScaleName = "log10_source_scale"

// Objective is the log posterior of the free parameters: the free entries of
// the SIE + shear vector (in vector order) followed, when FitScale is set,
// by log10 a, the source prior's amplitude (uniform prior on
// [ScaleMin, ScaleMax]):
//
//	log p(θ, a | y) = log p(y | θ, a) + log p(θ) + const.
type Objective struct {
	Ev     *Evidence
	Priors lens.Priors
	Base   lens.Params // the values of the fixed parameters (and the start)
	// FitScale makes log10 a a free parameter; otherwise Scale is used.
	FitScale           bool
	Scale              float64 // log10 a when fixed, and its start when free
	ScaleMin, ScaleMax float64 // bounds of log10 a (default −3, 3)
	Extra              []Component
	Evals              int // evaluations so far
	free               []int
	hook               func(evals int) // test hook, called after each evaluation
	// like, when set, replaces the evidence log p(y | lens, log a) (tests:
	// targets whose posterior is known).
	like func(p lens.Params, logA float64) (float64, error)
}

// logEvidence returns log p(y | p, a) for log a = logA.
func (o *Objective) logEvidence(p lens.Params, logA float64) (float64, error) {
	if o.like != nil {
		return o.like(p, logA)
	}
	return o.Ev.LogEvidence(p.Mass(), logA, o.Extra)
}

// NewObjective checks the start against the priors and returns the
// objective (FitScale true, ScaleMin/Max −3, 3 unless changed afterwards).
func NewObjective(ev *Evidence, pr lens.Priors, start lens.Params, fitScale bool, scale float64) (*Objective, error) {
	if err := pr.Check(start); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) || scale < -3 || scale > 3 {
		return nil, fmt.Errorf("start: %s = %g must be in [-3, 3]", ScaleName, scale)
	}
	o := &Objective{Ev: ev, Priors: pr, Base: start, FitScale: fitScale, Scale: scale, ScaleMin: -3, ScaleMax: 3, free: pr.Free()}
	if o.Dim() == 0 {
		return nil, errors.New("no free parameter")
	}
	return o, nil
}

// Dim returns the number of free parameters.
func (o *Objective) Dim() int {
	if o.FitScale {
		return len(o.free) + 1
	}
	return len(o.free)
}

// Names returns the names of the free parameters.
func (o *Objective) Names() []string {
	var n []string
	for _, i := range o.free {
		n = append(n, lens.ParamNames[i])
	}
	if o.FitScale {
		n = append(n, ScaleName)
	}
	return n
}

// Unpack returns the lens and log10 a of a free-parameter vector.
func (o *Objective) Unpack(v []float64) (lens.Params, float64) {
	p := o.Base
	for k, i := range o.free {
		p[i] = v[k]
	}
	s := o.Scale
	if o.FitScale {
		s = v[len(o.free)]
	}
	return p, s
}

// Pack returns the free-parameter vector of a lens and log10 a.
func (o *Objective) Pack(p lens.Params, scale float64) []float64 {
	v := make([]float64, 0, o.Dim())
	for _, i := range o.free {
		v = append(v, p[i])
	}
	if o.FitScale {
		v = append(v, scale)
	}
	return v
}

// LogPrior returns the log prior of v (−Inf outside the support).
func (o *Objective) LogPrior(v []float64) float64 {
	p, s := o.Unpack(v)
	if o.FitScale && !(s >= o.ScaleMin && s <= o.ScaleMax) {
		return math.Inf(-1)
	}
	return o.Priors.LogPrior(p)
}

// LogPost returns the log posterior of v up to a constant (−Inf outside the
// prior's support or if the evidence cannot be evaluated).
func (o *Objective) LogPost(v []float64) float64 {
	lp := o.LogPrior(v)
	if math.IsInf(lp, -1) {
		return lp
	}
	p, s := o.Unpack(v)
	o.Evals++
	le, err := o.logEvidence(p, s*math.Ln10)
	if o.hook != nil {
		o.hook(o.Evals)
	}
	if err != nil {
		return math.Inf(-1)
	}
	return lp + le
}

// LogEvidence returns log p(y | lens, a) of v.
func (o *Objective) LogEvidence(v []float64) (float64, error) {
	p, s := o.Unpack(v)
	o.Evals++
	return o.logEvidence(p, s*math.Ln10)
}

// Steps returns the typical scale of each free parameter, used as the
// Nelder–Mead simplex edges, for perturbing starts and for grouping modes:
// 5 % of θ_E for θ_E, 0.05 for e1, e2, 0.03″ for the centre, 0.02 for the
// shear and 0.3 dex for the amplitude.
func (o *Objective) Steps() []float64 {
	var s []float64
	for _, i := range o.free {
		switch i {
		case lens.PThetaE:
			s = append(s, 0.05*o.Base[lens.PThetaE])
		case lens.PE1, lens.PE2:
			s = append(s, 0.05)
		case lens.PCenterX, lens.PCenterY:
			s = append(s, 0.03)
		default:
			s = append(s, 0.02)
		}
	}
	if o.FitScale {
		s = append(s, 0.3)
	}
	return s
}

// FitOptions configures Fit.
type FitOptions struct {
	Starts  int    // optimiser starts: the start itself and Starts−1 perturbed ones (default 6)
	MaxEval int    // evaluations per optimiser start (default 150·dim)
	Walkers int    // independent Metropolis–Hastings chains (default 8)
	Steps   int    // the budget: at most Steps steps per chain, burn-in included (default 400)
	Burn    int    // steps discarded, at whose end the proposal is adapted (default 40, at most Steps/2)
	Samples int    // lens draws returned, thinned evenly from the kept steps (default 64)
	Seed    uint64 // seed of the perturbed starts and of the sampler
	// The sampler stops early once, at a check every CheckEvery (default
	// 20) kept steps, every parameter has split-R̂ < RHatTarget (default
	// 1.05) and ESS ≥ ESSTarget (default 400).
	RHatTarget, ESSTarget float64
	CheckEvery            int
	// Coarse, when > 1, runs the screen, the multi-start optimisation and
	// the flipped start on the evidence of a source grid Coarse times
	// coarser (Objective.Coarsen), evaluates every mode found there on the
	// full objective and refines the best one on it (a BFGS whitened by
	// the coarse Laplace covariance, budget MaxEval; see the package
	// documentation). It must divide the source grid side.
	Coarse int
	// ReoptGain and MaxReopt: when, at a check every CheckEvery steps of
	// the chains, the best point they visited beats the MAP by more than
	// ReoptGain (default 3) in log posterior, the MAP is re-optimised from
	// that point (refine, budget max(MaxEval, 150·dim)), the Laplace approximation is
	// refitted there and the chains restart from it with a new burn-in and
	// a new step budget — at most MaxReopt times (default 3; negative:
	// never). See the package documentation.
	ReoptGain float64
	MaxReopt  int
	// Moves chooses the chains' moves: MovesLaplace (default) the
	// Student-t independence proposal and the random walk built from the
	// Laplace approximation (adapted to the burn-in); MovesDE adds
	// differential-evolution moves between the chains (mcmc.MHOptions.PDE
	// = DEFraction), which follow a correlated, ridge-shaped posterior
	// without a good Gaussian fit (needs Walkers ≥ 3).
	Moves string

	// Checkpoint, when set, is a file the run is saved to (atomically)
	// after every optimiser start and every CheckpointEvery (default 10 s)
	// of sampling, and on cancellation; Resume continues from it.
	Checkpoint      string
	CheckpointEvery time.Duration
	Resume          bool
	// Fingerprint describes the inputs (data, priors, settings); Resume
	// refuses a checkpoint whose fingerprint differs.
	Fingerprint string

	Progress io.Writer // progress lines (nil: none)
}

func (opt *FitOptions) defaults(d int) error {
	if opt.Starts == 0 {
		opt.Starts = 6
	}
	if opt.MaxEval == 0 {
		opt.MaxEval = 150 * d
	}
	if opt.Walkers == 0 {
		opt.Walkers = 8
	}
	if opt.Steps == 0 {
		opt.Steps = 400
	}
	if opt.Burn == 0 {
		opt.Burn = min(40, opt.Steps/2)
	}
	if opt.Samples == 0 {
		opt.Samples = 64
	}
	if opt.RHatTarget == 0 {
		opt.RHatTarget = 1.05
	}
	if opt.ESSTarget == 0 {
		opt.ESSTarget = 400
	}
	if opt.CheckEvery == 0 {
		opt.CheckEvery = 20
	}
	if opt.ReoptGain == 0 {
		opt.ReoptGain = 3
	}
	if opt.MaxReopt == 0 {
		opt.MaxReopt = 3
	}
	if opt.MaxReopt < 0 {
		opt.MaxReopt = 0
	}
	if opt.CheckpointEvery == 0 {
		opt.CheckpointEvery = 10 * time.Second
	}
	if opt.Moves == "" {
		opt.Moves = MovesLaplace
	}
	switch {
	case opt.Moves != MovesLaplace && opt.Moves != MovesDE:
		return fmt.Errorf("moves %q: want %s or %s", opt.Moves, MovesLaplace, MovesDE)
	case opt.Moves == MovesDE && opt.Walkers < 3:
		return fmt.Errorf("differential-evolution moves need ≥ 3 chains, got %d", opt.Walkers)
	case opt.Starts < 1:
		return fmt.Errorf("starts must be ≥ 1, got %d", opt.Starts)
	case opt.Walkers < 2:
		return fmt.Errorf("chains (walkers) must be ≥ 2, got %d", opt.Walkers)
	case opt.Steps < 8:
		return fmt.Errorf("steps must be ≥ 8, got %d", opt.Steps)
	case opt.Burn < 0 || opt.Steps-opt.Burn < 4:
		return fmt.Errorf("burn-in %d must leave ≥ 4 of the %d steps", opt.Burn, opt.Steps)
	case opt.Samples < 1:
		return fmt.Errorf("samples must be ≥ 1, got %d", opt.Samples)
	case opt.MaxEval < 10:
		return fmt.Errorf("evaluations per start must be ≥ 10, got %d", opt.MaxEval)
	case !(opt.ReoptGain > 0):
		return fmt.Errorf("re-optimisation gain %g must be > 0", opt.ReoptGain)
	case !(opt.RHatTarget > 1) || !(opt.ESSTarget > 0) || opt.CheckEvery < 1:
		return fmt.Errorf("R̂ target %g must be > 1, ESS target %g > 0 and check interval %d ≥ 1", opt.RHatTarget, opt.ESSTarget, opt.CheckEvery)
	}
	return nil
}

// Mode is one distinct maximum found by the optimiser.
type Mode struct {
	X           []float64 `json:"x"`
	LogPost     float64   `json:"log_posterior"`
	LogEvidence float64   `json:"log_evidence"`
	Starts      []int     `json:"starts"` // the starts that ended here
	Converged   bool      `json:"converged"`
	// Coarse: the position is the optimum of the coarse objective, not
	// refined on the full one (FitOptions.Coarse; every mode but the best).
	Coarse bool `json:"coarse,omitempty"`
}

// StartResult is the outcome of one optimiser start.
type StartResult struct {
	Start     []float64 `json:"start"`
	X         []float64 `json:"x"`
	LogPost   float64   `json:"log_posterior"`
	Evals     int       `json:"evaluations"`
	Converged bool      `json:"converged"`
	// Flip: started from an orientation-flipped variant of the best of
	// the screened starts (see flipStarts).
	Flip bool `json:"flip,omitempty"`
}

// FitResult is the outcome of Fit.
type FitResult struct {
	Names      []string
	Starts     []StartResult
	Modes      []Mode // best first
	MAP        []float64
	MAPLogPost float64
	MAPLogEv   float64
	// MAPFromChain: a sampled point had a higher posterior than the best
	// optimiser result and the re-optimisations, and is the MAP.
	MAPFromChain bool
	// Reoptimised lists the re-optimisations from the chains' best point
	// (FitOptions.ReoptGain); when there is one, Chain holds the steps
	// after the last, and the MAP is its result unless a sampled point is
	// higher. Modes keep the optimiser's results.
	Reoptimised []Reopt
	Chain       [][][]float64 // [step][chain][param], all steps
	LogProb     [][]float64   // [step][chain]
	Samples     [][]float64   // Samples draws after burn-in
	RHat, Tau   []float64     // per parameter, over the kept steps
	ESS         []float64
	// Acceptance overall and of the independence, random-walk and
	// differential-evolution moves (NaN for moves not made); Moves: the
	// moves used (FitOptions.Moves).
	Acceptance, AcceptIndep, AcceptRW, AcceptDE float64
	Moves                                       string
	Evaluations                                 int
	// CoarseEvaluations counts the evaluations of the coarse objective
	// (FitOptions.Coarse), Refined the refinement of its best mode.
	CoarseEvaluations int
	Refined           *StartResult
	// MAPSeconds and PosteriorSeconds are the wall times of the
	// optimisation and the sampling stage in this call.
	MAPSeconds, PosteriorSeconds float64
	// Burn: steps discarded before the diagnostics and draws (the
	// burn-in, extended when the proposal was refitted to kept draws).
	Burn int
	Stop string // StopConverged or StopBudget
	// Laplace is the approximation at the MAP the chains started from
	// (LaplaceFull: from the full Hessian, not its diagonal); Adapted: the
	// proposal was re-fitted to the burn-in.
	Laplace     *mcmc.Proposal
	LaplaceFull bool
	Adapted     bool
}

// checkpoint is the saved state of a Fit.
type checkpoint struct {
	Version     string            `json:"version"`
	Fingerprint string            `json:"fingerprint"`
	StartPoints [][]float64       `json:"start_points,omitempty"`
	Starts      []StartResult     `json:"starts"`
	Modes       []Mode            `json:"modes,omitempty"`
	Refined     *StartResult      `json:"refined,omitempty"`
	CoarseEvals int               `json:"coarse_evaluations,omitempty"`
	Laplace     *mcmc.Proposal    `json:"laplace,omitempty"`
	LaplaceFull bool              `json:"laplace_full,omitempty"`
	Adapted     bool              `json:"adapted,omitempty"`
	Chains      *mcmc.ChainsState `json:"chains,omitempty"`
	Reopts      []Reopt           `json:"reoptimisations,omitempty"`
	Extended    int               `json:"burn_extended,omitempty"` // steps added to the burn-in
	Extensions  int               `json:"burn_extensions,omitempty"`
	Chain       [][][]float64     `json:"chain,omitempty"`
	LogProb     [][]float64       `json:"log_prob,omitempty"`
	Evaluations int               `json:"evaluations"`
}

const checkpointVersion = "lenscore-lensfit-4"

func (c *checkpoint) write(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("lensfit: checkpoint: %w", err)
	}
	return weights.WriteFileAtomic(path, b)
}

// readCheckpoint loads a checkpoint and checks its fingerprint.
func readCheckpoint(path, fingerprint string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lensfit: resume: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("lensfit: resume: %s is not a valid checkpoint: %w", path, err)
	}
	if c.Version != checkpointVersion {
		return nil, fmt.Errorf("lensfit: resume: %s has version %q, want %q", path, c.Version, checkpointVersion)
	}
	if c.Fingerprint != fingerprint {
		return nil, fmt.Errorf("lensfit: resume: %s was written for different inputs or settings:\n  saved: %s\n  now:   %s", path, c.Fingerprint, fingerprint)
	}
	return &c, nil
}

// Fit finds the modes of the posterior by Nelder–Mead from several starts
// and the flipped orientation of the best (on the coarse objective when
// FitOptions.Coarse is set, then refining the best mode on the full one),
// then samples around the best mode with Metropolis–Hastings chains from the
// Laplace approximation: see the package documentation. Cancelling ctx saves the checkpoint (if any) and
// returns ctx's error.
func Fit(ctx context.Context, o *Objective, opt FitOptions) (*FitResult, error) {
	d := o.Dim()
	if err := opt.defaults(d); err != nil {
		return nil, fmt.Errorf("lensfit: %w", err)
	}
	ck := &checkpoint{Version: checkpointVersion, Fingerprint: opt.Fingerprint}
	if opt.Resume {
		if opt.Checkpoint == "" {
			return nil, errors.New("lensfit: resume needs a checkpoint path")
		}
		c, err := readCheckpoint(opt.Checkpoint, opt.Fingerprint)
		if err != nil {
			return nil, err
		}
		ck = c
		o.Evals = c.Evaluations
	}
	t0 := time.Now()
	// co is the objective of the screen and the multi-start optimisation:
	// o itself, or its coarse version.
	co := o
	if opt.Coarse > 1 {
		var err error
		if co, err = o.Coarsen(opt.Coarse); err != nil {
			return nil, err
		}
		co.Evals = ck.CoarseEvals
	}
	save := func() error {
		if opt.Checkpoint == "" {
			return nil
		}
		ck.Evaluations = o.Evals
		if co != o {
			ck.CoarseEvals = co.Evals
		}
		return ck.write(opt.Checkpoint)
	}
	// Starts: the best Starts points of a screen of the given start, its
	// orientation and scale variants and random perturbations.
	steps := o.Steps()
	x0 := o.Pack(o.Base, o.Scale)
	if math.IsInf(o.LogPrior(x0), -1) {
		return nil, errors.New("lensfit: the start is outside the prior")
	}
	if ck.StartPoints == nil {
		ck.StartPoints = screenStarts(co, x0, steps, opt.Starts, opt.Seed)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := save(); err != nil {
			return nil, err
		}
	}
	starts := ck.StartPoints
	if len(starts) != opt.Starts {
		return nil, fmt.Errorf("lensfit: resume: the checkpoint has %d starts, want %d", len(starts), opt.Starts)
	}
	// After the screened starts, the better (by log posterior) of the
	// orientation-flipped variants of the best of them (flipStarts) is
	// optimised too, unless that is nearly round.
	total := opt.Starts + min(1, len(flipStarts(o, x0)))
	var bar *progress.Bar
	if opt.Progress != nil {
		// The bar counts evaluations against the budget total × MaxEval
		// (an upper bound: Nelder–Mead usually stops earlier).
		name := "optimiser evaluations"
		if co != o {
			name = "coarse optimiser evaluations"
		}
		bar = progress.New(opt.Progress, name, len(ck.Starts)*opt.MaxEval, total*opt.MaxEval)
	}
	// The coarse starts run two at a time on their own evidence buffers
	// (the coarse factorisation is single-threaded); every start is
	// independent, so the result does not depend on this.
	objs := []*Objective{co}
	if co != o && runtime.GOMAXPROCS(0) >= 2 && opt.Starts-len(ck.Starts) >= 2 {
		co2, err := o.Coarsen(opt.Coarse)
		if err != nil {
			return nil, err
		}
		objs = append(objs, co2)
	}
	ftol, xtol := 1e-2, 1e-3
	if co != o { // the refinement on the full grid takes over
		ftol, xtol = coarseFTol, coarseXTol
	}
	for s := len(ck.Starts); s < opt.Starts; s += len(objs) {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(err, save())
		}
		e0 := co.Evals
		tick := func() {
			if bar != nil {
				bar.Update(s*opt.MaxEval+min(co.Evals-e0, opt.MaxEval-1), fmt.Sprintf("start=%d/%d", s+1, total))
			}
		}
		n := min(len(objs), opt.Starts-s)
		rs, errs := make([]*mcmc.MaximiseResult, n), make([]error, n)
		var wg sync.WaitGroup
		for k := 1; k < n; k++ {
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				rs[k], errs[k] = maximiseTwice(ctx, objs[k], starts[s+k], steps, 1, ftol, xtol, opt.MaxEval, func() {})
			}(k)
		}
		rs[0], errs[0] = maximiseTwice(ctx, co, starts[s], steps, 1, ftol, xtol, opt.MaxEval, tick)
		wg.Wait()
		for _, ob := range objs[1:] {
			co.Evals += ob.Evals
			ob.Evals = 0
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil { // cancelled starts are redone on resume
			co.Evals = e0
			return nil, errors.Join(err, save())
		}
		for k, r := range rs {
			ck.Starts = append(ck.Starts, StartResult{Start: starts[s+k], X: r.X, LogPost: r.F, Evals: r.Evals, Converged: r.Conv})
		}
		if err := save(); err != nil {
			return nil, err
		}
		if bar != nil {
			r := rs[n-1]
			bar.Force((s+n)*opt.MaxEval, fmt.Sprintf("start=%d/%d", s+n, total), fmt.Sprintf("evaluations=%d", r.Evals), fmt.Sprintf("log_posterior=%.2f", r.F))
		}
	}
	// The flipped start, on the same (coarse or full) objective as the
	// screened starts; its evaluations, those of betterFlip included, are
	// redone on resume if it is cancelled.
	if b := bestStart(ck.Starts[:opt.Starts]); b >= 0 && len(ck.Starts) == opt.Starts {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(err, save())
		}
		e0 := co.Evals
		if x := betterFlip(co, ck.Starts[b].X); x != nil {
			s := opt.Starts
			tick := func() {
				if bar != nil {
					bar.Update(s*opt.MaxEval+min(co.Evals-e0, opt.MaxEval-1), fmt.Sprintf("start=%d/%d", s+1, total))
				}
			}
			r, err := maximiseTwice(ctx, co, x, steps, 1, ftol, xtol, opt.MaxEval, tick)
			if err != nil {
				return nil, err
			}
			if err := ctx.Err(); err != nil {
				co.Evals = e0
				return nil, errors.Join(err, save())
			}
			ck.Starts = append(ck.Starts, StartResult{Start: x, X: r.X, LogPost: r.F, Evals: r.Evals, Converged: r.Conv, Flip: true})
			if err := save(); err != nil {
				return nil, err
			}
			if bar != nil {
				bar.Force((s+1)*opt.MaxEval, fmt.Sprintf("start=%d/%d", s+1, total), fmt.Sprintf("evaluations=%d", r.Evals), fmt.Sprintf("log_posterior=%.2f", r.F))
			}
		}
	}
	res := &FitResult{Names: o.Names(), Starts: ck.Starts, Burn: opt.Burn}
	if ck.Modes == nil {
		modes := groupModes(ck.Starts, steps)
		if len(modes) == 0 {
			return nil, errors.New("lensfit: no optimiser start reached a finite posterior")
		}
		if co != o {
			// Every coarse mode on the full objective; refine the best.
			for i := range modes {
				modes[i].LogPost, modes[i].Coarse = o.LogPost(modes[i].X), true
			}
			sort.SliceStable(modes, func(a, b int) bool { return modes[a].LogPost > modes[b].LogPost })
			if math.IsInf(modes[0].LogPost, -1) {
				return nil, errors.New("lensfit: no coarse mode has a finite posterior on the full source grid")
			}
			var bar *progress.Bar
			if opt.Progress != nil {
				bar = progress.New(opt.Progress, "refinement evaluations", 0, opt.MaxEval)
			}
			e0 := o.Evals
			tick := func() {
				if bar != nil {
					bar.Update(min(o.Evals-e0, opt.MaxEval-1))
				}
			}
			ce0 := co.Evals
			r, err := refine(ctx, o, co, modes[0].X, steps, opt.MaxEval, tick)
			if err != nil {
				return nil, err
			}
			if err := ctx.Err(); err != nil { // a cancelled refinement is redone on resume
				o.Evals, co.Evals = ck.Evaluations, ce0 // as before the modes' evaluations
				return nil, errors.Join(err, save())
			}
			ck.Refined = &StartResult{Start: modes[0].X, X: r.X, LogPost: r.F, Evals: r.Evals, Converged: r.Conv}
			if bar != nil {
				bar.Force(opt.MaxEval, fmt.Sprintf("evaluations=%d", r.Evals), fmt.Sprintf("log_posterior=%.2f", r.F))
			}
			if r.F >= modes[0].LogPost {
				modes[0].X, modes[0].LogPost, modes[0].Converged, modes[0].Coarse = r.X, r.F, r.Conv, false
			}
		}
		for i := range modes {
			le, err := o.LogEvidence(modes[i].X)
			if err != nil {
				return nil, err
			}
			modes[i].LogEvidence = le
		}
		ck.Modes = modes
		if err := save(); err != nil {
			return nil, err
		}
	}
	res.Modes, res.Refined = ck.Modes, ck.Refined
	res.MAPSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	best := res.Modes[0]
	res.MAP, res.MAPLogPost, res.MAPLogEv = best.X, best.LogPost, best.LogEvidence
	// Posterior: Metropolis–Hastings chains from the Laplace
	// approximation at the best mode.
	if err := sample(ctx, o, ck, best.X, best.LogPost, opt, save, res); err != nil {
		return nil, err
	}
	newMAP := false
	if n := len(res.Reoptimised); n > 0 && res.Reoptimised[n-1].LogPost > res.MAPLogPost {
		res.MAP, res.MAPLogPost, newMAP = res.Reoptimised[n-1].X, res.Reoptimised[n-1].LogPost, true
	}
	// The MAP is the best point seen: the sampler may pass above the
	// optimiser's end point, which stops at a tolerance.
	for s, row := range res.LogProb {
		for w, lp := range row {
			if lp > res.MAPLogPost {
				res.MAP, res.MAPLogPost, res.MAPFromChain = res.Chain[s][w], lp, true
			}
		}
	}
	if res.MAPFromChain || newMAP {
		var err error
		if res.MAPLogEv, err = o.LogEvidence(res.MAP); err != nil {
			return nil, err
		}
	}
	res.PosteriorSeconds = time.Since(t1).Seconds()
	res.Evaluations = o.Evals
	if co != o {
		res.CoarseEvaluations = co.Evals
	}
	// Thinned draws: evenly spaced over the kept steps × walkers.
	kept, nw := res.Chain[res.Burn:], len(res.Chain[0])
	ndraw := len(kept) * nw
	for i := 0; i < opt.Samples; i++ {
		j := int((float64(i) + 0.5) * float64(ndraw) / float64(opt.Samples))
		res.Samples = append(res.Samples, slices.Clone(kept[j/nw][j%nw]))
	}
	return res, nil
}

// screenStarts returns the n best points, by log posterior, of: the given
// start x0; its variants with (e1, e2) = 0.2 (cos α, sin α),
// α ∈ {0, π/2, π, 3π/2} (the four major-axis orientations 0°, 45°, 90°,
// 135°; when e1 and e2 are free) combined with θ_E × {0.9, 1, 1.1} (when
// θ_E is free); and 3n points perturbed uniformly by up to three typical
// scales (stream 0x5eed of the seed). The evidence surface is multi-modal
// in the orientation (an ellipticity along one axis mimics a shear along
// the other), so a start at e = 0 alone can end in the wrong mode.
func screenStarts(o *Objective, x0, steps []float64, n int, seed uint64) [][]float64 {
	idx := func(p int) int { // position of lens parameter p among the free ones, or −1
		for k, i := range o.free {
			if i == p {
				return k
			}
		}
		return -1
	}
	cands := [][]float64{slices.Clone(x0)}
	ie1, ie2, ith := idx(lens.PE1), idx(lens.PE2), idx(lens.PThetaE)
	scales := []float64{1}
	if ith >= 0 {
		scales = []float64{0.9, 1, 1.1}
	}
	for _, f := range scales {
		if ie1 >= 0 && ie2 >= 0 {
			for a := 0; a < 4; a++ {
				c := slices.Clone(x0)
				if ith >= 0 {
					c[ith] *= f
				}
				s, co := math.Sincos(float64(a) * math.Pi / 2)
				c[ie1], c[ie2] = 0.2*co, 0.2*s
				cands = append(cands, c)
			}
		} else if f != 1 {
			c := slices.Clone(x0)
			c[ith] *= f
			cands = append(cands, c)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for r := 0; r < 3*n; r++ {
		x := slices.Clone(x0)
		for k := range x {
			x[k] = x0[k] + 3*steps[k]*(2*rng.Float64()-1)
		}
		cands = append(cands, x)
	}
	type scored struct {
		x []float64
		f float64
		i int
	}
	var sc []scored
	for i, c := range cands {
		if f := o.LogPost(c); !math.IsInf(f, -1) && !math.IsNaN(f) {
			sc = append(sc, scored{c, f, i})
		}
	}
	sort.SliceStable(sc, func(a, b int) bool { return sc[a].f > sc[b].f })
	out := [][]float64{}
	for _, c := range sc {
		if len(out) == n {
			break
		}
		out = append(out, c.x)
	}
	for len(out) < n { // fewer valid candidates than starts: repeat x0
		out = append(out, slices.Clone(x0))
	}
	return out
}

// coarseFTol and coarseXTol are the Nelder–Mead tolerances (on the log
// posterior, and on the simplex edges relative to the typical scales) of
// the coarse multi-start stage: its optimum is biased relative to the full
// grid's anyway (by tens of standard deviations at a high signal-to-noise
// ratio), so it needs to find the basin, not the last decimal.
const (
	coarseFTol = 0.1
	coarseXTol = 1e-2
)

// maximiseTwice runs Nelder–Mead with simplex edges scale·steps and
// restarts it once from its best point with edges 0.3·scale·steps (a fresh
// simplex escapes a collapsed one).
func maximiseTwice(ctx context.Context, o *Objective, x0, steps []float64, scale, ftol, xtol float64, maxEval int, tick func()) (*mcmc.MaximiseResult, error) {
	f := func(x []float64) float64 {
		if ctx.Err() != nil {
			return math.Inf(-1)
		}
		v := o.LogPost(x)
		tick()
		return v
	}
	half := max(maxEval/2, 5)
	first := make([]float64, len(steps))
	small := make([]float64, len(steps))
	for i, s := range steps {
		first[i], small[i] = scale*s, 0.3*scale*s
	}
	r, err := mcmc.Maximise(f, x0, mcmc.MaximiseOptions{Steps: first, FTol: ftol, XTol: xtol, MaxEval: half})
	if err != nil {
		return nil, fmt.Errorf("lensfit: optimiser: %w", err)
	}
	r2, err := mcmc.Maximise(f, r.X, mcmc.MaximiseOptions{Steps: small, FTol: ftol, XTol: xtol, MaxEval: maxEval - r.Evals})
	if err != nil {
		return r, nil
	}
	r2.Evals += r.Evals
	if r2.F < r.F {
		r2.X, r2.F = r.X, r.F
	}
	return r2, nil
}

// groupModes merges start results closer than half a step in every
// parameter into modes, best first.
func groupModes(rs []StartResult, steps []float64) []Mode {
	idx := make([]int, len(rs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return rs[idx[a]].LogPost > rs[idx[b]].LogPost })
	var modes []Mode
	for _, i := range idx {
		r := rs[i]
		if math.IsInf(r.LogPost, -1) {
			continue
		}
		found := false
		for m := range modes {
			near := true
			for k, v := range r.X {
				if math.Abs(v-modes[m].X[k]) > 0.5*steps[k] {
					near = false
					break
				}
			}
			if near {
				modes[m].Starts = append(modes[m].Starts, i)
				modes[m].Converged = modes[m].Converged || r.Converged
				found = true
				break
			}
		}
		if !found {
			modes = append(modes, Mode{X: r.X, LogPost: r.LogPost, Starts: []int{i}, Converged: r.Converged})
		}
	}
	return modes
}

// Quantile returns the q-quantile of v (linear interpolation, v copied).
func Quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	x := q * float64(len(s)-1)
	i := int(math.Floor(x))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (x-float64(i))*(s[i+1]-s[i])
}
