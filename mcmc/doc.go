// Package mcmc holds the gradient-free samplers and convergence diagnostics
// used to draw lens parameters: independent Metropolis–Hastings chains with
// proposals built from a Gaussian (Laplace) approximation of the target and,
// optionally, differential-evolution moves between the chains, the
// affine-invariant ensemble sampler with the stretch move (Goodman & Weare
// 2010) and a Nelder–Mead maximiser, plus the split-R̂ and
// effective-sample-size diagnostics.
//
// # Laplace-preconditioned Metropolis–Hastings
//
// Chains runs M independent chains in d dimensions. Given a Gaussian
// approximation N(μ, LLᵀ) of the target p (its Laplace approximation at the
// mode, or the moments of earlier draws), each step of each chain proposes,
// with probability PIndep (default ¾),
//
//	independence: Y = μ + s·L z·sqrt(ν/g),  z ~ N(0, I), g ~ χ²_ν,
//	              accepted with min(1, p(Y) q(X) / (p(X) q(Y))),
//	              q(x) ∝ (1 + ‖(sL)⁻¹(x − μ)‖²/ν)^(−(ν+d)/2),
//
// a multivariate Student-t (ν = 5, s = 1.1: heavier tails than the target's
// Gaussian approximation, so the weights p/q stay bounded), and otherwise
//
//	random walk:  Y = X + (2.38/√d)·L z,  accepted with min(1, p(Y)/p(X)).
//
// Each kernel leaves p invariant, so their mixture does. When the
// approximation is good the independence moves make nearly independent
// draws (τ ≈ 1–3 steps); where it is poor (a curved or skewed posterior)
// the random walk, preconditioned by L so that badly scaled and correlated
// parameters cost nothing, still mixes. The proposal may be replaced
// (SetProposal) between a burn-in, whose draws are discarded, and the kept
// draws: lensfit adapts it to the burn-in's sample mean and covariance. The
// chains start apart (from draws of the approximation), so split-R̂ across
// them is the Gelman–Rubin check of independent starts. Random numbers come
// from one PCG stream in a fixed order, so a run is a deterministic function
// of its seed and can be saved and restored exactly (ChainsState).
//
// # Differential-evolution moves
//
// With MHOptions.PDE > 0 (M ≥ 3 chains), each chain's step is, with
// probability PDE, a differential-evolution move (DE-MC, ter Braak 2006)
// built from the current states of two other chains a ≠ b ≠ k, drawn
// uniformly:
//
//	Y = X_k + γ (X_a − X_b) + ε·L z,  z ~ N(0, I),
//	accepted with min(1, p(Y)/p(X_k)),
//
// with γ = 2.38/√(2d) (ter Braak's choice), γ = 1 with probability 1/10 (a
// jump by the whole distance between two chains: across a ridge's full
// extent, or between modes), and a small jitter ε = 0.01 in units of the
// proposal factor L. Given the other chains' states, the proposal is
// symmetric (swapping a and b maps X_a − X_b to its negative, z to −z), so
// the move is a Metropolis update of chain k conditional on the others and
// leaves the product p(x_1)…p(x_M) invariant; the chains are updated in
// turn, so the whole step does too, and mixed with the other kernels (which
// make it irreducible whatever the span of the differences) the chains
// converge to it. Because the differences of draws from p have covariance
// 2Σ, the move is a random walk already shaped and scaled like the target
// — along a long, correlated ridge it takes steps the ridge's length — and
// it needs no Gaussian fit: it follows the chains' spread as it grows.
// The current states (not a thinned archive of past states, as in DE-MCz,
// ter Braak & Vrugt 2008) are used because then the joint chain is a
// homogeneous Markov chain whose state is just the chains' positions, so
// invariance is exact rather than asymptotic and a saved state resumes
// exactly; DE-MCz's archive, which grows as the run proceeds, would make
// the kernel adaptive. The price is that the chains are no longer
// independent: at stationarity their states at one step are independent
// draws from p (the product is invariant), but their trajectories are
// coupled, so split-R̂ across them tests the mixing of the population
// rather than independent starts (as for the stretch move's walkers) and
// the ESS assumes no cross-chain correlation. They still start apart, so
// a chain that has not left its start region still shows up in R̂.
//
// # Stretch move
//
// An ensemble of W walkers (W even, ≥ 2d) in d dimensions is updated in two
// halves. For each walker X_k of one half, a partner X_j is drawn uniformly
// from the other half, z from g(z) ∝ 1/√z on [1/a, a] (a = 2 by default,
// z = ((a−1)u + 1)²/a for u ~ U(0, 1)), and the proposal
// Y = X_j + z (X_k − X_j) is accepted with probability
// min(1, z^{d−1} p(Y)/p(X_k)). The chain is invariant under affine maps of
// the parameters, so it needs no step-size tuning. Random numbers come from
// one math/rand/v2 PCG stream, drawn in a fixed order (per walker: partner,
// u, acceptance uniform), so a run is a deterministic function of its seed,
// and its state (walkers, log densities, PCG state, step) can be saved and
// restored exactly (State).
//
// # Diagnostics
//
// For M chains of length n (after burn-in), split-R̂ (Gelman et al. 2013)
// splits each chain in two halves and compares the between-half variance B
// with the mean within-half variance W:
//
//	var⁺ = (n'−1)/n' W + B/n',   R̂ = sqrt(var⁺/W),   n' = n/2.
//
// The integrated autocorrelation time τ of a parameter is estimated from the
// autocorrelation ρ(t) of the chains averaged over the ensemble (as emcee
// does): τ = 1 + 2 Σ_{t=1}^{T} ρ(t), with Sokal's automatic window, the
// smallest T ≥ 5τ(T). The effective sample size is ESS = M·n/τ. Ensemble
// walkers are not independent chains, so R̂ across walkers is a check of
// mixing, not of independent starts.
//
// # Nelder–Mead
//
// Maximise runs the Nelder–Mead simplex (reflection 1, expansion 2,
// contraction ½, shrink ½) on −f from an axis-aligned initial simplex of the
// given steps, until the spread of f over the simplex falls below FTol and
// its largest edge below XTol (in the units of the steps), or MaxEval. −Inf
// values (outside a prior's support) are accepted and always lose.
package mcmc
