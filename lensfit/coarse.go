package lensfit

import (
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
)

// Coarsen returns the evidence of the same data on a source grid f times
// coarser (Src.N/f pixels a side, f times larger, the same field), under
// the prior of the f×f block means of the source: for a GRF the
// stationary field whose covariance kernel is
//
//	c_f(D) = f⁻⁴ Σ_{δy,δx=−(f−1)}^{f−1} (f−|δy|)(f−|δx|) c(f·D + δ),
//
// exactly the covariance of the block means of the fine field (c the fine
// kernel, periodic); for N(μ₀, s²I) it is N(block means of μ₀, (s/f)² I).
// An evaluation costs about f⁶ times less in the factorisation; Fit uses
// it to screen and optimise from many starts before refining on the fine
// grid (FitOptions.Coarse). f must divide Src.N.
func (e *Evidence) Coarsen(f int) (*Evidence, error) {
	src := e.cfg.Src
	if f < 1 || src.N%f != 0 || src.N/f < 2 {
		return nil, fmt.Errorf("lensfit: coarsen: factor %d must divide the source grid side %d and leave at least 2 pixels", f, src.N)
	}
	cfg := e.cfg
	cfg.Src = lens.Grid{N: src.N / f, Scale: src.Scale * float64(f)}
	var prior posterior.GaussianPrior
	switch p := e.prior.(type) {
	case *posterior.IsoGaussian:
		iso, err := posterior.NewIsoGaussian(blockMean(p.Mean(), src.N, f), p.S()/float64(f), unitSchedule)
		if err != nil {
			return nil, fmt.Errorf("lensfit: coarsen: %w", err)
		}
		prior = iso
	case *posterior.GRF:
		nx, ny := p.Grid()
		if nx%f != 0 || ny%f != 0 {
			return nil, fmt.Errorf("lensfit: coarsen: factor %d must divide the GRF grid %d×%d", f, nx, ny)
		}
		spec := coarseSpectrum(circulantKernel(p.Spectrum(), nx, ny, func(v float64) float64 { return v }), nx, ny, f)
		g, err := posterior.NewGRF(nx/f, ny/f, p.Mean()[0], spec, unitSchedule)
		if err != nil {
			return nil, fmt.Errorf("lensfit: coarsen: %w", err)
		}
		prior = g
	default:
		return nil, fmt.Errorf("lensfit: coarsen: unsupported source prior %T", e.prior)
	}
	c, err := NewEvidence(cfg, e.data, prior)
	if err != nil {
		return nil, err
	}
	c.route = e.route
	return c, nil
}

// unitSchedule is the noise schedule of the coarse priors, which serve
// only the evidence (it never reads the schedule).
func unitSchedule(float64) float64 { return 1 }

// blockMean returns the f×f block means of an n×n image.
func blockMean(x []float64, n, f int) []float64 {
	nc := n / f
	out := make([]float64, nc*nc)
	for i, v := range x {
		out[(i/n/f)*nc+(i%n)/f] += v / float64(f*f)
	}
	return out
}

// coarseSpectrum returns the spectrum of the f×f block means of the
// stationary field with covariance kernel c on an ny×nx periodic grid:
// the kernel c_f of Coarsen's documentation, transformed,
// P_f(k) = Σ_D c_f(D) cos(2π k·D / n_f) (c_f is even).
func coarseSpectrum(c []float64, nx, ny, f int) []float64 {
	cx, cy := nx/f, ny/f
	cf := make([]float64, cx*cy)
	for dy := 0; dy < cy; dy++ {
		for dx := 0; dx < cx; dx++ {
			var s float64
			for ey := -(f - 1); ey <= f-1; ey++ {
				wy := float64(f - abs(ey))
				yy := ((f*dy+ey)%ny + ny) % ny
				for ex := -(f - 1); ex <= f-1; ex++ {
					xx := ((f*dx+ex)%nx + nx) % nx
					s += wy * float64(f-abs(ex)) * c[yy*nx+xx]
				}
			}
			cf[dy*cx+dx] = s / float64(f*f*f*f)
		}
	}
	p := make([]float64, cx*cy)
	for ky := 0; ky < cy; ky++ {
		for kx := 0; kx < cx; kx++ {
			var s float64
			for dy := 0; dy < cy; dy++ {
				for dx := 0; dx < cx; dx++ {
					s += cf[dy*cx+dx] * math.Cos(2*math.Pi*(float64(ky*dy%cy)/float64(cy)+float64(kx*dx%cx)/float64(cx)))
				}
			}
			p[ky*cx+kx] = s
		}
	}
	return p
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

// Coarsen returns the objective on the coarse evidence e.Coarsen(f), with
// the same priors, start, amplitude settings and extra components.
func (o *Objective) Coarsen(f int) (*Objective, error) {
	ev, err := o.Ev.Coarsen(f)
	if err != nil {
		return nil, err
	}
	c := *o
	c.Ev, c.Evals, c.hook = ev, 0, nil
	return &c, nil
}

// DefaultCoarse is the coarsening factor fit-lens uses by default for a
// source grid of side n: 2 from 48² pixels on (even sides), else 1 (none).
func DefaultCoarse(n int) int {
	if n >= 48 && n%2 == 0 {
		return 2
	}
	return 1
}
