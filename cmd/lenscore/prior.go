package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/train"
	"github.com/lenscore/lenscore/weights"
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

func addPriorFlags(fs *flag.FlagSet, defaultKind string) *priorFlags {
	return &priorFlags{
		kind:     fs.String("prior", defaultKind, "prior: gaussian (N(0, s² I)), grf (Gaussian random field fitted to --prior-data) or network (--model)"),
		sigma:    fs.Float64("prior-sigma", 0.1, "standard deviation s of the gaussian prior"),
		data:     fs.String("prior-data", "", "folder of galaxy images to fit the grf prior to"),
		model:    fs.String("model", "", "trained score network (safetensors from lenscore train); implies --prior network"),
		sigmaMax: fs.Float64("sigma-max", 0, "σ_max of the diffusion for analytic priors (0: from the prior's scale)"),
		batch:    fs.Int("batch", 16, "images per network call"),
	}
}

// loadedPrior is a prior with the diffusion schedule it belongs to.
type loadedPrior struct {
	Prior    posterior.Prior
	Gaussian posterior.GaussianPrior // non-nil for analytic priors
	VE       sde.VE
	Name     string
	close    func()
}

func (l *loadedPrior) Close() {
	if l.close != nil {
		l.close()
	}
}

// load builds the prior for n×n source images.
func (f *priorFlags) load(n int) (*loadedPrior, error) {
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
			return nil, fmt.Errorf("--prior grf needs --prior-data DIR (a folder of galaxy images)")
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
			return nil, fmt.Errorf("--prior network needs --model M.safetensors")
		}
		return loadNetworkPrior(*f.model, n, *f.batch)
	}
	return nil, fmt.Errorf("unknown --prior %q (want gaussian, grf or network)", kind)
}

// loadNetworkPrior loads a trained score network and its σ range.
func loadNetworkPrior(path string, n, batch int) (*loadedPrior, error) {
	meta, err := weights.ReadMeta(path)
	if err != nil {
		return nil, err
	}
	smin, err1 := strconv.ParseFloat(meta["sigma_min"], 64)
	smax, err2 := strconv.ParseFloat(meta["sigma_max"], 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%s: metadata lacks a valid sigma_min/sigma_max (%q, %q)", path, meta["sigma_min"], meta["sigma_max"])
	}
	ve, err := sde.NewVE(smin, smax)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g, err := nn.DefaultGemm()
	if err != nil {
		return nil, err
	}
	net, err := score.Load(path, g)
	if err != nil {
		return nil, err
	}
	if c := net.Config(); c.ImageSize != n || c.Channels != 1 {
		net.Close()
		return nil, fmt.Errorf("%s: network is for %d×%d images with %d channel(s); the source grid is %d×%d", path, c.ImageSize, c.ImageSize, c.Channels, n, n)
	}
	if batch < 1 {
		batch = 1
	}
	p, err := posterior.NewNetworkPrior(net, ve, n*n, batch)
	if err != nil {
		net.Close()
		return nil, err
	}
	p.SetName("network:" + path + "@" + meta["step"])
	return &loadedPrior{Prior: p, VE: ve, Name: fmt.Sprintf("network(%s, step %s)", path, meta["step"]), close: net.Close}, nil
}
