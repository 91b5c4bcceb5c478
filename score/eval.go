package score

import (
	"fmt"
	"math"
)

// Scores returns ∇ₓ log p_σ(x) ≈ ε_θ(x, σ)/σ for n images x (each
// Channels×ImageSize² values, float64) at noise level sigma, evaluating
// the network batch images at a time in inference mode. For an NCSNpp
// network, t ≥ 0 gives score_models' time instead (σ must then be σ(t));
// the network is then fed t itself (ForwardTime), as score_models does.
func Scores(nt *Net, x []float64, n int, sigma, t float64, batch int) ([]float64, error) {
	cfg := nt.Config()
	sz := cfg.Channels * cfg.ImageSize * cfg.ImageSize
	if n < 1 || len(x) != n*sz {
		return nil, fmt.Errorf("score: Scores: %d values for %d images of %d", len(x), n, sz)
	}
	if !(sigma > 0) || math.IsInf(sigma, 1) {
		return nil, fmt.Errorf("score: Scores: σ must be positive and finite, got %g", sigma)
	}
	if t >= 0 && nt.pp == nil {
		return nil, fmt.Errorf("score: Scores: a time t is only defined for NCSNpp networks")
	}
	batch = max(1, min(batch, n))
	nt.SetInference(true)
	xb := make([]float32, batch*sz)
	cond := make([]float32, batch)
	out := make([]float64, len(x))
	for i0 := 0; i0 < n; i0 += batch {
		b := min(batch, n-i0)
		for j := range b * sz {
			xb[j] = float32(x[i0*sz+j])
		}
		var eps []float32
		if t >= 0 {
			for j := range cond {
				cond[j] = float32(t)
			}
			eps = nt.ForwardTime(xb[:b*sz], cond, b)
		} else {
			for j := range cond {
				cond[j] = float32(sigma)
			}
			eps = nt.Forward(xb[:b*sz], cond, b)
		}
		for j := range b * sz {
			out[i0*sz+j] = float64(eps[j]) / sigma
		}
	}
	return out, nil
}
