package train

import (
	"math"

	"github.com/lenscore/lenscore/nn"
)

// LearningRate returns the warmed-up learning rate of the 1-based update
// step: base·min(1, step/warmup), or base when warmup ≤ 0.
func LearningRate(base float64, warmup, step int) float64 {
	if warmup <= 0 || step >= warmup {
		return base
	}
	return base * float64(step) / float64(warmup)
}

// ClipGradients computes the global norm ‖g‖ = √(Σ_p Σ_i g_pi²) of the
// parameters' gradients (in float64) and, when maxNorm > 0 and ‖g‖ >
// maxNorm, scales every gradient by maxNorm/‖g‖. It returns the norm before
// clipping.
func ClipGradients(params []*nn.Param, maxNorm float64) float64 {
	var s float64
	for _, p := range params {
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(s)
	if maxNorm > 0 && norm > maxNorm {
		c := maxNorm / norm
		for _, p := range params {
			for i, g := range p.Grad {
				p.Grad[i] = float32(float64(g) * c)
			}
		}
	}
	return norm
}

// Adam holds the first and second moment estimates of the Adam optimiser
// (Kingma & Ba 2015) for a list of parameters, as float32 tensors named
// "adam_m/<param>" and "adam_v/<param>" so they can be checkpointed.
type Adam struct {
	Beta1, Beta2, Eps float64
	M, V              []*nn.Param
}

// NewAdam allocates zero moments for params.
func NewAdam(params []*nn.Param, beta1, beta2, eps float64) *Adam {
	a := &Adam{Beta1: beta1, Beta2: beta2, Eps: eps}
	for _, p := range params {
		a.M = append(a.M, nn.NewParam("adam_m/"+p.Name, p.Shape...))
		a.V = append(a.V, nn.NewParam("adam_v/"+p.Name, p.Shape...))
	}
	return a
}

// Step applies update number t (1-based) with learning rate lr:
//
//	m ← β₁ m + (1−β₁) g,   v ← β₂ v + (1−β₂) g²
//	θ ← θ − lr · m̂ / (√v̂ + ε),  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)
//
// evaluated in float64 and stored in float32.
func (a *Adam) Step(params []*nn.Param, lr float64, t int) {
	c1 := 1 - math.Pow(a.Beta1, float64(t))
	c2 := 1 - math.Pow(a.Beta2, float64(t))
	for k, p := range params {
		m, v := a.M[k].Data, a.V[k].Data
		for i, g32 := range p.Grad {
			g := float64(g32)
			mi := a.Beta1*float64(m[i]) + (1-a.Beta1)*g
			vi := a.Beta2*float64(v[i]) + (1-a.Beta2)*g*g
			m[i], v[i] = float32(mi), float32(vi)
			p.Data[i] = float32(float64(p.Data[i]) - lr*(mi/c1)/(math.Sqrt(vi/c2)+a.Eps))
		}
	}
}

// EMADecayAt returns the decay used after update s (s = 1, 2, …):
// min(decay, (1+s)/(10+s)). Early in training the average then follows
// the weights closely instead of remembering the random initialisation
// (with d = 0.999 alone, the initial weights still carry 37 % of the
// average after 1000 updates).
func EMADecayAt(decay float64, s int) float64 {
	return math.Min(decay, float64(1+s)/float64(10+s))
}

// UpdateEMA sets ema ← decay·ema + (1−decay)·θ for each parameter.
func UpdateEMA(ema, params []*nn.Param, decay float64) {
	for k, p := range params {
		e := ema[k].Data
		for i, v := range p.Data {
			e[i] = float32(decay*float64(e[i]) + (1-decay)*float64(v))
		}
	}
}
