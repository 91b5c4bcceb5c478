package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/shard"
)

// samplerFlags configure the reverse-SDE sampler.
type samplerFlags struct {
	n, corrector      *int
	steps, likelihood *string
	jacobianBelow     *float64
	sampler, proxy    *string
	snr, target, eps  *float64
	denoise, resume   *bool
	seed              *uint64
	checkpointMinutes *float64
	stepDiv           int                      // --steps auto/K: technique-2 count divided by K (resolved in runChains)
	kind              posterior.LikelihoodKind // --likelihood (resolved in options)
	ckName            string                   // checkpoint file in the output folder ("": checkpointFile)
	autoResume        bool                     // resume when the checkpoint exists (shards: a requeued task continues)
}

func addSamplerFlags(fs *flag.FlagSet, defN int, defSteps string) *samplerFlags {
	return &samplerFlags{
		n:                 fs.Int("n-samples", defN, "number of independent posterior samples (chains)"),
		steps:             fs.String("steps", defSteps, "reverse-time steps, auto (Song & Ermon's technique 2: N) or auto/K (N/K, e.g. auto/4)"),
		target:            fs.Float64("step-target", posterior.DefaultTarget, "overlap probability that --steps auto aims at"),
		likelihood:        fs.String("likelihood", "convolved", "likelihood score: convolved (the paper's), diag (diag(AAᵀ) variant), exact (Gaussian priors only) projected (Tweedie mean from the prior's score, covariance of a Gaussian proxy: better calibrated, ≈ 1.2× the time with the shipped network) or projected-jacobian (the same with the network's own Jacobian at σ(t) ≤ --jacobian-below, by back-propagation: smoother-than-truth samples fixed in part, ≈ 2× the time; all samples go through the network in one batch)"),
		jacobianBelow:     fs.Float64("jacobian-below", 0.3, "projected-jacobian: use the network's Jacobian only while σ(t) ≤ this (0: always); with the shipped prior 1 diverges, 0.3 stayed stable on all 108 lenses run with it and closes more of the texture gap than 0.1"),
		proxy:             fs.String("proxy", "", "projected likelihood: Gaussian proxy of the prior, a lenscore fit-grf file (default: the prior itself if it is a GRF, else the built-in grf64.fits for sources of 64×64 or more, resampled to the source grid)"),
		sampler:           fs.String("sampler", "em", "em (Euler–Maruyama), pc (predictor–corrector with Langevin steps), dpm2 (second-order multistep exponential integrator: one evaluation per step like em, as accurate at far fewer steps, e.g. --steps 40) or ancestral (its first-order version: under-disperses at few steps)"),
		corrector:         fs.Int("corrector-steps", 1, "Langevin corrector steps per predictor step (pc)"),
		snr:               fs.Float64("snr", 0.16, "corrector signal-to-noise ratio (pc)"),
		eps:               fs.Float64("t-end", 1e-3, "final diffusion time"),
		denoise:           fs.Bool("denoise", false, "final Tweedie denoising step"),
		seed:              fs.Uint64("seed", 1, "seed; sample k of seed s is the same whatever the batch size"),
		resume:            fs.Bool("resume", false, "continue an interrupted run from its checkpoint in the output directory"),
		checkpointMinutes: fs.Float64("checkpoint-minutes", 2, "minutes between checkpoints"),
	}
}

