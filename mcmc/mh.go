package mcmc

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Proposal is the Gaussian approximation N(Mean, L Lᵀ) of a target that
// Chains proposes from: L is the lower-triangular Cholesky factor of the
// covariance, row-major d×d (entries above the diagonal are ignored).
type Proposal struct {
	Mean []float64   `json:"mean"`
	L    [][]float64 `json:"chol"`
}

// check returns an error unless p is d-dimensional with a finite,
// positive-diagonal factor.
func (p *Proposal) check(d int) error {
	if len(p.Mean) != d || len(p.L) != d {
		return fmt.Errorf("mcmc: proposal of dimension %d/%d, want %d", len(p.Mean), len(p.L), d)
	}
	for i, row := range p.L {
		if len(row) != d {
			return fmt.Errorf("mcmc: proposal factor row %d has %d entries, want %d", i, len(row), d)
		}
		if !(row[i] > 0) || math.IsInf(row[i], 0) {
			return fmt.Errorf("mcmc: proposal factor has diagonal entry %g at %d", row[i], i)
		}
		for j := 0; j <= i; j++ {
			if math.IsNaN(row[j]) || math.IsInf(row[j], 0) {
				return fmt.Errorf("mcmc: proposal factor entry (%d, %d) is %g", i, j, row[j])
			}
		}
	}
	if !finiteAll(p.Mean) {
		return errors.New("mcmc: proposal mean is not finite")
	}
	return nil
}

// ProposalFromSamples returns the Gaussian with the sample mean and
// covariance of xs (n ≥ d+1 points of dimension d), or an error if the
// covariance is not positive definite.
func ProposalFromSamples(xs [][]float64) (*Proposal, error) {
	n := len(xs)
	if n == 0 {
		return nil, errors.New("mcmc: proposal from no samples")
	}
	d := len(xs[0])
	if n <= d {
		return nil, fmt.Errorf("mcmc: %d samples cannot fix a %d-dimensional covariance", n, d)
	}
	m := make([]float64, d)
	for _, x := range xs {
		for i, v := range x {
			m[i] += v / float64(n)
		}
	}
	c := make([][]float64, d)
	for i := range c {
		c[i] = make([]float64, d)
	}
	for _, x := range xs {
		for i := 0; i < d; i++ {
			for j := 0; j <= i; j++ {
				c[i][j] += (x[i] - m[i]) * (x[j] - m[j]) / float64(n-1)
			}
		}
	}
	l, err := Cholesky(c)
	if err != nil {
		return nil, err
	}
	return &Proposal{Mean: m, L: l}, nil
}

