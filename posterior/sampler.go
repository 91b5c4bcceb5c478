package posterior

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/lenscore/lenscore/progress"
	"github.com/lenscore/lenscore/sde"
)

// Sampler names for Options.Sampler.
const (
	SamplerEM = "em" // Euler–Maruyama predictor only
	SamplerPC = "pc" // predictor–corrector (Langevin corrector)
	// SamplerAncestral is the first-order exponential-integrator
	// (ancestral) step of the reverse SDE, one score evaluation per step
	// like "em" and stable at large steps, but its samples are too narrow
	// at few steps (22 % of the variance missing at 40).
	SamplerAncestral = "ancestral"
	// SamplerMultistep is the second-order multistep exponential
	// integrator (SDE-DPM-Solver++(2M)): one score evaluation per step.
	SamplerMultistep = "dpm2"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultTarget          = 0.99
	DefaultEps             = 1e-3
	DefaultSNR             = 0.16
	DefaultCheckpointEvery = 5 * time.Minute
)

// ErrStopped is returned (wrapped) when sampling pauses at Options.StopAfter.
var ErrStopped = errors.New("posterior: sampling paused at StopAfter")

// Options configures Sample and Resume. Zero values select the defaults.
type Options struct {
	Steps     int     // reverse-time steps; 0 = sde.StepsFor(dim, Target)
	Target    float64 // overlap probability for the automatic step count (0.99)
	Eps       float64 // final time t_end (1e-3)
	Sampler   string  // "em" (default), "pc", "ancestral" or "dpm2"
	Corrector int     // Langevin corrector steps per predictor step for "pc" (1)
	SNR       float64 // corrector signal-to-noise ratio r (0.16)
	Denoise   bool    // final Tweedie step x ← x + σ(t_end)² s(x, t_end)
	// PriorJacobian makes the likelihood score (∂x̂₀/∂x)ᵀ v with the prior's
	// own Jacobian, v + σ² (∂s/∂x)ᵀ v, instead of the likelihood's proxy
	// for it: the prior must be a JacobianPrior, the likelihood a
	// CotangentLikelihood (e.g. Projected). One back-propagation through
	// the prior per score, so ≈ 3× the cost of a network evaluation.
	PriorJacobian bool
	// JacobianBelow, when positive, limits PriorJacobian to the steps with
	// σ(t) ≤ JacobianBelow; above it the likelihood's proxy Jacobian is
	// used. (At large σ the identity part of ∂x̂₀/∂x = I + σ²∂s/∂x must
	// cancel against σ²∂s/∂x almost exactly, which a learned score does
	// not do to the precision the data's 1/σ_n² weight needs.)
	JacobianBelow float64

	Seed       uint64    // chain k uses rand.NewPCG(Seed, FirstChain+k)
	FirstChain uint64    // global index of chain 0 (to split chains over jobs)
	Chains     int       // number of chains (1)
	InitMean   []float64 // μ_init of x(1) ~ N(μ_init, σ_max² I); nil = 0
	Workers    int       // goroutines for the likelihood (GOMAXPROCS)

	CheckpointPath  string        // "" = no checkpoints
	CheckpointEvery time.Duration // wall-clock interval (5 min)
	CheckpointSteps int           // also every this many steps (0 = off)
	StopAfter       int           // pause (checkpoint + ErrStopped) after this many steps (0 = off)
	Progress        io.Writer     // progress line destination (nil = none)
}

// Result holds the samples and the cost accounting of a run.
type Result struct {
	Samples   [][]float64 // Chains images of Dim pixels
	Steps     int         // predictor steps
	NFE       int         // prior score evaluations per chain (network evaluations)
	VJP       int         // prior vector–Jacobian products per chain (PriorJacobian mode)
	PriorTime time.Duration
	OtherTime time.Duration
}

// pass is one sweep of the sampler's workers over their chains at time t:
// each chain's likelihood score into sl (unless likDone: PriorJacobian
// mode has set it already), then rule applied to the chain. With
// cotangent set it only writes the likelihood cotangents v into sl.
type pass struct {
	w         int
	t         float64
	rule      updateRule
	likDone   bool
	cotangent bool
}

