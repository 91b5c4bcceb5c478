package experiment

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/progress"
)

// DefaultCoverageSamples is the number of posterior samples per lens of
// Coverage when CoverageOptions.Samples is 0.
const DefaultCoverageSamples = 32

// CoverageOptions configures Coverage. Zero values select the defaults.
type CoverageOptions struct {
	Lenses  int     // simulated lenses J (50; at least 2)
	Samples int     // posterior samples K per lens (DefaultCoverageSamples)
	Steps   int     // reverse-time steps (0: automatic)
	SigmaN  float64 // noise σ_n as a fraction of each noise-free image's peak (0.02)
	Sampler string
	Denoise bool
	// Bootstrap resamples for the ECP error (200); NumAlpha levels (101).
	Bootstrap int
	NumAlpha  int
	// TruthFromPrior draws the true sources from the prior itself instead
	// of cycling through the validation galaxies: exact draws for a
	// posterior.GaussianPrior, otherwise draws of the reverse-time SDE
	// without data (same sampler, steps and final denoising as the
	// posterior samples, one batch of Lenses chains). The truths then
	// follow the prior the posterior is computed with, so ECP(α) = α up
	// to the sampler's own errors (discretisation, the convolved
	// likelihood): the test separates those from a prior that does not
	// describe the validation galaxies.
	TruthFromPrior bool
	// Likelihood is the time-t likelihood score, a posterior.LikelihoodKind
	// built by posterior.NewLikelihood: "convolved" (the
	// paper's, the default), "diag" (posterior.NewDiag: the noise of
	// A x_t per pixel instead of σ(t)² for every pixel), "exact" (the
	// same as ExactLikelihood), "projected" (posterior.NewProjected:
	// Tweedie's mean of x₀ given x_t from the prior's score and the
	// covariance of the Gaussian proxy Setup.Proxy) or "projected-jacobian"
	// (the same with the prior's own Jacobian ∂x̂₀/∂x, by back-propagation
	// through the network: posterior.Options.PriorJacobian).
	Likelihood string
	// JacobianBelow limits "projected-jacobian" to σ(t) ≤ JacobianBelow
	// (posterior.Options.JacobianBelow; 0: every step).
	JacobianBelow float64
	// ExactLikelihood replaces the convolved likelihood by the exact
	// time-t likelihood score of a Gaussian prior (posterior.NewExact, an
	// O(N³) set-up per lens): a validation of the experiment itself.
	ExactLikelihood bool
	// PlainRanks uses the plain fraction f_j = c_j/K of TARP instead of
	// the default randomised rank f_j = (c_j + U_j)/(K + 1)
	// (diag.TARPOptions.Randomize), which is exactly U(0, 1) for a
	// calibrated sampler at any K while c_j/K shows a staircase with
	// deviations up to 1/(K+1).
	PlainRanks bool
	// NullDraws is the number of Monte Carlo draws of max|ECP − α| for a
	// calibrated sampler with the same J, K and ranks (2000); negative
	// disables the null distribution.
	NullDraws int
	// SaveSamples also writes coverage_samples.fits: the true sources as
	// a J-plane cube in the primary HDU (EXTNAME TRUTH) and the samples as
	// a J·K-plane cube (EXTNAME SAMPLES, lens j's samples in planes
	// j·K … j·K+K−1), so that the test can be redone with other reference
	// points or other statistics without sampling again.
	SaveSamples bool
	// References is the number of TARP reference points per lens of the
	// averaged test (diag.TARPAveraged, with its exchangeability null of
	// NullDraws permutations): 0 selects 64, negative disables it.
	References int
	// Resume continues an interrupted run in the same directory: every
	// lens already stored in dir/coverage_parts by a run with the same
	// settings (PartsDir) is read instead of sampled, so the result equals
	// that of an uninterrupted run; a stored lens of other settings is an
	// error. It also extends a finished run to more lenses. Without Resume
	// the stored lenses of an earlier run are removed first.
	Resume bool
	// Set restricts the run to those of lenses 0…Lenses−1 whose true source
	// is a validation galaxy of this data set (Setup.Sets). Every lens keeps
	// its index and with it its lens parameters, noise and sampler seeds, so
	// its samples equal those of the same lens in an unrestricted run (and
	// stored lenses are shared between the two with Resume).
	Set string
	// RankEdges are the bin edges of CoverageResult.PixelRanks in the units
	// of the true sources (peak 1); nil selects 0, 0.02, 0.1, 0.3: exact
	// zeros and below (the clipped sky of the validation galaxies), the
	// faint wings, the body and the bright core.
	RankEdges []float64
}