// Cholesky returns the lower factor L of a symmetric positive-definite
// matrix given by its lower triangle (c[i][j], j ≤ i), or an error.
func Cholesky(c [][]float64) ([][]float64, error) {
	d := len(c)
	l := make([][]float64, d)
	for i := range l {
		l[i] = make([]float64, d)
		for j := 0; j <= i; j++ {
			s := c[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			if i == j {
				if !(s > 0) || math.IsInf(s, 0) {
					return nil, fmt.Errorf("mcmc: covariance not positive definite (pivot %d = %g)", i, s)
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	return l, nil
}

func finiteAll(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// MHOptions configures Chains. Zero values take the defaults.
type MHOptions struct {
	// PIndep is the probability of an independence proposal at a step
	// (default ¾); the other steps are random-walk proposals.
	PIndep float64
	// Nu is the degrees of freedom (an integer ≥ 1) of the Student-t
	// independence proposal (default 5).
	Nu int
	// Inflate scales the independence proposal's covariance factor
	// (default 1.1: wider than the approximation, so its tails cover the
	// target's).
	Inflate float64
	// RWScale scales the random walk's covariance factor (default 2.38/√d,
	// Roberts & Rosenthal's optimum for Gaussian targets).
	RWScale float64
	// PDE is the probability of a differential-evolution move at a step
	// (default 0: none; it needs M ≥ 3 chains). The remaining steps are
	// independence moves with probability PIndep and random walks
	// otherwise, so PDE = 0 gives the same run as before the option.
	PDE float64
	// DEScale is the differential-evolution step γ (default 2.38/√(2d),
	// ter Braak's choice); every DEJumpEvery-th DE move on average
	// (probability 1/DEJumpEvery, default 10; negative: never) uses
	// γ = 1, a jump between the states of two chains.
	DEScale     float64
	DEJumpEvery int
	// DEJitter scales the Gaussian jitter added to a DE move, in units of
	// the proposal's factor L (default 0.01).
	DEJitter float64
}

// Chains runs M independent Metropolis–Hastings chains whose proposals are
// built from one Gaussian approximation of the target (see the package
// documentation). Create it with NewChains, then call Step repeatedly.
type Chains struct {
	f     LogDensity
	d, m  int
	opt   MHOptions
	prop  Proposal
	x     []float64 // M×d positions
	lp    []float64 // log densities
	lq    []float64 // log densities of the independence proposal at x
	y, z  []float64 // scratch
	pcg   *rand.PCG
	rng   *rand.Rand
	steps int
	acc   [3]int // accepted independence, random-walk, differential-evolution proposals
	nprop [3]int
}

// ChainsState is the exactly restorable state of Chains.
type ChainsState struct {
	Walkers  [][]float64 `json:"chains"`
	LogProb  []float64   `json:"log_prob"`
	Proposal Proposal    `json:"proposal"`
	PCG      []byte      `json:"pcg"`
	Steps    int         `json:"steps"`
	Accepted [3]int      `json:"accepted"` // independence, random walk, differential evolution
	Proposed [3]int      `json:"proposed"`
}

func (o *MHOptions) defaults(d int) error {
	if o.PIndep == 0 {
		o.PIndep = 0.75
	}
	if o.Nu == 0 {
		o.Nu = 5
	}
	if o.Inflate == 0 {
		o.Inflate = 1.1
	}
	if o.RWScale == 0 {
		o.RWScale = 2.38 / math.Sqrt(float64(d))
	}
	if o.DEScale == 0 {
		o.DEScale = 2.38 / math.Sqrt(2*float64(d))
	}
	if o.DEJumpEvery == 0 {
		o.DEJumpEvery = 10
	}
	if o.DEJitter == 0 {
		o.DEJitter = 0.01
	}
	switch {
	case !(o.PDE >= 0 && o.PDE <= 1):
		return fmt.Errorf("mcmc: differential-evolution probability %g not in [0, 1]", o.PDE)
	case !(o.DEScale > 0) || !(o.DEJitter > 0):
		return fmt.Errorf("mcmc: differential-evolution scales %g, %g must be > 0", o.DEScale, o.DEJitter)
	case !(o.PIndep >= 0 && o.PIndep <= 1):
		return fmt.Errorf("mcmc: independence probability %g not in [0, 1]", o.PIndep)
	case o.Nu < 1:
		return fmt.Errorf("mcmc: Student-t degrees of freedom %d < 1", o.Nu)
	case !(o.Inflate > 0) || !(o.RWScale > 0):
		return fmt.Errorf("mcmc: proposal scales %g, %g must be > 0", o.Inflate, o.RWScale)
	}
	return nil
}

// NewChains starts M = len(start) ≥ 2 chains at the given positions (each
// with finite log density) with proposals from prop and the PCG stream
// (seed, stream).
func NewChains(f LogDensity, start [][]float64, prop Proposal, opt MHOptions, seed, stream uint64) (*Chains, error) {
	m := len(start)
	if m < 2 {
		return nil, fmt.Errorf("mcmc: need ≥ 2 chains, got %d", m)
	}
	if opt.PDE > 0 && m < 3 {
		return nil, fmt.Errorf("mcmc: differential-evolution moves need ≥ 3 chains, got %d", m)
	}
	d := len(start[0])
	if d < 1 {
		return nil, errors.New("mcmc: chains have no dimensions")
	}
	c, err := newChains(f, d, m, prop, opt)
	if err != nil {
		return nil, err
	}
	c.pcg = rand.NewPCG(seed, stream)
	c.rng = rand.New(c.pcg)
	for k, s := range start {
		if len(s) != d {
			return nil, fmt.Errorf("mcmc: chain %d has %d dimensions, want %d", k, len(s), d)
		}
		copy(c.x[k*d:], s)
		c.lp[k] = f(s)
		if math.IsNaN(c.lp[k]) || math.IsInf(c.lp[k], 0) {
			return nil, fmt.Errorf("mcmc: chain %d starts where log p = %g", k, c.lp[k])
		}
		c.lq[k] = c.logQ(s)
	}
	return c, nil
}

func newChains(f LogDensity, d, m int, prop Proposal, opt MHOptions) (*Chains, error) {
	if err := opt.defaults(d); err != nil {
		return nil, err
	}
	c := &Chains{f: f, d: d, m: m, opt: opt, x: make([]float64, m*d), lp: make([]float64, m), lq: make([]float64, m),
		y: make([]float64, d), z: make([]float64, d)}
	if err := c.SetProposal(prop); err != nil {
		return nil, err
	}
	return c, nil
}

// RestoreChains returns chains continuing from a saved state (with the
// same options as the saved run).
func RestoreChains(f LogDensity, s *ChainsState, opt MHOptions) (*Chains, error) {
	m := len(s.Walkers)
	if m < 2 || len(s.LogProb) != m {
		return nil, fmt.Errorf("mcmc: saved state has %d chains and %d log densities", m, len(s.LogProb))
	}
	if opt.PDE > 0 && m < 3 {
		return nil, fmt.Errorf("mcmc: differential-evolution moves need ≥ 3 chains, saved state has %d", m)
	}
	d := len(s.Walkers[0])
	c, err := newChains(f, d, m, s.Proposal, opt)
	if err != nil {
		return nil, err
	}
	for k, x := range s.Walkers {
		if len(x) != d {
			return nil, fmt.Errorf("mcmc: saved chain %d has %d dimensions, want %d", k, len(x), d)
		}
		copy(c.x[k*d:], x)
		c.lq[k] = c.logQ(x)
	}
	copy(c.lp, s.LogProb)
	c.steps, c.acc, c.nprop = s.Steps, s.Accepted, s.Proposed
	c.pcg = rand.NewPCG(0, 0)
	if err := c.pcg.UnmarshalBinary(s.PCG); err != nil {
		return nil, fmt.Errorf("mcmc: saved random state: %w", err)
	}
	c.rng = rand.New(c.pcg)
	return c, nil
}

// Save returns the chains' state.
func (c *Chains) Save() *ChainsState {
	s := &ChainsState{LogProb: append([]float64(nil), c.lp...), Steps: c.steps, Accepted: c.acc, Proposed: c.nprop,
		Proposal: Proposal{Mean: append([]float64(nil), c.prop.Mean...)}}
	for _, row := range c.prop.L {
		s.Proposal.L = append(s.Proposal.L, append([]float64(nil), row...))
	}
	for k := 0; k < c.m; k++ {
		s.Walkers = append(s.Walkers, append([]float64(nil), c.Walker(k)...))
	}
	s.PCG, _ = c.pcg.MarshalBinary()
	return s
}

// SetProposal replaces the proposal (e.g. by one adapted to the draws of a
// burn-in, which are then discarded: a proposal that changes while the kept
// draws are made would break the chain's invariance).
func (c *Chains) SetProposal(p Proposal) error {
	if err := p.check(c.d); err != nil {
		return err
	}
	c.prop = Proposal{Mean: append([]float64(nil), p.Mean...)}
	for i, row := range p.L {
		r := make([]float64, c.d)
		copy(r[:i+1], row[:i+1])
		c.prop.L = append(c.prop.L, r)
	}
	for k := 0; k < c.m; k++ {
		c.lq[k] = c.logQ(c.Walker(k))
	}
	return nil
}

// logQ is the log density of the independence proposal (multivariate t
// with ν degrees of freedom, location Mean, scale Inflate·L) up to a
// constant: −(ν+d)/2 log(1 + ‖(Inflate·L)⁻¹(x − Mean)‖²/ν).
func (c *Chains) logQ(x []float64) float64 {
	var r2 float64
	for i := 0; i < c.d; i++ {
		s := x[i] - c.prop.Mean[i]
		for k := 0; k < i; k++ {
			s -= c.prop.L[i][k] * c.opt.Inflate * c.z[k]
		}
		c.z[i] = s / (c.prop.L[i][i] * c.opt.Inflate)
		r2 += c.z[i] * c.z[i]
	}
	nu := float64(c.opt.Nu)
	return -0.5 * (nu + float64(c.d)) * math.Log1p(r2/nu)
}

// Step advances every chain once, in chain order (a DE move of chain k
// uses the current states of the others, chains before k already moved).
// Per chain, in this order: a uniform u choosing the kernel (DE if
// u < PDE, else independence if (u − PDE)/(1 − PDE) < PIndep, else random
// walk); for DE, the two other chains a and b (IntN(M−1), IntN(M−2)) and,
// when DEJumpEvery > 0, a uniform choosing γ = 1; d standard normals (and,
// for the independence kernel, ν more for the χ²_ν of the t); then the
// acceptance uniform.
func (c *Chains) Step() {
	d := c.d
	nu := c.opt.Nu
	for k := 0; k < c.m; k++ {
		x := c.x[k*d : (k+1)*d]
		u := c.rng.Float64()
		kind := 1 // random walk
		switch {
		case u < c.opt.PDE:
			kind = 2
		case (u-c.opt.PDE)/(1-c.opt.PDE) < c.opt.PIndep:
			kind = 0
		}
		var xa, xb []float64
		gamma := c.opt.DEScale
		if kind == 2 {
			a := c.rng.IntN(c.m - 1)
			if a >= k {
				a++
			}
			b := c.rng.IntN(c.m - 2)
			if b >= min(a, k) {
				b++
			}
			if b >= max(a, k) {
				b++
			}
			xa, xb = c.Walker(a), c.Walker(b)
			if c.opt.DEJumpEvery > 0 && c.rng.Float64()*float64(c.opt.DEJumpEvery) < 1 {
				gamma = 1
			}
		}
		for i := range c.z {
			c.z[i] = c.rng.NormFloat64()
		}
		switch kind {
		case 0:
			var g float64
			for i := 0; i < nu; i++ {
				v := c.rng.NormFloat64()
				g += v * v
			}
			s := c.opt.Inflate * math.Sqrt(float64(nu)/g)
			for i := 0; i < d; i++ {
				c.y[i] = c.prop.Mean[i]
				for j := 0; j <= i; j++ {
					c.y[i] += s * c.prop.L[i][j] * c.z[j]
				}
			}
		case 1:
			for i := 0; i < d; i++ {
				c.y[i] = x[i]
				for j := 0; j <= i; j++ {
					c.y[i] += c.opt.RWScale * c.prop.L[i][j] * c.z[j]
				}
			}
		case 2:
			for i := 0; i < d; i++ {
				c.y[i] = x[i] + gamma*(xa[i]-xb[i])
				for j := 0; j <= i; j++ {
					c.y[i] += c.opt.DEJitter * c.prop.L[i][j] * c.z[j]
				}
			}
		}
		lpy := c.f(c.y)
		lqy := c.logQ(c.y)
		logR := lpy - c.lp[k]
		if kind == 0 {
			logR -= lqy - c.lq[k]
		}
		v := c.rng.Float64()
		c.nprop[kind]++
		if !math.IsNaN(lpy) && !math.IsInf(lpy, -1) && math.Log(v) < logR {
			copy(x, c.y)
			c.lp[k], c.lq[k] = lpy, lqy
			c.acc[kind]++
		}
	}
	c.steps++
}

// Walker returns chain k's position (do not modify).
func (c *Chains) Walker(k int) []float64 { return c.x[k*c.d : (k+1)*c.d] }

// LogProb returns chain k's log density.
func (c *Chains) LogProb(k int) float64 { return c.lp[k] }

// Walkers returns the number of chains M.
func (c *Chains) Walkers() int { return c.m }

// Dim returns the dimension.
func (c *Chains) Dim() int { return c.d }

// Steps returns the number of steps taken.
func (c *Chains) Steps() int { return c.steps }

// Acceptance returns the fraction of accepted proposals overall and of the
// independence and random-walk proposals (NaN when none was made).
func (c *Chains) Acceptance() (all, indep, rw float64) {
	frac := func(a, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return float64(a) / float64(n)
	}
	return frac(c.acc[0]+c.acc[1]+c.acc[2], c.nprop[0]+c.nprop[1]+c.nprop[2]), frac(c.acc[0], c.nprop[0]), frac(c.acc[1], c.nprop[1])
}

// AcceptanceDE returns the fraction of accepted differential-evolution
// proposals (NaN when none was made).
func (c *Chains) AcceptanceDE() float64 {
	if c.nprop[2] == 0 {
		return math.NaN()
	}
	return float64(c.acc[2]) / float64(c.nprop[2])
}
