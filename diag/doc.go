// Package diag summarises posterior samples of a lensed source: per-pixel
// moments, residual maps, goodness of fit, the TARP coverage test and
// simple image statistics used to compare prior samples with galaxies.
//
// Images are float64 slices stored row-major, img[row·nx + col], with row 0
// at the most negative y (the figures draw it at the bottom). Nothing here
// depends on the lens, posterior or score packages: the forward model enters
// through the two-method Forward interface.
//
// # Posterior moments
//
// Accumulator and MeanStd use Welford's one-pass update; the standard
// deviation is the sample one, s² = Σ_k (x_k − x̄)²/(K−1).
//
// # Residuals and χ²_ν
//
// For a source x the image-plane residual signal-to-noise map is
//
//	r_i = (y_i − (A x)_i) / σ_i
//
// with σ_i the scalar σ_n or a per-pixel noise map (Noise). Pixels with
// Noise.Mask[i] true are NaN in every map and excluded from every statistic.
// The source-plane residual, when the truth is known, is
//
//	r_j = (x_true,j − x̂_j) / s_j
//
// (truth minus estimate, the sign of "data minus model"; x̂ is usually the
// posterior mean and s the posterior standard deviation), NaN where s_j = 0.
// A calibrated posterior gives r ≈ N(0, 1) in both planes.
//
// The reduced chi-squared of one sample is
//
//	χ²_ν = (1/ν) Σ_{i unmasked} r_i²,   ν = number of unmasked pixels.
//
// No fitted parameters are subtracted from ν: the source has as many pixels
// as (or more than) the image and is constrained by the prior, so there is
// no meaningful count of free parameters; this matches the χ²_ν of
// reconstructed observations quoted by Adam et al. (2022). For an exact
// model and Gaussian noise of the stated σ, E χ²_ν = 1 with standard
// deviation √(2/ν) (ChiSquaredNuStd); for a 64×64 image that is 0.022.
//
// # TARP
//
// The Tests of Accuracy with Random Points (Lemos et al. 2023) need J
// simulations with truth θ_j and K posterior samples s_jk each. A reference
// point r_j is drawn (by default uniformly in the bounding box of all
// samples and truths pooled over simulations; optionally the caller gives
// them), and
//
//	f_j = (1/K) #{k : ‖s_jk − r_j‖ < ‖θ_j − r_j‖}
//	ECP(α) = (1/J) Σ_j 1[f_j < α],   α on an even grid of [0, 1].
//
// The posterior is calibrated only if ECP(α) = α for every α and every
// distribution of r. For a calibrated estimator each 1[f_j < α] is
// Bernoulli(α), so the Monte Carlo error of ECP(α) is √(α(1−α)/J)
// (TARPResult.Sigma); a bootstrap over simulations (TARPResult.BootSigma)
// measures the same spread without assuming calibration.
//
// Ranks. With a calibrated posterior the truth is exchangeable with the K
// samples, so its rank c_j = #{k : ‖s_jk − r_j‖ < ‖θ_j − r_j‖} is uniform
// on {0, …, K} (no ties) and the plain f_j = c_j/K gives the staircase
// ECP(α) = ⌈αK⌉/(K+1): up to 1/(K+1) above α just after each step and
// 1/(K+1) below it at α → 1, whatever the sampler's quality. With
// TARPOptions.Randomize the rank is spread over its cell,
//
//	f_j = (c_j + U_j (e_j + 1)) / (K + 1),   U_j ~ U(0, 1) independent,
//
// e_j the samples exactly at the truth's distance. Given c_j = c (and no
// ties) f_j is uniform on [c/(K+1), (c+1)/(K+1)), and c is uniform on
// {0, …, K}, so f_j ~ U(0, 1) exactly for any K: a calibrated ECP(α) is
// Binomial(J, α)/J at every α with no discreteness bias. (With ties the
// truth's position among the e_j + 1 tied items is itself uniform, which
// the factor e_j + 1 reproduces.) ⌊(K+1) f_j⌋ = c_j recovers the count.
//
// Null distribution. Even then MaxDev = max_α |ECP(α) − α| fluctuates: for
// f uniform and a fine α grid it is the Kolmogorov–Smirnov statistic D_J,
// √J D_J → Kolmogorov distribution (median 0.8276, 0.95 quantile 1.358;
// for finite J Stephens' √J + 0.12 + 0.11/√J in place of √J is accurate).
// For J = 50 that is a median of 0.115 and a 95 % level of 0.19 — a
// measured deviation of 0.1 with 50 simulations says nothing. TARPOptions.
// NullDraws draws MaxDev by Monte Carlo for a calibrated posterior with the
// same J, the same K_j per simulation, the same α grid and the same f
// (f_j ~ U(0, 1) randomised; c_j uniform on {0, …, K_j} and f_j = c_j/K_j
// plain) and reports its median, its 0.95 quantile (lower empirical
// quantiles) and the p-value (1 + #{draws ≥ MaxDev})/(1 + NullDraws). On
// the default grid of 101 levels, J = 50 gives a null median (95 % level)
// of 0.11 (0.18) randomised for any K, and 0.19 (0.26) plain with K = 6,
// 0.16 (0.24) with K = 8, 0.37 (0.46) with K = 2.
//
// Direction of departures (d dimensions, references far from the
// posterior compared with its width): ‖s−r‖ − ‖θ−r‖ ≈ u·(s−θ) +
// (‖(s−μ)⊥‖² − ‖(θ−μ)⊥‖²)/(2‖μ−r‖). In high dimension the radial term
// dominates: an over-dispersed (under-confident) posterior puts samples
// farther from r than the truth, f is small and ECP lies above the
// diagonal; an under-dispersed (over-confident) one lies below. In one
// dimension only the first term exists and the curve is S-shaped: an
// over-dispersed posterior is below the diagonal for α < ½ and above it for
// α > ½. A biased posterior departs in either case. TARPOptions.Normalize
// standardises every dimension by the pooled sample mean and standard
// deviation first, which makes the test invariant to per-dimension units.
//
// Averaging over references (TARPAveraged). ECP(α) = E[1(f < α)] is an
// expectation over simulations and reference points; one reference per
// simulation adds the reference's randomness to the simulations'. With R
// references per simulation and the indicator averaged, ECP̄(α) =
// (1/JR) Σ_jr 1(f_jr < α) estimates the same curve with most of that noise
// gone: on 100 simulations × 3 samples the calibrated median of
// max|ECP̄ − α| is 0.04 at R = 64 against 0.08 at R = 1. The R indicators of
// a simulation are dependent, so the null is built from the data by
// exchangeability: under calibration the truth and the K samples are K+1
// exchangeable draws, the standardisation (pooled over truths and samples)
// and the reference box (of truths and samples) are symmetric in them, and
// re-labelling a random member of every simulation as its truth draws from
// the exact conditional null of max|ECP̄ − α| (a permutation test; the
// member-to-reference distances are computed once, J·R·(K+1) of them).
//
// # Rank tests that say what is off
//
// If the truth is exchangeable with the K samples of its posterior, the
// rank of any function of the truth among the same function of the samples
// is uniform. StatRanks applies this (simulation-based calibration) to one
// scalar per image — flux Σx, energy Σx², gradient energy Σ|∇x|², Laplacian
// energy (ImageStatistics) — with a Pearson χ² test (K degrees of freedom)
// of the J ranks. HeldOutRanks does it per pixel: it bins pixels by the
// value of sample 0, which depends on the data only, and ranks the truth
// among samples 1…K−1, so every bin stays uniform under calibration.
// PixelRanks bins by the truth instead, which conditions on it: even an
// exact posterior then puts faint truths below and bright truths above its
// samples more often than 1/(K+1) (regression towards the posterior mean).
// SpreadSkill compares the error of the sample mean with the samples'
// spread.
//
// # Image statistics
//
// Pearson and RMSE compare two images. RadialProfile averages an image in
// annuli about a centre. PowerSpectrum radially averages
// P(k) = |DFT(x)(k)|²/(nx·ny), k in cycles per pixel, normalised so that
// white noise of variance σ² has P = σ². Moments measures flux-weighted
// second moments Q (clipping negative pixels), the distortion ellipticity
// e = (Q_xx − Q_yy + 2i Q_xy)/(Q_xx + Q_yy), |e| = (1−q²)/(1+q²) with axis
// ratio q, the major-axis angle ½ atan2(2Q_xy, Q_xx−Q_yy) counter-clockwise
// from +x, the radii R20, R50 (half-light), R80 of circles about the
// centroid and the concentration C = 5 log₁₀(R80/R20).
package diag
