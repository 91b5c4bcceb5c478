package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/models"

	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/train"
)

// priorFlags select the prior: an isotropic Gaussian, a Gaussian random field
// fitted to images, or a trained score network.
type priorFlags struct {
	kind     *string
	sigma    *float64
	data     *string
	model    *string
	sigmaMax *float64
	batch    *int
}

// addPriorFlags registers the prior flags. Without network (invert, which
// is exact and needs no diffusion) only the Gaussian priors' flags are
// registered, and the others keep their zero values.
func addPriorFlags(fs *flag.FlagSet, defaultKind string, network bool) *priorFlags {
	f := &priorFlags{model: new(string), sigmaMax: new(float64), batch: new(int)}
	*f.batch = 1
	kinds := "prior: gaussian (N(0, s² I)) or grf (Gaussian random field fitted to --prior-data)"
	if network {
		kinds = "prior: gaussian (N(0, s² I)), grf (Gaussian random field fitted to --prior-data) or network (--model)"
	}
	f.kind = fs.String("prior", defaultKind, kinds)
	f.sigma = fs.Float64("prior-sigma", 0.1, "standard deviation s of the gaussian prior")
	f.data = fs.String("prior-data", "", "grf prior: a folder of galaxy images to fit it to, or a spectrum file written by lenscore fit-grf")
	if network {
		f.model = fs.String("model", "", "trained score network (a model.safetensors from lenscore train or export-model, or "+builtinModel+" for the shipped prior); implies --prior network")
		f.sigmaMax = fs.Float64("sigma-max", 0, "σ_max of the diffusion for analytic priors (0: from the prior's scale)")
		f.batch = fs.Int("batch", 16, "images per network call")
	}
	return f
}

// loadedPrior is a prior with the diffusion schedule it belongs to.
type loadedPrior struct {
	Prior    posterior.Prior
	Gaussian posterior.GaussianPrior // non-nil for analytic priors
	VE       sde.VE
	Name     string
	Side     int // image side in pixels (network priors)
	// StarsRemoved: the network was trained on images without foreground
	// stars (train --remove-stars), so its test galaxies are prepared so.
	StarsRemoved bool
	// SkyKept: its training images kept the negative sky noise (train
	// --keep-sky), so its test galaxies are prepared so.
	SkyKept bool
	// Sky: how its training images' sky was prepared (train.SkyOf; "" for
	// Gaussian priors, meaning clipped).
	Sky   string
	close func()
}

func (l *loadedPrior) Close() {
	if l.close != nil {
		l.close()
	}
}

