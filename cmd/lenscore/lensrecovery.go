package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/train"
)

// runLensRecovery is `lenscore experiment lens-recovery`.
func runLensRecovery(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "experiment lens-recovery", "[--lenses 30] [--fit-source-npix 32] [--prior grf|gaussian] [--starts 2 --steps 400] [--shard K/N] [--resume] [--gap-source-npix N] [--debias score [--from-parts DIR]] [--out DIR]")
	out := fs.String("out", "experiments", "output directory (results in its lens-recovery sub-folder)")
	data := fs.String("data", defaultTrainData, "galaxy folders: the validation split supplies the true sources, the training split the GRF prior")
	exclude := fs.String("exclude", demoGalaxy, "image names never used")
	lenses := fs.Int("lenses", 30, "simulated lenses")
	fitN := fs.Int("fit-source-npix", 32, "source grid side of the evidence (same 1.92″ field as the 64² simulation grid; 2–64, e.g. 32, 48 or 64)")
	fitScale := fs.Float64("fit-source-pixel-scale", 0, "pixel size in arcsec of that grid (0: 1.92″/N, the simulation's field)")
	shape := fs.String("prior-shape", "", "with --probe and --prior grf: make the GRF's shape a hyperparameter set per lens by the evidence (type-II maximum likelihood at the MAP): tilt (spectral slope) or white (an added white-noise fraction)")
	probe := fs.String("probe", "", "instead of the full fits: the calibration probe (maximum from the truth and its Laplace widths) of these lenses, e.g. 0-7 or 0,3,5, into lens_recovery_probe.json")
	kind := fs.String("prior", "grf", "Gaussian source prior of the evidence: grf (fitted to the training galaxies at the fit resolution) or gaussian (isotropic, --prior-sigma)")
	sigma := fs.Float64("prior-sigma", 0.1, "standard deviation of the gaussian prior (its amplitude is fitted anyway)")
	noise := fs.Float64("noise", 0.02, "noise σ as a fraction of the noise-free peak")
	fwhm := fs.Float64("psf-fwhm", 0.1, "Gaussian PSF FWHM in arcsec (HST-like)")
	starts := fs.Int("starts", 2, "optimiser starts per lens (plus the orientation-flipped variants of the best)")
	maxEval := fs.Int("max-evals", 0, "evaluations per optimiser start (0: 150 × free parameters)")
	steps := fs.Int("steps", 400, "step budget per chain (sampling stops earlier once R̂ < --rhat-target and ESS ≥ --ess-target)")
	walkers := fs.Int("walkers", 0, "independent Metropolis–Hastings chains (0: 8)")
	burn := fs.Int("burn", 0, "burn-in steps per chain (0: 40)")
	rhatTarget := fs.Float64("rhat-target", 1.05, "split-R̂ target of the sampler's stopping rule")
	essTarget := fs.Float64("ess-target", 400, "ESS target of the sampler's stopping rule")
	gapSide := fs.Int("gap-source-npix", 0, "instead of fitting: for the finished lenses, log evidence of the fitted MAP lens minus that of the true lens (amplitude maximised) on this source grid (a divisor of 64), into lens_recovery_gap_N.json")
	gapFree := fs.Bool("gap-noise-free", false, "with --gap-source-npix: evaluate the two evidences on the noise-free observation; with --probe: fit it (z = the model's own offset)")
	gapLenses := fs.Int("gap-lenses", 0, "with --gap-source-npix: at most this many lenses (0: all finished)")
	shard := fs.String("shard", "", "K/N: fit only the lenses j with j mod N = K (for N processes sharing --out; then table them with a run without --shard and with --resume)")
	debias := fs.String("debias", "", "correct the source model's own lens offset (probe: its MAP; full fits: their draws) at the fitted lens by refits of noise-free observations of sources the data allow: truth (the true source, an oracle) or score (posterior samples under the network prior --model)")
	debiasK := fs.Int("debias-sources", 4, "with --debias score: posterior source samples per lens")
	fromParts := fs.String("from-parts", "", "with --debias: instead of fitting, correct the finished full fits of the plain run in this folder (the one holding "+experiment.LensRecoveryParts+", e.g. results/lens-recovery/mh-32-30) without refitting; the corrected parts, table and figures go to --out")
	model := fs.String("model", "", "with --debias score: trained prior file (default: the shipped network prior)")
	noiseSeed := fs.Uint64("noise-seed", 0, "with --probe: another noise realisation of every lens (same lenses and sources; 0: the standard one)")
	draws := fs.Int("source-draws", 8, "lens draws averaged for the marginalised source error")
	seed := fs.Uint64("seed", 1, "seed")
	resume := fs.Bool("resume", false, "continue an interrupted run from the lenses stored in lens-recovery/"+experiment.LensRecoveryParts)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *gapSide != 0 && (*gapSide < 2 || 64%*gapSide != 0 || *gapLenses < 0) {
		return fmt.Errorf("--gap-source-npix must be a divisor of 64 ≥ 2 and --gap-lenses ≥ 0 (got %d, %d)", *gapSide, *gapLenses)
	}
	if *lenses < 1 || *fitN < 2 || *fitN > 64 {
		return fmt.Errorf("--lenses must be ≥ 1 and --fit-source-npix in [2, 64] (got %d, %d)", *lenses, *fitN)
	}
	if !(*fitScale >= 0) || math.IsInf(*fitScale, 0) {
		return fmt.Errorf("--fit-source-pixel-scale must be ≥ 0 (0: the simulation's field), got %g", *fitScale)
	}
	if *fitScale == 0 {
		*fitScale = experiment.DefaultSrcField / float64(*fitN)
	}
	if *shape != "" && (*kind != "grf" || *probe == "" || (*shape != "tilt" && *shape != "white")) {
		return fmt.Errorf("--prior-shape must be tilt or white, with --prior grf and --probe (the full fits keep the prior's shape fixed), got %q", *shape)
	}
	if *debias != "" && ((*debias != "truth" && *debias != "score") || *debiasK < 1 || *gapSide != 0) {
		return fmt.Errorf("--debias must be truth or score, without --gap-source-npix, and --debias-sources ≥ 1 (got %q, %d)", *debias, *debiasK)
	}
	if *noiseSeed != 0 && *probe == "" {
		return fmt.Errorf("--noise-seed %d needs --probe (the full fits use the standard noise)", *noiseSeed)
	}
	if *fromParts != "" && (*debias == "" || *probe != "" || *gapSide != 0) {
		return fmt.Errorf("--from-parts %s needs --debias and neither --probe nor --gap-source-npix", *fromParts)
	}
	var probeIdx []int
	if *probe != "" {
		var err error
		if probeIdx, err = parseLensList(*probe, *lenses); err != nil {
			return fmt.Errorf("--probe %q: %w", *probe, err)
		}
	}
	var shardK, shardN int
	if *shard != "" {
		if _, err := fmt.Sscanf(*shard, "%d/%d", &shardK, &shardN); err != nil || shardN < 1 || shardK < 0 || shardK >= shardN || fmt.Sprintf("%d/%d", shardK, shardN) != *shard {
			return fmt.Errorf("--shard %q: want K/N with 0 ≤ K < N", *shard)
		}
	}
	if *kind != "grf" && *kind != "gaussian" {
		return fmt.Errorf("--prior must be grf or gaussian, got %q", *kind)
	}
	dir := filepath.Join(*out, "lens-recovery")
	if !*resume && *shard == "" && *gapSide == 0 {
		parts, _ := filepath.Glob(filepath.Join(dir, experiment.LensRecoveryParts, "lens-[0-9][0-9][0-9].json"))
		if len(parts) > 0 {
			return fmt.Errorf("%s holds %d lenses of an earlier run; continue it with --resume or remove %s", dir, len(parts), filepath.Join(dir, experiment.LensRecoveryParts))
		}
	}
	if *fromParts != "" {
		if err := experiment.CheckCorrectionDirs(*fromParts, dir); err != nil {
			return fmt.Errorf("--from-parts: %w", err)
		}
	}
	ds, err := loadTrainingData(*data, 64, train.DefaultValFraction, strings.Split(*exclude, ","), true)
	if err != nil {
		return fmt.Errorf("loading the galaxies: %w", err)
	}
	gals, names, _ := experiment.Galaxies(ds.Val, 0)
	one := func(float64) float64 { return 1 } // the evidence does not use the diffusion schedule
	makePrior := func(n int, scale float64) (posterior.GaussianPrior, error) {
		if *kind == "grf" {
			tr, _, _ := experiment.Galaxies(ds.Train, 0)
			for i := range tr {
				tr[i] = experiment.RebinField(tr[i], 64, experiment.DefaultSrcField/64, n, scale)
			}
			return posterior.FitGRF(tr, n, n, posterior.FitOptions{Radial: true}, one)
		}
		g, err := posterior.NewIsoGaussian(make([]float64, n*n), *sigma, one)
		if err != nil {
			return nil, fmt.Errorf("--prior-sigma: %w", err)
		}
		return g, nil
	}
	prior, err := makePrior(*fitN, *fitScale)
	if err != nil {
		return err
	}
	if *gapSide != 0 {
		// The evidence gap between the fitted and the true lens of the
		// finished lenses (read-only: no lock, no fit).
		gp, err := makePrior(*gapSide, experiment.DefaultSrcField/float64(*gapSide))
		if err != nil {
			return err
		}
		gaps, err := experiment.LensRecoveryGaps(ctx, experiment.LensRecoveryOptions{Galaxies: gals, Names: names, PSFFWHM: *fwhm, Noise: *noise,
			FitSide: *fitN, Prior: prior, Lenses: *lenses, Seed: *seed, Progress: env.stderr, GapNoiseFree: *gapFree}, dir, *gapSide, gp, *gapLenses)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, fmt.Sprintf("lens_recovery_gap_%d.json", *gapSide))
		if *gapFree {
			path = filepath.Join(dir, fmt.Sprintf("lens_recovery_gap_%d_noise_free.json", *gapSide))
		}
		if err := experiment.WriteJSON(path, gaps); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "evidence gaps of %d lenses on the %d² grid in %s\n", len(gaps), *gapSide, path)
		return nil
	}
	if probeIdx != nil {
		lk, err := lockOutDir(dir, "probe")
		if err != nil {
			return err
		}
		defer lk.Release()
		fmt.Fprintf(env.stderr, "lens-recovery probe: %d lenses, %d² evidence grid, %s prior, shape %q, linalg %s\n", len(probeIdx), *fitN, *kind, *shape, backendLine())
		db, closeDB, err := recoveryDebias(*debias, *debiasK, *model, ds)
		if err != nil {
			return err
		}
		defer closeDB()
		r, err := experiment.LensRecoveryProbe(ctx, experiment.LensRecoveryOptions{Galaxies: gals, Names: names, PSFFWHM: *fwhm, Noise: *noise, FitSide: *fitN, FitScale: *fitScale,
			Prior: prior, Lenses: *lenses, Seed: *seed, Shape: *shape, GapNoiseFree: *gapFree, NoiseSeed: *noiseSeed, Debias: db, Progress: env.stderr}, probeIdx, dir, cpuSeconds)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "lens-recovery probe over %d lenses (%d with |z| > 5; mean %.0f CPU-s, median %.0f s wall per lens; mean evidence gap %.2f)\n",
			len(r.Lenses), r.Failures, r.MeanCPU, r.MedianWall, r.MeanGap)
		fmt.Fprintf(env.stdout, "%-10s %10s %8s %8s %10s %6s %6s\n", "parameter", "bias", "bias/σ", "std z", "RMS", "68 %", "95 %")
		for _, p := range r.Params {
			fmt.Fprintf(env.stdout, "%-10s %10.2e %8.2f %8.2f %10.2e %6.2f %6.2f\n", p.Name, p.Bias, p.BiasZ, p.StdZ, p.RMS, p.Cover68, p.Cover95)
		}
		if r.ParamsDebiased != nil {
			fmt.Fprintf(env.stdout, "corrected for the source model's offset (%s sources; %d with |z| > 5):\n", *debias, r.FailuresDebiased)
			for _, p := range r.ParamsDebiased {
				fmt.Fprintf(env.stdout, "%-10s %10.2e %8.2f %8.2f %10.2e %6.2f %6.2f\n", p.Name, p.Bias, p.BiasZ, p.StdZ, p.RMS, p.Cover68, p.Cover95)
			}
		}
		return nil
	}
	// A second run into the folder fails at once; the shards of one run
	// share its lock and each holds its own.
	if shardN > 1 {
		rl, err := lockOutDirShared(dir, dirlock.DefaultName)
		if err != nil {
			return err
		}
		defer rl.Release()
		lk, err := lockOutDir(dir, fmt.Sprintf("shard-%d-of-%d", shardK, shardN))
		if err != nil {
			return err
		}
		defer lk.Release()
	} else {
		lk, err := lockOutDir(dir, dirlock.DefaultName)
		if err != nil {
			return err
		}
		defer lk.Release()
	}
	db, closeDB, err := recoveryDebias(*debias, *debiasK, *model, ds)
	if err != nil {
		return err
	}
	defer closeDB()
	ro := experiment.LensRecoveryOptions{Galaxies: gals, Names: names, PSFFWHM: *fwhm, Noise: *noise, FitSide: *fitN, FitScale: *fitScale,
		Prior: prior, Lenses: *lenses, SourceDraws: *draws, Seed: *seed, Resume: true, Progress: env.stderr, Debias: db,
		Shard: shardK, Shards: shardN,
		Fit: lensfit.FitOptions{Starts: *starts, MaxEval: *maxEval, Steps: *steps, Walkers: *walkers, Burn: *burn, Samples: 64,
			RHatTarget: *rhatTarget, ESSTarget: *essTarget}}
	var r *experiment.LensRecoveryResult
	if *fromParts != "" {
		fmt.Fprintf(env.stderr, "lens-recovery: correcting the %d full fits in %s for the source-model offset (%s, %d sources), %d² evidence grid, %s prior, linalg %s\n",
			*lenses, *fromParts, *debias, db.K, *fitN, *kind, backendLine())
		r, err = experiment.LensRecoveryCorrect(ctx, ro, *fromParts, dir, cpuSeconds)
	} else {
		fmt.Fprintf(env.stderr, "lens-recovery: %d lenses of %d validation galaxies, %d² evidence grid, %s prior, linalg %s\n", *lenses, len(gals), *fitN, *kind, backendLine())
		r, err = experiment.LensRecovery(ctx, ro, dir)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
		}
		return err
	}
	if shardN > 1 {
		fmt.Fprintf(env.stdout, "lens-recovery shard %s: %d lenses in %s; table them with the same command without --shard and with --resume\n", *shard, len(r.Lenses), dir)
		return nil
	}
	fmt.Fprintf(env.stdout, "lens-recovery over %d lenses (%d failures, median %.0f s per lens); source RMSE %.4f with the true lens, %.4f marginalised\n",
		len(r.Lenses), r.Failures, r.MedianWall, r.SourceRMSETrue, r.SourceRMSEMarg)
	fmt.Fprintf(env.stdout, "%-10s %10s %8s %8s %10s %6s %6s\n", "parameter", "bias", "bias/σ", "std z", "RMS", "68 %", "95 %")
	for _, p := range r.Params {
		fmt.Fprintf(env.stdout, "%-10s %10.2e %8.2f %8.2f %10.2e %6.2f %6.2f\n", p.Name, p.Bias, p.BiasZ, p.StdZ, p.RMS, p.Cover68, p.Cover95)
	}
	if r.ParamsUncorrected != nil {
		fmt.Fprintf(env.stdout, "the same lenses before the correction (%d failures):\n", r.FailuresUncorrected)
		for _, p := range r.ParamsUncorrected {
			fmt.Fprintf(env.stdout, "%-10s %10.2e %8.2f %8.2f %10.2e %6.2f %6.2f\n", p.Name, p.Bias, p.BiasZ, p.StdZ, p.RMS, p.Cover68, p.Cover95)
		}
		for _, x := range []struct {
			name string
			p    *experiment.PooledZ
		}{{"uncorrected", r.PooledUncorrected}, {"corrected", r.Pooled}} {
			if x.p == nil {
				continue
			}
			fmt.Fprintf(env.stdout, "pooled %s: RMS z %.2f, 68 %% coverage %.2f, 95 %% %.2f, lenses with |z| > 5: %d (%d values)\n", x.name, x.p.RMSZ, x.p.Cover68, x.p.Cover95, x.p.Above5, x.p.N)
		}
	}
	fmt.Fprintf(env.stdout, "outputs in %s\n", dir)
	return nil
}

