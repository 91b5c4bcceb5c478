package main

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/observation"
)

// problem is an observation with everything needed to evaluate its
// likelihood: y, the operator A, the noise and the mask. Y and SigmaN are
// in prior units (the data divided by Norm); Truth too.
type problem struct {
	ObsPath  string
	LensPath string
	Geo      geometry
	Y        []float64
	SigmaN   []float64 // length 1 (uniform) or M (noise map)
	Keep     []bool    // nil = all pixels used
	Op       *lens.Operator
	Truth    []float64 // the SOURCE extension written by simulate, if any
	Norm     float64   // source normalisation s: data = s · (prior units); 1 for simulations
	Unit     string    // BUNIT of the observation ("" for simulations)
	Obs      *observation.Observation
}

// noise returns the diag view of the noise (Mask true = excluded).
func (p *problem) noise() diag.Noise {
	nz := diag.Noise{}
	if len(p.SigmaN) == 1 {
		nz.Sigma = p.SigmaN[0]
	} else {
		nz.Map = p.SigmaN
	}
	if p.Keep != nil {
		nz.Mask = make([]bool, len(p.Keep))
		for i, k := range p.Keep {
			nz.Mask[i] = !k
		}
	}
	return nz
}

// toData multiplies source images (and the problem's data, noise and
// truth) by Norm, so outputs are in the observation's units. It is called
// once, after sampling.
func (p *problem) toData(sources ...[]float64) {
	if p.Norm == 1 || p.Norm == 0 { // 0: a problem built without normalise (demo)
		return
	}
	for _, s := range sources {
		scaleSlice(s, p.Norm)
	}
	p.Y = scaledCopy(p.Y, p.Norm)
	p.SigmaN = scaledCopy(p.SigmaN, p.Norm)
	if p.Truth != nil {
		p.Truth = scaledCopy(p.Truth, p.Norm)
	}
	p.Norm = 1
}

func scaleSlice(v []float64, s float64) {
	for i := range v {
		v[i] *= s
	}
}

func scaledCopy(v []float64, s float64) []float64 {
	o := append([]float64(nil), v...)
	scaleSlice(o, s)
	return o
}

// problemFlags are the flags shared by sample and invert.
type problemFlags struct {
	obs, lens, noiseMap, mask, psf, norm *string
	srcScale, scale, sigma, fwhm         *float64
	srcNPix, super                       *int
}

func addProblemFlags(fs *flag.FlagSet) *problemFlags {
	return &problemFlags{
		obs:      fs.String("obs", "", "observation FITS file (lenscore simulate or import-obs); geometry, noise, mask and PSF are read from it"),
		lens:     fs.String("lens", "", "lens file (JSON)"),
		noiseMap: fs.String("noise-map", "", "per-pixel noise σ map (FITS, same shape as the observation; default: its NOISEMAP extension)"),
		mask:     fs.String("mask", "", "mask (FITS, same shape): pixels with value 0 are excluded from the likelihood (default: its MASK extension)"),
		psf:      fs.String("psf", "", "PSF kernel (FITS); default: the observation's PSF extension or PSFFWHM keyword"),
		norm:     fs.String("source-norm", "", "source normalisation s (the prior sees source/s): a number, or auto (peak of a Gaussian-prior inversion); default: SRCNORM keyword, else auto when the observation has a BUNIT, else 1"),
		srcScale: fs.Float64("source-pixel-scale", 0, "source pixel scale in arcsec (default: SRCSCALE keyword)"),
		scale:    fs.Float64("pixel-scale", 0, "observation pixel scale in arcsec (default: PIXSCALE keyword)"),
		sigma:    fs.Float64("noise-sigma", 0, "uniform noise σ per pixel (default: NOISESIG keyword or NOISEMAP extension)"),
		fwhm:     fs.Float64("psf-fwhm", 0, "Gaussian PSF FWHM in arcsec (default: PSFFWHM keyword)"),
		srcNPix:  fs.Int("source-npix", 0, "source grid side (default: SRCNPIX keyword, else 64)"),
		super:    fs.Int("supersample", 0, "ray-tracing supersampling (default: SUPERSMP keyword, else 2)"),
	}
}

// checkValues rejects flag values that are given but invalid, naming the
// flag (0 means "not given" and falls back to the header).
func (f *problemFlags) checkValues() error {
	for _, c := range []struct {
		name string
		v    float64
	}{{"noise-sigma", *f.sigma}, {"pixel-scale", *f.scale}, {"source-pixel-scale", *f.srcScale}, {"psf-fwhm", *f.fwhm}} {
		if c.v < 0 || math.IsNaN(c.v) || math.IsInf(c.v, 0) {
			return fmt.Errorf("--%s must be finite and > 0, got %g", c.name, c.v)
		}
	}
	if *f.srcNPix < 0 || *f.srcNPix == 1 {
		return fmt.Errorf("--source-npix must be ≥ 2, got %d", *f.srcNPix)
	}
	if *f.super < 0 || *f.super > 16 {
		return fmt.Errorf("--supersample must be in 1…16, got %d", *f.super)
	}
	if *f.sigma != 0 && *f.noiseMap != "" {
		return fmt.Errorf("give either --noise-sigma or --noise-map, not both")
	}
	if *f.psf != "" && *f.fwhm != 0 {
		return fmt.Errorf("give either --psf or --psf-fwhm, not both")
	}
	return nil
}