// load builds the prior for n×n source images.
func (f *priorFlags) load(n int) (*loadedPrior, error) {
	if *f.batch < 1 {
		return nil, fmt.Errorf("--batch must be ≥ 1, got %d", *f.batch)
	}
	kind := *f.kind
	if *f.model != "" {
		kind = "network"
	}
	dim := n * n
	switch kind {
	case "gaussian":
		s := *f.sigma
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("--prior-sigma must be > 0, got %g", s)
		}
		smax := *f.sigmaMax
		if smax == 0 {
			smax = s * math.Sqrt(2*float64(dim)) // typical largest distance between two draws
		}
		ve, err := sde.NewVE(sde.DefaultSigmaMin, smax)
		if err != nil {
			return nil, err
		}
		g, err := posterior.NewIsoGaussian(make([]float64, dim), s, ve.Sigma)
		if err != nil {
			return nil, err
		}
		return &loadedPrior{Prior: g, Gaussian: g, VE: ve, Name: fmt.Sprintf("gaussian(s=%g)", s)}, nil
	case "grf":
		if *f.data == "" {
			return nil, fmt.Errorf("--prior grf needs --prior-data DIR (a folder of galaxy images) or a spectrum file from lenscore fit-grf")
		}
		if st, err := os.Stat(*f.data); err == nil && !st.IsDir() {
			return loadGRFFile(*f.data, n, *f.sigmaMax)
		}
		ds, err := train.LoadDir(*f.data, train.LoadOptions{Size: n, ValFraction: -1})
		if err != nil {
			return nil, err
		}
		imgs := make([][]float64, 0, len(ds.Train)+len(ds.Val))
		for _, im := range append(ds.Train, ds.Val...) {
			v := make([]float64, len(im.Pix))
			for i, p := range im.Pix {
				v[i] = float64(p)
			}
			imgs = append(imgs, v)
		}
		smax := *f.sigmaMax
		if smax == 0 {
			f32 := make([][]float32, len(ds.Train))
			for i, im := range ds.Train {
				f32[i] = im.Pix
			}
			if smax, err = sde.SigmaMaxFromData(f32); err != nil {
				return nil, err
			}
		}
		ve, err := sde.NewVE(sde.DefaultSigmaMin, smax)
		if err != nil {
			return nil, err
		}
		g, err := posterior.FitGRF(imgs, n, n, posterior.FitOptions{Radial: true}, ve.Sigma)
		if err != nil {
			return nil, fmt.Errorf("fitting the GRF prior to %s: %w", *f.data, err)
		}
		return &loadedPrior{Prior: g, Gaussian: g, VE: ve, Name: fmt.Sprintf("grf(%d images of %s)", len(imgs), *f.data)}, nil
	case "network":
		if *f.model == "" {
			return nil, fmt.Errorf("--prior network needs --model M.safetensors (or --model %s for the shipped prior)", builtinModel)
		}
		return loadNetworkPrior(*f.model, n, *f.batch)
	}
	return nil, fmt.Errorf("unknown --prior %q (want gaussian, grf or network)", kind)
}

// builtinModel is the --model value naming the prior shipped inside the
// binary (package models); an empty --model means it too where a network
// is the default (demo, experiment, prior-sample).
const builtinModel = "builtin"

// openModel loads the model file at path (or the model.safetensors of a
// model directory, as import-model and export-model write), or the built-in
// prior for "" and builtinModel.
func openModel(path string) (*score.Model, error) {
	if path == "" || path == builtinModel {
		return models.LoadPrior64(nil)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "model.safetensors")
	}
	return score.LoadModel(path, nil)
}

// loadNetworkPrior loads a trained score network (openModel) and its σ
// range. n = 0 takes the image side from the network.
func loadNetworkPrior(path string, n, batch int) (*loadedPrior, error) {
	m, err := openModel(path)
	if err != nil {
		return nil, err
	}
	net := m.Net
	if n == 0 {
		n = m.Config.ImageSize
	}
	if c := net.Config(); c.Arch == score.ArchNCSNpp && c.ImageSize != n { // runs at any size its levels divide
		r, err := score.Resized(net, n)
		m.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Source, err)
		}
		net, m.Net = r, r
	}
	if c := net.Config(); c.ImageSize != n || c.Channels != 1 {
		m.Close()
		return nil, fmt.Errorf("%s: network is for %d×%d images with %d channel(s); the source grid is %d×%d", m.Source, c.ImageSize, c.ImageSize, c.Channels, n, n)
	}
	if batch < 1 {
		batch = 1
	}
	net.SetInference(true) // sampling never back-propagates: skip saved activations, keep transformed weights
	ve := m.VE()
	p, err := posterior.NewNetworkPrior(net, ve, n*n, batch)
	if err != nil {
		m.Close()
		return nil, err
	}
	step := m.Meta[score.MetaStep]
	p.SetName("network:" + m.Source + "@" + step)
	return &loadedPrior{Prior: p, VE: ve, Name: fmt.Sprintf("network(%s, step %s)", m.Source, step), Side: n,
		StarsRemoved: m.StarsRemoved, SkyKept: train.SkyKept(m.Meta), Sky: train.SkyOf(m.Meta), close: m.Close}, nil
}

