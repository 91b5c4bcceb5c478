package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
)

func runPriorSample(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "prior-sample", "--model M --n 16 --out grid.png")
	model := fs.String("model", builtinModel, "trained score network (a model.safetensors, or "+builtinModel+" for the shipped prior)")
	n := fs.Int("n", 16, "number of samples")
	steps := fs.String("steps", "auto", "reverse-time steps, or auto (technique 2)")
	seed := fs.Uint64("seed", 1, "seed")
	batch := fs.Int("batch", 16, "images per network call")
	cols := fs.Int("cols", 4, "columns of the grid")
	denoise := fs.Bool("denoise", true, "final Tweedie denoising step")
	out := fs.String("out", "", "output PNG grid; the samples also go to the same name with .fits")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out", "model"); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("--n must be ≥ 1, got %d", *n)
	}
	if !strings.EqualFold(filepath.Ext(*out), ".png") {
		return fmt.Errorf("--out must name a .png file (the samples are also written beside it as .fits), got %s", *out)
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	if err := refuseExisting(strings.TrimSuffix(*out, filepath.Ext(*out))+".fits", *force); err != nil {
		return err
	}
	pr, err := loadNetworkPrior(*model, 0, *batch)
	if err != nil {
		return err
	}
	defer pr.Close()
	side := pr.Side
	opt := posterior.Options{Seed: *seed, Chains: *n, Denoise: *denoise, Progress: env.stderr}
	if *steps != "auto" {
		if _, err := fmt.Sscan(*steps, &opt.Steps); err != nil || opt.Steps < 1 {
			return fmt.Errorf("--steps must be a positive integer or auto, got %q", *steps)
		}
	}
	start := time.Now()
	res, err := posterior.Sample(ctx, pr.Prior, nil, pr.VE, opt)
	if err != nil {
		return err
	}
	titles := make([]string, len(res.Samples))
	for i := range titles {
		titles[i] = fmt.Sprintf("sample %d", i+1)
	}
	if err := plot.Grid(*out, res.Samples, side, side, *cols, titles); err != nil {
		return err
	}
	cube := make([]float64, 0, len(res.Samples)*side*side)
	for _, s := range res.Samples {
		cube = append(cube, s...)
	}
	fitsOut := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".fits"
	h := fits.NewCube(side, side, len(res.Samples), cube)
	h.Header.Set("PRIOR", cardText(pr.Name), "")
	h.Header.Set("SEED", seedCard(*seed), "")
	h.Header.Set("STEPS", int64(res.Steps), "")
	if err := fits.WriteFile(fitsOut, []*fits.HDU{h}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s and %s: %d prior samples, %d steps, %.0f s\n", *out, fitsOut, len(res.Samples), res.Steps, time.Since(start).Seconds())
	return nil
}
