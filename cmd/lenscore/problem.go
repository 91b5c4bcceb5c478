package main

import (
	"flag"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
)

// problem is an observation with everything needed to evaluate its
// likelihood: y, the operator A, the noise and the mask.
type problem struct {
	ObsPath  string
	LensPath string
	Geo      geometry
	Y        []float64
	SigmaN   []float64 // length 1 (uniform) or M (noise map)
	Keep     []bool    // nil = all pixels used
	Op       *lens.Operator
	Truth    []float64 // the SOURCE extension written by simulate, if any
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

// problemFlags are the flags shared by sample and invert.
type problemFlags struct {
	obs, lens, noiseMap, mask, psf *string
	srcScale, scale, sigma, fwhm   *float64
	srcNPix, super                 *int
}

func addProblemFlags(fs *flag.FlagSet) *problemFlags {
	return &problemFlags{
		obs:      fs.String("obs", "", "observation FITS file (primary HDU); geometry and noise are read from its header"),
		lens:     fs.String("lens", "", "lens file (JSON)"),
		noiseMap: fs.String("noise-map", "", "per-pixel noise σ map (FITS, same shape as the observation)"),
		mask:     fs.String("mask", "", "mask (FITS, same shape): pixels with value 0 are excluded from the likelihood"),
		psf:      fs.String("psf", "", "PSF kernel (FITS); default: the observation's PSF extension or PSFFWHM keyword"),
		srcScale: fs.Float64("source-pixel-scale", 0, "source pixel scale in arcsec (default: SRCSCALE keyword)"),
		scale:    fs.Float64("pixel-scale", 0, "observation pixel scale in arcsec (default: PIXSCALE keyword)"),
		sigma:    fs.Float64("noise-sigma", 0, "noise σ per pixel (default: NOISESIG keyword)"),
		fwhm:     fs.Float64("psf-fwhm", 0, "Gaussian PSF FWHM in arcsec (default: PSFFWHM keyword)"),
		srcNPix:  fs.Int("source-npix", 0, "source grid side (default: SRCNPIX keyword, else 64)"),
		super:    fs.Int("supersample", 0, "ray-tracing supersampling (default: SUPERSMP keyword, else 2)"),
	}
}

func headerFloat(h *fits.Header, key, path string, def float64) (float64, error) {
	v, ok, err := h.Float(key)
	if err != nil {
		return 0, fmt.Errorf("%s: header keyword %s: %w", path, key, err)
	}
	if !ok {
		return def, nil
	}
	return v, nil
}

// load reads the observation, lens and noise and builds the operator.
func (f *problemFlags) load() (*problem, error) {
	hdus, err := fits.ReadFile(*f.obs)
	if err != nil {
		return nil, err
	}
	y, n, hdu, err := squareImage(*f.obs, hdus, "")
	if err != nil {
		return nil, err
	}
	p := &problem{ObsPath: *f.obs, LensPath: *f.lens, Y: y}
	h := &hdu.Header
	g := geometry{NPix: n}
	pick := func(flagV float64, key string, def float64) (float64, error) {
		if flagV != 0 {
			return flagV, nil
		}
		return headerFloat(h, key, *f.obs, def)
	}
	if g.Scale, err = pick(*f.scale, kwPixScale, 0); err != nil {
		return nil, err
	}
	if g.Scale == 0 {
		return nil, fmt.Errorf("%s: no %s keyword; give --pixel-scale", *f.obs, kwPixScale)
	}
	if g.SrcScale, err = pick(*f.srcScale, kwSrcScale, 0); err != nil {
		return nil, err
	}
	if g.SrcScale == 0 {
		return nil, fmt.Errorf("%s: no %s keyword; give --source-pixel-scale", *f.obs, kwSrcScale)
	}
	sn, err := pick(float64(*f.srcNPix), kwSrcNPix, 64)
	if err != nil {
		return nil, err
	}
	su, err := pick(float64(*f.super), kwSuper, 2)
	if err != nil {
		return nil, err
	}
	g.SrcNPix, g.Super = int(sn), int(su)
	if err := g.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", *f.obs, err)
	}
	// PSF: flag file, flag FWHM, PSF extension of the observation, PSFFWHM keyword.
	switch {
	case *f.psf != "" || *f.fwhm != 0:
		if g.PSF, g.PSFFWHM, err = loadPSF(*f.psf, *f.fwhm, g.Scale); err != nil {
			return nil, err
		}
	default:
		if ph, ok := fits.ByName(hdus, "PSF"); ok && len(ph.Shape) == 2 {
			k := make([][]float64, ph.Shape[1])
			for r := range k {
				k[r] = ph.Data[r*ph.Shape[0] : (r+1)*ph.Shape[0]]
			}
			if g.PSF, err = lens.NewPSF(k); err != nil {
				return nil, fmt.Errorf("%s: PSF extension: %w", *f.obs, err)
			}
			if g.PSFFWHM, err = headerFloat(h, kwPSFFWHM, *f.obs, 0); err != nil {
				return nil, err
			}
		} else if fw, err := headerFloat(h, kwPSFFWHM, *f.obs, 0); err != nil {
			return nil, err
		} else if fw > 0 {
			if g.PSF, g.PSFFWHM, err = loadPSF("", fw, g.Scale); err != nil {
				return nil, err
			}
		}
	}
	if src, ok := fits.ByName(hdus, "SOURCE"); ok && len(src.Shape) == 2 && src.Shape[0] == g.SrcNPix && src.Shape[1] == g.SrcNPix {
		p.Truth = src.Data
	}
	p.Geo = g
	// Noise.
	if *f.noiseMap != "" {
		m, mn, _, err := readSquareImage(*f.noiseMap, "")
		if err != nil {
			return nil, err
		}
		if mn != n {
			return nil, fmt.Errorf("%s: noise map is %d×%d, observation %d×%d", *f.noiseMap, mn, mn, n, n)
		}
		for i, v := range m {
			if !(v > 0) {
				return nil, fmt.Errorf("%s: noise σ must be > 0, pixel %d is %g", *f.noiseMap, i, v)
			}
		}
		p.SigmaN = m
	} else {
		s, err := pick(*f.sigma, kwNoise, 0)
		if err != nil {
			return nil, err
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("%s: noise σ must be > 0 (NOISESIG keyword %g); give --noise-sigma or --noise-map", *f.obs, s)
		}
		p.SigmaN = []float64{s}
	}
	if *f.mask != "" {
		m, mn, _, err := readSquareImage(*f.mask, "")
		if err != nil {
			return nil, err
		}
		if mn != n {
			return nil, fmt.Errorf("%s: mask is %d×%d, observation %d×%d", *f.mask, mn, mn, n, n)
		}
		p.Keep = make([]bool, len(m))
		used := 0
		for i, v := range m {
			p.Keep[i] = v != 0
			if p.Keep[i] {
				used++
			}
		}
		if used == 0 {
			return nil, fmt.Errorf("%s: the mask excludes every pixel", *f.mask)
		}
	}
	model, err := lens.ParseFile(*f.lens)
	if err != nil {
		return nil, err
	}
	if p.Op, err = lens.NewOperator(model.Mass(), g.config()); err != nil {
		return nil, err
	}
	return p, nil
}