// sampler holds all buffers of one run; step does not allocate.
type sampler struct {
	prior  Prior
	lik    Likelihood
	ve     sde.VE
	opt    Options
	k, n   int
	steps  int
	ts     []float64
	x, sp  []float64 // chain states and prior scores (K×N)
	sl     []float64 // likelihood / total scores (K×N)
	vj     []float64 // prior VJPs (K×N, PriorJacobian mode)
	jprior JacobianPrior
	pa     PriorAware          // lik when it uses the prior's score, else nil
	cot    CotangentLikelihood // lik in PriorJacobian mode, else nil
	blik   BatchLikelihood     // lik when it scores the whole batch at once, else nil
	hooks  hooks
	// the update rules, reconfigured before each pass
	em      eulerMaruyama
	anc     ancestral
	ms      multistep2
	prev    []float64 // multistep: each chain's previous Tweedie mean (K×N)
	msS2    float64   // multistep: σ(t_i)² of the current step
	lgv     langevin
	tw      tweedie
	pcgs    []*rand.PCG
	rngs    []*rand.Rand
	scratch [][]float64
	zbuf    [][]float64
	workers int
	jobs    chan pass
	wg      sync.WaitGroup
	nfe     int
	vjp     int
	prTime  time.Duration
}

func newSampler(prior Prior, lik Likelihood, ve sde.VE, opt Options) (*sampler, error) {
	if prior == nil {
		return nil, errors.New("posterior: sample: nil prior")
	}
	if err := ve.Validate(); err != nil {
		return nil, err
	}
	n := prior.Dim()
	if lik != nil && lik.Dim() != n {
		return nil, fmt.Errorf("posterior: sample: likelihood has %d pixels, prior %d", lik.Dim(), n)
	}
	if opt.Chains == 0 {
		opt.Chains = 1
	}
	if opt.Target == 0 {
		opt.Target = DefaultTarget
	}
	if opt.Eps == 0 {
		opt.Eps = DefaultEps
	}
	if opt.Sampler == "" {
		opt.Sampler = SamplerEM
	}
	if opt.SNR == 0 {
		opt.SNR = DefaultSNR
	}
	if opt.Sampler == SamplerPC && opt.Corrector == 0 {
		opt.Corrector = 1
	}
	if opt.Sampler != SamplerPC {
		opt.Corrector = 0
	}
	if opt.CheckpointEvery == 0 {
		opt.CheckpointEvery = DefaultCheckpointEvery
	}
	switch {
	case opt.Chains < 0:
		return nil, fmt.Errorf("posterior: sample: Chains = %d must be positive", opt.Chains)
	case opt.Sampler != SamplerEM && opt.Sampler != SamplerPC && opt.Sampler != SamplerAncestral && opt.Sampler != SamplerMultistep:
		return nil, fmt.Errorf("posterior: sample: Sampler %q must be %q, %q, %q or %q", opt.Sampler, SamplerEM, SamplerPC, SamplerAncestral, SamplerMultistep)
	case opt.Steps < 0 || opt.Corrector < 0 || opt.CheckpointSteps < 0 || opt.StopAfter < 0:
		return nil, errors.New("posterior: sample: Steps, Corrector, CheckpointSteps and StopAfter must be non-negative")
	case !(opt.Eps > 0 && opt.Eps < 1):
		return nil, fmt.Errorf("posterior: sample: Eps = %g must be in (0, 1)", opt.Eps)
	case !(opt.SNR > 0):
		return nil, fmt.Errorf("posterior: sample: SNR = %g must be positive", opt.SNR)
	case opt.InitMean != nil && len(opt.InitMean) != n:
		return nil, fmt.Errorf("posterior: sample: InitMean has %d values, want %d", len(opt.InitMean), n)
	}
	var jp JacobianPrior
	var cot CotangentLikelihood
	if opt.PriorJacobian {
		var ok bool
		if jp, ok = prior.(JacobianPrior); !ok {
			return nil, fmt.Errorf("posterior: sample: PriorJacobian needs a prior with a Jacobian (%T has none)", prior)
		}
		if cot, ok = lik.(CotangentLikelihood); !ok {
			return nil, fmt.Errorf("posterior: sample: PriorJacobian needs a likelihood of the projected form (%T is not)", lik)
		}
		if err := checkWholeBatch(prior, opt.Chains); err != nil {
			return nil, fmt.Errorf("posterior: sample: %w", err)
		}
	}
	pa, _ := lik.(PriorAware)
	var blik BatchLikelihood
	if b, ok := lik.(BatchLikelihood); ok && pa == nil {
		blik = b
	}
	if opt.Steps == 0 {
		s, err := ve.StepsFor(n, opt.Target)
		if err != nil {
			return nil, fmt.Errorf("posterior: sample: automatic step count: %w", err)
		}
		opt.Steps = s
	}
	w := opt.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	w = min(w, opt.Chains)
	s := &sampler{prior: prior, lik: lik, ve: ve, opt: opt, k: opt.Chains, n: n, steps: opt.Steps,
		ts: sde.Times(opt.Steps, opt.Eps), workers: w,
		x: make([]float64, opt.Chains*n), sp: make([]float64, opt.Chains*n), sl: make([]float64, opt.Chains*n),
		scratch: make([][]float64, w), zbuf: make([][]float64, w), jprior: jp, pa: pa, cot: cot, blik: blik}
	s.setHooks(hooks{})
	if r, ok := lik.(interface{ reserve(int) }); ok {
		r.reserve(w) // per-goroutine state of the likelihood, so that steps do not allocate
	}
	if jp != nil {
		s.vj = make([]float64, opt.Chains*n)
	}
	if opt.Sampler == SamplerMultistep {
		s.prev = make([]float64, opt.Chains*n)
	}
	for i := range s.scratch {
		if lik != nil {
			s.scratch[i] = make([]float64, lik.ScratchLen())
		}
		s.zbuf[i] = make([]float64, n)
	}
	s.pcgs = make([]*rand.PCG, s.k)
	s.rngs = make([]*rand.Rand, s.k)
	for c := range s.pcgs {
		s.pcgs[c] = rand.NewPCG(opt.Seed, opt.FirstChain+uint64(c))
		s.rngs[c] = rand.New(s.pcgs[c])
	}
	return s, nil
}

