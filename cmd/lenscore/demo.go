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
	"github.com/lenscore/lenscore/models"
)

//go:embed assets/ngc7742.fits assets/ngc7742_256.fits assets/demo_lens.json assets/grf64.fits
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

// demoPrior returns the prior of demo and experiment for n×n sources: the
// network of --model (the built-in prior when model is ""), or the built-in
// Gaussian random field, resampled to n×n. A --model that cannot be loaded,
// or is for another size, is an error, never a silent switch to the GRF.
func demoPrior(model, kind string, n, batch int) (*loadedPrior, error) {
	switch kind {
	case "auto", "network":
		return loadNetworkPrior(model, n, batch)
	case "grf":
		if model != "" {
			return nil, errors.New("--model names a network prior, --prior grf the built-in GRF: give one of them")
		}
		return builtinGRF(n, 0)
	}
	return nil, fmt.Errorf("unknown --prior %q (want network or grf)", kind)
}

// usesNetwork reports whether demoPrior selects the network for kind.
func usesNetwork(kind string) bool { return kind == "auto" || kind == "network" }

func runDemo(ctx context.Context, env *cliEnv, args []string) error {
	if isRealDemo(args) {
		return runDemoReal(ctx, env, args) // demoreal.go
	}
	fs := newFlags(env, "demo", "[--out DIR] [--model M | --prior grf] [--size 64|128|256] [--n-samples N] [--steps auto|auto/K|K] [--sampler em|pc|dpm2|ancestral]\n\nThe defaults below are those of the network prior; with --prior grf they are\n--steps auto --n-samples 16 (above --size 64: auto/8 and 4).\n--size 256 is the geometry of Adam et al. (2022): a 256² source in a 128² image, 2×2 rays per pixel;\nthe built-in network prior is for 64² sources, so other sizes use the built-in GRF unless --model gives one.\n\nlenscore demo --real [--system slacs2303+1422|slacs1430+4105]: two real HST lenses, end to end\n(lenscore demo --real --help for its flags).")
	out := fs.String("out", "lenscore-demo", "output directory")
	force := addForceFlag(fs)
	model := fs.String("model", "", "trained prior file (default: the shipped network prior, built into lenscore)")
	kind := fs.String("prior", "network", "network (--model, default the shipped one) or grf (the built-in Gaussian random field)")
	sigma := fs.Float64("noise-sigma", 0.02, "noise σ per pixel (the source peaks at 1)")
	batch := fs.Int("batch", 8, "images per network call")
	size := fs.Int("size", 64, "source grid side in pixels (the same 1.92″ field); a --model network must be for this size")
	npix := fs.Int("npix", 0, "observed image side (the same 5″ field; 0: 64 up to --size 64, else --size/2)")
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
	if *size < 8 || *size > 1024 {
		return fmt.Errorf("--size must be in [8, 1024], got %d", *size)
	}
	if *npix == 0 {
		*npix = defaultObsNPix(*size)
	}
	if *npix < 8 || *npix > 1024 {
		return fmt.Errorf("--npix must be in [8, 1024], got %d", *npix)
	}
	if *size != models.Prior64Size && *model == "" && !isFlagSet(fs, "prior") {
		// The shipped network is for 64² sources: say so and use the GRF.
		fmt.Fprintf(env.stderr, "demo: the built-in network prior is for %d×%d sources and the source is %d×%d: using the built-in GRF prior resampled to %d×%d (give --model for a %d×%d network)\n",
			models.Prior64Size, models.Prior64Size, *size, *size, *size, *size, *size, *size)
		*kind = "grf"
	}
	if !usesNetwork(*kind) {
		// The GRF prior is cheap: the full technique-2 count and 16 samples
		// (above 64²: an eighth of the count, which grows with the source,
		// ≈ 7,300 steps at 256², and 4 samples keep it to minutes).
		steps, n := "auto", "16"
		if *size > 64 {
			steps, n = "auto/8", "4"
		}
		for name, v := range map[string]string{"steps": steps, "n-samples": n} {
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
	if err := checkChains(*sf.n, *size**size); err != nil {
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
	n := *size
	src, err := demoSource(n)
	if err != nil {
		return err
	}
	geo := paperGeometry(n, *npix)
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
	if err := refuseFinished(*out, *force); err != nil {
		return err
	}
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