// GRF spectrum files written by `lenscore fit-grf`: the primary HDU holds
// P(k) on the n×n FFT grid, with the field mean and σ_max in the header.
const (
	kwGRFMean = "GRFMEAN"
	kwGRFSMax = "SIGMAMAX"
	kwGRFN    = "NIMAGES"
)

func loadGRFFile(path string, n int, sigmaMax float64) (*loadedPrior, error) {
	p, pn, hdu, err := readSquareImage(path, "")
	if err != nil {
		return nil, err
	}
	return grfFromHDU(path, p, pn, hdu, n, sigmaMax)
}

func grfFromHDU(path string, p []float64, pn int, hdu *fits.HDU, n int, sigmaMax float64) (*loadedPrior, error) {
	if pn != n {
		return nil, fmt.Errorf("%s: spectrum is for %d×%d images, the source grid is %d×%d", path, pn, pn, n, n)
	}
	if len(p) != pn*pn {
		return nil, fmt.Errorf("%s: spectrum has %d values, want %d", path, len(p), pn*pn)
	}
	mu, ok, err := hdu.Header.Float(kwGRFMean)
	if err != nil || !ok {
		return nil, fmt.Errorf("%s: missing or bad %s keyword (not a lenscore fit-grf file?)", path, kwGRFMean)
	}
	if sigmaMax == 0 {
		if sigmaMax, ok, err = hdu.Header.Float(kwGRFSMax); err != nil || !ok {
			return nil, fmt.Errorf("%s: missing or bad %s keyword", path, kwGRFSMax)
		}
	}
	ve, err := sde.NewVE(sde.DefaultSigmaMin, sigmaMax)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g, err := posterior.NewGRF(n, n, mu, p, ve.Sigma)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &loadedPrior{Prior: g, Gaussian: g, VE: ve, Name: "grf(" + path + ")"}, nil
}

// runFitGRF fits a stationary Gaussian random field to galaxy images and
// writes its spectrum.
func runFitGRF(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "fit-grf", "--data DIR1,DIR2 --size 64 --out grf.fits")
	data := fs.String("data", defaultTrainData, "comma-separated folders of galaxy images")
	exclude := fs.String("exclude", demoGalaxy, "comma-separated image names left out")
	size := fs.Int("size", 64, "image side in pixels")
	out := fs.String("out", "", "output FITS file")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	ds, err := loadTrainingData(*data, *size, train.DefaultValFraction, strings.Split(*exclude, ","), false)
	if err != nil {
		return err
	}
	imgs := make([][]float64, len(ds.Train))
	f32 := make([][]float32, len(ds.Train))
	for i, im := range ds.Train {
		f32[i] = im.Pix
		imgs[i] = make([]float64, len(im.Pix))
		for k, v := range im.Pix {
			imgs[i][k] = float64(v)
		}
	}
	smax, err := sde.SigmaMaxFromData(f32)
	if err != nil {
		return err
	}
	ve, _ := sde.NewVE(sde.DefaultSigmaMin, smax)
	g, err := posterior.FitGRF(imgs, *size, *size, posterior.FitOptions{Radial: true}, ve.Sigma)
	if err != nil {
		return err
	}
	h := fits.NewImage(*size, *size, g.Spectrum())
	h.Header.Set(kwGRFMean, g.Mean()[0], "mean of the field")
	h.Header.Set(kwGRFSMax, smax, "largest pairwise distance of the images")
	h.Header.Set(kwGRFN, int64(len(imgs)), "training images fitted")
	h.Header.AddComment("Power spectrum P(k) of a stationary Gaussian random field on the")
	h.Header.AddComment("unnormalised n x n DFT grid (lenscore posterior.GRF), radially averaged.")
	if err := fits.WriteFile(*out, []*fits.HDU{h}); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s: GRF fitted to %d images (mean %.4g, σ_max %.4g)\n", *out, len(imgs), g.Mean()[0], smax)
	return nil
}
