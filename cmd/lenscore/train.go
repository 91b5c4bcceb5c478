package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/train"
)

// defaultTrainData lists the shared galaxy folders used when --data is not
// given (relative to the project checkout).
const defaultTrainData = "../shared/data/galaxies/gz_decals/r_crop256,../shared/data/galaxies/stellarium/gray"

// demoGalaxy is the image shipped for `lenscore demo`; it is never trained on.
const demoGalaxy = "n7742.png"

// loadTrainingData loads and merges the image folders, drops the excluded
// names, and re-splits train/validation by name hash.
func loadTrainingData(dirs string, size int, valFrac float64, exclude []string, stars bool) (*train.Dataset, error) {
	return loadTrainingDataSky(dirs, size, valFrac, exclude, stars, train.SkyModeClipped)
}

// loadTrainingDataSky is loadTrainingData with a sky preparation
// (train.SkyModeClipped, SkyModeKept or SkyModeDenoised).
func loadTrainingDataSky(dirs string, size int, valFrac float64, exclude []string, stars bool, sky string) (*train.Dataset, error) {
	keepSky, denoise, err := train.SkyOptions(sky)
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{}
	for _, e := range exclude {
		if e = strings.TrimSpace(e); e != "" {
			skip[e] = true
		}
	}
	var all []train.Image
	var skipped []string
	seen := map[string]string{}
	for _, d := range strings.Split(dirs, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		opt := train.LoadOptions{Size: size, ValFraction: -1, KeepSky: keepSky, DenoiseSky: denoise}
		if stars {
			opt.Stars = &train.StarOptions{}
		}
		ds, err := train.LoadDir(d, opt)
		if err != nil {
			return nil, err
		}
		skipped = append(skipped, ds.Skipped...)
		for _, im := range append(ds.Train, ds.Val...) {
			if skip[im.Name] {
				continue
			}
			if prev, dup := seen[im.Name]; dup {
				return nil, fmt.Errorf("image name %s appears in both %s and %s; names must be unique", im.Name, prev, d)
			}
			seen[im.Name] = d
			all = append(all, im)
		}
	}
	if len(all) < 2 {
		return nil, fmt.Errorf("need at least two usable images in %s, found %d", dirs, len(all))
	}
	ds := train.NewDataset(all, size, valFrac)
	ds.Skipped = skipped
	return ds, nil
}

// starsRemoved reports whether a model's training images had their
// foreground stars removed (metadata "stars"; models without it kept them),
// which the validation galaxies it is tested on must match.
func starsRemoved(meta map[string]string) bool {
	return meta[score.MetaStars] == score.StarsRemovedValue
}

