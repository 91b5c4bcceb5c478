package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/posterior"
)

// lensDrawNote is summary.json's lens_marginalisation entry.
const lensDrawNote = "sample k draws the source from its posterior under the sampler's prior given lens draw k; the lens draws come from the lens posterior under a Gaussian source prior (lenscore fit-lens)"

// lensDrawsDir holds the finished samples of an unfinished run.
const lensDrawsDir = "lens_draws"

// defaultLensFor returns the reference lens for --lens-samples when --lens
// is not given: lens.json beside the samples file (written by fit-lens).
func defaultLensFor(samplesPath string) string {
	p := filepath.Join(filepath.Dir(samplesPath), "lens.json")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// sampleLensDraws draws sample k of the source posterior with lens draw k
// of path: one sampler per draw with Chains = 1 and FirstChain = k, so
// sample k has the random numbers of chain k of an ordinary run. Finished
// samples are kept in DIR/lens_draws until the run completes, the running
// one in its checkpoint, so --resume continues where it stopped.
func sampleLensDraws(ctx context.Context, env *cliEnv, dir, path string, p *problem, pr *loadedPrior, sf *samplerFlags, opt posterior.Options, noiseMap string) error {
	draws, err := lensfit.ReadLensSamples(path)
	if err != nil {
		return err
	}
	n := opt.Chains
	if n > len(draws) {
		return fmt.Errorf("--n-samples %d needs as many lens draws, %s has %d", n, path, len(draws))
	}
	store := filepath.Join(dir, lensDrawsDir)
	if !*sf.resume {
		if _, err := os.Stat(store); err == nil {
			return fmt.Errorf("%s holds an unfinished run (%s); continue it with --resume or remove it", dir, store)
		}
	}
	if err := os.MkdirAll(store, 0o755); err != nil {
		return err
	}
	if sf.stepDiv > 0 {
		s, err := pr.VE.StepsFor(pr.Prior.Dim(), opt.Target)
		if err != nil {
			return err
		}
		opt.Steps = max(1, s/sf.stepDiv)
	}
	start := time.Now()
	samples := make([][]float64, n)
	ops := make([]*lens.Operator, n)
	var last *posterior.Result
	var lik posterior.Likelihood
	for k := 0; k < n; k++ {
		if ops[k], err = lens.NewOperator(draws[k].Mass(), p.Geo.config()); err != nil {
			return fmt.Errorf("%s: draw %d: %w", path, k, err)
		}
		done := filepath.Join(store, fmt.Sprintf("sample_%05d.fits", k))
		if hdus, err := fits.ReadFile(done); err == nil && len(hdus) > 0 {
			samples[k] = hdus[0].Data
			continue
		}
		pk := *p
		pk.Op = ops[k]
		if lik, err = likelihoodFor(sf.kind, *sf.proxy, &pk, pr, 1); err != nil {
			return err
		}
		o := opt
		o.Chains, o.FirstChain = 1, uint64(k)
		o.CheckpointPath = filepath.Join(store, fmt.Sprintf("checkpoint_%05d.bin", k))
		o.Progress = env.stderr
		fmt.Fprintf(env.stderr, "sample %d/%d with lens draw %d\n", k+1, n, k)
		var res *posterior.Result
		if _, serr := os.Stat(o.CheckpointPath); serr == nil && *sf.resume {
			res, err = posterior.Resume(ctx, pr.Prior, lik, pr.VE, o)
		} else {
			res, err = posterior.Sample(ctx, pr.Prior, lik, pr.VE, o)
		}
		if err != nil {
			if errors.Is(err, context.Canceled) {
				fmt.Fprintf(env.stderr, "\ninterrupted: continue with the same command and --resume\n")
			}
			return err
		}
		samples[k], last = res.Samples[0], res
		if err := fits.WriteFile(done, []*fits.HDU{fits.NewImage(p.Geo.SrcNPix, p.Geo.SrcNPix, samples[k])}); err != nil {
			return err
		}
		os.Remove(o.CheckpointPath)
	}
	sum := &sampleSummary{Observation: p.ObsPath, Lens: p.LensPath, Prior: pr.Name, Likelihood: *sf.likelihood, Sampler: *sf.sampler,
		Denoise: *sf.denoise, Seed: *sf.seed, Samples: n, SigmaMin: pr.VE.SigmaMin, SigmaMax: pr.VE.SigmaMax, Geometry: p.Geo,
		NoiseMap: noiseMap, Backend: backendLine()}
	if last != nil {
		sum.Steps, sum.NFE = last.Steps, last.NFE
	}
	if p.toData(samples...); len(p.SigmaN) == 1 { // outputs in the observation's units
		sum.SigmaN = p.SigmaN[0]
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if err := writeSampleOutputs(dir, p, samples, sum, "Posterior samples marginalised over the lens: "+pr.Name); err != nil {
		return err
	}
	// χ²_ν of each sample under its own lens.
	sum.Chi2Nu = sum.Chi2Nu[:0]
	buf := make([]float64, p.Geo.NPix*p.Geo.NPix)
	for k, s := range samples {
		c, _, err := diag.ChiSquaredNu(ops[k], p.Y, s, buf, p.noise())
		if err != nil {
			return err
		}
		sum.Chi2Nu = append(sum.Chi2Nu, c)
	}
	sum.Diverged = diverged(sum.Chi2Nu)
	// summary.json: the ordinary summary (chi2_nu under each sample's own
	// lens; the mean's χ²_ν and the figures under the reference --lens),
	// plus lens_samples and lens_index[k], the 0-based line (among
	// non-blank lines) of the draw sample k used: always k.
	sp := filepath.Join(dir, "summary.json")
	if err := experiment.WriteJSON(sp, sum); err != nil {
		return err
	}
	var m map[string]any
	b, err := os.ReadFile(sp)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", sp, err)
	}
	idx := make([]int, n)
	for k := range idx {
		idx[k] = k
	}
	m["lens_samples"], m["lens_index"], m["lens_marginalisation"] = path, idx, lensDrawNote
	if err := experiment.WriteJSON(sp, m); err != nil {
		return err
	}
	os.RemoveAll(store)
	warnDiverged(env, sum)
	fmt.Fprintf(env.stdout, "wrote %d samples to %s, sample k with lens draw k of %s (χ²_ν of the mean under %s %.3f; %.1f s)\n",
		n, dir, path, p.LensPath, sum.Chi2NuMean, sum.WallSeconds)
	return nil
}
