package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/train"
)

var experimentNames = []string{"fig1", "fig2", "coverage", "steps", "prior-vs-data", "dsm"}

func runExperiment(ctx context.Context, env *cliEnv, args []string) error {
	name := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "lens-recovery" { // not part of "all": a long run of its own (lensrecovery.go)
		return runLensRecovery(ctx, env, args)
	}
	names := []string{name}
	if name == "all" {
		names = experimentNames
	} else if name != "" && !contains(experimentNames, name) {
		return fmt.Errorf("unknown experiment %q (want %s or all)", name, strings.Join(experimentNames, ", "))
	}
	cmdName, synopsis := "experiment "+name, "[--model M | --prior grf] [--out DIR] [flags]"
	if name == "" {
		cmdName, synopsis = "experiment", "NAME [--model M | --prior grf] [--out DIR] [flags]\n\nNAME is one of "+strings.Join(experimentNames, ", ")+" or all.\nSome flags apply to some experiments only, as their text says."
	}
	fs := newFlags(env, cmdName, synopsis)
	out := fs.String("out", "experiments", "output directory (one sub-folder per experiment)")
	model := fs.String("model", "", "trained prior file (default: the shipped network prior, built into lenscore)")
	kind := fs.String("prior", "network", "network (--model, default the shipped one) or grf (the built-in Gaussian random field)")
	data := fs.String("data", defaultTrainData, "galaxy folders; their validation split supplies the test galaxies")
	exclude := fs.String("exclude", demoGalaxy, "image names never used")
	batch := fs.Int("batch", 16, "images per network call")
	samples := fs.Int("samples", 0, "posterior samples per lens (0: each experiment's default)")
	lenses := fs.Int("lenses", 0, "lenses for coverage (default 50) and steps (default 4); with --from-samples, use the file's first N lenses")
	steps := fs.Int("steps", 0, "reverse-time steps (0: technique 2)")
	sampler := fs.String("sampler", "em", "em, pc, dpm2 or ancestral")
	denoise := fs.Bool("denoise", false, "final Tweedie denoising step")
	sigmaN := fs.Float64("sigma-n", 0, "noise σ_n as a fraction of the noise-free image's peak (0: 0.02)")
	galaxy := fs.Int("galaxy", 0, "index of the validation galaxy for fig1")
	plainRanks := fs.Bool("plain-ranks", false, "coverage: TARP rank c/K instead of the randomised (c+U)/(K+1), which is exactly uniform for a calibrated sampler")
	truthPrior := fs.Bool("truth-from-prior", false, "coverage: draw the true sources from the prior (reverse SDE without data) instead of the validation galaxies, which tests the sampler alone")
	saveSamples := fs.Bool("save-samples", false, "coverage: also write the true sources and the samples to coverage_samples.fits")
	likelihood := fs.String("likelihood", "convolved", "coverage and fig1: likelihood score, convolved (the paper's), diag, exact (Gaussian prior only: the exact time-t likelihood, an O(N³) set-up per lens) projected (Tweedie mean from the prior's score, covariance of a stationary Gaussian proxy fitted to the training images) or, for coverage, projected-jacobian (the same with the network's own Jacobian by back-propagation, ≈ 3× the cost)")
	fromSamples := fs.String("from-samples", "", "coverage: recompute TARP and the calibration summaries from a coverage_samples.fits (written with --save-samples) instead of sampling")
	nullDraws := fs.Int("null-draws", 2000, "coverage: Monte Carlo draws of max|ECP−α| for a calibrated sampler with the same lenses and samples (0: none)")
	configs := fs.String("configs", "", "steps: sampler settings to compare, e.g. em:N/4,em:N/8,pc:N/16,em+tweedie:N/16 (N = technique-2 count; default EM N…N/8, PC N/4, N/8, EM+Tweedie N/4, N/8)")
	refs := fs.Int("references", 64, "coverage: reference points per lens of the averaged TARP test (exchangeability null; 0: off)")
	resume := fs.Bool("resume", false, "coverage: continue an interrupted run in the same --out (or extend a finished one to more --lenses) from the lenses stored in coverage/coverage_parts; without it a run starts afresh")
	jacBelow := fs.Float64("jacobian-below", 0.3, "coverage with --likelihood projected-jacobian: use the network's Jacobian only while σ(t) ≤ this (0: always)")
	set := fs.String("set", "", "coverage: only the lenses (of the first --lenses) whose validation galaxy is of this data set, e.g. stellarium/gray; each keeps the seeds of the same lens in a full run")
	valStars := fs.String("validation-stars", "auto", "auto (prepare the validation galaxies as the model's training images: stars removed if its metadata says so), removed or kept")
	valSky := fs.String("validation-sky", "auto", "auto (prepare the validation galaxies' sky as the model's training images, as its metadata says: clipped at 0, kept or denoised), clipped, kept or denoised; one value compares priors on the same truths")
	compare := fs.String("compare", "", "dsm: further trained priors to compare, comma-separated model files (e.g. exports of later training checkpoints)")
	seed := fs.Uint64("seed", 1, "seed")
	sizeFlag := fs.Int("size", 0, "source side in pixels, 1.92″ field (0: the network's side, else 64)")
	npixFlag := fs.Int("npix", 0, "observed image side, 5″ field, 2×2 rays per pixel (0: 64 up to --size 64, else --size/2: the paper's 256² → 128²)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if name == "" {
		fmt.Fprintf(env.stderr, "lenscore experiment: name one of %s or all\n", strings.Join(experimentNames, ", "))
		fs.Usage()
		return errUsage
	}
	side := *sizeFlag
	if side == 0 {
		side = 64
		if *kind != "grf" {
			if s := modelSide(*model); s > 0 {
				side = s
			}
		}
	}
	npix := *npixFlag
	if npix == 0 {
		npix = defaultObsNPix(side)
	}
	if side < 8 || side > 1024 || npix < 8 || npix > 1024 {
		return fmt.Errorf("--size and --npix must be in [8, 1024], got %d and %d", side, npix)
	}
	if *sampler != "em" && *sampler != "pc" && *sampler != "dpm2" && *sampler != "ancestral" {
		return fmt.Errorf("--sampler must be em, pc, dpm2 or ancestral, got %q", *sampler)
	}
	likKind, err := posterior.ParseLikelihoodKind(*likelihood)
	if err != nil {
		return fmt.Errorf("--likelihood must be convolved, diag, exact, projected or projected-jacobian, got %q", *likelihood)
	}
	if *set != "" && (name != "coverage" || *fromSamples != "") {
		return fmt.Errorf("--set applies to a coverage run only (not %s, not with --from-samples)", name)
	}
	if *compare != "" && !contains(names, "dsm") {
		return fmt.Errorf("--compare applies to dsm only")
	}
	switch *valStars {
	case "auto", "removed", "kept":
	default:
		return fmt.Errorf("--validation-stars must be auto, removed or kept, got %q", *valStars)
	}
	switch *valSky {
	case "auto", train.SkyModeClipped, train.SkyModeKept, train.SkyModeDenoised:
	default:
		return fmt.Errorf("--validation-sky must be auto, clipped, kept or denoised, got %q", *valSky)
	}
	if *refs < 0 {
		return fmt.Errorf("--references must be ≥ 0 (0: off), got %d", *refs)
	}
	coverageNull, err := nullDrawsOption(*nullDraws)
	if err != nil {
		return err
	}
	if *fromSamples != "" {
		fromLenses := *lenses // 0: all lenses of the file, else its first --lenses
		if name != "coverage" {
			return fmt.Errorf("--from-samples applies to coverage only, not %s", name)
		}
		dir := filepath.Join(*out, "coverage")
		lk, err := lockOutDir(dir, dirlock.DefaultName)
		if err != nil {
			return err
		}
		defer lk.Release()
		names, sets := dataSets(*data)
		r, err := experiment.CoverageFromSamples(experiment.Setup{Seed: *seed, Progress: env.stderr, Names: names, Sets: sets}, *fromSamples,
			experiment.CoverageOptions{PlainRanks: *plainRanks, NullDraws: coverageNull, Lenses: fromLenses, References: refsOption(*refs)}, dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "coverage (from %s): TARP over %d lenses × %d samples: max |ECP − α| = %.3f at α = %.2f%s; spread–skill %.3f%s; outputs in %s\n",
			*fromSamples, r.Lenses, r.Samples, r.MaxDev, r.AtAlpha, averagedSummary(r.Averaged), r.SpreadSkill, divergedSummary(r), dir)
		return nil
	}
	// Like demo: an unfinished coverage run is never thrown away silently.
	if dir := filepath.Join(*out, "coverage"); contains(names, "coverage") && !*resume {
		parts, _ := filepath.Glob(filepath.Join(dir, experiment.PartsDir, "lens-*.fits"))
		if _, serr := os.Stat(filepath.Join(dir, "coverage.json")); len(parts) > 0 && serr != nil {
			return fmt.Errorf("%s holds an unfinished coverage run (%d lenses in %s); continue it with --resume or remove that folder",
				dir, len(parts), filepath.Join(dir, experiment.PartsDir))
		}
	}
	// The prior's Jacobian needs all of a lens's samples in one network call.
	pr, err := demoPrior(*model, *kind, side, likKind.PriorBatch(*batch, cmp.Or(*samples, experiment.DefaultCoverageSamples)))
	if err != nil {
		return err
	}
	defer pr.Close()
	// Each experiment's folder is locked, so that two runs of one
	// experiment into the same --out fail at once while different
	// experiments may share it.
	for _, n := range names {
		lk, err := lockOutDir(filepath.Join(*out, n), dirlock.DefaultName)
		if err != nil {
			return err
		}
		defer lk.Release()
	}
	stars := pr.StarsRemoved
	if *valStars != "auto" {
		stars = *valStars == "removed"
	}
	sky := pr.Sky
	if *valSky != "auto" {
		sky = *valSky
	}
	starNote := experiment.PreparedNote(stars, sky)
	ds, err := loadTrainingDataSky(*data, side, train.DefaultValFraction, strings.Split(*exclude, ","), stars, sky)
	if err != nil {
		return fmt.Errorf("loading validation galaxies: %w", err)
	}
	gals, gnames, gsets := experiment.Galaxies(ds.Val, 0)
	setup := experiment.Setup{Prior: pr.Prior, VE: pr.VE, PriorName: pr.Name, Side: side, NPix: npix, Galaxies: gals, Names: gnames, Sets: gsets, Prepared: starNote,
		Seed: *seed, Progress: env.stderr}
	if likKind.PriorJacobian() {
		if name != "coverage" {
			return fmt.Errorf("--likelihood projected-jacobian applies to coverage only, not %s", name)
		}
	}
	if likKind.Projected() {
		if _, isGRF := pr.Prior.(*posterior.GRF); !isGRF {
			train, _, _ := experiment.Galaxies(ds.Train, 0)
			if setup.Proxy, err = posterior.FitGRF(train, side, side, posterior.FitOptions{Floor: 1e-9}, pr.VE.Sigma); err != nil {
				return fmt.Errorf("projected likelihood: %w", err)
			}
			fmt.Fprintf(env.stderr, "projected likelihood: Gaussian proxy fitted to %d training images\n", len(train))
		}
	}
	var cfgs []experiment.SamplerConfig
	if *configs != "" {
		n, err := pr.VE.StepsFor(side*side, posterior.DefaultTarget)
		if err != nil {
			return err
		}
		if cfgs, err = experiment.ParseStepConfigs(*configs, n); err != nil {
			return fmt.Errorf("--configs: %w", err)
		}
	}
	fmt.Fprintf(env.stderr, "prior %s; %d validation galaxies (%s); gemm %s\n", pr.Name, len(gals), starNote, backendLine())
	for _, n := range names {
		dir := filepath.Join(*out, n)
		if err := checkOutDir(dir); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "== experiment %s → %s\n", n, dir)
		var summary string
		switch n {
		case "fig1":
			r, err := experiment.Fig1(ctx, setup, experiment.Fig1Options{Galaxy: *galaxy, SigmaN: *sigmaN, Samples: *samples, Steps: *steps, Sampler: *sampler, Denoise: *denoise, Likelihood: *likelihood}, dir)
			if err != nil {
				return err
			}
			summary = fmt.Sprintf("χ²_ν per sample %s (mean of samples %.3f, of the posterior mean %.3f, exact-model spread ±%.3f); ρ(mean, truth) %.3f",
				fmtFloats(r.Chi2Nu), r.Chi2NuAvg, r.Chi2NuMean, r.Chi2NuStd, r.Pearson)
		case "fig2":
			r, err := experiment.Fig2(ctx, setup, experiment.Fig2Options{Samples: *samples, Steps: *steps, Sampler: *sampler, Denoise: *denoise}, dir)
			if err != nil {
				return err
			}
			var parts []string
			for _, l := range r.Levels {
				parts = append(parts, fmt.Sprintf("σ_n=%.3g: ρ(sample)=%.3f ρ(mean)=%.3f", l.SigmaN, l.PearsonSample, l.PearsonMean))
			}
			summary = strings.Join(parts, "; ")
		case "coverage":
			r, err := experiment.Coverage(ctx, setup, experiment.CoverageOptions{Lenses: *lenses, Samples: *samples, Steps: *steps, SigmaN: *sigmaN, Sampler: *sampler, Denoise: *denoise,
				PlainRanks: *plainRanks, NullDraws: coverageNull, SaveSamples: *saveSamples, TruthFromPrior: *truthPrior, Likelihood: *likelihood, JacobianBelow: *jacBelow, Resume: *resume, References: refsOption(*refs), Set: *set}, dir)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return fmt.Errorf("%w\ninterrupted: the finished lenses are kept in %s; continue with the same command and --resume", err, filepath.Join(dir, experiment.PartsDir))
				}
				return err
			}
			summary = fmt.Sprintf("TARP over %d lenses × %d samples: max |ECP − α| = %.3f at α = %.2f (%.1f Monte Carlo σ)", r.Lenses, r.Samples, r.MaxDev, r.AtAlpha, r.MaxDevInSigma)
			if r.Set != "" {
				summary = "set " + r.Set + ": " + summary
			}
			if r.NullDraws > 0 {
				summary += fmt.Sprintf("; calibrated sampler: median %.3f, 95 %% %.3f; p = %.3g", r.NullMedian, r.Null95, r.PValue)
			}
			summary += averagedSummary(r.Averaged) + divergedSummary(r)
		case "steps":
			r, err := experiment.Steps(ctx, setup, experiment.StepsOptions{Lenses: *lenses, Samples: *samples, SigmaN: *sigmaN, Configs: cfgs}, dir)
			if err != nil {
				return err
			}
			summary = fmt.Sprintf("technique-2 N = %d; cheapest configuration within tolerance: %s", r.N, r.CheapestName)
		case "prior-vs-data":
			if _, err := experiment.PriorVsData(ctx, setup, experiment.PriorVsDataOptions{Samples: *samples, Steps: *steps, Sampler: *sampler}, dir); err != nil {
				return err
			}
			summary = "see prior_vs_data.json"
		case "dsm":
			// The built-in GRF is the reference every learned prior must beat.
			var ref []experiment.NamedPrior
			if pr.Gaussian == nil { // a learned prior
				g, err := builtinGRF(side, 0)
				if err != nil {
					return err
				}
				ref = append(ref, experiment.NamedPrior{Name: g.Name, Prior: g.Prior, VE: g.VE})
			}
			for _, m := range splitList(*compare) {
				c, err := demoPrior(m, "network", side, *batch)
				if err != nil {
					return fmt.Errorf("--compare: %w", err)
				}
				defer c.Close()
				ref = append(ref, experiment.NamedPrior{Name: c.Name, Prior: c.Prior, VE: c.VE})
			}
			r, err := experiment.DSM(ctx, setup, ref, experiment.DSMOptions{Batch: *batch}, dir)
			if err != nil {
				return err
			}
			var parts []string
			for _, c := range r.Priors {
				parts = append(parts, fmt.Sprintf("%s %.4f", c.Name, c.Mean))
			}
			summary = "mean DSM loss per pixel (lower is better): " + strings.Join(parts, "; ")
		}
		fmt.Fprintf(env.stdout, "%s: %s\n", n, summary)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nullDrawsOption maps --null-draws (0: none) to
