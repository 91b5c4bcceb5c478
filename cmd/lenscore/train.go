package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		opt := train.LoadOptions{Size: size, ValFraction: -1}
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
	size := fs.Int("size", 64, "image side in pixels")
	nf := fs.Int("nf", 32, "base channel count of the network")
	valFrac := fs.Float64("val-fraction", train.DefaultValFraction, "share of images held out for validation")
	def := train.DefaultConfig()
	steps := fs.Int("steps", def.Steps, "total training steps")
	batch := fs.Int("batch", def.BatchSize, "batch size")
	lr := fs.Float64("lr", def.LR, "Adam learning rate")
	warm := fs.Int("warmup", def.WarmupSteps, "learning-rate warm-up steps")
	ema := fs.Float64("ema", def.EMADecay, "EMA decay of the weights used for sampling")
	sigmaMax := fs.Float64("sigma-max", 0, "σ_max (0: largest pairwise distance of the training images)")
	seed := fs.Uint64("seed", def.Seed, "random seed")
	ckMin := fs.Float64("checkpoint-minutes", 5, "minutes between checkpoints")
	valEvery := fs.Int("val-every", def.ValEvery, "steps between validation losses")
	resume := fs.Bool("resume", false, "continue the run in --out (other settings come from its checkpoint; --steps may extend it)")
	removeStars := fs.Bool("remove-stars", true, "remove foreground stars (compact sources outside the galaxy's body) from the images; a model records this and is tested on galaxies prepared the same way")
	initFrom := fs.String("init", "", "start from the weights (and σ range) of this model file ("+builtinModel+": the shipped prior) instead of random weights: fine-tuning")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	if *steps < 1 {
		return fmt.Errorf("--steps must be ≥ 1 (the total number of updates), got %d", *steps)
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
		ds, err := loadTrainingData(*data, cfg.ImageSize, *valFrac, strings.Split(*exclude, ","), starsRemoved(man.Config.ModelMeta))
		if err != nil {
			return err
		}
		net, err := score.New(cfg, g, man.Config.Seed)
		if err != nil {
			return err
		}
		defer net.Close()
		stepsArg, total := 0, man.Config.Steps
		if isFlagSet(fs, "steps") {
			stepsArg, total = *steps, *steps
		}
		fmt.Fprintf(env.stderr, "resuming %s at step %d of %d\n", *out, man.Step, total)
		return finishTrain(env, *out, train.Resume(ctx, *out, stepsArg, net, ds, env.stderr))
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
		if isFlagSet(fs, "size") || isFlagSet(fs, "nf") || isFlagSet(fs, "sigma-max") {
			return errors.New("--init takes the network's size, width and σ range from the model; drop --size, --nf and --sigma-max")
		}
		m, err := openModel(*initFrom)
		if err != nil {
			return fmt.Errorf("--init: %w", err)
		}
		net, initStep = m.Net, m.Step
		*sigmaMax, *size = m.SigmaMax, m.Config.ImageSize
	} else {
		ncfg := score.DefaultConfig()
		ncfg.ImageSize, ncfg.NF = *size, *nf
		if net, err = score.New(ncfg, g, *seed); err != nil {
			return err
		}
	}
	defer net.Close()
	ds, err := loadTrainingData(*data, *size, *valFrac, strings.Split(*exclude, ","), *removeStars)
	if err != nil {
		return err
	}
	cj, _ := json.Marshal(net.Config())
	cfg := def
	cfg.Steps, cfg.BatchSize, cfg.LR, cfg.WarmupSteps, cfg.EMADecay = *steps, *batch, *lr, *warm, *ema
	cfg.SigmaMax, cfg.Seed, cfg.CheckpointMinutes, cfg.ValEvery = *sigmaMax, *seed, *ckMin, *valEvery
	cfg.Dir = *out
	cfg.ModelMeta = map[string]string{score.MetaConfig: string(cj), score.MetaData: *data, score.MetaExcluded: *exclude}
	if *removeStars {
		cfg.ModelMeta[score.MetaStars] = score.StarsRemovedValue
	}
	if *initFrom != "" {
		cfg.ModelMeta[score.MetaInit] = fmt.Sprintf("%s (step %d)", *initFrom, initStep)
	}
	fmt.Fprintf(env.stderr, "training %d-parameter network on %d images (%d held out), %d steps of batch %d → %s\n",
		net.NumParams(), len(ds.Train), len(ds.Val), cfg.Steps, cfg.BatchSize, *out)
	for _, s := range ds.Skipped {
		fmt.Fprintf(env.stderr, "skipped %s\n", s)
	}
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
