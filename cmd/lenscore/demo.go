package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/lenscore/lenscore/atomicfile"
	"github.com/lenscore/lenscore/dirlock"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
)

//go:embed assets/ngc7742.fits assets/demo_lens.json assets/grf64.fits
var assets embed.FS

// readAssetImage reads a square image HDU from an embedded FITS file.
func readAssetImage(name string) ([]float64, int, *fits.HDU, error) {
	b, err := assets.ReadFile(name)
	if err != nil {
		return nil, 0, nil, err
	}
	hdus, err := fits.Read(bytes.NewReader(b))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", name, err)
	}
	h := hdus[0]
	if len(h.Shape) != 2 || h.Shape[0] != h.Shape[1] {
		return nil, 0, nil, fmt.Errorf("%s: not a square image", name)
	}
	return h.Data, h.Shape[0], h, nil
}

// demoPrior returns the prior of demo and experiment: the network of
// --model (the built-in prior when model is ""), or the built-in Gaussian
// random field. A --model that cannot be loaded is an error, never a
// silent switch to the GRF.
func demoPrior(model, kind string, n, batch int) (*loadedPrior, error) {
	switch kind {
	case "auto", "network":
		return loadNetworkPrior(model, n, batch)
	case "grf":
		if model != "" {
			return nil, errors.New("--model names a network prior, --prior grf the built-in GRF: give one of them")
		}
		return builtinGRF(n)
	}
	return nil, fmt.Errorf("unknown --prior %q (want network or grf)", kind)
}

// builtinGRF is the Gaussian random field fitted to the training galaxies,
// shipped for 64×64 sources.
func builtinGRF(n int) (*loadedPrior, error) {
	p, pn, h, err := readAssetImage("assets/grf64.fits")
	if err != nil {
		return nil, err
	}
	return grfFromHDU("built-in grf64.fits", p, pn, h, n, 0)
}