// CoverageResult holds the numbers of Coverage (also coverage.json).
type CoverageResult struct {
	Prior      string    `json:"prior"`
	Lenses     int       `json:"lenses"`
	Samples    int       `json:"samples_per_lens"`
	SigmaNFrac float64   `json:"sigma_n_frac"`
	Truth      string    `json:"truth"`
	Likelihood string    `json:"likelihood"`
	Set        string    `json:"set,omitempty"` // CoverageOptions.Set
	Alpha      []float64 `json:"alpha"`
	ECP        []float64 `json:"ecp"`
	Sigma      []float64 `json:"sigma_binomial"`
	BootSigma  []float64 `json:"sigma_bootstrap"`
	MaxDev     float64   `json:"max_abs_dev"`
	AtAlpha    float64   `json:"max_dev_alpha"`
	// MaxDevSigma is the Monte Carlo error of ECP at AtAlpha (bootstrap
	// when available, else binomial) and MaxDevInSigma MaxDev in its units.
	MaxDevSigma   float64 `json:"max_dev_sigma"`
	MaxDevInSigma float64 `json:"max_dev_in_sigma"`
	// RandomizedRanks reports the rank construction. NullMedian and Null95
	// are the median and 0.95 quantile of max|ECP − α| for a calibrated
	// sampler with these J and K, over NullDraws draws, and PValue the
	// fraction of those draws at least as large as MaxDev ((1+n)/(1+draws));
	// all three are NaN (null in coverage.json) and NullDraws 0 when the
	// null distribution is disabled.
	RandomizedRanks bool    `json:"randomized_ranks"`
	NullDraws       int     `json:"null_draws"`
	NullMedian      float64 `json:"null_median"`
	Null95          float64 `json:"null_95"`
	PValue          float64 `json:"p_value"`
	// SpreadSkill is diag.SpreadSkill over all lenses (1 if calibrated;
	// NaN for one sample per lens) and PixelRanks the truth's rank among
	// the samples per pixel in bins of the true value (RankEdges),
	// descriptive only: conditioning on the truth skews the extreme bins
	// even for an exact sampler. HeldOutRanks bins the pixels by a held-out
	// sample instead (diag.HeldOutRanks; uniform in every bin under
	// calibration; nil for K < 2), and StatRanks ranks each lens's true
	// flux, energy, gradient and Laplacian energy among its samples'
	// (diag.StatRanks), which shows which aspect of the images is off.
	SpreadSkill  float64           `json:"spread_skill"`
	PixelRanks   []diag.RankBin    `json:"pixel_ranks"`
	HeldOutRanks []diag.HeldOutBin `json:"held_out_ranks,omitempty"`
	StatRanks    []diag.StatRank   `json:"stat_ranks"`
	// Averaged is TARP with CoverageOptions.References reference points
	// per lens instead of one and its exchangeability (permutation) null
	// (diag.TARPAveraged): the same expected coverage with most of the
	// reference points' noise averaged out; nil when disabled.
	Averaged *diag.TARPAvgResult `json:"tarp_averaged,omitempty"`
	// BySet repeats the averaged TARP test, the spread–skill ratio and the
	// statistic ranks for the lenses of each data set, when they come from
	// two or more (a prior can be calibrated for one kind of galaxy and not
	// another); sets with fewer than 2 lenses are left out.
	BySet []CoverageSet `json:"by_set,omitempty"`
	// DivergedLenses counts the lenses with a diverged sample
	// (CoverageLens.Diverged); TARP is meaningless when it is not 0.
	DivergedLenses int            `json:"diverged_lenses"`
	PerLens        []CoverageLens `json:"per_lens"`
	Timing         Timing         `json:"timing_total"`
	Files          []string       `json:"files"`
}

// CoverageLens describes one simulated lens.
type CoverageLens struct {
	Source    string     `json:"source"`
	Index     int        `json:"index"` // lens index j of the run's seeds (0-based)
	Lens      LensParams `json:"lens"`
	SigmaN    float64    `json:"sigma_n"`
	F         float64    `json:"tarp_f"`
	Chi2NuAvg float64    `json:"chi2nu_avg"`
	// CGIterations is the mean number of conjugate-gradient iterations
	// per likelihood score (projected likelihood only).
	CGIterations float64 `json:"cg_iterations,omitempty"`
	// Set is the data set of the true source (Setup.Sets; "" if unknown).
	Set string `json:"set,omitempty"`
	// Diverged marks a lens with a sample whose χ²_ν exceeds DivergedChi2
	// (or is not finite).
	Diverged bool `json:"diverged,omitempty"`
	// SpreadSkill is diag.SpreadSkill of this lens alone (NaN for one
	// sample or samples without spread): a noisy per-lens reading (one draw of a ratio whose mean is 1
	// when calibrated) that points at the lenses behind a set's value.
	SpreadSkill float64 `json:"spread_skill"`
}

// DivergedChi2 is the χ²_ν above which a posterior sample counts as
// diverged: a sample that fits the data even roughly has χ²_ν ≈ 1.
const DivergedChi2 = 100

func diverged(chi2 []float64) bool {
	for _, c := range chi2 {
		if !(c <= DivergedChi2) {
			return true
		}
	}
	return false
}

// CoverageSet is the calibration of the lenses of one data set (when the
// validation galaxies come from several): the averaged TARP test, the
// spread–skill ratio and the statistic ranks on those lenses alone.
type CoverageSet struct {
	Set         string              `json:"set"`
	Lenses      int                 `json:"lenses"`
	Averaged    *diag.TARPAvgResult `json:"tarp_averaged,omitempty"`
	SpreadSkill float64             `json:"spread_skill"`
	StatRanks   []diag.StatRank     `json:"stat_ranks"`
}

