package posterior

import (
	"math"
	"math/rand/v2"
)

// An updateRule advances one chain given its scores at the rule's time:
// x the chain's state, sp the prior score ∇ₓ log p_t(x) and sl the
// likelihood score ∇ₓ log p_t(y|x) (zero without data), whose sum is the
// posterior score s. A rule may overwrite sl; z is scratch of len(x). It
// draws its normals from r, in pixel order, and allocates nothing.
//
// The sampler's rules are the Euler–Maruyama predictor, the Langevin
// corrector and the Tweedie denoiser (in the manner of the predictor and
// corrector classes of Song et al.'s score_sde); the sampler evaluates
// the scores, once per rule application, and applies the rule to every
// chain.
type updateRule interface {
	update(x, sp, sl []float64, r *rand.Rand, z []float64)
}

// eulerMaruyama is the reverse-SDE predictor from t_i to t_{i+1},
//
//	x ← x + g(t_i)² Δt s + g(t_i) √Δt z,   z ~ N(0, I),
//
// with drift = g(t_i)² Δt and noise = g(t_i) √Δt (0 on the last step,
// which then draws no normals).
type eulerMaruyama struct {
	drift, noise float64
}

// set configures the step from t to tn; h scales drift and noise (tests
// of deliberately broken samplers; 1 otherwise).
func (u *eulerMaruyama) set(g2, t, tn float64, last bool, h hooks) {
	dt := t - tn
	u.drift = g2 * dt * h.g2
	u.noise = 0
	if !last {
		u.noise = math.Sqrt(g2*dt) * h.noise
	}
}

func (u *eulerMaruyama) update(x, sp, sl []float64, r *rand.Rand, _ []float64) {
	sl, sp = sl[:len(x)], sp[:len(x)]
	d := u.drift
	if u.noise > 0 {
		g := u.noise
		for i := range x {
			x[i] += d*(sl[i]+sp[i]) + g*r.NormFloat64()
		}
		return
	}
	for i := range x {
		x[i] += d * (sl[i] + sp[i])
	}
}

// langevin is one Langevin corrector step at fixed t (Song et al. 2021,
// algorithm 5), with the step size set per chain by the signal-to-noise
// ratio r = snr:
//
//	ε = 2 (r ‖z‖/‖s‖)²,   x ← x + ε s + √(2ε) z,   z ~ N(0, I).
type langevin struct {
	snr   float64
	noise float64 // multiplies √(2ε) (tests; 1 otherwise)
}

func (u *langevin) update(x, sp, sl []float64, r *rand.Rand, z []float64) {
	z, sl, sp = z[:len(x)], sl[:len(x)], sp[:len(x)]
	var zz, ss float64
	for i := range z {
		z[i] = r.NormFloat64()
		zz += z[i] * z[i]
		sl[i] += sp[i] // sl becomes the posterior score s
		ss += sl[i] * sl[i]
	}
	eps := 0.0
	if ss > 0 {
		eps = 2 * u.snr * u.snr * zz / ss
	}
	q := math.Sqrt(2*eps) * u.noise
	for i := range x {
		x[i] += eps*sl[i] + q*z[i]
	}
}

// tweedie is the final denoising step at t_end, Tweedie's formula
//
//	x ← x + σ(t_end)² s,
//
// the posterior mean E[x₀ | x_t, y] when s is the exact score. It draws
// no normals.
type tweedie struct {
	s2 float64 // σ(t_end)²
}

func (u *tweedie) update(x, sp, sl []float64, _ *rand.Rand, _ []float64) {
	sl, sp = sl[:len(x)], sp[:len(x)]
	for i := range x {
		x[i] += u.s2 * (sl[i] + sp[i])
	}
}

// hooks scale the update rules to make deliberately broken samplers for
// the package's own tests (hooks{} and hooks{1, 1} are the true sampler).
type hooks struct {
	g2, noise float64 // factors of the predictor's drift and of all noise
}

func (h hooks) withDefaults() hooks {
	if h.g2 == 0 {
		h.g2 = 1
	}
	if h.noise == 0 {
		h.noise = 1
	}
	return h
}