// setHooks sets the test hooks (hooks{}: the true sampler).
func (s *sampler) setHooks(h hooks) {
	s.hooks = h.withDefaults()
	s.lgv = langevin{snr: s.opt.SNR, noise: s.hooks.noise}
}

// init draws x(1) ~ N(μ_init, σ_max² I) for every chain.
func (s *sampler) init() {
	for c := 0; c < s.k; c++ {
		xc := s.x[c*s.n : (c+1)*s.n]
		r := s.rngs[c]
		for i := range xc {
			m := 0.0
			if s.opt.InitMean != nil {
				m = s.opt.InitMean[i]
			}
			xc[i] = m + s.ve.SigmaMax*r.NormFloat64()
		}
	}
}

func (s *sampler) start() {
	if s.workers <= 1 {
		return
	}
	s.jobs = make(chan pass, s.workers)
	for i := 0; i < s.workers; i++ {
		go func() {
			for j := range s.jobs {
				s.work(j)
				s.wg.Done()
			}
		}()
	}
}

func (s *sampler) stop() {
	if s.jobs != nil {
		close(s.jobs)
		s.jobs = nil
	}
}

// parallel runs a pass over all chains, split into contiguous chunks.
func (s *sampler) parallel(j pass) {
	if s.workers <= 1 {
		j.w = 0
		s.work(j)
		return
	}
	s.wg.Add(s.workers)
	for w := 0; w < s.workers; w++ {
		j.w = w
		s.jobs <- j
	}
	s.wg.Wait()
}

// work runs pass j over the chains of chunk j.w.
func (s *sampler) work(j pass) {
	lo, hi := j.w*s.k/s.workers, (j.w+1)*s.k/s.workers
	n := s.n
	scratch, z := s.scratch[j.w], s.zbuf[j.w]
	for c := lo; c < hi; c++ {
		x, sp, sl := s.x[c*n:(c+1)*n], s.sp[c*n:(c+1)*n], s.sl[c*n:(c+1)*n]
		switch {
		case j.cotangent:
			s.cot.Cotangent(sl, x, sp, j.t, scratch)
			continue
		case j.likDone:
		case s.pa != nil:
			s.pa.ScoreGivenPrior(sl, x, sp, j.t, scratch)
		case s.lik != nil:
			s.lik.Score(sl, x, j.t, scratch)
		default:
			clear(sl)
		}
		if j.rule == updateRule(&s.ms) {
			s.ms.step(x, sp, sl, s.prev[c*n:(c+1)*n], s.msS2, s.rngs[c])
			continue
		}
		j.rule.update(x, sp, sl, s.rngs[c], z)
	}
}