// Coverage runs the TARP coverage test (Lemos et al. 2023) of the
// posterior: J lenses of validation galaxies (cycled) with random lens
// parameters (RandomLens) and noise, K samples each, then ECP(α) with
// normalised coordinates, randomised ranks (unless PlainRanks) and a
// bootstrap error. With J ≈ 50 lenses even a calibrated sampler shows
// max|ECP − α| ≈ 0.83/√J ≈ 0.12, so the result also carries the null
// distribution of that deviation for a calibrated sampler with the same J
// and K (median, 95 % level, p-value). It writes coverage.png (the ECP
// curve with its ±1σ, ±2σ bands; the null 95 % level in the title) and
// coverage.json into dir.
func Coverage(ctx context.Context, s Setup, o CoverageOptions, dir string) (*CoverageResult, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	if o.Lenses == 0 {
		o.Lenses = 50
	}
	if o.Lenses < 2 {
		return nil, fmt.Errorf("experiment: coverage: Lenses must be ≥ 2, got %d", o.Lenses)
	}
	if o.Samples == 0 {
		o.Samples = DefaultCoverageSamples
	}
	if o.Samples < 1 {
		return nil, fmt.Errorf("experiment: coverage: Samples must be ≥ 1, got %d", o.Samples)
	}
	if o.SigmaN == 0 {
		o.SigmaN = 0.02
	}
	if o.Sampler == "" {
		o.Sampler = "em"
	}
	o.summaryDefaults()
	if o.Likelihood == "" {
		o.Likelihood = string(posterior.LikelihoodConvolved)
	}
	kind, err := posterior.ParseLikelihoodKind(o.Likelihood)
	if err != nil {
		return nil, fmt.Errorf("experiment: coverage: %w", err)
	}
	switch kind {
	case posterior.LikelihoodExact:
		o.ExactLikelihood = true
	case posterior.LikelihoodConvolved:
	default:
		if o.ExactLikelihood {
			return nil, fmt.Errorf("experiment: coverage: Likelihood %s and ExactLikelihood exclude each other", kind)
		}
	}
	var proxy *posterior.GRF
	if kind.Projected() {
		if proxy = s.proxy(); proxy == nil {
			return nil, errors.New("experiment: coverage: Likelihood projected needs Setup.Proxy (a Gaussian proxy of the prior) or a GRF prior")
		}
	}
	gp, isGaussian := s.Prior.(posterior.GaussianPrior)
	if o.ExactLikelihood && !isGaussian {
		return nil, errors.New("experiment: coverage: ExactLikelihood needs a Gaussian prior (posterior.GaussianPrior)")
	}
	if !o.TruthFromPrior {
		if err := s.needGalaxies("coverage"); err != nil {
			return nil, err
		}
	}
	idx, err := s.coverageIndices(o)
	if err != nil {
		return nil, err
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}

	out := &CoverageResult{Prior: s.PriorName, Lenses: len(idx), Samples: o.Samples, SigmaNFrac: o.SigmaN,
		Truth: "validation galaxies", Likelihood: o.Likelihood, Set: o.Set}
	if s.Prepared != "" {
		out.Truth += " (" + s.Prepared + ")"
	}
	if o.TruthFromPrior {
		out.Truth = "prior draws"
	}
	if o.ExactLikelihood {
		out.Likelihood = "exact (Gaussian prior)"
	}
	var priorDraws [][]float64
	if o.TruthFromPrior && !isGaussian {
		s.logf("coverage: drawing %d true sources from the prior", o.Lenses)
		res, _, err := s.sample(ctx, nil, sampleOpts{Steps: o.Steps, Sampler: o.Sampler, Denoise: o.Denoise,
			Chains: o.Lenses, Seed: seedFor(s.Seed, tagCoverage, tagTruth)})
		if err != nil {
			return nil, fmt.Errorf("experiment: coverage: prior draws: %w", err)
		}
		priorDraws = res.Samples
		out.Truth = "prior draws (reverse-time SDE without data)"
	}
	fingerprint := coverageFingerprint(s, o, priorDraws != nil)
	if !o.Resume {
		if err := clearParts(dir); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(filepath.Join(dir, PartsDir), 0o755); err != nil {
		return nil, fmt.Errorf("experiment: coverage: %w", err)
	} else if stored, _ := filepath.Glob(filepath.Join(dir, PartsDir, "lens-*.fits")); len(stored) > 0 {
		s.logf("coverage: resuming: %d lenses stored in %s", len(stored), filepath.Join(dir, PartsDir))
	}
	samples := make([][][]float64, len(idx))
	truths := make([][]float64, len(idx))
	start, sampled, resumed := time.Now(), 0, 0
	for n, j := range idx {
		if err := checkCtx(ctx, "coverage"); err != nil {
			return nil, err
		}
		lp := RandomLens(rand.New(rand.NewPCG(seedFor(s.Seed, tagCoverage, tagLens), uint64(j))))
		var truth []float64
		var name, set string
		switch {
		case priorDraws != nil:
			truth, name = priorDraws[j], fmt.Sprintf("prior draw %d", j)
		case o.TruthFromPrior:
			truth = make([]float64, s.Prior.Dim())
			posterior.Draw(truth, gp, rand.New(rand.NewPCG(seedFor(s.Seed, tagCoverage, tagTruth), uint64(j))))
			name = fmt.Sprintf("prior draw %d", j)
		default:
			g := j % len(s.Galaxies)
			truth, name = s.Galaxies[g], s.name(g)
			if g < len(s.Sets) {
				set = s.Sets[g]
			}
		}
		p, err := s.simulate(truth, lp, o.SigmaN, seedFor(s.Seed, tagCoverage, tagNoise, uint64(j)))
		if err != nil {
			return nil, fmt.Errorf("experiment: coverage: lens %d/%d (%s): %w", j+1, o.Lenses, name, err)
		}
		var part *coveragePart
		if o.Resume { // a fresh run has cleared the stored lenses
			if part, err = readPart(dir, j, fingerprint, s.Side, o.Samples, truth); err != nil && !errors.Is(err, errNoPart) {
				return nil, err
			}
		}
		if part != nil {
			resumed++
		} else {
			if part, err = s.coverageLens(ctx, p, j, name, o, proxy); err != nil {
				return nil, err
			}
			if err := writePart(dir, j, fingerprint, s.Side, truth, *part); err != nil {
				return nil, err
			}
			sampled++
			done := time.Since(start).Seconds()
			eta := done / float64(sampled) * float64(toSample(dir, idx[n+1:], o.Resume))
			s.logf("coverage: lens %d/%d done: %.1f s per lens, elapsed %s, eta %s", j+1, o.Lenses,
				done/float64(sampled), progress.FormatDuration(time.Duration(done*1e9)), progress.FormatDuration(time.Duration(eta*1e9)))
		}
		per, _, err := chi2All(p, part.Samples, nil)
		if err != nil {
			return nil, err
		}
		samples[n], truths[n] = part.Samples, truth
		out.PerLens = append(out.PerLens, CoverageLens{Source: name, Index: j, Lens: lp, SigmaN: p.sigmaN,
			Chi2NuAvg: meanOf(per), CGIterations: part.CGIterations, Set: set, Diverged: diverged(per)})
		t := part.Timing
		out.Timing.Steps = t.Steps
		out.Timing.NFE += t.NFE
		out.Timing.WallSeconds += t.WallSeconds
		out.Timing.PriorSeconds += t.PriorSeconds
		out.Timing.OtherSeconds += t.OtherSeconds
	}
	if resumed > 0 {
		s.logf("coverage: %d of %d lenses read from %s (resumed), %d sampled", resumed, len(idx), filepath.Join(dir, PartsDir), sampled)
	}
	o.Lenses = len(idx)
	if err := checkCtx(ctx, "coverage"); err != nil {
		return nil, err
	}
	if err := s.summarizeCoverage(out, samples, truths, o, dir); err != nil {
		return nil, err
	}
	return out, nil
}

// toSample counts the lenses of idx that a run has yet to sample: all of
// them, or with resume those without a stored file (for the ETA; a stored
// file of other settings is found out when it is read).
func toSample(dir string, idx []int, resume bool) int {
	if !resume {
		return len(idx)
	}
	n := 0
	for _, j := range idx {
		if _, err := os.Stat(partPath(dir, j)); err != nil {
			n++
		}
	}
	return n
}

// coverageIndices returns the lens indices j of a run: 0…Lenses−1, or with
// o.Set those whose validation galaxy (number j mod len(Galaxies)) is of
// that data set.
func (s *Setup) coverageIndices(o CoverageOptions) ([]int, error) {
	if o.Set == "" {
		idx := make([]int, o.Lenses)
		for j := range idx {
			idx[j] = j
		}
		return idx, nil
	}
	if o.TruthFromPrior {
		return nil, fmt.Errorf("experiment: coverage: Set %q needs validation galaxies as the truths, not prior draws", o.Set)
	}
	var idx []int
	var sets []string // the sets met, for the error
	seen := map[string]bool{}
	for j := range o.Lenses {
		g := j % len(s.Galaxies)
		if g >= len(s.Sets) {
			continue
		}
		if set := s.Sets[g]; set == o.Set {
			idx = append(idx, j)
		} else if !seen[set] {
			seen[set] = true
			sets = append(sets, set)
		}
	}
	if len(idx) < 2 {
		return nil, fmt.Errorf("experiment: coverage: %d of the first %d lenses have a galaxy of set %q, need ≥ 2 (the others' sets: %s)",
			len(idx), o.Lenses, o.Set, strings.Join(sets, ", "))
	}
	return idx, nil
}

// likelihoodKind returns the likelihood of o after Coverage's defaults
// (ExactLikelihood selects the exact one).
func (o CoverageOptions) likelihoodKind() posterior.LikelihoodKind {
	if o.ExactLikelihood {
		return posterior.LikelihoodExact
	}
	return posterior.LikelihoodKind(o.Likelihood)
}

// coverageLens draws the posterior samples of lens j of a coverage run.
func (s *Setup) coverageLens(ctx context.Context, p *problem, j int, name string, o CoverageOptions, proxy *posterior.GRF) (*coveragePart, error) {
	kind := o.likelihoodKind()
	jacobian := kind.PriorJacobian()
	var lik posterior.Likelihood = p.lik // the convolved likelihood
	if kind != posterior.LikelihoodConvolved {
		var err error
		lik, err = posterior.NewLikelihood(kind, posterior.LikelihoodConfig{Op: p.op, Y: p.y, SigmaN: []float64{p.sigmaN},
			Sigma: s.VE.Sigma, Prior: s.Prior, Proxy: proxy, Chains: o.Samples})
		if err != nil {
			return nil, fmt.Errorf("experiment: coverage: lens %d/%d (%s): %w", j+1, o.Lenses, name, err)
		}
	}
	s.logf("coverage: lens %d/%d (%s)", j+1, o.Lenses, name)
	res, wall, err := s.sample(ctx, lik, sampleOpts{Steps: o.Steps, Sampler: o.Sampler, Denoise: o.Denoise,
		Chains: o.Samples, Seed: seedFor(s.Seed, tagCoverage, tagSampler, uint64(j)), PriorJacobian: jacobian, JacobianBelow: o.JacobianBelow})
	if err != nil {
		return nil, fmt.Errorf("experiment: coverage: lens %d/%d (%s): %w", j+1, o.Lenses, name, err)
	}
	part := &coveragePart{Samples: res.Samples, Timing: timingOf(res, wall)}
	if pl, ok := lik.(*posterior.Projected); ok {
		part.CGIterations = pl.MeanIterations()
	}
	return part, nil
}

// summaryDefaults fills the defaults of the options summarizeCoverage
// reads: 200 bootstrap resamples, 2000 null draws (negative: none) and the
// default rank bins.
func (o *CoverageOptions) summaryDefaults() {
	if o.Bootstrap == 0 {
		o.Bootstrap = 200
	}
	if o.NullDraws == 0 {
		o.NullDraws = 2000
	}
	o.NullDraws = max(o.NullDraws, 0)
	if o.RankEdges == nil {
		o.RankEdges = []float64{0, 0.02, 0.1, 0.3}
	}
	if o.References == 0 {
		o.References = 64
	}
}

// permutations is the null size of the averaged TARP test: NullDraws
// after summaryDefaults, where 0 means none (diag's −1).
func (o *CoverageOptions) permutations() int {
	if o.NullDraws == 0 {
		return -1
	}
	return o.NullDraws
}

// summarizeCoverage runs TARP and the calibration summaries on the samples
// and truths, fills out, and writes coverage.png, coverage.json and (with
// SaveSamples) coverage_samples.fits into dir.
func (s *Setup) summarizeCoverage(out *CoverageResult, samples [][][]float64, truths [][]float64, o CoverageOptions, dir string) error {
	tr, err := diag.TARP(samples, truths, diag.TARPOptions{NumAlpha: o.NumAlpha, Normalize: true,
		Bootstrap: o.Bootstrap, Randomize: !o.PlainRanks, NullDraws: o.NullDraws,
		Seed: seedFor(s.Seed, tagCoverage, tagTARP)})
	if err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	for j := range out.PerLens {
		out.PerLens[j].F = tr.F[j]
		out.PerLens[j].SpreadSkill = math.NaN()
		if o.Samples >= 2 {
			if ss, err := diag.SpreadSkill(samples[j:j+1], truths[j:j+1]); err == nil {
				out.PerLens[j].SpreadSkill = ss
			}
		}
	}
	all, err := s.calibration(samples, truths, o, seedFor(s.Seed, tagCoverage, tagTARP, 1), seedFor(s.Seed, tagCoverage, tagStatRanks))
	if err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	out.SpreadSkill, out.Averaged, out.StatRanks = all.SpreadSkill, all.Averaged, all.StatRanks
	if out.PixelRanks, err = diag.PixelRanks(samples, truths, o.RankEdges); err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	if o.Samples >= 2 {
		if out.HeldOutRanks, err = diag.HeldOutRanks(samples, truths, o.RankEdges); err != nil {
			return fmt.Errorf("experiment: coverage: %w", err)
		}
	}
	if out.BySet, err = s.coverageBySet(out.PerLens, samples, truths, o); err != nil {
		return err
	}
	out.Alpha, out.ECP, out.Sigma, out.BootSigma = tr.Alpha, tr.ECP, tr.Sigma, tr.BootSigma
	out.MaxDev, out.AtAlpha = tr.MaxDev, tr.AtAlpha
	out.MaxDevSigma = sigmaAt(tr, tr.AtAlpha)
	out.MaxDevInSigma = out.MaxDev / out.MaxDevSigma
	out.RandomizedRanks = tr.Randomized
	out.NullDraws, out.NullMedian, out.Null95, out.PValue = o.NullDraws, tr.NullMedian, tr.Null95, tr.PValue
	if o.NullDraws == 0 {
		out.NullMedian, out.Null95, out.PValue = math.NaN(), math.NaN(), math.NaN()
	}
	// The prior's name (often a long path) is in coverage.json; the title
	// keeps to what fits over the plot.
	title := fmt.Sprintf("TARP coverage: %d lenses × %d samples, σ_n = %.3g × peak", o.Lenses, o.Samples, o.SigmaN)
	if math.IsNaN(out.SigmaNFrac) {
		title = fmt.Sprintf("TARP coverage: %d lenses × %d samples (recomputed)", o.Lenses, o.Samples)
	}
	if o.NullDraws > 0 {
		title += fmt.Sprintf("\ncalibrated sampler: max|ECP−α| < %.3f in 95 %% of runs", tr.Null95)
	}
	if err := plot.TARPCurve(join(dir, "coverage.png"), title, tr, out.Averaged); err != nil {
		return err
	}
	out.Files = []string{"coverage.png", "coverage.json"}
	var labels []string
	var curves []*diag.TARPAvgResult
	for _, c := range out.BySet {
		if c.Averaged != nil {
			labels, curves = append(labels, fmt.Sprintf("%s (%d lenses)", c.Set, c.Lenses)), append(curves, c.Averaged)
		}
	}
	if len(curves) > 0 {
		if err := plot.TARPSets(join(dir, "coverage_sets.png"), fmt.Sprintf("TARP by data set, %d references per lens", o.References), labels, curves); err != nil {
			return err
		}
		out.Files = append(out.Files, "coverage_sets.png")
	}
	if o.SaveSamples {
		if err := writeCoverageSamples(join(dir, "coverage_samples.fits"), s.Side, truths, samples); err != nil {
			return err
		}
		out.Files = append(out.Files, "coverage_samples.fits")
	}
	var bad []string
	for j, l := range out.PerLens {
		if l.Diverged {
			bad = append(bad, fmt.Sprintf("%d (%s)", j+1, l.Source))
		}
	}
	out.DivergedLenses = len(bad)
	if err := WriteJSON(join(dir, "coverage.json"), out); err != nil {
		return err
	}
	if len(bad) > 0 {
		s.logf("coverage: WARNING: %d of %d lenses diverged (a sample with χ²_ν > %d): lens %s. TARP standardises by the pooled samples, so "+
			"its numbers are meaningless with them; the sampler setting is unstable for these data", len(bad), o.Lenses, DivergedChi2, strings.Join(bad, ", "))
	}
	if o.NullDraws > 0 {
		s.logf("coverage: max |ECP − α| = %.3f at α = %.2f; calibrated sampler with these J, K: median %.3f, 95 %% %.3f; p = %.3g",
			out.MaxDev, out.AtAlpha, out.NullMedian, out.Null95, out.PValue)
	} else {
		s.logf("coverage: max |ECP − α| = %.3f at α = %.2f (%.1f σ)", out.MaxDev, out.AtAlpha, out.MaxDevInSigma)
	}
	if a := out.Averaged; a != nil {
		s.logf("coverage: averaged over %d references per lens: max |ECP − α| = %.3f at α = %.2f; calibrated (%d exchangeability permutations): median %.3f, 95 %% %.3f; p = %.3g",
			a.References, a.MaxDev, a.AtAlpha, a.Permutations, a.NullMedian, a.Null95, a.PValue)
	}
	s.logf("coverage: spread–skill ratio ‖truth − mean‖² / ((1+1/K) Σ var) = %.3f (1 if calibrated)", out.SpreadSkill)
	if worst := highestSpreadSkill(out.PerLens, 5); worst != "" {
		s.logf("coverage: highest per-lens spread–skill: %s", worst)
	}
	for _, b := range out.PixelRanks {
		s.logf("coverage: truth in (%g, %g]: %4.1f %% of pixels, rank histogram %s, mean − truth %+.4f, spread %.4f",
			b.Lo, b.Hi, 100*b.Fraction, fmtFracs(b.Hist), b.Bias, b.Spread)
	}
	for _, b := range out.HeldOutRanks {
		s.logf("coverage: held-out sample in (%g, %g]: %4.1f %% of pixels, rank of the truth among the other %d samples %s (uniform if calibrated), outside their range %.3f (%.3f), spread–skill %.2f",
			b.Lo, b.Hi, 100*b.Fraction, o.Samples-1, fmtFracs(b.Hist), b.Outside, 2/float64(o.Samples), b.SpreadSkill)
	}
	for _, r := range out.StatRanks {
		s.logf("coverage: %-9s of the truth among the samples' (per lens): rank histogram %v, p = %.2g; mean %.4g truth, %.4g samples",
			r.Name, r.Hist, r.PValue, r.MeanTruth, r.MeanSamples)
	}
	for _, c := range out.BySet {
		line := fmt.Sprintf("coverage: data set %s (%d lenses): spread–skill %.3f", c.Set, c.Lenses, c.SpreadSkill)
		if a := c.Averaged; a != nil {
			line += fmt.Sprintf("; averaged TARP %.3f at α = %.2f (calibrated: median %.3f, 95 %% %.3f; p = %.3g)", a.MaxDev, a.AtAlpha, a.NullMedian, a.Null95, a.PValue)
		}
		for _, r := range c.StatRanks {
			if r.MeanTruth == 0 { // e.g. no negative pixel in clipped truths
				line += fmt.Sprintf("; %s samples %.3g, truth 0 (p = %.2g)", r.Name, r.MeanSamples, r.PValue)
				continue
			}
			line += fmt.Sprintf("; %s samples/truth %.3f (p = %.2g)", r.Name, r.MeanSamples/r.MeanTruth, r.PValue)
		}
		s.logf("%s", line)
	}
	return nil
}

// calibration runs the tests that coverage reports for all lenses and for
// each data set: the averaged TARP test (unless o.References ≤ 0), the
// spread–skill ratio (NaN for one sample per lens) and the statistic ranks.
func (s *Setup) calibration(samples [][][]float64, truths [][]float64, o CoverageOptions, tarpSeed, statSeed uint64) (CoverageSet, error) {
	c := CoverageSet{Lenses: len(truths), SpreadSkill: math.NaN()}
	var err error
	if o.References > 0 {
		if c.Averaged, err = diag.TARPAveraged(samples, truths, diag.TARPAvgOptions{References: o.References,
			NumAlpha: o.NumAlpha, Permutations: o.permutations(), Seed: tarpSeed}); err != nil {
			return c, err
		}
	}
	if o.Samples >= 2 {
		if c.SpreadSkill, err = diag.SpreadSkill(samples, truths); err != nil {
			return c, err
		}
	}
	c.StatRanks, err = diag.StatRanks(samples, truths, diag.ImageStatistics(s.Side), statSeed)
	return c, err
}

// coverageBySet runs the averaged TARP test, the spread–skill ratio and the
// statistic ranks on the lenses of each data set (CoverageLens.Set), in
// order of first appearance, when there are at least two sets.
func (s *Setup) coverageBySet(per []CoverageLens, samples [][][]float64, truths [][]float64, o CoverageOptions) ([]CoverageSet, error) {
	var order []string
	idx := map[string][]int{}
	for j, l := range per {
		if l.Set == "" {
			continue
		}
		if _, ok := idx[l.Set]; !ok {
			order = append(order, l.Set)
		}
		idx[l.Set] = append(idx[l.Set], j)
	}
	if len(order) < 2 {
		return nil, nil
	}
	var out []CoverageSet
	for k, name := range order {
		js := idx[name]
		if len(js) < 2 {
			continue
		}
		sm, tr := make([][][]float64, len(js)), make([][]float64, len(js))
		for i, j := range js {
			sm[i], tr[i] = samples[j], truths[j]
		}
		c, err := s.calibration(sm, tr, o, seedFor(s.Seed, tagCoverage, tagTARP, 2, uint64(k)), seedFor(s.Seed, tagCoverage, tagStatRanks, uint64(k+1)))
		if err != nil {
			return nil, fmt.Errorf("experiment: coverage: data set %s: %w", name, err)
		}
		c.Set, c.Lenses = name, len(js)
		out = append(out, c)
	}
	return out, nil
}

// ReadCoverageSamples reads a coverage_samples.fits written by Coverage
// with SaveSamples: the J true sources, the K samples of each (slices of
// the file's data) and the image side.
func ReadCoverageSamples(path string) (truths [][]float64, samples [][][]float64, side int, err error) {
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("experiment: coverage: %w", err)
	}
	tr, ok1 := fits.ByName(hdus, "TRUTH")
	sm, ok2 := fits.ByName(hdus, "SAMPLES")
	if !ok1 || !ok2 {
		return nil, nil, 0, fmt.Errorf("experiment: coverage: %s: no TRUTH and SAMPLES cubes (written by coverage --save-samples?)", path)
	}
	if len(tr.Shape) != 3 || len(sm.Shape) != 3 || tr.Shape[0] != sm.Shape[0] || tr.Shape[1] != sm.Shape[1] || tr.Shape[0] != tr.Shape[1] {
		return nil, nil, 0, fmt.Errorf("experiment: coverage: %s: TRUTH %v and SAMPLES %v are not cubes of equal square planes", path, tr.Shape, sm.Shape)
	}
	side, J := tr.Shape[0], tr.Shape[2]
	k64, ok, err := sm.Header.Int("NSAMPLE")
	if err != nil || !ok || k64 < 1 || int(k64)*J != sm.Shape[2] {
		return nil, nil, 0, fmt.Errorf("experiment: coverage: %s: NSAMPLE %d does not divide the %d sample planes among %d lenses", path, k64, sm.Shape[2], J)
	}
	K, n := int(k64), side*side
	truths = make([][]float64, J)
	samples = make([][][]float64, J)
	for j := range J {
		truths[j] = tr.Data[j*n : (j+1)*n]
		for q := range K {
			samples[j] = append(samples[j], sm.Data[(j*K+q)*n:(j*K+q+1)*n])
		}
	}
	return truths, samples, side, nil
}

