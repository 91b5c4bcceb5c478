// Package sde holds the variance-exploding (VE) stochastic differential
// equation that defines lenscore's diffusion prior, the denoising
// score-matching (DSM) objective used to train it, and the rule that chooses
// the number of reverse-time steps.
//
// # Noise schedule
//
// For t ∈ [0, 1] the forward process is dx = g(t) dw with
//
//	σ(t) = σ_min (σ_max/σ_min)^t
//	g(t) = σ(t) √(2 ln(σ_max/σ_min))      so that  d[σ²]/dt = g(t)².
//
// The time-t marginal of a clean image x₀ is N(x₀, σ(t)² I) (the σ_min² of
// t = 0 is neglected, as is usual). σ_max is taken as the largest pairwise
// Euclidean distance between training images (Song & Ermon 2020, technique 1),
// σ_min = 1e-4 by default.
//
// # Denoising score matching
//
// A network ε_θ(x, t) is trained with
//
//	L(θ) = E_{t~U(0,1), x₀, z~N(0,I)} ‖ε_θ(x₀ + σ(t) z, t) + z‖²
//
// whose minimiser satisfies ε_θ(x, t) = σ(t) ∇ₓ log p_t(x); the score is
// therefore ε_θ/σ(t). The loss here is reported per pixel (divided by the
// image dimension), so a network that outputs zero scores 1.
//
// # Number of steps (technique 2)
//
// With N geometric steps, γ = (σ_max/σ_min)^(1/N) and dimension n, Song &
// Ermon (2020) require that consecutive noise shells overlap:
//
//	p(N) = Φ(√(2n)(γ−1) + 3γ) − Φ(√(2n)(γ−1) − 3γ)
//
// be close to one. StepsFor returns the smallest N with p(N) ≥ target.
// At n = 256² and σ_max/σ_min ≈ 2×10⁶ this gives p(2000) ≈ 0.64 and
// p(8000) ≈ 0.99, the figures quoted by Adam et al. (2022).
package sde