func (f *samplerFlags) options() (posterior.Options, error) {
	opt := posterior.Options{Target: *f.target, Eps: *f.eps, Sampler: *f.sampler, Corrector: *f.corrector, SNR: *f.snr,
		Denoise: *f.denoise, Seed: *f.seed, Chains: *f.n, CheckpointEvery: time.Duration(*f.checkpointMinutes * float64(time.Minute))}
	kind, err := posterior.ParseLikelihoodKind(*f.likelihood)
	if err != nil {
		return opt, fmt.Errorf("unknown --likelihood %q (want convolved, diag, exact, projected or projected-jacobian)", *f.likelihood)
	}
	f.kind = kind
	if err := kind.Configure(&opt, *f.jacobianBelow); err != nil {
		return opt, fmt.Errorf("--jacobian-below must be ≥ 0, got %g", *f.jacobianBelow)
	}
	if *f.n < 1 {
		return opt, fmt.Errorf("--n-samples must be ≥ 1, got %d", *f.n)
	}
	f.stepDiv = 0
	if d, ok := strings.CutPrefix(*f.steps, "auto/"); ok {
		k, err := strconv.Atoi(d)
		if err != nil || k < 1 {
			return opt, fmt.Errorf("--steps auto/K needs a positive integer K, got %q", *f.steps)
		}
		f.stepDiv = k
	} else if *f.steps != "auto" {
		s, err := strconv.Atoi(*f.steps)
		if err != nil || s < 1 {
			return opt, fmt.Errorf("--steps must be a positive integer or auto, got %q", *f.steps)
		}
		opt.Steps = s
	}
	if *f.sampler != "em" && *f.sampler != "pc" && *f.sampler != "dpm2" && *f.sampler != "ancestral" {
		return opt, fmt.Errorf("--sampler must be em, pc, dpm2 or ancestral, got %q", *f.sampler)
	}
	switch {
	case !(*f.eps > 0 && *f.eps < 1):
		return opt, fmt.Errorf("--t-end must be in (0, 1), got %g", *f.eps)
	case !(*f.snr > 0) || math.IsInf(*f.snr, 0):
		return opt, fmt.Errorf("--snr must be positive, got %g", *f.snr)
	case *f.sampler == "pc" && *f.corrector < 1:
		return opt, fmt.Errorf("--corrector-steps must be ≥ 1 with --sampler pc, got %d", *f.corrector)
	case !(*f.checkpointMinutes > 0) || math.IsInf(*f.checkpointMinutes, 0):
		return opt, fmt.Errorf("--checkpoint-minutes must be positive, got %g", *f.checkpointMinutes)
	case !(*f.target > 0 && *f.target < 0.997):
		return opt, fmt.Errorf("--step-target must be in (0, 0.997), got %g", *f.target)
	}
	return opt, nil
}

// maxStateBytes bounds the memory of the chains' state (three float64
// vectors per chain), so a mistyped --n-samples fails with a message
// instead of exhausting memory.
const maxStateBytes = 8 << 30

func checkChains(chains, dim int) error {
	if need := 3 * 8 * float64(chains) * float64(dim); need > maxStateBytes {
		return fmt.Errorf("--n-samples %d needs %.1f GiB for the chains' state (limit %d GiB); run fewer samples per job and combine them with different seeds", chains, need/(1<<30), maxStateBytes>>30)
	}
	return nil
}

// likelihoodFor builds the likelihood score of --likelihood for chains
// chains.
func likelihoodFor(kind posterior.LikelihoodKind, proxyPath string, p *problem, pr *loadedPrior, chains int) (posterior.Likelihood, error) {
	c := posterior.LikelihoodConfig{Op: p.Op, Y: p.Y, SigmaN: p.SigmaN, Keep: p.Keep, Sigma: pr.VE.Sigma, Prior: pr.Prior, Chains: chains}
	switch {
	case kind.Projected():
		proxy, err := proxyFor(pr, proxyPath, p.Op)
		if err != nil {
			return nil, err
		}
		c.Proxy = proxy
	case kind == posterior.LikelihoodExact:
		if pr.Gaussian == nil {
			return nil, errors.New("--likelihood exact needs a Gaussian prior (gaussian or grf)")
		}
		if err := checkDense("--likelihood exact", "the convolved, diag or projected likelihood (matrix-free)", p.Geo.SrcNPix, p.Geo.NPix*p.Geo.NPix, false); err != nil {
			return nil, err
		}
	}
	return posterior.NewLikelihood(kind, c)
}