// CoverageFromSamples redoes the summaries of Coverage — TARP with its null
// distribution, the averaged test, the spread–skill ratio, the rank tests
// and the per-data-set breakdown — from a coverage_samples.fits written
// with SaveSamples, without sampling: with other options (RankEdges,
// PlainRanks, NullDraws, References, Seed for other reference points) or
// with a newer lenscore. Lenses and Samples come from the file, except
// that a positive o.Lenses below the file's count keeps only the first
// o.Lenses lenses (to compare with a shorter run of the same seeds). The
// per-lens records (source, lens, noise, χ²_ν, data set) and the run's
// labels come from the coverage.json beside the file when it describes the
// same run; a lens without a data set gets the one of its source's name in
// s.Names/s.Sets. s supplies only Seed, Progress, Names and Sets.
func CoverageFromSamples(s Setup, path string, o CoverageOptions, dir string) (*CoverageResult, error) {
	truths, samples, side, err := ReadCoverageSamples(path)
	if err != nil {
		return nil, err
	}
	if o.Lenses > 0 && o.Lenses < len(truths) {
		truths, samples = truths[:o.Lenses], samples[:o.Lenses]
	}
	J := len(truths)
	if J < 2 {
		return nil, fmt.Errorf("experiment: coverage: %s: %d lenses, need at least 2", path, J)
	}
	K := len(samples[0])
	o.Lenses, o.Samples, o.SaveSamples = J, K, false
	o.summaryDefaults()
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	out := &CoverageResult{Prior: "samples of " + path, Lenses: J, Samples: K, SigmaNFrac: math.NaN(),
		Truth: "TRUTH cube of " + path, Likelihood: "unknown (recomputed from samples)"}
	if run, ok := s.sampledRun(filepath.Join(filepath.Dir(path), "coverage.json"), J, K); ok {
		out.Prior, out.SigmaNFrac, out.Truth, out.Likelihood = run.Prior, run.SigmaNFrac, run.Truth, run.Likelihood
		out.PerLens = run.PerLens[:J]
		if len(run.PerLens) == J {
			out.Timing = run.Timing
		}
	} else {
		for j := range J {
			out.PerLens = append(out.PerLens, CoverageLens{Source: fmt.Sprintf("lens %d", j), SigmaN: math.NaN(), Chi2NuAvg: math.NaN()})
		}
	}
	set := map[string]string{}
	for i, name := range s.Names {
		if i < len(s.Sets) {
			set[name] = s.Sets[i]
		}
	}
	for j := range out.PerLens {
		l := &out.PerLens[j]
		if l.Set == "" {
			l.Set = set[l.Source]
		}
		// Runs before the flag existed: a mean χ²_ν above the threshold
		// means some sample diverged.
		l.Diverged = l.Diverged || l.Chi2NuAvg > DivergedChi2
	}
	s.Side = side
	if err := s.summarizeCoverage(out, samples, truths, o, dir); err != nil {
		return nil, err
	}
	return out, nil
}