func runDemo(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "demo", "[--out DIR] [--model M | --prior grf] [--n-samples N] [--steps auto|auto/K|K] [--sampler em|pc|dpm2|ancestral]\n\nThe defaults below are those of the network prior; with --prior grf they are\n--steps auto --n-samples 16.")
	out := fs.String("out", "lenscore-demo", "output directory")
	model := fs.String("model", "", "trained prior file (default: the shipped network prior, built into lenscore)")
	kind := fs.String("prior", "network", "network (--model, default the shipped one) or grf (the built-in Gaussian random field)")
	sigma := fs.Float64("noise-sigma", 0.02, "noise σ per pixel (the source peaks at 1)")
	batch := fs.Int("batch", 8, "images per network call")
	// A network evaluation costs ~30 ms per image on 2 cores, so with the
	// network prior the demo runs a quarter of the technique-2 count with
	// 8 samples (≈ 2 min). Euler–Maruyama, because in the steps experiment
	// (models/README.md) its samples at N/4 cover the truth per pixel as
	// often as a calibrated posterior's should, while the
	// predictor–corrector's, at the same cost, fit the data slightly better
	// but are over-confident.
	sf := addSamplerFlags(fs, 8, "auto/4")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *kind == "grf" {
		// The GRF prior is cheap: the full technique-2 count and 16 samples.
		for name, v := range map[string]string{"steps": "auto", "n-samples": "16"} {
			if !isFlagSet(fs, name) {
				if err := fs.Set(name, v); err != nil {
					return err
				}
			}
		}
	}
	opt, err := sf.options()
	if err != nil {
		return err
	}
	if !(*sigma > 0) || math.IsInf(*sigma, 0) {
		return fmt.Errorf("--noise-sigma must be positive and finite, got %g", *sigma)
	}
	if err := checkChains(*sf.n, 64*64); err != nil {
		return err
	}
	start := time.Now()
	lensJSON, err := assets.ReadFile("assets/demo_lens.json")
	if err != nil {
		return err
	}
	lm, err := lens.Parse(bytes.NewReader(lensJSON), "demo_lens.json")
	if err != nil {
		return err
	}
	src, n, _, err := readAssetImage("assets/ngc7742.fits")
	if err != nil {
		return err
	}
	geo := geometry{NPix: 64, Scale: 0.078125, SrcNPix: n, SrcScale: 0.03, Super: 2, PSFFWHM: 0.12}
	if geo.PSF, err = lens.GaussianPSF(geo.PSFFWHM, geo.Scale, 0); err != nil {
		return err
	}
	op, err := lens.NewOperator(lm.Mass(), geo.config())
	if err != nil {
		return err
	}
	clean := make([]float64, geo.NPix*geo.NPix)
	op.Apply(clean, src)
	y := append([]float64(nil), clean...)
	if err := lens.AddNoise(y, *sigma, *sf.seed); err != nil {
		return err
	}
	p := &problem{ObsPath: filepath.Join(*out, "obs.fits"), LensPath: filepath.Join(*out, "lens.json"), Geo: geo, Y: y, SigmaN: []float64{*sigma}, Op: op, Truth: src}

	pr, err := demoPrior(*model, *kind, n, sf.kind.PriorBatch(*batch, opt.Chains))
	if err != nil {
		return err
	}
	defer pr.Close()
	lik, err := likelihoodFor(sf.kind, *sf.proxy, p, pr, opt.Chains)
	if err != nil {
		return err
	}
	lk, err := lockOutDir(*out, dirlock.DefaultName)
	if err != nil {
		return err
	}
	defer lk.Release()
	if _, serr := os.Stat(filepath.Join(*out, checkpointFile)); serr == nil && !*sf.resume {
		return fmt.Errorf("%s holds an unfinished run (%s); continue it with --resume or remove the checkpoint", *out, filepath.Join(*out, checkpointFile))
	}
	// Keep the inputs next to the outputs so the run can be repeated with
	// `lenscore sample`.
	lensPath := filepath.Join(*out, "lens.json")
	obsPath := filepath.Join(*out, "obs.fits")
	if err := atomicfile.WriteFile(lensPath, lensJSON); err != nil {
		return err
	}
	prim := fits.NewImage(geo.NPix, geo.NPix, y)
	geo.header(&prim.Header)
	prim.Header.Set(kwNoise, *sigma, "Gaussian noise sigma per pixel")
	prim.Header.Set(kwSeed, seedCard(*sf.seed), "seed of the noise")
	prim.Header.Set(kwLens, "lens.json", "lens file")
	srcHDU := fits.NewImage(n, n, src)
	srcHDU.Name = "SOURCE"
	if err := fits.WriteFile(obsPath, []*fits.HDU{prim, srcHDU, psfKernelHDU(geo.PSF)}); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "demo: NGC 7742 behind an SIE+shear lens, σ_n=%g; prior %s; gemm %s\n", *sigma, pr.Name, backendLine())
	res, sum, err := runChains(ctx, env, *out, p, pr, lik, opt, sf)
	if err != nil {
		return err
	}
	sum.WallSeconds = time.Since(start).Seconds()
	if err := writeSampleOutputs(*out, p, res.Samples, sum, "lenscore demo: NGC 7742 lensed, prior "+pr.Name); err != nil {
		return err
	}
	os.Remove(filepath.Join(*out, checkpointFile))
	warnDiverged(env, sum)
	fmt.Fprintf(env.stdout, "demo done in %.0f s: %d samples, χ²_ν per sample %s, source residual RMS %.2fσ\nsee %s/fig1.png, %s/fig3.png, %s/summary.json\n",
		sum.WallSeconds, len(res.Samples), fmtFloats(sum.Chi2Nu), sum.SourceRMSSNR, *out, *out, *out)
	return nil
}

func fmtFloats(v []float64) string {
	var b bytes.Buffer
	for i, x := range v {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.2f", x)
	}
	return b.String()
}