// proxyFor returns the Gaussian proxy of the projected likelihood: the
// --proxy file, else the prior itself when it is a GRF, else the built-in
// GRF spectrum (fitted to the training galaxies at 64×64, resampled to
// larger source grids).
func proxyFor(pr *loadedPrior, path string, op posterior.Operator) (*posterior.GRF, error) {
	_, dim := op.Dims()
	n := int(math.Round(math.Sqrt(float64(dim))))
	var lp *loadedPrior
	var err error
	switch g, isGRF := pr.Gaussian.(*posterior.GRF); {
	case path != "":
		lp, err = loadGRFFile(path, n, pr.VE.SigmaMax)
	case isGRF:
		return g, nil
	case n >= 64:
		lp, err = builtinGRF(n, pr.VE.SigmaMax)
	default:
		return nil, fmt.Errorf("--likelihood projected with a %d×%d source needs --proxy FILE (lenscore fit-grf --size %d)", n, n, n)
	}
	if err != nil {
		return nil, fmt.Errorf("projected likelihood proxy: %w", err)
	}
	return lp.Prior.(*posterior.GRF), nil
}

// sampleSummary is written to summary.json.
type sampleSummary struct {
	Observation  string  `json:"observation"`
	Lens         string  `json:"lens"`
	Prior        string  `json:"prior"`
	Likelihood   string  `json:"likelihood"`
	Proxy        string  `json:"proxy,omitempty"` // projected likelihood: its Gaussian proxy
	CGIterations float64 `json:"-"`               // projected likelihood: mean per score (timing.json)
	// projected-jacobian: the network's Jacobian is used while σ(t) ≤ this (0: always)
	JacobianBelow *float64  `json:"jacobian_below,omitempty"`
	Sampler       string    `json:"sampler"`
	Denoise       bool      `json:"denoise"`
	Seed          uint64    `json:"seed"`
	Samples       int       `json:"samples"`
	Steps         int       `json:"steps"`
	NFE           int       `json:"network_evaluations_per_sample"`
	SigmaMin      float64   `json:"sigma_min"`
	SigmaMax      float64   `json:"sigma_max"`
	SigmaN        float64   `json:"noise_sigma,omitempty"` // uniform σ_n; absent with a noise map
	NoiseMap      string    `json:"noise_map,omitempty"`
	Geometry      geometry  `json:"geometry"`
	Chi2Nu        []float64 `json:"chi2_nu"`
	Chi2NuMean    float64   `json:"chi2_nu_of_mean"`
	Nu            int       `json:"nu"`
	Chi2NuStd     float64   `json:"chi2_nu_expected_std"`
	// Diverged lists the samples whose χ²_ν exceeds divergedChi2 (or is
	// not finite): the integration blew up for them (see warnDiverged).
	Diverged     []int   `json:"diverged,omitempty"`
	SourceRMSSNR float64 `json:"source_residual_rms_snr,omitempty"`
	// Run-dependent costs go to timing.json (sampleTiming), so that the
	// same settings and seed give the same summary.json, sharded or not.
	WallSeconds  float64       `json:"-"`
	PriorSeconds float64       `json:"-"`
	OtherSeconds float64       `json:"-"`
	Backend      string        `json:"-"`
	Timing       *sampleTiming `json:"-"` // set by merge; nil: from the fields above
}