// sampledRun reads the coverage.json written beside a samples file by the
// run that sampled it, for its per-lens records (source, lens, noise, χ²_ν,
// data set) and labels. It reports false, logging why, when the file is
// missing, unreadable or describes fewer lenses or other K.
func (s *Setup) sampledRun(path string, J, K int) (*CoverageResult, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var run CoverageResult
	if err := json.Unmarshal(b, &run); err != nil {
		s.logf("coverage: %s not used for the per-lens records: %v", path, err)
		return nil, false
	}
	if len(run.PerLens) < J || run.Samples != K {
		s.logf("coverage: %s not used for the per-lens records: %d lenses × %d samples, the samples file has %d × %d", path, len(run.PerLens), run.Samples, J, K)
		return nil, false
	}
	for j := range run.PerLens {
		run.PerLens[j].F = math.NaN()
	}
	if run.SigmaNFrac == 0 { // null in the file: unknown
		run.SigmaNFrac = math.NaN()
	}
	return &run, true
}

// sigmaAt returns the Monte Carlo error of ECP at α: the bootstrap one when
// available, else the binomial √(α(1−α)/J); at α ∈ {0, 1}, where both
// vanish, the binomial error of the nearest interior level.
func sigmaAt(tr *diag.TARPResult, alpha float64) float64 {
	best, bi := math.Inf(1), 0
	for i, a := range tr.Alpha {
		if d := math.Abs(a - alpha); d < best {
			best, bi = d, i
		}
	}
	sig := tr.Sigma[bi]
	if tr.BootSigma != nil && tr.BootSigma[bi] > 0 {
		sig = tr.BootSigma[bi]
	}
	if sig == 0 {
		j := len(tr.F)
		a := 1 / float64(len(tr.Alpha)-1)
		sig = math.Sqrt(a * (1 - a) / float64(j))
	}
	return sig
}

