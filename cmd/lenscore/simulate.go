package main

import (
	"context"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/observation"
)

func runDeflect(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "deflect", "--lens L.json --npix 64 --pixel-scale 0.078125 --out D.fits")
	lensPath := fs.String("lens", "", "lens file (JSON)")
	npix := fs.Int("npix", 64, "image grid side in pixels")
	scale := fs.Float64("pixel-scale", 0.078125, "image pixel scale in arcsec")
	out := fs.String("out", "", "output FITS file (extensions ALPHA_X, ALPHA_Y, KAPPA)")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "lens", "out"); err != nil {
		return err
	}
	if *npix < 1 || !(*scale > 0) || math.IsInf(*scale, 0) {
		return fmt.Errorf("--npix must be ≥ 1 and --pixel-scale > 0 (got %d, %g)", *npix, *scale)
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	m, err := lens.ParseFile(*lensPath)
	if err != nil {
		return err
	}
	mass := m.Mass()
	g := lens.Grid{N: *npix, Scale: *scale}
	n := *npix
	ax, ay, kap := make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
	for r := 0; r < n; r++ {
		y := g.Coord(r)
		for c := 0; c < n; c++ {
			x := g.Coord(c)
			ax[r*n+c], ay[r*n+c] = mass.Deflection(x, y)
			kap[r*n+c] = mass.Convergence(x, y)
			if math.IsInf(kap[r*n+c], 0) || math.IsNaN(kap[r*n+c]) {
				kap[r*n+c] = pixelMeanKappa(mass, x, y, *scale)
			}
		}
	}
	prim := fits.NewImage(0, 0, nil)
	prim.Shape = nil
	prim.Header.Set(kwPixScale, *scale, "pixel scale [arcsec]")
	prim.Header.Set(kwLens, cardText(*lensPath), "lens file")
	hdus := []*fits.HDU{prim}
	for _, e := range []struct {
		name, unit string
		d          []float64
	}{{"ALPHA_X", "arcsec", ax}, {"ALPHA_Y", "arcsec", ay}, {"KAPPA", "", kap}} {
		h := fits.NewImage(n, n, e.d)
		h.Name = e.name
		h.Header.Set(kwPixScale, *scale, "pixel scale [arcsec]")
		if e.unit != "" {
			h.Header.Set("BUNIT", e.unit, "")
		}
		hdus = append(hdus, h)
	}
	if err := fits.WriteFile(*out, hdus); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (%d×%d, ALPHA_X, ALPHA_Y, KAPPA)\n", *out, n, n)
	return nil
}

// geometry is what a command needs to build the operator of an observation.
type geometry struct {
	NPix     int       `json:"npix"`
	Scale    float64   `json:"pixel_scale"`
	SrcNPix  int       `json:"source_npix"`
	SrcScale float64   `json:"source_pixel_scale"`
	Super    int       `json:"supersample"`
	PSF      *lens.PSF `json:"-"`
	PSFFWHM  float64   `json:"psf_fwhm,omitempty"` // 0 when the PSF came from a file or there is none
	// Units: the prior sees source/SourceNorm; outputs are in Unit (the
	// observation's BUNIT; empty for simulations in prior units).
	Unit           string  `json:"unit,omitempty"`
	SourceNorm     float64 `json:"source_norm,omitempty"`
	SourceNormFrom string  `json:"source_norm_from,omitempty"` // header, flag, auto or default
}

func (g geometry) config() lens.Config {
	return lens.Config{Obs: lens.Grid{N: g.NPix, Scale: g.Scale}, Src: lens.Grid{N: g.SrcNPix, Scale: g.SrcScale}, Supersample: g.Super, PSF: g.PSF}
}

func (g geometry) validate() error {
	switch {
	case g.NPix < 2:
		return fmt.Errorf("observation grid side must be ≥ 2, got %d", g.NPix)
	case !(g.Scale > 0) || math.IsInf(g.Scale, 0):
		return fmt.Errorf("pixel scale must be > 0, got %g", g.Scale)
	case g.SrcNPix < 2:
		return fmt.Errorf("source grid side must be ≥ 2, got %d", g.SrcNPix)
	case !(g.SrcScale > 0) || math.IsInf(g.SrcScale, 0):
		return fmt.Errorf("source pixel scale must be > 0, got %g", g.SrcScale)
	case g.Super < 1 || g.Super > 16:
		return fmt.Errorf("supersampling must be in 1…16, got %d", g.Super)
	}
	return nil
}

// header records the geometry in a FITS header.
func (g geometry) header(h *fits.Header) {
	h.Set(kwPixScale, g.Scale, "observation pixel scale [arcsec]")
	h.Set(kwSrcNPix, int64(g.SrcNPix), "source grid side [pixels]")
	h.Set(kwSrcScale, g.SrcScale, "source pixel scale [arcsec]")
	h.Set(kwSuper, int64(g.Super), "ray-tracing supersampling factor")
	h.Set(kwPSFFWHM, g.PSFFWHM, "Gaussian PSF FWHM [arcsec] (0: none or PSF ext)")
}