func runSample(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "sample", "--obs O.fits --lens L.json (--prior gaussian --prior-sigma s | --prior grf --prior-data DIR | --model M) --n-samples 64 --steps auto --seed 1 --out DIR")
	pf := addProblemFlags(fs)
	prf := addPriorFlags(fs, "gaussian", true)
	sf := addSamplerFlags(fs, 16, "auto")
	out := fs.String("out", "", "output directory")
	force := addForceFlag(fs)
	shardFlag := fs.String("shard", "", "run only shard i/N of the samples (0 ≤ i < N; slurm: from the Slurm array task's environment) and write its part file into --out, which all shards share; lenscore merge DIR then writes the unsharded run's files")
	lensSamples := fs.String("lens-samples", "", "lens draws (lens_samples.jsonl of fit-lens): sample k uses draw k, so the spread includes the lens uncertainty; --lens (default: lens.json beside the file) is the reference lens of the figures")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lensSamples != "" && *pf.lens == "" {
		*pf.lens = defaultLensFor(*lensSamples)
	}
	if err := required(fs, "obs", "lens", "out"); err != nil {
		return err
	}
	opt, err := sf.options()
	if err != nil {
		return err
	}
	var spec *shard.Spec
	if *shardFlag != "" {
		s, err := shard.Parse(*shardFlag, os.Getenv)
		if err != nil {
			return fmt.Errorf("--shard: %w", err)
		}
		first, n, err := s.Range(opt.Chains)
		if err != nil {
			return fmt.Errorf("--shard: %w", err)
		}
		opt.FirstChain, opt.Chains, spec = uint64(first), n, &s
	}
	if err := applySlurmThreads(env); err != nil {
		return err
	}
	p, err := pf.load()
	if err != nil {
		return err
	}
	if err := checkChains(opt.Chains, p.Geo.SrcNPix*p.Geo.SrcNPix); err != nil {
		return err
	}
	*prf.batch = sf.kind.PriorBatch(*prf.batch, opt.Chains)
	pr, err := prf.load(p.Geo.SrcNPix)
	if err != nil {
		return err
	}
	defer pr.Close()
	if *lensSamples != "" {
		if spec != nil {
			return fmt.Errorf("--lens-samples cannot be combined with --shard yet: run the lens draws unsharded (or one survey line per lens)")
		}
		lk, err := lockOutDir(*out, dirlock.DefaultName)
		if err != nil {
			return err
		}
		defer lk.Release()
		if err := refuseFinished(*out, *force); err != nil {
			return err
		}
		return sampleLensDraws(ctx, env, *out, *lensSamples, p, pr, sf, opt, *pf.noiseMap)
	}
	lik, err := likelihoodFor(sf.kind, *sf.proxy, p, pr, opt.Chains)
	if err != nil {
		return err
	}
	lockName := dirlock.DefaultName
	if spec != nil { // the shards of a run share --out, each writing its own files
		lockName = strings.TrimSuffix(shard.PartName(spec.Index, spec.Count), ".lcpart")
	}
	if spec != nil {
		// Shards share the run's lock, so no unsharded run or merge writes
		// into their folder meanwhile, and each holds its own part's lock.
		rl, err := lockOutDirShared(*out, dirlock.DefaultName)
		if err != nil {
			return err
		}
		defer rl.Release()
	}
	lk, err := lockOutDir(*out, lockName)
	if err != nil {
		return err
	}
	defer lk.Release()
	if err := refuseFinished(*out, *force); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "prior %s, likelihood %s, sampler %s, σ ∈ [%g, %g], gemm %s\n", pr.Name, *sf.likelihood, *sf.sampler, pr.VE.SigmaMin, pr.VE.SigmaMax, backendLine())
	if spec != nil {
		return runShard(ctx, env, fs, *out, *spec, p, pr, lik, opt, sf, *pf.noiseMap, *sf.n)
	}
	res, sum, err := runChains(ctx, env, *out, p, pr, lik, opt, sf)
	if err != nil {
		return err
	}
	sum.NoiseMap = *pf.noiseMap
	if p.toData(res.Samples...); len(p.SigmaN) == 1 { // outputs in the observation's units
		sum.SigmaN = p.SigmaN[0]
	}
	if err := writeSampleOutputs(*out, p, res.Samples, sum, "Posterior samples: "+pr.Name); err != nil {
		return err
	}
	os.Remove(filepath.Join(*out, checkpointFile))
	warnDiverged(env, sum)
	fmt.Fprintf(env.stdout, "wrote %d samples to %s (χ²_ν of the mean %.3f, ν=%d; %d steps, %.1f s)\n", len(res.Samples), *out, sum.Chi2NuMean, sum.Nu, res.Steps, sum.WallSeconds)
	return nil
}

