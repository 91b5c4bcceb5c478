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

// ancestral is the first-order exponential-integrator step of the reverse
// VE SDE from σ_i = σ(t_i) to σ_{i+1} (ancestral sampling; SDE-DPM-Solver-1
// for the VE SDE):
//
//	x ← x + (σ_i² − σ_{i+1}²) s + σ_{i+1} √(1 − σ_{i+1}²/σ_i²) z,   z ~ N(0, I),
//
// which is x_{i+1} = (σ_{i+1}²/σ_i²) x + (1 − σ_{i+1}²/σ_i²) x̂₀ + noise
// with the posterior's Tweedie mean x̂₀ = x + σ_i² s: the exact transition
// of the reverse process when x₀ | x_t is a point mass at x̂₀. The drift
// σ_i² − σ_{i+1}² is the exact integral of g² over the step where
// Euler–Maruyama's g(t_i)² Δt = 2 σ_i² ln(σ_i/σ_{i+1}) overshoots it
// (by 1.8× at σ_{i+1} = σ_i/2), which is what lets it take large steps.
// The last step draws no normals (noise 0), as Euler–Maruyama's.
type ancestral struct {
	drift, noise float64
}

// set configures the step from σ(t) = s to σ(tn) = sn; h scales drift and
// noise as for eulerMaruyama.
func (u *ancestral) set(s, sn float64, last bool, h hooks) {
	u.drift = (s*s - sn*sn) * h.g2
	u.noise = 0
	if !last {
		u.noise = sn * math.Sqrt(1-(sn*sn)/(s*s)) * h.noise
	}
}

func (u *ancestral) update(x, sp, sl []float64, r *rand.Rand, z []float64) {
	em := eulerMaruyama{drift: u.drift, noise: u.noise}
	em.update(x, sp, sl, r, z)
}

// multistep2 is the second-order multistep exponential integrator of the
// reverse VE SDE (SDE-DPM-Solver++(2M), Lu et al. 2022, with the midpoint
// correction): with the posterior's Tweedie mean D_i = x + σ_i² s at this
// step, D_{i−1} kept from the previous one, r = σ_{i+1}/σ_i, h = ln(1/r)
// and ρ = h_{i−1}/h,
//
//	x ← r² x + (1 − r²) D_i + (1 − r²)/(2ρ) (D_i − D_{i−1}) + σ_{i+1} √(1 − r²) z,
//
// the ancestral step plus a linear extrapolation of D over the step (none
// on the first step, where D_{i−1} does not exist). One score evaluation
// per step; the chain's previous D lives in prev (len(x), owned by the
// sampler and part of its checkpoint). The last step draws no normals.
type multistep2 struct {
	r2, corr, noise float64 // r², (1 − r²)/(2ρ) (0 on the first step), σ_{i+1}√(1 − r²)
}

// set configures the step from σ(t) = s to σ(tn) = sn, hPrev the previous
// step's ln(σ_{i−1}/σ_i) (0 on the first step); h scales drift and noise
// as for eulerMaruyama.
func (u *multistep2) set(s, sn, hPrev float64, last bool, hk hooks) {
	r2 := sn * sn / (s * s)
	u.r2 = 1 - (1-r2)*hk.g2
	u.corr = 0
	if hPrev > 0 {
		u.corr = (1 - r2) * hk.g2 / (2 * hPrev / math.Log(s/sn))
	}
	u.noise = 0
	if !last {
		u.noise = sn * math.Sqrt(1-r2) * hk.noise
	}
}

// step applies the rule to one chain: D from x and the scores, the update
// of x, and D stored into prev for the next step.
func (u *multistep2) step(x, sp, sl, prev []float64, s2 float64, r *rand.Rand) {
	sl, sp, prev = sl[:len(x)], sp[:len(x)], prev[:len(x)]
	a := 1 - u.r2 // weight of D
	for i := range x {
		d := x[i] + s2*(sl[i]+sp[i])
		nx := u.r2*x[i] + a*d + u.corr*(d-prev[i])
		if u.noise > 0 {
			nx += u.noise * r.NormFloat64()
		}
		x[i] = nx
		prev[i] = d
	}
}

// update is never called: the sampler applies multistep2 through step,
// which also needs the chain's previous Tweedie mean.
func (u *multistep2) update(x, sp, sl []float64, r *rand.Rand, z []float64) {
	panic("posterior: multistep2 is applied by sampler.work")
}
