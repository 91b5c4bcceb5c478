package mcmc

import (
	"fmt"
	"math"
	"sort"
)

// MaximiseOptions configures Maximise.
type MaximiseOptions struct {
	Steps   []float64 // initial simplex edge per dimension (required, > 0)
	FTol    float64   // stop when max f − min f over the simplex < FTol (default 1e-4)
	XTol    float64   // … and the largest edge < XTol·Steps (default 1e-4)
	MaxEval int       // evaluation budget (default 200·d)
}

// MaximiseResult is the best point found.
type MaximiseResult struct {
	X     []float64
	F     float64
	Evals int
	Conv  bool // the tolerances were met before MaxEval
}

// Maximise maximises f by Nelder–Mead from x0 (f(x0) must be finite).
func Maximise(f LogDensity, x0 []float64, opt MaximiseOptions) (*MaximiseResult, error) {
	d := len(x0)
	if d == 0 || len(opt.Steps) != d {
		return nil, fmt.Errorf("mcmc: Maximise needs one step per dimension (%d), got %d", d, len(opt.Steps))
	}
	for i, s := range opt.Steps {
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("mcmc: Maximise: step %d is %g, want > 0", i, s)
		}
	}
	if opt.FTol == 0 {
		opt.FTol = 1e-4
	}
	if opt.XTol == 0 {
		opt.XTol = 1e-4
	}
	if opt.MaxEval == 0 {
		opt.MaxEval = 200 * d
	}
	evals := 0
	g := func(x []float64) float64 { // minimised: −f, +Inf outside
		evals++
		v := f(x)
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return -v
	}
	type vert struct {
		x []float64
		f float64
	}
	s := make([]vert, d+1)
	s[0] = vert{append([]float64(nil), x0...), g(x0)}
	if math.IsInf(s[0].f, 0) {
		return nil, fmt.Errorf("mcmc: Maximise: f(x0) = %g", -s[0].f)
	}
	for i := 0; i < d; i++ {
		x := append([]float64(nil), x0...)
		x[i] += opt.Steps[i]
		fx := g(x)
		if math.IsInf(fx, 1) { // outside: try the other side
			x[i] = x0[i] - opt.Steps[i]
			fx = g(x)
		}
		s[i+1] = vert{x, fx}
	}
	cen := make([]float64, d)
	pt := func(a float64, out []float64) []float64 { // cen + a (cen − worst)
		w := s[d].x
		for i := range out {
			out[i] = cen[i] + a*(cen[i]-w[i])
		}
		return out
	}
	xr, xe := make([]float64, d), make([]float64, d)
	conv := false
	for evals < opt.MaxEval {
		sort.SliceStable(s, func(a, b int) bool { return s[a].f < s[b].f })
		if s[d].f-s[0].f < opt.FTol {
			edge := 0.0
			for _, v := range s[1:] {
				for i := range v.x {
					edge = math.Max(edge, math.Abs(v.x[i]-s[0].x[i])/opt.Steps[i])
				}
			}
			if edge < opt.XTol || !math.IsInf(s[d].f, 0) && s[d].f-s[0].f < opt.FTol*1e-3 {
				conv = true
				break
			}
		}
		clear(cen)
		for _, v := range s[:d] {
			for i := range cen {
				cen[i] += v.x[i] / float64(d)
			}
		}
		fr := g(pt(1, xr))
		switch {
		case fr < s[0].f:
			fe := g(pt(2, xe))
			if fe < fr {
				copy(s[d].x, xe)
				s[d].f = fe
			} else {
				copy(s[d].x, xr)
				s[d].f = fr
			}
		case fr < s[d-1].f:
			copy(s[d].x, xr)
			s[d].f = fr
		default:
			var fc float64
			if fr < s[d].f {
				fc = g(pt(0.5, xe)) // outside contraction
			} else {
				fc = g(pt(-0.5, xe)) // inside contraction
			}
			if fc < math.Min(fr, s[d].f) {
				copy(s[d].x, xe)
				s[d].f = fc
				continue
			}
			for k := 1; k <= d; k++ { // shrink towards the best
				for i := range s[k].x {
					s[k].x[i] = s[0].x[i] + 0.5*(s[k].x[i]-s[0].x[i])
				}
				s[k].f = g(s[k].x)
			}
		}
	}
	sort.SliceStable(s, func(a, b int) bool { return s[a].f < s[b].f })
	return &MaximiseResult{X: s[0].x, F: -s[0].f, Evals: evals, Conv: conv}, nil
}
