// Package posterior draws posterior samples of a lensed source x given an
// observation y = A x + η, η ~ N(0, diag(σ_n²)), by integrating the
// reverse-time VE SDE with a diffusion prior (Adam et al. 2022), and holds
// the exact Gaussian machinery used to validate it.
//
// # Reverse SDE and Euler–Maruyama
//
// With the schedule of package sde, σ(t) = σ_min (σ_max/σ_min)^t and
// g(t)² = dσ²/dt, posterior samples solve, from t = 1 down to t = ε,
//
//	dx = −g(t)² [∇ₓ log p_t(x) + ∇ₓ log p_t(y|x)] dt + g(t) dw̄,
//	x(1) ~ N(μ_init, σ_max² I)  (μ_init = 0 by default).
//
// On the uniform grid 1 = t₀ > … > t_N = ε (sde.Times) the Euler–Maruyama
// step (the paper's eq. 20) is, with Δt = t_i − t_{i+1} and z ~ N(0, I),
//
//	x ← x + g(t_i)² s(x, t_i) Δt + g(t_i) √Δt z,
//
// s = prior + likelihood score; the last step omits the noise. The
// sampler is a sequence of update rules over the chains — this
// Euler–Maruyama predictor, the Langevin corrector and the Tweedie
// denoiser below — each applied after one evaluation of the posterior
// score of every chain at the rule's time (the prior on the whole batch,
// the likelihood chain by chain). N defaults to
// sde.StepsFor(dim, 0.99) (technique 2 of Song & Ermon 2020) and ε to 1e-3,
// where σ(ε) = σ_min (σ_max/σ_min)^0.001 ≈ 1.01 σ_min for σ_max/σ_min ≈ 10⁶.
//
// # Predictor–corrector
//
// Sampler "pc" follows every predictor step except the last with M Langevin
// corrector steps at t_{i+1} (Song et al. 2021), per chain:
//
//	ε_L = 2 (r ‖z‖/‖s‖)²,   x ← x + ε_L s(x, t_{i+1}) + √(2ε_L) z,
//
// r the signal-to-noise ratio (default 0.16). Each corrector costs one prior
// evaluation, so NFE = N + M(N−1).
//
// # Exponential integrators: ancestral and dpm2
//
// Euler–Maruyama freezes g(t)² over a step; for the VE SDE the drift
// integrates exactly once the score is written through the posterior's
// Tweedie mean D(x, σ) = x + σ² s(x, t), which varies slowly in σ. With
// r = σ_{i+1}/σ_i and h = ln(1/r), treating D as constant over the step
// gives sampler "ancestral" (SDE-DPM-Solver-1 of Lu et al. 2022; the
// ancestral sampler of denoising diffusions):
//
//	x ← r² x + (1 − r²) D_i + σ_{i+1} √(1 − r²) z
//	  = x + (σ_i² − σ_{i+1}²) s + σ_{i+1} √(1 − r²) z,
//
// exact when x₀ | x_t is a point mass. It is first order: for a Gaussian
// posterior the samples' variance is short by 38 % at 20 steps and 22 % at
// 40 (TestAncestralConvergenceOrder), nearly whatever the covariance (on
// the geometric σ grid the error depends mostly on r). Sampler "dpm2" (SDE-DPM-Solver++(2M),
// midpoint form) adds a linear extrapolation of D from the previous step,
// ρ = h_{i−1}/h_i,
//
//	x ← r² x + (1 − r²) D_i + (1 − r²)/(2ρ) (D_i − D_{i−1}) + σ_{i+1} √(1 − r²) z,
//
// (the first step, without D_{i−1}, is the ancestral one) and is second
// order: variance +7.5 % at 20 steps and +1.7 % at 40, against
// Euler–Maruyama's +8.7 % and +2.1 %. Both cost one score evaluation per
// step, draw the same normals as Euler–Maruyama (none on the last step),
// and keep its seeding, batch invariance and checkpoints (dpm2's D_{i−1} is
// part of the checkpoint). What they buy over Euler–Maruyama is
// robustness at large steps: the update is a convex combination of x and
// D, which a stiff likelihood cannot throw past D, where Euler–Maruyama's
// coefficient g²Δt = 2σ_i² h overshoots the exact σ_i² − σ_{i+1}² by a
// factor 2h/(1 − e^{−2h}).
//
// # Tweedie denoising
//
// Optionally the final state is denoised with Tweedie's formula
// x ← x + σ(ε)² s(x, ε), the posterior mean E[x₀ | x_ε, y] when s is the
// exact score; for a Gaussian posterior the denoised samples have mean μ_post
// and covariance Σ(Σ + σ²I)⁻¹Σ.
//
// # Likelihood scores
//
// Convolved (the paper's eq. 19) approximates p_t(y|x) by N(y | A x,
// σ_n² + σ(t)²) per image pixel:
//
//	∇ₓ log p_t(y|x) = Aᵀ W (y − A x) ⊘ (σ_n,i² + σ(t)²),
//
// W the 0/1 mask and σ_n,i a scalar or a noise map. Diag uses
// σ_n,i² + σ(t)² (AAᵀ)_ii instead: it is the exact marginal variance of each
// pixel but ignores the correlations that a PSF introduces, which makes the
// score stiff (largest precision κ/σ² with κ = λ_max(Aᵀdiag(1/d)A)); EM is
// stable only while (γ² − 1)κ < 2, γ = (σ_max/σ_min)^(1/N). Exact, for a
// Gaussian prior N(μ₀, Σ₀) with posterior N(μ_post, Σ_post), is the exact
// difference of time-t scores,
//
//	−(Σ_post + σ²I)⁻¹(x − μ_post) + (Σ₀ + σ²I)⁻¹(x − μ₀),
//
// applied through one eigendecomposition of each covariance, S = VΛVᵀ:
// (S + σ²I)⁻¹d = V diag(1/(λ + σ²)) Vᵀd, O(N²) per image. The sampler
// scores all chains at once (BatchLikelihood): Exact.ScoreBatch stacks
// the differences of up to ExactBlock = 64 chains as the rows of D and
// forms D V, scales its columns and multiplies by Vᵀ — two matrix
// products (OpenBLAS dgemm on all cores) per block and covariance instead
// of two matrix–vector products per chain, so Vᵀ (134 MB at 64²) is
// streamed once per block rather than twice per chain; the flops are the
// same, but a product runs near the core's arithmetic peak where a
// matrix–vector product waits on memory (BenchmarkExactScores compares
// the two). A block's rows are padded with zeros to a multiple of 8, for
// which the GEMM computes every row alike, so an image's score does not
// depend on the batch.
//
// Projected works with any prior. It projects p(x₀ | x_t) on a Gaussian:
// mean x̂₀ = x + σ² ∇log p_t(x) (Tweedie's formula, from the prior's own
// score, which the sampler passes through the PriorAware interface) and
// covariance S = (Σ_g⁻¹ + σ⁻²I)⁻¹ of a stationary Gaussian proxy Σ_g (a GRF,
// e.g. FitGRF of the training images), whose Jacobian S/σ² stands in for
// ∂x̂₀/∂x:
//
//	∇ₓ log p_t(y|x) ≈ σ⁻² (S⁻¹ + AᵀWΣ_n⁻¹A)⁻¹ AᵀWΣ_n⁻¹ (y − A x̂₀),
//
// solved by preconditioned conjugate gradients (Fourier-diagonal
// preconditioner; typically 15–35 iterations, each one real forward and one
// inverse 2-D FFT and one A, Aᵀ pair, the CG vectors being carried as
// half spectra). For a GRF prior that is its own proxy this is the exact
// likelihood score (equal to Exact); the convolved likelihood is the
// special case x̂₀ = x, S = σ²I, ∂x̂₀/∂x = I, right only once σ(t) is small
// against the prior's spread.
//
// With Options.PriorJacobian the stand-in S/σ² is replaced by the prior's
// own Jacobian, ∂x̂₀/∂x = I + σ² ∂s/∂x: the likelihood supplies the
// cotangent (CotangentLikelihood)
//
//	v = Aᵀ(Σ_n + A S Aᵀ)⁻¹ W (y − A x̂₀) = b − AᵀWΣ_n⁻¹A H⁻¹ b,
//	b = AᵀWΣ_n⁻¹(y − A x̂₀),  H = S⁻¹ + AᵀWΣ_n⁻¹A  (Woodbury),
//
// and the prior (JacobianPrior) the vector–Jacobian product, so that
//
//	∇ₓ log p_t(y|x) ≈ v + σ² (∂s/∂x)ᵀ v;
//
// for a network, (∂s/∂x)ᵀ v = (∂ε_θ/∂x)ᵀ v / σ by one back-propagation of v
// (NetworkPrior.VJP). For the proxy itself, whose Jacobian is S/σ², this is
// H⁻¹b/σ², the formula above. Options.JacobianBelow restricts it to
// σ(t) ≤ JacobianBelow: at large σ the two terms cancel almost exactly
// (x̂₀ hardly depends on x), and the learned σ²∂s/∂x is not precise enough
// for the remainder, which the data weight 1/σ_n² multiplies.
//
// # Choosing a likelihood
//
// NewLikelihood builds any of them from one LikelihoodConfig (operator,
// data, noise, mask, schedule, prior, proxy, chain count) by
// LikelihoodKind — convolved, diag, exact, projected or
// projected-jacobian, the words of lenscore's --likelihood flag
// (ParseLikelihoodKind). projected-jacobian is the projected likelihood
// with Options.PriorJacobian (LikelihoodKind.Configure sets it); its
// whole-batch rule — the prior's Jacobian needs every chain in one prior
// call — is checked by NewLikelihood and again by the sampler before its
// first step against a prior that reports its batch size (BatchLimiter),
// and LikelihoodKind.PriorBatch gives the batch size to build the prior
// with.
//
// # Gaussian priors
//
// IsoGaussian is N(μ₀, s²I), with marginal score −(x − μ₀)/(s² + σ²).
// GRF is a stationary Gaussian random field with PERIODIC boundary
// conditions: Σ₀ = F⁻¹ diag(P(k)) F with F the unnormalised 2-D DFT, so
// Σ₀ is circulant (pixel covariance depends on separation modulo the grid)
// and its eigenvalues are P(k). Its marginal score
// −F⁻¹ diag(1/(P(k) + σ²)) F (x − μ) costs two FFTs. FitGRF estimates μ by
// the mean pixel and P(k) by the average periodogram |F(x − μ)|²/(n_x n_y)
// (optionally averaged over annuli of |k|), floored at a fraction of its
// maximum.
//
// # Exact Gaussian inversion and evidence
//
// For the prior N(μ₀, a²C), C = LLᵀ, and W = diag(keep/σ_n²) (Warren & Dye
// 2003; Suyu et al. 2006),
//
//	Σ_post = (AᵀWA + C⁻¹/a²)⁻¹,   μ_post = μ₀ + Σ_post AᵀW (y − Aμ₀),
//	log p(y|a) = −½ [rᵀ(N + a²ACAᵀ)⁻¹r + log det(N + a²ACAᵀ) + M log 2π],
//
// r = y − Aμ₀ over the M kept pixels. With B̃ = LᵀAᵀWAL and
// c = LᵀAᵀWr, det(N + a²ACAᵀ) = det N · det(I + a²B̃) and, by Woodbury,
// rᵀ(N + a²ACAᵀ)⁻¹r = rᵀWr − a² cᵀ(I + a²B̃)⁻¹c. NewEvidence forms B̃
// (s²AᵀWA from the operator's sparse rows for an isotropic prior; otherwise
// (W^½AL)(W^½AL)ᵀ by one SYRK, L applied through ApplySqrt) and reduces the
// bordered matrix [0 cᵀ; c B̃] to tridiagonal form by Householder
// reflections (LAPACK dsytrd via package linalg). The first reflection maps
// c onto ‖c‖e₁, so the result is [0 ‖c‖; ‖c‖ T̃] with B̃ = QT̃Qᵀ and
// Qe₁ = c/‖c‖ — the Lanczos process started from c, computed stably — and
//
//	det(I + a²B̃) = det(I + a²T̃),   cᵀ(I + a²B̃)⁻¹c = ‖c‖² e₁ᵀ(I + a²T̃)⁻¹e₁,
//
// both from one O(N) LDLᵀ pass; Q is never formed. The maximiser over log a
// is found on a grid refined by golden section. The posterior at a uses the
// Cholesky factorisation M = B̃ + I/a² = RRᵀ: μ_post = μ₀ + LM⁻¹c and
// Σ_post = ZᵀZ with Z = R⁻¹Lᵀ (dtrtri for an isotropic prior, dtrsm
// otherwise), so per-pixel variances are squared column norms of Z.
//
// Cost at N = 4096 (64² sources, 65k-non-zero operator) on the loaded
// 2-core test machine (load ≈ 9): 26 s wall for Invert with an isotropic
// prior, 33 s with a GRF prior, against 505 s for the former gonum
// tridiagonalisation that also formed Q (and 62 s for a full dsyevd
// eigendecomposition). dsytrd, half of whose (4/3)N³ flops are
// memory-bound matrix–vector products, dominates. Memory: B̃ is kept for the
// posterior and its bordered copy is overwritten by dsytrd (134 MB each);
// the posterior adds one N×N array (two for a non-isotropic prior) and
// Σ_post if requested. Exact (the validation likelihood) eigendecomposes
// Σ_post and, unless the prior is an IsoGaussian, Σ₀ with LAPACK dsyevd,
// whose workspace is 2N² floats; it keeps Vᵀ (134 MB) per covariance.
// OpenBLAS runs these calls on GOMAXPROCS threads and restores its
// process-wide thread count afterwards (package linalg); without OpenBLAS,
// or with LENSCORE_LINALG=go, gonum is used and N = 4096 takes minutes.
//
// Beyond a few thousand pixels (a 256² source has N = 65,536: 32 GiB per
// N×N array) KrylovEvidence does the same without forming B̃: the data term
// from the Lanczos process of B̃ started from c (the T̃ above, truncated
// once its Gauss quadrature has converged), log det(I + a²B̃) by stochastic
// Lanczos quadrature over Rademacher probes (an unbiased estimate with a
// reported standard error), the posterior mean by conjugate gradients and
// the per-pixel standard deviation from exact posterior samples
// (I + a²B̃)⁻¹(a c + ξ + a LᵀAᵀW^½η). Each B̃ product is one A, one Aᵀ and
// two applications of L; GRF.Resampled carries a spectrum fitted at one
// grid to a finer grid of the same field.
//
// # Reproducibility
//
// Chain k (global index FirstChain + k) owns rand.New(rand.NewPCG(Seed, k))
// and draws, in this order: N(0,1)·dim for x(1); then per step dim normals
// for the predictor (none in the last step) and dim per corrector. The prior
// is called once per step on the whole batch and the likelihood per chain
// from a pool of goroutines (called directly, without goroutines, for one
// chain or one worker) — or, for a BatchLikelihood (Exact), on the whole
// batch in blocks of a fixed shape — so sample k of a seed is bitwise
// identical for any batch size, worker count or GOMAXPROCS — provided the prior's score
// of one image does not depend on the rest of the batch (true of the
// analytic priors; a network must also be batch-invariant for this).
//
// # Checkpoints
//
// With CheckpointPath set, a checkpoint is written atomically (temporary
// file in the same directory, fsync, rename) every CheckpointEvery (5 min)
// or CheckpointSteps steps, on cancellation of the context, and at
// StopAfter. Layout (little-endian): "LCPOST01", u32 length + JSON
// fingerprint (seed, first chain, chains, dim, steps, ε, σ_min, σ_max,
// sampler, correctors, snr, denoise, hash of μ_init, prior and likelihood
// fingerprints — the latter hash y, the noise and the mask), u64 completed
// steps, u64 NFE, u64 chains, u64 dim, the chain states as float64, per
// chain u32 length + PCG state (MarshalBinary), and a SHA-256 of all the
// preceding bytes. Resume refuses a checkpoint whose fingerprint differs,
// naming each differing field, and otherwise continues to exactly the
// samples of an uninterrupted run.
package posterior