// load reads the observation, lens and noise and builds the operator.
func (f *problemFlags) load() (*problem, error) {
	if err := f.checkValues(); err != nil {
		return nil, err
	}
	o, err := observation.Read(*f.obs)
	if err != nil {
		return nil, err
	}
	if err := f.override(o); err != nil {
		return nil, err
	}
	model, err := lens.ParseFile(*f.lens)
	if err != nil {
		return nil, err
	}
	p := &problem{ObsPath: *f.obs, LensPath: *f.lens, Obs: o, Y: o.Image, SigmaN: o.Sigma(), Keep: o.Keep, Truth: o.Truth, Unit: o.Unit,
		Geo: geometry{NPix: o.NPix, Scale: o.PixelScale, SrcNPix: o.SrcNPix, SrcScale: o.SrcScale, Super: o.Supersample, PSF: o.PSF, PSFFWHM: o.PSFFWHM}}
	if p.Op, err = lens.NewOperator(model.Mass(), o.Config()); err != nil {
		return nil, err
	}
	if err := p.normalise(*f.norm); err != nil {
		return nil, err
	}
	return p, nil
}

// override applies the flags to o, then the defaults, and validates it.
func (f *problemFlags) override(o *observation.Observation) error {
	path := *f.obs
	var err error
	if *f.scale != 0 {
		o.PixelScale = *f.scale
	}
	if o.PixelScale == 0 {
		return fmt.Errorf("%s: no %s keyword; give --pixel-scale", path, observation.KeyPixScale)
	}
	if *f.srcScale != 0 {
		o.SrcScale = *f.srcScale
	}
	if o.SrcScale == 0 {
		return fmt.Errorf("%s: no %s keyword; give --source-pixel-scale", path, observation.KeySrcScale)
	}
	if *f.srcNPix != 0 {
		o.SrcNPix = *f.srcNPix
	}
	if o.SrcNPix == 0 {
		o.SrcNPix = observation.DefaultSrcNPix
	}
	if *f.super != 0 {
		o.Supersample = *f.super
	}
	if o.Supersample == 0 {
		o.Supersample = observation.DefaultSuper
	}
	if o.Truth != nil && len(o.Truth) != o.SrcNPix*o.SrcNPix {
		o.Truth = nil // a different source grid than the simulation's
	}
	// PSF: flag file, flag FWHM, PSF extension, PSFFWHM keyword.
	switch {
	case *f.psf != "" || *f.fwhm != 0:
		if o.PSF, o.PSFFWHM, err = loadPSF(*f.psf, *f.fwhm, o.PixelScale); err != nil {
			return err
		}
	case o.PSF == nil && o.PSFFWHM > 0:
		if o.PSF, _, err = loadPSF("", o.PSFFWHM, o.PixelScale); err != nil {
			return fmt.Errorf("%s: %s keyword: %w", path, observation.KeyPSFFWHM, err)
		}
	}
	// Noise: --noise-map, --noise-sigma, NOISEMAP extension, NOISESIG keyword.
	switch {
	case *f.noiseMap != "":
		m, mn, _, err := readSquareImage(*f.noiseMap, "")
		if err != nil {
			return err
		}
		if mn != o.NPix {
			return fmt.Errorf("%s: noise map is %d×%d, observation %d×%d", *f.noiseMap, mn, mn, o.NPix, o.NPix)
		}
		for i, v := range m {
			if !(v > 0) {
				return fmt.Errorf("%s: noise σ must be > 0, pixel %d is %g", *f.noiseMap, i, v)
			}
		}
		o.NoiseMap, o.NoiseSigma = m, 0
	case *f.sigma != 0:
		o.NoiseMap, o.NoiseSigma = nil, *f.sigma
	case o.NoiseMap == nil && !(o.NoiseSigma > 0):
		return fmt.Errorf("%s: no noise: the %s keyword is %g and there is no %s extension; give --noise-sigma or --noise-map",
			path, observation.KeyNoise, o.NoiseSigma, observation.ExtNoiseMap)
	}
	if *f.mask != "" {
		m, mn, _, err := readSquareImage(*f.mask, "")
		if err != nil {
			return err
		}
		if mn != o.NPix {
			return fmt.Errorf("%s: mask is %d×%d, observation %d×%d", *f.mask, mn, mn, o.NPix, o.NPix)
		}
		o.Keep = make([]bool, len(m))
		used := 0
		for i, v := range m {
			o.Keep[i] = v != 0
			if o.Keep[i] {
				used++
			}
		}
		if used == 0 {
			return fmt.Errorf("%s: the mask excludes every pixel", *f.mask)
		}
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// normalise chooses the source normalisation and divides the data, noise
// and truth by it.
func (p *problem) normalise(flagV string) error {
	o := p.Obs
	how := "default"
	s := 1.0
	switch {
	case flagV == "auto":
		how = "auto"
	case flagV != "":
		v, err := strconv.ParseFloat(flagV, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("--source-norm must be auto or a number > 0, got %q", flagV)
		}
		s, how = v, "flag"
	case o.SourceNorm > 0:
		s, how = o.SourceNorm, "header"
	case strings.TrimSpace(o.Unit) != "":
		how = "auto"
	}
	if how == "auto" {
		var err error
		if s, err = observation.AutoSourceNorm(p.Op, o.Image, o.Sigma(), o.Keep); err != nil {
			return fmt.Errorf("%s: %w", p.ObsPath, err)
		}
	}
	p.Norm = s
	p.Geo.Unit, p.Geo.SourceNorm, p.Geo.SourceNormFrom = o.Unit, s, how
	if s != 1 {
		p.Y = scaledCopy(p.Y, 1/s)
		p.SigmaN = scaledCopy(p.SigmaN, 1/s)
		if p.Truth != nil {
			p.Truth = scaledCopy(p.Truth, 1/s)
		}
	}
	return nil
}