// writeSampleOutputs writes samples.fits, mean.fits, std.fits, summary.json,
// fig1.png and fig3.png, filling the diagnostics of sum.
func writeSampleOutputs(dir string, p *problem, samples [][]float64, sum *sampleSummary, title string) error {
	n, m := p.Geo.SrcNPix, p.Geo.NPix
	mean, std, err := diag.MeanStd(samples)
	if err != nil {
		return err
	}
	if len(samples) == 1 {
		std = nil // one sample: no spread to report
	}
	nz := p.noise()
	buf := make([]float64, m*m)
	for _, s := range samples {
		c, nu, err := diag.ChiSquaredNu(p.Op, p.Y, s, buf, nz)
		if err != nil {
			return err
		}
		sum.Chi2Nu = append(sum.Chi2Nu, c)
		sum.Nu = nu
	}
	if sum.Chi2NuMean, _, err = diag.ChiSquaredNu(p.Op, p.Y, mean, buf, nz); err != nil {
		return err
	}
	sum.Chi2NuStd = diag.ChiSquaredNuStd(sum.Nu)
	sum.Diverged = diverged(sum.Chi2Nu)
	if p.Truth != nil && len(samples) > 1 {
		snr := make([]float64, n*n)
		if err := diag.SourceResidualSNR(snr, p.Truth, mean, std); err == nil {
			var s2 float64
			k := 0
			for _, v := range snr {
				if !math.IsNaN(v) {
					s2 += v * v
					k++
				}
			}
			if k > 0 {
				sum.SourceRMSSNR = math.Sqrt(s2 / float64(k))
			}
		}
	}
	cube := make([]float64, 0, len(samples)*n*n)
	for _, s := range samples {
		cube = append(cube, s...)
	}
	hdr := func(h *fits.HDU) *fits.HDU {
		h.Header.Set(kwSrcScale, p.Geo.SrcScale, "source pixel scale [arcsec]")
		h.Header.Set("PRIOR", cardText(sum.Prior), "prior")
		h.Header.Set("SEED", seedCard(sum.Seed), "sampler seed")
		return h
	}
	outs := []struct {
		name string
		h    *fits.HDU
	}{{"samples.fits", fits.NewCube(n, n, len(samples), cube)}, {"mean.fits", fits.NewImage(n, n, mean)}}
	if std != nil {
		outs = append(outs, struct {
			name string
			h    *fits.HDU
		}{"std.fits", fits.NewImage(n, n, std)})
	} else {
		os.Remove(filepath.Join(dir, "std.fits")) // a resumed or repeated run's, not this one's
	}
	for _, f := range outs {
		if err := fits.WriteFile(filepath.Join(dir, f.name), []*fits.HDU{hdr(f.h)}); err != nil {
			return err
		}
	}
	if err := experiment.WriteJSON(filepath.Join(dir, "summary.json"), sum); err != nil {
		return err
	}
	if err := experiment.WriteJSON(filepath.Join(dir, "timing.json"), timingOf(sum)); err != nil {
		return err
	}
	apply := func(x []float64) []float64 { y := make([]float64, m*m); p.Op.Apply(y, x); return y }
	s1 := samples[0]
	var s2, as2, astd []float64
	if len(samples) > 1 {
		s2 = samples[1]
		as2 = apply(s2)
		ax := make([][]float64, len(samples))
		for i, s := range samples {
			ax[i] = apply(s)
		}
		_, astd, _ = diag.MeanStd(ax)
	}
	if err := plot.Fig1(filepath.Join(dir, "fig1.png"), plot.Fig1Data{Title: title,
		NX: n, NY: n, SourceScale: p.Geo.SrcScale, Truth: p.Truth, Sample1: s1, Sample2: s2, Mean: mean, Std: std,
		MX: m, MY: m, ImageScale: p.Geo.Scale, Observation: p.Y, ASample1: apply(s1), ASample2: as2, AMean: apply(mean), AStd: astd,
		Noise: nz, Units: "arb. units"}); err != nil {
		return err
	}
	k := min(len(samples), 6)
	rec := make([][]float64, k)
	for i := range rec {
		rec[i] = apply(samples[i])
	}
	return plot.Fig3(filepath.Join(dir, "fig3.png"), plot.Fig3Data{Title: title, NX: n, NY: n, SourceScale: p.Geo.SrcScale,
		MX: m, MY: m, ImageScale: p.Geo.Scale, Samples: samples[:k], Recon: rec, Observation: p.Y, Noise: nz, Units: "arb. units"})
}