// usesJacobian reports whether a prior evaluation at t also back-propagates
// the likelihood cotangent (PriorJacobian mode, σ(t) ≤ JacobianBelow).
func (s *sampler) usesJacobian(t float64) bool {
	return s.jprior != nil && (s.opt.JacobianBelow <= 0 || s.ve.Sigma(t) <= s.opt.JacobianBelow)
}

// vjpsBefore counts the vector–Jacobian products of the first step steps
// (the checkpoint stores the NFE only; this recovers the VJP count).
func (s *sampler) vjpsBefore(step int) int {
	n := 0
	for i := 0; i < step; i++ {
		if s.usesJacobian(s.ts[i]) {
			n++
		}
		if i < s.steps-1 && s.usesJacobian(s.ts[i+1]) {
			n += s.opt.Corrector
		}
	}
	return n
}

// priorScore evaluates the prior on the whole batch at time t. In
// PriorJacobian mode it also sets sl to the likelihood scores
// v + σ² (∂s/∂x)ᵀ v and reports true.
func (s *sampler) priorScore(t float64) (likDone bool, err error) {
	t0 := time.Now()
	useJ := s.usesJacobian(t)
	if useJ {
		err = s.jprior.ScoreKeep(s.sp, s.x, s.k, t)
	} else {
		err = s.prior.Score(s.sp, s.x, s.k, t)
	}
	s.prTime += time.Since(t0)
	s.nfe++
	if err != nil {
		return false, fmt.Errorf("posterior: prior score at t=%g: %w", t, err)
	}
	if !useJ {
		return false, nil
	}
	s.parallel(pass{t: t, cotangent: true})
	t0 = time.Now()
	err = s.jprior.VJP(s.vj, s.sl, s.k)
	s.prTime += time.Since(t0)
	s.vjp++
	if err != nil {
		return false, fmt.Errorf("posterior: prior Jacobian at t=%g: %w", t, err)
	}
	sg := s.ve.Sigma(t)
	s2 := sg * sg
	for i, v := range s.vj {
		s.sl[i] += s2 * v
	}
	return true, nil
}

// apply evaluates the posterior score of every chain at t and applies
// the update rule u to each.
func (s *sampler) apply(t float64, u updateRule) error {
	done, err := s.priorScore(t)
	if err != nil {
		return err
	}
	if !done && s.blik != nil {
		if err := s.blik.ScoreBatch(s.sl, s.x, s.k, t); err != nil {
			return fmt.Errorf("posterior: likelihood score at t=%g: %w", t, err)
		}
		done = true
	}
	s.parallel(pass{t: t, rule: u, likDone: done})
	return nil
}

// step advances every chain from ts[i] to ts[i+1]: one Euler–Maruyama
// (or, for "ancestral" and "dpm2", exponential-integrator) step (noise-free
// for the last step), then for "pc" the Langevin correctors at ts[i+1]
// (not after the last step).
func (s *sampler) step(i int) error {
	t, tn := s.ts[i], s.ts[i+1]
	last := i == s.steps-1
	var u updateRule = &s.em
	switch s.opt.Sampler {
	case SamplerAncestral:
		s.anc.set(s.ve.Sigma(t), s.ve.Sigma(tn), last, s.hooks)
		u = &s.anc
	case SamplerMultistep:
		hPrev := 0.0
		if i > 0 {
			hPrev = math.Log(s.ve.Sigma(s.ts[i-1]) / s.ve.Sigma(t))
		}
		s.ms.set(s.ve.Sigma(t), s.ve.Sigma(tn), hPrev, last, s.hooks)
		s.msS2 = s.ve.Sigma(t) * s.ve.Sigma(t)
		u = &s.ms
	default:
		s.em.set(s.ve.G2(t), t, tn, last, s.hooks)
	}
	if err := s.apply(t, u); err != nil {
		return err
	}
	if last {
		return nil
	}
	for c := 0; c < s.opt.Corrector; c++ {
		if err := s.apply(tn, &s.lgv); err != nil {
			return err
		}
	}
	return nil
}