// writeCoverageSamples writes the truths and samples of Coverage as two
// FITS cubes (see CoverageOptions.SaveSamples).
func writeCoverageSamples(path string, side int, truths [][]float64, samples [][][]float64) error {
	n := side * side
	tr := make([]float64, 0, len(truths)*n)
	for _, t := range truths {
		tr = append(tr, t...)
	}
	var sm []float64
	k := 0
	for _, ss := range samples {
		k = len(ss)
		for _, x := range ss {
			sm = append(sm, x...)
		}
	}
	h0 := fits.NewCube(side, side, len(truths), tr)
	h0.Name = "TRUTH"
	h1 := fits.NewCube(side, side, len(sm)/n, sm)
	h1.Name = "SAMPLES"
	h1.Header.Set("NSAMPLE", k, "samples per lens")
	if err := fits.WriteFile(path, []*fits.HDU{h0, h1}); err != nil {
		return fmt.Errorf("experiment: coverage: %w", err)
	}
	return nil
}

func fmtFracs(v []float64) string {
	var b []byte
	for i, x := range v {
		if i > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%.2f", x)
	}
	return "[" + string(b) + "]"
}

// highestSpreadSkill lists the n lenses with the largest per-lens
// spread–skill ratio, largest first ("" when no lens has one).
func highestSpreadSkill(lenses []CoverageLens, n int) string {
	var idx []int
	for j, l := range lenses {
		if !math.IsNaN(l.SpreadSkill) {
			idx = append(idx, j)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(lenses[b].SpreadSkill, lenses[a].SpreadSkill) })
	var parts []string
	for _, j := range idx[:min(n, len(idx))] {
		parts = append(parts, fmt.Sprintf("%s %.2f", lenses[j].Source, lenses[j].SpreadSkill))
	}
	return strings.Join(parts, ", ")
}