// checkpointFile is the sampler checkpoint inside an output directory.
const checkpointFile = "checkpoint.bin"

// runChains samples (or resumes) the posterior with checkpoints in dir and
// returns the result with a summary of the settings and costs.
func runChains(ctx context.Context, env *cliEnv, dir string, p *problem, pr *loadedPrior, lik posterior.Likelihood, opt posterior.Options, sf *samplerFlags) (*posterior.Result, *sampleSummary, error) {
	opt.Progress = env.stderr
	opt.CheckpointPath = filepath.Join(dir, cmp.Or(sf.ckName, checkpointFile))
	if sf.stepDiv > 0 {
		n, err := pr.VE.StepsFor(pr.Prior.Dim(), opt.Target)
		if err != nil {
			return nil, nil, err
		}
		opt.Steps = max(1, n/sf.stepDiv)
	}
	start := time.Now()
	var res *posterior.Result
	var err error
	resume := *sf.resume
	if sf.autoResume {
		_, serr := os.Stat(opt.CheckpointPath)
		resume = serr == nil
	}
	if resume {
		res, err = posterior.Resume(ctx, pr.Prior, lik, pr.VE, opt)
	} else {
		if _, serr := os.Stat(opt.CheckpointPath); serr == nil {
			return nil, nil, fmt.Errorf("%s holds an unfinished run (%s); continue it with --resume or remove the checkpoint", dir, opt.CheckpointPath)
		}
		res, err = posterior.Sample(ctx, pr.Prior, lik, pr.VE, opt)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
		}
		return nil, nil, err
	}
	sum := &sampleSummary{Observation: p.ObsPath, Lens: p.LensPath, Prior: pr.Name, Likelihood: *sf.likelihood, Sampler: *sf.sampler,
		Denoise: *sf.denoise, Seed: *sf.seed, Samples: len(res.Samples), Steps: res.Steps, NFE: res.NFE,
		SigmaMin: pr.VE.SigmaMin, SigmaMax: pr.VE.SigmaMax, Geometry: p.Geo,
		WallSeconds: time.Since(start).Seconds(), PriorSeconds: res.PriorTime.Seconds(), OtherSeconds: res.OtherTime.Seconds(), Backend: backendLine()}
	if opt.PriorJacobian {
		below := opt.JacobianBelow
		sum.JacobianBelow = &below
	}
	if len(p.SigmaN) == 1 {
		sum.SigmaN = p.SigmaN[0]
	}
	if pl, ok := lik.(*posterior.Projected); ok {
		sum.Proxy, sum.CGIterations = pl.Proxy().Fingerprint(), pl.MeanIterations()
	}
	return res, sum, nil
}

// divergedChi2 is the χ²_ν above which a sample counts as diverged: a
// sample that fits the data has χ²_ν ≈ 1, one that the integration lost
// has 10³–10⁴⁰ (e.g. Euler–Maruyama at too few steps, or
// --jacobian-below too high); the same threshold as experiment coverage's.
const divergedChi2 = experiment.DivergedChi2

// diverged returns the indices of the χ²_ν values above divergedChi2 or not
// finite.
func diverged(chi2 []float64) []int {
	var out []int
	for k, c := range chi2 {
		if !(c <= divergedChi2) {
			out = append(out, k)
		}
	}
	return out
}

// warnDiverged tells the user on stderr which samples diverged.
func warnDiverged(env *cliEnv, sum *sampleSummary) {
	if len(sum.Diverged) == 0 {
		return
	}
	fmt.Fprintf(env.stderr, "warning: %d of %d samples diverged (χ²_ν > %d: samples %v); use more --steps, or a lower --jacobian-below with projected-jacobian; they are in the outputs and summary.json lists them\n",
		len(sum.Diverged), len(sum.Chi2Nu), divergedChi2, sum.Diverged)
}