// recoveryDebias builds the --debias option (nil when off) and a function
// that releases its prior.
func recoveryDebias(kind string, k int, model string, ds *train.Dataset) (*experiment.Debias, func(), error) {
	if kind == "" {
		return nil, func() {}, nil
	}
	db := &experiment.Debias{Source: kind, K: k}
	if kind != "score" {
		return db, func() {}, nil
	}
	pr, err := demoPrior(model, "network", 64, k)
	if err != nil {
		return nil, nil, err
	}
	if !pr.StarsRemoved || pr.Sky != train.SkyModeClipped {
		pr.Close()
		return nil, nil, fmt.Errorf("--debias score: the prior %s was trained on galaxies prepared differently from the lens recovery's (stars removed, sky clipped)", pr.Name)
	}
	tr, _, _ := experiment.Galaxies(ds.Train, 0)
	proxy, err := posterior.FitGRF(tr, 64, 64, posterior.FitOptions{Floor: 1e-9}, pr.VE.Sigma)
	if err != nil {
		pr.Close()
		return nil, nil, fmt.Errorf("projected likelihood proxy: %w", err)
	}
	db.Prior, db.VE, db.Proxy = pr.Prior, pr.VE, proxy
	return db, pr.Close, nil
}

// parseLensList parses "0-7" or "0,3,5" (lens indices below n).
func parseLensList(s string, n int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var a, b int
		if _, err := fmt.Sscanf(f, "%d-%d", &a, &b); err == nil && fmt.Sprintf("%d-%d", a, b) == f {
		} else if _, err := fmt.Sscanf(f, "%d", &a); err == nil && fmt.Sprint(a) == f {
			b = a
		} else {
			return nil, fmt.Errorf("%q is not an index or a range a-b", f)
		}
		if b < a {
			return nil, fmt.Errorf("range %d-%d runs backwards; write %d-%d", a, b, b, a)
		}
		if a < 0 || b >= n {
			return nil, fmt.Errorf("lenses %d-%d are not within [0, %d)", a, b, n)
		}
		for j := a; j <= b; j++ {
			out = append(out, j)
		}
	}
	return out, nil
}