// experiment.CoverageOptions.NullDraws (negative: none, 0: the default).
func nullDrawsOption(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("--null-draws must be ≥ 0 (0: no null distribution), got %d", n)
	case n == 0:
		return -1, nil
	}
	return n, nil
}

// refsOption maps --references to experiment.CoverageOptions.References
// (0 on the command line: off, which the option spells negative).
func refsOption(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// averagedSummary describes the averaged TARP test for the command's
// summary line ("" when it was off).
func averagedSummary(a *diag.TARPAvgResult) string {
	if a == nil {
		return ""
	}
	s := fmt.Sprintf("; averaged over %d references per lens: %.3f at α = %.2f", a.References, a.MaxDev, a.AtAlpha)
	if a.Permutations > 0 {
		s += fmt.Sprintf(" (calibrated: median %.3f, 95 %% %.3f; p = %.3g)", a.NullMedian, a.Null95, a.PValue)
	}
	return s
}

// dataSets lists the files of the comma-separated image folders, each name
// with its data set (experiment.SourceLabel of its folder), so that
// --from-samples can split an older run by data set. Folders that cannot
// be read are skipped: the labels are optional.
func dataSets(dirs string) (names, sets []string) {
	for _, d := range strings.Split(dirs, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
				sets = append(sets, experiment.SourceLabel(d))
			}
		}
	}
	return names, sets
}

// divergedSummary warns on the summary line about lenses with a diverged
// sample ("" when there are none).
func divergedSummary(r *experiment.CoverageResult) string {
	if r.DivergedLenses == 0 {
		return ""
	}
	return fmt.Sprintf("; WARNING: %d lenses diverged (χ²_ν > %d), TARP is meaningless", r.DivergedLenses, experiment.DivergedChi2)
}

// splitList splits a comma-separated option into its non-empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