func runSimulate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "simulate", "--lens L.json (--source S.fits --source-pixel-scale 0.05 | Sérsic in L.json) --npix 64 --pixel-scale 0.078125 [--psf P.fits | --psf-fwhm F] [--noise-sigma σ --seed k] --out O.fits")
	lensPath := fs.String("lens", "", "lens file (JSON); its source_light is used when --source is not given")
	srcPath := fs.String("source", "", "source image (FITS, square) on a grid centred on the origin")
	srcScale := fs.Float64("source-pixel-scale", 0.05, "source pixel scale in arcsec")
	srcNPix := fs.Int("source-npix", 64, "source grid side when rendering an analytic source")
	npix := fs.Int("npix", 64, "observation grid side in pixels")
	scale := fs.Float64("pixel-scale", 0.078125, "observation pixel scale in arcsec")
	super := fs.Int("supersample", 2, "rays per pixel side")
	psfPath := fs.String("psf", "", "PSF kernel (FITS, odd sizes, on the observation grid)")
	fwhm := fs.Float64("psf-fwhm", 0, "Gaussian PSF FWHM in arcsec (0: no PSF)")
	sigma := fs.Float64("noise-sigma", 0, "Gaussian noise σ per pixel (0: noise-free)")
	seed := fs.Uint64("seed", 1, "seed of the noise")
	out := fs.String("out", "", "output FITS file")
	force := addForceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "lens", "out"); err != nil {
		return err
	}
	if *psfPath != "" && *fwhm != 0 {
		return fmt.Errorf("give either --psf or --psf-fwhm, not both")
	}
	if *sigma < 0 || math.IsNaN(*sigma) || math.IsInf(*sigma, 0) {
		return fmt.Errorf("--noise-sigma must be finite and ≥ 0, got %g", *sigma)
	}
	if err := checkNewOutFile(*out, *force); err != nil {
		return err
	}
	m, err := lens.ParseFile(*lensPath)
	if err != nil {
		return err
	}
	geo := geometry{NPix: *npix, Scale: *scale, SrcScale: *srcScale, SrcNPix: *srcNPix, Super: *super}
	var src []float64
	var light lens.Light // an analytic source (source_light)
	if *srcPath != "" {
		var n int
		if src, n, _, err = readSquareImage(*srcPath, ""); err != nil {
			return err
		}
		geo.SrcNPix = n
	} else {
		light = m.SourceLight()
		if light == nil {
			return fmt.Errorf("no --source given and %s has no source_light", *lensPath)
		}
		src = lens.Render(light, lens.Grid{N: geo.SrcNPix, Scale: geo.SrcScale}, 4)
	}
	if err := geo.validate(); err != nil {
		return err
	}
	if geo.PSF, geo.PSFFWHM, err = loadPSF(*psfPath, *fwhm, *scale); err != nil {
		return err
	}
	op, err := lens.NewOperator(m.Mass(), geo.config())
	if err != nil {
		return err
	}
	clean := make([]float64, geo.NPix*geo.NPix)
	if light != nil {
		// evaluated at the ray-traced positions, not pixelised first (SOURCE holds the rendered truth)
		if clean, err = lens.ObserveLight(m.Mass(), light, geo.config()); err != nil {
			return err
		}
	} else {
		op.Apply(clean, src)
	}
	for i, v := range clean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("the lensed image has a non-finite pixel (%d: %g); check the source", i, v)
		}
	}
	obs := append([]float64(nil), clean...)
	if *sigma > 0 {
		if err := lens.AddNoise(obs, *sigma, *seed); err != nil {
			return err
		}
	}
	o := &observation.Observation{NPix: geo.NPix, Image: obs, PixelScale: geo.Scale, SrcNPix: geo.SrcNPix, SrcScale: geo.SrcScale,
		Supersample: geo.Super, NoiseSigma: *sigma, PSF: geo.PSF, PSFFWHM: geo.PSFFWHM, Seed: *seed, HasSeed: true,
		LensFile: *lensPath, Truth: src, NoiseFree: clean}
	if err := o.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s: %d×%d observation (σ_n=%g, seed %d), source %d×%d at %g″/px, %d non-zeros in A\n",
		*out, geo.NPix, geo.NPix, *sigma, *seed, geo.SrcNPix, geo.SrcNPix, geo.SrcScale, op.NNZ())
	return nil
}

// loadPSF returns the PSF from a file or a Gaussian FWHM (or none).
func loadPSF(path string, fwhm, scale float64) (*lens.PSF, float64, error) {
	switch {
	case path != "":
		p, err := readPSF(path)
		return p, 0, err
	case fwhm < 0 || math.IsNaN(fwhm):
		return nil, 0, fmt.Errorf("--psf-fwhm must be ≥ 0, got %g", fwhm)
	case fwhm > 0:
		p, err := lens.GaussianPSF(fwhm, scale, 0)
		return p, fwhm, err
	}
	return nil, 0, nil
}

// pixelMeanKappa averages κ over an 8×8 grid of sub-pixel points; it is used
// at a pixel centred exactly on a singular isothermal core, where κ(x, y) is
// infinite but its pixel average is finite.
func pixelMeanKappa(m lens.Mass, x, y, scale float64) float64 {
	const k = 8
	var s float64
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			s += m.Convergence(x+((float64(j)+0.5)/k-0.5)*scale, y+((float64(i)+0.5)/k-0.5)*scale)
		}
	}
	return s / (k * k)
}