func runTrain(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "train", "--out RUNDIR [--data DIR1,DIR2] [--steps N] [--resume]")
	out := fs.String("out", "", "run directory: checkpoints, ema.safetensors (the model), train.jsonl")
	data := fs.String("data", defaultTrainData, "comma-separated folders of PNG or FITS galaxy images")
	exclude := fs.String("exclude", demoGalaxy, "comma-separated image names never used (the demo galaxy)")
	size := fs.Int("size", 64, "image side in pixels; sets the default architecture (see --ch-mult)")
	arch := addArchFlags(fs)
	valFrac := fs.Float64("val-fraction", train.DefaultValFraction, "share of images held out for validation")
	def := train.DefaultConfig()
	steps := fs.Int("steps", def.Steps, "total training steps")
	batch := fs.Int("batch", def.BatchSize, "batch size")
	lrf := addLRFlags(fs, def)
	ema := fs.Float64("ema", def.EMADecay, "EMA decay of the weights used for sampling")
	sigmaMax := fs.Float64("sigma-max", 0, "σ_max (0: largest pairwise distance of the training images)")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	ckMin := fs.Float64("checkpoint-minutes", 5, "minutes between checkpoints")
	valEvery := fs.Int("val-every", def.ValEvery, "steps between validation losses")
	resume := fs.Bool("resume", false, "continue the run in --out (other settings come from its checkpoint; --steps may extend it, and the learning-rate flags change its schedule from the checkpoint's step on)")
	removeStars := fs.Bool("remove-stars", true, "remove foreground stars (compact sources outside the galaxy's body) from the images; a model records this and is tested on galaxies prepared the same way")
	keepSky := fs.Bool("keep-sky", false, "the same as --sky kept")
	sky := fs.String("sky", train.SkyModeClipped, "the training images' sky: clipped (subtract the border median, clip at 0), kept (subtract it, keep the negative half of the noise) or denoised (remove the photograph's noise by starlet thresholding at 3σ, then subtract it: a lensed source has no sky noise of its own); a model records this and is tested on galaxies prepared the same way")
	shift := fs.Float64("shift", 0, "augmentation: shift each example by up to this many pixels in x and y (flux-conserving; 0: none)")
	scale := fs.Float64("scale", 0, "augmentation: magnify each example by (1+s)^u, u uniform in [−1, 1], about the centre (flux-conserving; 0: none)")
	initFrom := fs.String("init", "", "start from the weights (and σ range) of this model file ("+builtinModel+": the shipped prior) instead of random weights: fine-tuning")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	if *keepSky {
		if *sky != train.SkyModeClipped && *sky != train.SkyModeKept {
			return fmt.Errorf("--keep-sky contradicts --sky %s", *sky)
		}
		*sky = train.SkyModeKept
	}
	if _, _, err := train.SkyOptions(*sky); err != nil {
		return fmt.Errorf("--sky: %w", err)
	}
	if *steps < 1 {
		return fmt.Errorf("--steps must be ≥ 1 (the total number of updates), got %d", *steps)
	}
	if !(*shift >= 0) || math.IsInf(*shift, 0) {
		return fmt.Errorf("--shift must be a number of pixels ≥ 0, got %g", *shift)
	}
	if !(*scale >= 0 && *scale <= train.MaxScale) {
		return fmt.Errorf("--scale must be in [0, %g], got %g", train.MaxScale, *scale)
	}
	var sched train.LRSchedule // a new run's schedule
	if !*resume {
		var err error
		if sched, _, err = lrf.schedule(fs, def.Schedule(), 0, false); err == nil {
			err = checkDecaySpan(sched, *steps)
		}
		if err != nil {
			return err
		}
	}
	g, err := nn.DefaultGemm()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "gemm back-end: %s\n", backendLine())

	if *resume && *initFrom != "" {
		return errors.New("--init starts a new run from a model; --resume continues a run (use one of them)")
	}
	if *resume {
		lk, err := dirlock.Acquire(*out, dirlock.DefaultName)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		defer lk.Release()
		man, err := train.ReadManifest(*out)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		var cfg score.Config
		if err := json.Unmarshal([]byte(man.Config.ModelMeta[score.MetaConfig]), &cfg); err != nil {
			return fmt.Errorf("--resume: %s holds no network configuration: %w", *out, err)
		}
		ds, err := loadTrainingDataSky(*data, cfg.ImageSize, *valFrac, strings.Split(*exclude, ","), starsRemoved(man.Config.ModelMeta), train.SkyOf(man.Config.ModelMeta))
		if err != nil {
			return err
		}
		net, err := score.New(cfg, g, man.Config.Seed)
		if err != nil {
			return err
		}
		defer net.Close()
		total := man.Config.Steps
		if isFlagSet(fs, "steps") {
			total = *steps
		}
		sched, changed, err := lrf.schedule(fs, man.Config.Schedule(), man.Step, true)
		if err == nil {
			err = checkDecaySpan(sched, total)
		}
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		tr, err := train.Open(*out, net, ds)
		if err != nil {
			return err
		}
		tr.SetSteps(total)
		if tr.Step() >= total {
			return fmt.Errorf("--resume: %s is already at step %d of %d; give a larger --steps to extend it", *out, tr.Step(), total)
		}
		fmt.Fprintf(env.stderr, "resuming %s at step %d of %d\n", *out, man.Step, total)
		var ch *train.LRChange
		if changed {
			if ch, err = tr.ChangeSchedule(sched); err != nil {
				return fmt.Errorf("--resume: %w", err)
			}
		}
		s := tr.Config().Schedule()
		if ch != nil {
			fmt.Fprintf(env.stderr, "learning-rate schedule changed after step %d (recorded in %s):\n  was %s\n  now %s\n  lr of step %d: %.4g (was %.4g)\n",
				ch.Step, filepath.Join(*out, train.ManifestFile), ch.From, ch.To, ch.Step+1, ch.LRNext, ch.LRWas)
		} else {
			fmt.Fprintf(env.stderr, "learning-rate schedule: %s\n", s)
		}
		if s.Decays() && s.End < total {
			fmt.Fprintf(env.stderr, "note: the rate stays at %g from step %d to %d; --lr-decay-end moves the end of the decay\n", s.Min, s.End, total)
		}
		return finishTrain(env, *out, tr.Run(ctx, env.stderr))
	}

	var ncfg score.Config
	if *initFrom == "" {
		if ncfg, err = arch.resolve(fs, *size, isFlagSet(fs, "size")); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(*out, train.ManifestFile)); err == nil {
		return fmt.Errorf("%s already holds a training run; use --resume to continue it or choose another --out", *out)
	}
	lk, err := lockOutDir(*out, dirlock.DefaultName)
	if err != nil {
		return err
	}
	defer lk.Release()
	if _, err := os.Stat(filepath.Join(*out, train.ManifestFile)); err == nil { // started since the check above
		return fmt.Errorf("%s already holds a training run; use --resume to continue it or choose another --out", *out)
	}
	var net *score.Net
	initStep := -1
	if *initFrom != "" {
		for _, name := range append([]string{"size", "sigma-max"}, archFlagNames...) {
			if isFlagSet(fs, name) {
				return fmt.Errorf("--init takes the network's architecture and σ range from the model; drop --%s", name)
			}
		}
		m, err := openModel(*initFrom)
		if err != nil {
			return fmt.Errorf("--init: %w", err)
		}
		net, initStep = m.Net, m.Step
		*sigmaMax, *size = m.SigmaMax, m.Config.ImageSize
	} else {
		*size = ncfg.ImageSize
		if net, err = score.New(ncfg, g, *seed); err != nil {
			return err
		}
	}
	defer net.Close()
	ds, err := loadTrainingDataSky(*data, *size, *valFrac, strings.Split(*exclude, ","), *removeStars, *sky)
	if err != nil {
		return err
	}
	cj, _ := json.Marshal(net.Config())
	cfg := def
	cfg.Steps, cfg.BatchSize, cfg.EMADecay = *steps, *batch, *ema
	cfg.SetSchedule(sched)
	cfg.SigmaMax, cfg.Seed, cfg.CheckpointMinutes, cfg.ValEvery = *sigmaMax, *seed, *ckMin, *valEvery
	cfg.Shift, cfg.Scale = *shift, *scale
	cfg.Dir = *out
	cfg.ModelMeta = map[string]string{score.MetaConfig: string(cj), score.MetaData: *data, score.MetaExcluded: *exclude}
	if *removeStars {
		cfg.ModelMeta[score.MetaStars] = score.StarsRemovedValue
	}
	switch *sky {
	case train.SkyModeKept:
		cfg.ModelMeta[train.MetaSky] = train.SkyKeptValue
	case train.SkyModeDenoised:
		cfg.ModelMeta[train.MetaSky] = train.SkyDenoisedValue
	}
	if *initFrom != "" {
		cfg.ModelMeta[score.MetaInit] = fmt.Sprintf("%s (step %d)", *initFrom, initStep)
	}
	fmt.Fprintf(env.stderr, "training %d-parameter network on %d images (%d held out), %d steps of batch %d → %s\n",
		net.NumParams(), len(ds.Train), len(ds.Val), cfg.Steps, cfg.BatchSize, *out)
	for _, s := range ds.Skipped {
		fmt.Fprintf(env.stderr, "skipped %s\n", s)
	}
	if sched.Decays() && sched.End == 0 {
		sched.End = cfg.Steps
	}
	fmt.Fprintf(env.stderr, "learning-rate schedule: %s\n", sched)
	return finishTrain(env, *out, train.Run(ctx, cfg, net, ds, env.stderr))
}

func finishTrain(env *cliEnv, dir string, err error) error {
	model := filepath.Join(dir, train.EMAFile)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(env.stderr, "\ninterrupted: checkpoint saved; continue with: lenscore train --out %s --resume\n", dir)
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "model (EMA weights): %s\n", model)
	return nil
}

func isFlagSet(fs interface{ Visit(func(*flagT)) }, name string) bool {
	set := false
	fs.Visit(func(f *flagT) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
