package mcmc

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// LogDensity returns log p(x) up to a constant (−Inf outside the support).
type LogDensity func(x []float64) float64

// Ensemble is the affine-invariant stretch-move sampler. Create it with
// NewEnsemble, then call Step repeatedly.
type Ensemble struct {
	f     LogDensity
	d, w  int
	a     float64
	x     []float64 // W×d positions
	lp    []float64 // log densities
	y     []float64 // proposal scratch
	pcg   *rand.PCG
	rng   *rand.Rand
	steps int
	acc   int // accepted proposals
	prop  int
}

// State is the exactly restorable state of an ensemble.
type State struct {
	Walkers  [][]float64 `json:"walkers"`
	LogProb  []float64   `json:"log_prob"`
	PCG      []byte      `json:"pcg"`
	Steps    int         `json:"steps"`
	Accepted int         `json:"accepted"`
	Proposed int         `json:"proposed"`
}

// NewEnsemble starts W = len(start) walkers at the given positions (each of
// dimension d, with finite log density) with the stretch scale a (0: 2) and
// the PCG stream (seed, stream).
func NewEnsemble(f LogDensity, start [][]float64, a float64, seed, stream uint64) (*Ensemble, error) {
	w := len(start)
	if w < 4 || w%2 != 0 {
		return nil, fmt.Errorf("mcmc: the ensemble needs an even number ≥ 4 of walkers, got %d", w)
	}
	d := len(start[0])
	if d < 1 {
		return nil, errors.New("mcmc: walkers have no dimensions")
	}
	if a == 0 {
		a = 2
	}
	if !(a > 1) {
		return nil, fmt.Errorf("mcmc: stretch scale must be > 1, got %g", a)
	}
	e := &Ensemble{f: f, d: d, w: w, a: a, x: make([]float64, w*d), lp: make([]float64, w), y: make([]float64, d)}
	e.pcg = rand.NewPCG(seed, stream)
	e.rng = rand.New(e.pcg)
	for k, s := range start {
		if len(s) != d {
			return nil, fmt.Errorf("mcmc: walker %d has %d dimensions, want %d", k, len(s), d)
		}
		copy(e.x[k*d:], s)
		e.lp[k] = f(s)
		if math.IsNaN(e.lp[k]) || math.IsInf(e.lp[k], 0) {
			return nil, fmt.Errorf("mcmc: walker %d starts where log p = %g", k, e.lp[k])
		}
	}
	return e, nil
}

// Restore returns an ensemble continuing from a saved State.
func Restore(f LogDensity, s *State, a float64) (*Ensemble, error) {
	w := len(s.Walkers)
	if w < 4 || w%2 != 0 || len(s.LogProb) != w {
		return nil, fmt.Errorf("mcmc: saved state has %d walkers and %d log densities", w, len(s.LogProb))
	}
	if a == 0 {
		a = 2
	}
	d := len(s.Walkers[0])
	e := &Ensemble{f: f, d: d, w: w, a: a, x: make([]float64, w*d), lp: append([]float64(nil), s.LogProb...), y: make([]float64, d),
		steps: s.Steps, acc: s.Accepted, prop: s.Proposed}
	for k, x := range s.Walkers {
		if len(x) != d {
			return nil, fmt.Errorf("mcmc: saved walker %d has %d dimensions, want %d", k, len(x), d)
		}
		copy(e.x[k*d:], x)
	}
	e.pcg = rand.NewPCG(0, 0)
	if err := e.pcg.UnmarshalBinary(s.PCG); err != nil {
		return nil, fmt.Errorf("mcmc: saved random state: %w", err)
	}
	e.rng = rand.New(e.pcg)
	return e, nil
}

// Save returns the ensemble's state.
func (e *Ensemble) Save() *State {
	s := &State{LogProb: append([]float64(nil), e.lp...), Steps: e.steps, Accepted: e.acc, Proposed: e.prop}
	for k := 0; k < e.w; k++ {
		s.Walkers = append(s.Walkers, append([]float64(nil), e.x[k*e.d:(k+1)*e.d]...))
	}
	s.PCG, _ = e.pcg.MarshalBinary()
	return s
}

// Step advances every walker once (two half-ensemble updates).
func (e *Ensemble) Step() {
	d, half := e.d, e.w/2
	for h := 0; h < 2; h++ {
		lo, olo := h*half, (1-h)*half
		for k := lo; k < lo+half; k++ {
			j := olo + e.rng.IntN(half)
			u := e.rng.Float64()
			z := ((e.a-1)*u + 1) * ((e.a-1)*u + 1) / e.a
			xk, xj := e.x[k*d:(k+1)*d], e.x[j*d:(j+1)*d]
			for i := range e.y {
				e.y[i] = xj[i] + z*(xk[i]-xj[i])
			}
			lpy := e.f(e.y)
			logR := float64(d-1)*math.Log(z) + lpy - e.lp[k]
			v := e.rng.Float64()
			e.prop++
			if !math.IsNaN(lpy) && !math.IsInf(lpy, -1) && math.Log(v) < logR {
				copy(xk, e.y)
				e.lp[k] = lpy
				e.acc++
			}
		}
	}
	e.steps++
}

// Walker returns walker k's position (do not modify).
func (e *Ensemble) Walker(k int) []float64 { return e.x[k*e.d : (k+1)*e.d] }

// LogProb returns walker k's log density.
func (e *Ensemble) LogProb(k int) float64 { return e.lp[k] }

// Walkers returns W; Dim returns d; Steps the steps taken.
func (e *Ensemble) Walkers() int { return e.w }

// Dim returns the dimension.
func (e *Ensemble) Dim() int { return e.d }

// Steps returns the number of steps taken.
func (e *Ensemble) Steps() int { return e.steps }

// Acceptance returns the fraction of accepted proposals.
func (e *Ensemble) Acceptance() float64 {
	if e.prop == 0 {
		return 0
	}
	return float64(e.acc) / float64(e.prop)
}