// denoise applies the Tweedie step at t_end.
func (s *sampler) denoise() error {
	t := s.ts[s.steps]
	sg := s.ve.Sigma(t)
	s.tw.s2 = sg * sg
	return s.apply(t, &s.tw)
}

// Sample draws Options.Chains independent samples of p(x | y) ∝ p(x) p(y|x)
// by integrating the reverse-time VE SDE from t = 1 to t = Eps. lik may be
// nil (prior samples). See the package documentation for the update rules,
// the seeding and the checkpoint format.
func Sample(ctx context.Context, prior Prior, lik Likelihood, ve sde.VE, opt Options) (*Result, error) {
	return sample(ctx, prior, lik, ve, opt, hooks{})
}

// sample is Sample with test hooks.
func sample(ctx context.Context, prior Prior, lik Likelihood, ve sde.VE, opt Options, h hooks) (*Result, error) {
	s, err := newSampler(prior, lik, ve, opt)
	if err != nil {
		return nil, err
	}
	s.setHooks(h)
	s.init()
	return s.run(ctx, 0)
}

// Resume continues a run from the checkpoint at opt.CheckpointPath. The
// prior, likelihood, schedule and options must match those of the
// interrupted run (checked by fingerprint); the samples are then bitwise
// those of an uninterrupted run.
func Resume(ctx context.Context, prior Prior, lik Likelihood, ve sde.VE, opt Options) (*Result, error) {
	if opt.CheckpointPath == "" {
		return nil, errors.New("posterior: resume: no CheckpointPath given")
	}
	s, err := newSampler(prior, lik, ve, opt)
	if err != nil {
		return nil, err
	}
	step, err := s.load(opt.CheckpointPath)
	if err != nil {
		return nil, err
	}
	return s.run(ctx, step)
}

func (s *sampler) run(ctx context.Context, from int) (*Result, error) {
	s.start()
	defer s.stop()
	t0 := time.Now()
	prior0 := s.prTime
	var bar *progress.Bar
	if s.opt.Progress != nil {
		bar = progress.New(s.opt.Progress, "posterior", from, s.steps)
	}
	lastCk := time.Now()
	for i := from; i < s.steps; i++ {
		if err := s.step(i); err != nil {
			return nil, err
		}
		done := i + 1
		if bar != nil {
			bar.Update(done)
		}
		if done == s.steps {
			break
		}
		if err := ctx.Err(); err != nil {
			if s.opt.CheckpointPath == "" {
				return nil, fmt.Errorf("posterior: sampling cancelled at step %d/%d (no checkpoint path): %w", done, s.steps, err)
			}
			if werr := s.save(s.opt.CheckpointPath, done); werr != nil {
				return nil, fmt.Errorf("posterior: sampling cancelled at step %d and %v: %w", done, werr, err)
			}
			return nil, fmt.Errorf("posterior: sampling cancelled at step %d/%d, checkpoint %s: %w", done, s.steps, s.opt.CheckpointPath, err)
		}
		if s.opt.CheckpointPath != "" {
			if done == s.opt.StopAfter {
				if err := s.save(s.opt.CheckpointPath, done); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("posterior: step %d/%d, checkpoint %s: %w", done, s.steps, s.opt.CheckpointPath, ErrStopped)
			}
			if (s.opt.CheckpointSteps > 0 && done%s.opt.CheckpointSteps == 0) || time.Since(lastCk) >= s.opt.CheckpointEvery {
				if err := s.save(s.opt.CheckpointPath, done); err != nil {
					return nil, err
				}
				lastCk = time.Now()
			}
		} else if done == s.opt.StopAfter {
			return nil, errors.New("posterior: StopAfter needs a CheckpointPath")
		}
	}
	if s.opt.Denoise {
		if err := s.denoise(); err != nil {
			return nil, err
		}
	}
	res := &Result{Samples: make([][]float64, s.k), Steps: s.steps, NFE: s.nfe, VJP: s.vjp, PriorTime: s.prTime - prior0}
	res.OtherTime = time.Since(t0) - res.PriorTime
	out := append([]float64(nil), s.x...)
	for c := range res.Samples {
		res.Samples[c] = out[c*s.n : (c+1)*s.n : (c+1)*s.n]
	}
	return res, nil
}
