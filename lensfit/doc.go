// Package lensfit infers the lens mass model (SIE + external shear, the
// vector of lens.Params) from an observation, with the pixelated source
// integrated out analytically under a Gaussian prior: the semi-linear
// inversion of Warren & Dye (2003) and Suyu et al. (2006) used for
// pixelated sources, made exact and fast enough to be called thousands of
// times, then a multi-start optimiser and Metropolis–Hastings chains over the lens
// parameters.
//
// # The evidence
//
// For a lens θ the observation is y = A_θ x + B b + η, η ~ N(0, N) with
// N = diag(σ_n²) over the kept (unmasked) pixels, A_θ = P·L_θ the operator
// of package lens (ray tracing, bilinear interpolation, supersampling, PSF),
// x the N source pixels with prior N(μ₀, a²Σ₀) and b the K amplitudes of
// optional extra linear components B = [B_1 … B_K] (Component: image-plane
// templates such as a lens-light Sérsic of unit amplitude) with prior
// N(m_b, diag(s_b²)). Writing z = (x, b), D = [A_θ B], S = blockdiag(a²Σ₀,
// diag s_b²), W = N⁻¹ (zero at masked pixels) and r = y − Aμ₀ − Bm_b,
//
//	log p(y | θ, a) = −½ [ rᵀWr − cᵀH⁻¹c + log det H + log det S
//	                       − log det W + M_kept log 2π ],
//	H = DᵀWD + S⁻¹,   c = DᵀWr,
//
// which is log N(r | 0, N + D S Dᵀ) by the matrix determinant lemma and
// Woodbury's identity. Nothing is approximated; LogEvidence computes it by
// one of two exact routes (Evidence.SetRoute; by default, per evaluation,
// the one with the smaller cost estimate):
//
// The source route forms the lower triangle of H densely: S⁻¹ is the
// GRF's circulant precision F⁻¹diag(1/P(k))F (computed once, log det Σ₀ =
// Σ log P(k)) or I/s² for an isotropic prior, scaled by 1/a²; AᵀWA is
// accumulated from the sparse rows of the composed A (lens.Rows, rebuilt in
// place for each θ); then one Cholesky factorisation H = RRᵀ (LAPACK dpotrf
// through package linalg, OpenBLAS when available) and one triangular solve
// u = R⁻¹c give cᵀH⁻¹c = ‖u‖² and log det H = 2 Σ log R_ii. Its cost is
// the (N+K)³/3-flop factorisation (2.3·10¹⁰ flops at N = 4096), whatever
// the mask.
//
// The data route factorises the covariance of the kept pixels instead,
//
//	log p = −½ [ rᵀΣ_y⁻¹r + log det Σ_y + M_kept log 2π ],
//	Σ_y = N + a² A Σ₀ Aᵀ + B diag(s_b²) Bᵀ.
//
// Only the set I of kept pixels that some PSF tap connects to a non-empty
// row of L (A = P·L) is coupled; the other kept pixels have Σ_y = N_ii.
// A_I Σ₀ A_Iᵀ = P X Pᵀ with X = L_J Σ₀ L_Jᵀ over the set J of pixels the
// taps of I reach: X_ij = Σ_{p∈L_i} l_ip G_j(p), G_j = Σ_{q∈L_j} l_jq
// c(· − q), from the stationary kernel c of Σ₀ (periodic on the source grid,
// as the GRF is), then T = P X and the lower triangle of P Tᵀ, with
// |I|·|J| multiply–adds per PSF tap. One Cholesky factorisation of the
// |I|×|I| matrix, Σ_I = R Rᵀ, whitens the residual (u = R⁻¹r_I, and
// √W r off I), and the K components enter by Woodbury's identity:
// with V the whitened B, rᵀΣ_y⁻¹r = ‖u‖² − dᵀC⁻¹d and log det Σ_y =
// log det Σ_A + log det C + Σ log s_b², C = diag(1/s_b²) + VᵀV, d = Vᵀu.
// Its cost is |I|³/3 flops plus taps·|I|·(|J| + |I|/2) + ℓ·|J|·(N + |J|)
// multiply–adds in Go (ℓ ≈ 4–16 entries per row of L; gonum's assembly
// axpy, on SetThreads goroutines), so it
// wins when a mask leaves fewer pixels than the source has: at a 64² source
// and a 64² image with a 7×7-tap PSF and an annular mask of 1868 pixels it
// takes 0.29 CPU-s against 0.70–0.90 for the source route
// (BenchmarkLogEvidenceRoutes; see docs/lens-fitting.md for wall times).
// Without a mask (|I| ≈ M ≥ N) the source route is taken.
//
// Both routes reuse their buffers, so an evaluation does not allocate
// beyond a few small argument blocks of the OpenBLAS calls and the
// goroutines of the data route (TestEvidenceSteadyStateAllocations);
// below N = 2048 the factorisation runs on one thread. The former route
// through the tridiagonal form (posterior.NewEvidence, 26 s) is needed only
// for the whole evidence curve in a at once. PosteriorMean returns
// μ₀ + H⁻¹c (source route) or μ₀ + a²Σ₀Aᵀz, m_b + s_b²Bᵀz with z = Σ_y⁻¹r
// (data route) of the last evaluation, from the factor it left behind.
//
// The amplitude a of the source prior is a parameter of the fit
// (ScaleName, log10 a, uniform prior on [−3, 3]): the optimiser maximises
// over it jointly with θ and the MCMC marginalises it.
//
// The prior's shape can be varied without rebuilding the geometry
// (Evidence.SetPrior, O(N²)): TiltedGRF tilts the GRF's spectrum by
// (k̃/k_ref)^β, WhiteMixGRF adds a white-noise fraction 10^w of its pixel
// variance, and OptimiseHyper sets a and, for such a Shape, β or w at a
// given lens by type-II maximum likelihood (golden-section searches).
// FitNear maximises the posterior from a given start (for simulations,
// the truth) and returns the Laplace approximation there: the cheap
// calibration measurement of `lenscore experiment lens-recovery --probe`.
// Neither shape is used by Fit: measured on simulated lenses, neither
// calibrates the lens posterior (docs/lens-fitting.md, "Calibration
// measured").
//
// # Extra linear components
//
// A caller that models light besides the lensed source (the lens galaxy's
// Sérsic profiles, a sky level) passes them as Components: each is an M-pixel
// image of unit amplitude, as observed (convolve it with the PSF first, e.g.
// lens.PSF.Convolve, if it should be), with a Gaussian prior N(Mean, Sigma²)
// on its amplitude; use a Sigma much larger than the plausible amplitude for
// an effectively flat prior (the evidence then carries a constant −log Sigma
// per component, which cancels between lenses). Set Objective.Extra, or pass
// them to Evidence.LogEvidence directly:
//
//	ev, _ := lensfit.NewEvidence(cfg, lensfit.Data{Y: y, SigmaN: sigma, Keep: keep}, grf)
//	light := lens.Render(lens.Sersic{Amp: 1, RSersic: 0.8, NSersic: 4, Q: 0.8, CenterX: 0, CenterY: 0}, cfg.Obs, 2)
//	psf.Convolve(conv, light, cfg.Obs.N)
//	logEv, _ := ev.LogEvidence(theta.Mass(), 0, []lensfit.Component{{Image: conv, Sigma: 100}})
//	ev.PosteriorMean(src, amps) // source and the Sérsic amplitude at this lens
//
// The components are columns appended to A: they enter H as the blocks
// BᵀWA, BᵀWB + diag(1/s_b²) and c as BᵀWr, so K components cost K rows of
// H. Non-linear parameters of a component (Sérsic radius, index, …) are the
// caller's to vary, as θ is.
//
// # The fit
//
// Objective is log p(y | θ, a) + log p(θ) over the free parameters (the
// lens.Priors: uniform bounds, Gaussian factors, |e| and |γ| limits). Fit
// first screens candidate starts by their log posterior — the given start,
// its variants with |e| = 0.2 along the four major-axis orientations 0°,
// 45°, 90°, 135° and θ_E × {0.9, 1, 1.1}, and 3·Starts points perturbed
// uniformly by up to three typical scales (Objective.Steps: 5 % of θ_E,
// 0.05 in e, 0.03″ in the centre, 0.02 in γ, 0.3 dex in a) — because the
// evidence is multi-modal in the orientation (an ellipticity along one axis
// mimics a shear along the other) and a start at e = 0 can end in the wrong
// mode. It runs Nelder–Mead (package mcmc) from the best Starts of them,
// each restarted once from its end point, and then from the better (by log
// posterior) of the orientation-flipped variants of the best result —
// (e1, e2) → (−e1, −e2), with the shear kept or reversed — so that the
// flipped ellipticity–shear mode is always tried and the posterior picks
// between the two (StartResult.Flip marks that run); results within half a typical
// scale in every parameter are one mode, and all modes are reported with
// their log posterior and log evidence.
//
// With FitOptions.Coarse = f > 1 (fit-lens uses f = 2 for sources of 48²
// pixels and more) the screen, the starts and the flipped start run on
// Objective.Coarsen(f): the same data on a source grid f times coarser
// under the prior of the source's f×f block means (exact for the GRF:
// Evidence.Coarsen), about 20 times cheaper per evaluation at a 64² source
// and 64² image, the screened starts two at a time with looser tolerances
// (its optimum is biased with respect to the full grid's, by tens of
// standard deviations at a high signal-to-noise ratio, so it only has to
// find the basin); the flipped start is taken from the best coarse result.
// Every coarse mode is then evaluated on the full objective and the best is
// refined there by BFGS in coordinates whitened by the coarse Laplace
// covariance (central- or forward-difference gradients, a growing trust
// radius and Armijo backtracking; refine in refine.go), which reaches
// Nelder–Mead's maximum in a fifth to a third of the evaluations
// (TestRefineMatchesNelderMead); the other modes keep their coarse
// positions (Mode.Coarse). The posterior stage below starts from the
// refined best mode, on the full objective.
//
// # The posterior
//
// The posterior is sampled by Walkers (default 8) independent
// Metropolis–Hastings chains of mcmc.Chains, whose proposals — a Student-t
// independence proposal and a preconditioned random walk — come from the
// Laplace approximation at the best mode, N(MAP, (−∇²log p)⁻¹), with a
// finite-difference Hessian (a diagonal of the curvature scales if that is
// not negative definite; 2d + 2d² evaluations, abandoned on cancellation
// and redone on resume). The chains start from draws of that Gaussian
// widened by 1.5 (apart, so that split-R̂ across them tests independent
// starts). At half the burn-in and at its end (Burn, default 40 steps) the
// proposal is refitted to the sample mean and covariance of the second
// half of the draws so far; the burn-in is discarded. Then, every
// CheckEvery (20) kept steps, split-R̂, the integrated autocorrelation time
// τ and ESS are computed per parameter over the kept steps, and sampling
// stops as soon as every R̂ < RHatTarget (1.05) and every ESS ≥ ESSTarget
// (400) (FitResult.Stop = "converged"), or when Steps (400) is reached
// ("budget": the diagnostics say how far convergence is). At a check
// that does not stop, if some marginal width of the proposal differs from
// the kept draws' by more than a factor 1.5 (the burn-in was too short for
// the chains to spread, e.g. from a Laplace approximation narrowed by a
// ripple of the evidence, see below), the proposal is refitted to the
// kept draws and they become burn-in too (at most three times, and only
// while two checks' worth of the budget remain; FitResult.Burn is the
// extended burn-in), so that the kept draws always come from one kernel.
// Samples draws are taken evenly from the kept steps.
//
// With Moves = MovesDE, half of the chains' moves (DEFraction) are
// differential-evolution moves between the chains (mcmc.MHOptions.PDE):
// a chain steps by γ times the difference of two other chains' current
// states, so the steps take the shape and length of the chains' spread —
// along a long ridge, its length — whatever the Laplace approximation
// (narrowed by the ripples, or a poor fit of a bent ridge) says; the rest
// are the independence and random-walk moves in the same ¾ : ¼ ratio.
// The chains are then coupled (see the mcmc package), so split-R̂ tests the
// mixing of the population of chains that started apart.
//
// The evidence of a pixelated source is not smooth in the lens: bilinear
// interpolation and the pixel grid put ripples of about one log unit on it,
// at the scale of a posterior standard deviation, so a gradient or simplex
// optimiser can stop on a ripple's crest many units below the mode (on
// SLACS J2303+1422 the optimiser's best point lies 21 units below the
// maximum, the ridge θ_E–e2–γ2 rising through a 0.9-unit dip next to it),
// and chains started from a Laplace approximation there drift together
// instead of mixing. Scan measures them (1-D lines through a point, the
// residual from a quartic fit): on J2303 they come from the white source
// prior with bilinear interpolation — under N(0, a²I) an interpolated
// ray's prior variance a²Σw² is a² at a pixel centre and a²/4 midway
// between four, so the predicted variance of every image pixel changes as
// the lens moves its rays across the grid — not from the supersampling or
// the source field. SmoothGRF(n, ℓ), a Gaussian random field with
// covariance exp(−r²/2ℓ²) between pixels r apart, makes that variance
// nearly position-independent and halves the ripples at ℓ = 2 (RMS 0.15 →
// 0.07 log units), but on J2303 it also moves the lens posterior (q 0.55 →
// 0.42) along a ridge its chains do not mix on, so it is an option
// (fit-lens --prior-corr, demo --real --fit-prior-corr), not a default.
// The chains cross the ripples, so they are the
// detector: at every check (every CheckEvery steps since the chains
// started, burn-in included), if the best point they have visited beats
// the MAP by more than ReoptGain (default 3; a Gaussian posterior's draws
// lie d/2 below its mode on average, never above it), the MAP is refined
// from that point (refine, whitened by the Hessian there, budget
// max(MaxEval, 150·dim); the result is never below the point it started
// from), the Laplace approximation is refitted at the new MAP, the steps
// so far are discarded and the chains restart from it with a new burn-in
// and step budget — at most MaxReopt (3) times (FitResult.Reoptimised
// records each: the old MAP's, the chains' best and the new log
// posterior). The restarted chains draw their starts from stream
// 0xba11+r and step on stream 1+r of the seed, r the re-optimisations so
// far. The reported MAP is the best point seen: the optimiser's, the last
// re-optimisation's or, when one is higher, a sampled one
// (FitResult.MAPFromChain).
//
// The stretch-move ensemble used before (mcmc.Ensemble, 2d+2 walkers) had
// split-R̂ ≈ 2.5–3 at 40 kept steps and ≈ 1.6 at 200 on a small simulated
// lens, although its walkers started in equilibrium (the ensemble's spread
// matched the Laplace widths from the first step on): its walkers' τ is
// tens of steps in 8 dimensions, and τ estimated from a window shorter than
// a few τ comes out far too small (4 steps from 40, 19 from 200), so the
// ESS it reported was spurious. Chains that propose from the Laplace
// approximation decorrelate in a few steps when the posterior is close to
// Gaussian, as it is for well-measured lenses.
//
// # What is approximated
//
// The lens posterior is p(θ | y) under the Gaussian source prior, not under
// the score-based prior of the source sampler; source samples marginalised
// over the lens (lenscore sample --lens-samples) draw each source from the
// score-prior posterior given one lens draw, which is exact only if the two
// priors lead to the same lens posterior. The sampler is exact in the limit
// of many steps; with a few hundred steps the reported R̂ and ESS say how far
// that limit is.
//
// # Resume and determinism
//
// With FitOptions.Checkpoint the run is saved atomically (JSON: the
// fingerprint of the inputs, finished optimiser starts, modes, the
// refinement, the Laplace approximation, the chains' points, log densities,
// proposal and PCG state, the chain so far, the re-optimisations and the
// full and coarse evaluation counts; format "lenscore-lensfit-4") after every start (or
// pair of coarse starts), the refinement, every CheckpointEvery of
// sampling and on cancellation. Resume refuses a checkpoint with another
// fingerprint or version, redoes at most the unfinished starts, the
// refinement, the Laplace approximation or the steps after the last save
// or an unfinished re-optimisation (their evaluations are not counted
// twice), and returns exactly the result of an uninterrupted run: every
// random number comes from PCG streams of the seed (perturbed starts:
// stream 0x5eed; chain starts: 0xba11+r; chains: 1+r after r
// re-optimisations), and the stopping rule and the re-optimisation
// trigger depend only on the chain so far.
package lensfit
