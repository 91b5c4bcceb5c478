// Package experiment reproduces the experiments of Adam et al. (2022),
// "Posterior samples of source galaxies in strong gravitational lenses with
// score-based priors", for any prior (a trained network, a Gaussian random
// field, an isotropic Gaussian). Each experiment writes PNG figures and a
// JSON file of its numbers into an output directory and returns the same
// numbers as a Go value.
//
// # Setup and simulated observations
//
// Setup carries the prior and its VE schedule, the validation galaxies
// (images never used in training, peak-normalised to 1; Galaxies converts
// train.Dataset.Val) and the geometry:
// by default a 64×64 source of 0.03″ pixels (1.92″ field), a 64×64
// observation of 0.078125″ pixels (5″ field), rays traced on a 2×2
// sub-grid and a Gaussian PSF of FWHM 0.12″. At other sizes the fields of
// view are kept: SrcScale = 1.92″/Side and PixScale = 5″/NPix.
//
// An observation of a true source x is
//
//	y = A x + η,   η ~ N(0, σ_n² I),   σ_n = f · max_i (A x)_i,
//
// with A the lens operator of package lens (SIE + external shear, PSF) and
// f the noise fraction. The paper quotes the noise relative to the peak of
// the source; here it is relative to the peak of the noise-free lensed
// image, which is what sets the signal-to-noise of the data (surface
// brightness is conserved by lensing, so the two peaks differ only by the
// PSF and pixel averaging). The default f = 0.02 gives a peak SNR of 50.
// The same A generates and analyses the data.
//
// The fixed lens of fig. 1 and fig. 2 (DefaultLens) is θ_E = 1.1″,
// q = 0.75, φ = 0.6 rad, centred, γ = (0.02, −0.01). The coverage and step
// experiments draw every lens with RandomLens, uniformly in
// θ_E ∈ [0.8, 1.3]″, q ∈ [0.6, 0.95], φ ∈ [0, π), centre ∈ [−0.05, 0.05]″²,
// γ1, γ2 ∈ [−0.05, 0.05].
//
// Posterior samples use the convolved likelihood (the paper's eq. 19,
// posterior.NewConvolved) and posterior.Sample; the step count defaults to
// technique 2 of Song & Ermon (2020), sde.StepsFor(dim, 0.99). Coverage
// can use another likelihood score (CoverageOptions.Likelihood), among them
// the projected one (posterior.NewProjected), whose Gaussian proxy is
// Setup.Proxy or, for a GRF prior, the prior itself.
//
// # Experiments and outputs
//
// Fig1: one validation galaxy, K posterior samples (16). fig1.png is the
// paper's fig. 1 (truth, two samples, mean, std, (truth − mean)/std; below,
// the observation, the reconstructions A·x, the std of A·x and
// (y − A·mean)/σ_n); fig3.png shows samples, their reconstructions and
// residuals with χ²_ν. fig1.json: χ²_ν of every sample and of the mean
// (with the exact-model spread √(2/ν)), the RMS of the source-plane
// residual SNR (≈ 1 when the posterior is calibrated), ρ(mean, truth),
// RMSE, the mean posterior std, NFE and timings.
//
// Fig2: an out-of-distribution source, a glowing character (Glyph: strokes
// as polylines, brightness exp(−d²/2w²) with d the distance to the nearest
// stroke, w = 1.5 pixels, peak 1), observed at increasing noise
// f = 0.01, 0.03, 0.1, 0.3, with a few samples (4) per level. fig2.png
// shows observation, one sample and the mean per level; fig2.json the
// Pearson correlation of each sample and of the mean with the truth. In the
// paper the correlation falls as the noise grows and a prior learned from
// galaxies still recovers such a source at low noise (ρ ≳ 0.9).
//
// Coverage: J lenses (50) of validation galaxies taken in turn, random
// lens parameters and noise seeds, K samples each (32), then TARP (Lemos
// et al. 2023, diag.TARP) with every pixel standardised by the pooled
// sample mean and std and a bootstrap over lenses. coverage.png is the
// expected-coverage curve with its Monte Carlo bands; coverage.json holds
// ECP(α), its binomial and bootstrap errors, max |ECP − α| and that
// deviation in units of its Monte Carlo error. Ranks are randomised by
// default (f_j = (c_j + U_j)/(K+1), exactly uniform for a calibrated
// sampler, so a few samples per lens leave no staircase; PlainRanks turns
// it off), and coverage.json also holds the null distribution of
// max |ECP − α| for a calibrated sampler with the same J and K (median,
// 95 % level, p-value; NullDraws draws): with J = 50 its median is 0.11
// and its 95 % level 0.18, so a single 50-lens run cannot show a
// deviation below 0.05 — it can only fail to reject calibration. The
// averaged test (CoverageOptions.References, 64 reference points per lens,
// diag.TARPAveraged) estimates the same curve with the reference points'
// noise averaged out and tests it against an exchangeability null: its
// calibrated median is half as large (0.04 at 100 lenses × 3 samples).
// Every finished lens is stored at once in coverage_parts/ (PartsDir):
// with Resume an interrupted run continues where it stopped, or a finished
// one is extended to more lenses, with exactly the result of one
// uninterrupted run, since lens j's parameters, noise and sampler seed
// depend only on j and Seed; a fingerprint of the settings in every file
// keeps runs of other settings apart.
// TruthFromPrior (draw the
// truths from a Gaussian prior) and ExactLikelihood (the exact time-t
// likelihood score of a Gaussian prior) turn it into a calibration check
// of the machinery, where ECP(α) = α must hold.
//
// Steps: a few lenses (4) × samples (16) under several sampler settings
// (DefaultStepConfigs: EM with the technique-2 count N, N/2, N/4, N/8; PC
// with one Langevin corrector, r = 0.16, at N/4 and N/8, costing
// N + (N−1) evaluations; EM with a final Tweedie step at N/4 and N/8,
// costing one more), all with the same seeds. Per setting: NFE, mean χ²_ν
// of the samples, RMSE of the posterior mean against the truth, RMSE over
// the mean posterior std, the mean std, the range coverage (fraction of
// pixels whose truth lies within the samples' range; (K−1)/(K+1) for a
// calibrated posterior, diag.RangeCoverage) and the wall time (steps.json;
// steps_chi2.png and steps_rmse.png against NFE). The cheapest setting
// whose χ²_ν and RMSE are within 5 % of the first (reference) one is
// reported.
//
// PriorVsData: unconditional prior samples (no likelihood, Tweedie
// denoised) next to validation galaxies (prior_vs_data.png), and for both
// sets the mean radial profile about each image's centroid divided by its
// maximum (prior_vs_data_profile.png), the mean radially averaged power
// spectrum (prior_vs_data_power.png), the concentration 5 log₁₀(R80/R20),
// the ellipticity from second moments, R20/R50/R80 and the pooled pixel
// moments (mean, std, skewness, fraction with |x| < 0.02, fraction
// negative) in prior_vs_data.json.
//
// # Reproducibility and files
//
// Every random stream (lens parameters, noise, truths, sampler chains,
// TARP references) is derived from Setup.Seed, the experiment and the lens
// index, so a run is deterministic for a given seed and a lens's draws do
// not depend on how many lenses are run. The context is checked between
// stages and inside the sampler. Figures and JSON files are written
// atomically (temporary file, then rename); JSON writes non-finite numbers
// as null.
package experiment
