package sde

import (
	"errors"
	"fmt"
	"math"
)

// DefaultSigmaMin is the smallest noise level of the schedule.
const DefaultSigmaMin = 1e-4

// VE is a variance-exploding SDE with a geometric noise schedule.
type VE struct {
	SigmaMin float64 // σ(0)
	SigmaMax float64 // σ(1)
}

// NewVE returns a VE SDE after checking 0 < σ_min < σ_max and finiteness.
func NewVE(sigmaMin, sigmaMax float64) (VE, error) {
	v := VE{SigmaMin: sigmaMin, SigmaMax: sigmaMax}
	return v, v.Validate()
}

// Validate reports whether the schedule is usable.
func (v VE) Validate() error {
	switch {
	case !(v.SigmaMin > 0) || math.IsInf(v.SigmaMin, 0):
		return fmt.Errorf("sde: sigma_min must be positive and finite, got %g", v.SigmaMin)
	case !(v.SigmaMax > v.SigmaMin) || math.IsInf(v.SigmaMax, 0):
		return fmt.Errorf("sde: sigma_max must be finite and greater than sigma_min=%g, got %g", v.SigmaMin, v.SigmaMax)
	}
	return nil
}

// logRatio returns ln(σ_max/σ_min).
func (v VE) logRatio() float64 { return math.Log(v.SigmaMax / v.SigmaMin) }

// Sigma returns σ(t) = σ_min (σ_max/σ_min)^t. It is computed in log space so
// it is finite for every t in [0, 1].
func (v VE) Sigma(t float64) float64 {
	return math.Exp(math.Log(v.SigmaMin) + t*v.logRatio())
}

// G returns the diffusion coefficient g(t) = σ(t) √(2 ln(σ_max/σ_min)).
func (v VE) G(t float64) float64 { return v.Sigma(t) * math.Sqrt(2*v.logRatio()) }

// G2 returns g(t)².
func (v VE) G2(t float64) float64 { g := v.G(t); return g * g }

// TimeOf inverts Sigma: it returns t with σ(t) = sigma (may fall outside [0,1]).
func (v VE) TimeOf(sigma float64) float64 {
	return (math.Log(sigma) - math.Log(v.SigmaMin)) / v.logRatio()
}

// Times returns the N+1 reverse-time grid points 1 = t₀ > t₁ > … > t_N = eps
// spaced uniformly, as used by the Euler–Maruyama sampler. eps must be in
// [0, 1).
func Times(n int, eps float64) []float64 {
	ts := make([]float64, n+1)
	for i := range ts {
		ts[i] = 1 - (1-eps)*float64(i)/float64(n)
	}
	return ts
}

// DSMLossTerm returns the per-pixel DSM loss of one example,
// ‖eps + z‖²/n, where eps = ε_θ(x₀ + σz, t).
func DSMLossTerm(eps, z []float32) float64 {
	var s float64
	for i := range eps {
		d := float64(eps[i]) + float64(z[i])
		s += d * d
	}
	return s / float64(len(eps))
}

// SigmaMaxFromData returns the largest pairwise Euclidean distance between the
// images (technique 1 of Song & Ermon 2020). Each image is a flat slice of
// equal length. It is O(m² n); for large sets pass a random subset.
func SigmaMaxFromData(images [][]float32) (float64, error) {
	if len(images) < 2 {
		return 0, errors.New("sde: need at least two images to estimate sigma_max")
	}
	n := len(images[0])
	best := 0.0
	for i := range images {
		if len(images[i]) != n {
			return 0, fmt.Errorf("sde: image %d has %d pixels, image 0 has %d", i, len(images[i]), n)
		}
		for j := i + 1; j < len(images); j++ {
			var s float64
			a, b := images[i], images[j]
			for k := range a {
				d := float64(a[k]) - float64(b[k])
				s += d * d
			}
			if s > best {
				best = s
			}
		}
	}
	return math.Sqrt(best), nil
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// StepProbability returns p(N) of technique 2 for dimension n.
func (v VE) StepProbability(nSteps, dim int) float64 {
	gamma := math.Exp(v.logRatio() / float64(nSteps))
	a := math.Sqrt(2*float64(dim)) * (gamma - 1)
	return normCDF(a+3*gamma) - normCDF(a-3*gamma)
}

// StepsFor returns the smallest N ≥ 1 with StepProbability(N, dim) ≥ target.
// p(N) increases with N towards Φ(3)−Φ(−3) ≈ 0.9973, so a target at or above
// that limit is an error.
func (v VE) StepsFor(dim int, target float64) (int, error) {
	if err := v.Validate(); err != nil {
		return 0, err
	}
	limit := normCDF(3) - normCDF(-3)
	if !(target > 0) || target >= limit {
		return 0, fmt.Errorf("sde: step target %g must be in (0, %.4f)", target, limit)
	}
	if dim < 1 {
		return 0, fmt.Errorf("sde: dimension must be positive, got %d", dim)
	}
	hi := 1
	for v.StepProbability(hi, dim) < target {
		hi *= 2
		if hi > 1<<30 {
			return 0, fmt.Errorf("sde: no step count reaches target %g", target)
		}
	}
	lo := hi / 2 // p(lo) < target unless lo == 0
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if v.StepProbability(mid, dim) >= target {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
