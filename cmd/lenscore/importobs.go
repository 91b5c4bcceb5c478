package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/obsimport"
)

// floatList is a flag of n comma-separated numbers; repeated flags append.
type floatList struct {
	n    int
	name string
	vals [][]float64
}

func (f *floatList) String() string {
	var p []string
	for _, v := range f.vals {
		var q []string
		for _, x := range v {
			q = append(q, strconv.FormatFloat(x, 'g', -1, 64))
		}
		p = append(p, strings.Join(q, ","))
	}
	return strings.Join(p, " ")
}

func (f *floatList) Set(s string) error {
	parts := strings.Split(s, ",")
	if len(parts) != f.n {
		return fmt.Errorf("want %d comma-separated numbers (%s), got %q", f.n, f.name, s)
	}
	v := make([]float64, f.n)
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", p)
		}
		v[i] = x
	}
	f.vals = append(f.vals, v)
	return nil
}

func runImportObs(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "import-obs", "--image I.fits [--hdu N] --noise-map N.fits --psf P.fits [--pixel-scale 0.05] [--center X,Y] [--npix 128] [--rebin k] [--mask M.fits] [--mask-annulus RIN,ROUT] [--mask-circle X,Y,R]... --out O.fits")
	image := fs.String("image", "", "image FITS file (values in e⁻/s or other units; kept as they are)")
	hdu := fs.Int("hdu", -1, "HDU index of the image (0 = primary; default: the first image HDU)")
	noise := fs.String("noise-map", "", "1σ noise map FITS file, same shape as the image")
	psf := fs.String("psf", "", "PSF FITS file on the image's pixel grid (centred, normalised and cropped on import)")
	scale := fs.Float64("pixel-scale", 0, "input pixel scale in arcsec when the image has no celestial WCS (HST ACS/WFC drizzled: 0.05)")
	center := &floatList{n: 2, name: "X,Y"}
	fs.Var(center, "center", "cut-out centre X,Y in 0-based input pixels (column, row); default the image centre")
	npix := fs.Int("npix", obsimport.DefaultNPix, "observation side in output pixels (the cut-out is npix·rebin input pixels)")
	rebin := fs.Int("rebin", 1, "average k×k input pixels per output pixel (noise propagated exactly)")
	mask := fs.String("mask", "", "mask FITS file, same shape as the image: 0 excludes the pixel")
	annulus := &floatList{n: 2, name: "RIN,ROUT"}
	fs.Var(annulus, "mask-annulus", "use only pixels RIN…ROUT arcsec from the centre")
	circles := &floatList{n: 3, name: "X,Y,R"}
	fs.Var(circles, "mask-circle", "exclude a circle X,Y,R in arcsec on the output grid (repeatable)")
	noiseMax := fs.Float64("noise-max", obsimport.DefaultNoiseMaxFactor, "mask pixels whose σ exceeds this multiple of the median σ")
	psfFlux := fs.Float64("psf-flux", obsimport.DefaultPSFFlux, "crop the PSF to the smallest odd square holding this fraction of its flux (1: keep it whole)")
	sky := fs.String("sky-scatter", "measure", "noise-map correction: measure (from empty sky, for drizzled images), none, or a factor")
	unit := fs.String("unit", obsimport.DefaultUnit, "unit of the image when its header has no BUNIT")
	srcN := fs.Int("source-npix", obsimport.DefaultSrcNPix, "source grid side recorded for sample/invert")
	srcScale := fs.Float64("source-pixel-scale", obsimport.DefaultSrcScale, "source pixel scale in arcsec recorded for sample/invert")
	super := fs.Int("supersample", obsimport.DefaultSupersample, "ray-tracing supersampling recorded for sample/invert")
	out := fs.String("out", "", "output observation FITS file")
	force := fs.Bool("force", false, "overwrite --out if it exists")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "image", "noise-map", "psf", "out"); err != nil {
		return err
	}
	if len(center.vals) > 1 || len(annulus.vals) > 1 {
		return fmt.Errorf("--center and --mask-annulus may be given once")
	}
	if err := checkOutFile(*out); err != nil {
		return err
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	opt := obsimport.Options{Image: *image, HDU: *hdu, NoiseMap: *noise, PSF: *psf, MaskFile: *mask, PixelScale: *scale, NPix: *npix,
		Rebin: *rebin, NoiseMaxFactor: *noiseMax, PSFFlux: *psfFlux, SkyScatter: *sky, Unit: *unit, SrcNPix: *srcN, SrcScale: *srcScale, Supersample: *super}
	if *scale < 0 {
		return fmt.Errorf("--pixel-scale must be > 0, got %g", *scale)
	}
	if len(center.vals) == 1 {
		opt.Center = &[2]float64{center.vals[0][0], center.vals[0][1]}
	}
	if len(annulus.vals) == 1 {
		opt.Annulus = &[2]float64{annulus.vals[0][0], annulus.vals[0][1]}
	}
	for _, c := range circles.vals {
		opt.Circles = append(opt.Circles, obsimport.Circle{X: c[0], Y: c[1], R: c[2]})
	}
	ob, rep, err := obsimport.Import(opt)
	if err != nil {
		return err
	}
	if err := ob.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s: %d×%d at %g″/px (cut-out at input (%d, %d), centre at (%.4g, %.4g)″ on the grid), %d of %d pixels used, noise map ×%.3f, PSF %d×%d (%.3f of its flux), unit %s\n",
		*out, ob.NPix, ob.NPix, ob.PixelScale, rep.X0, rep.Y0, rep.CenterX, rep.CenterY, rep.Kept, ob.NPix*ob.NPix, rep.NoiseScale, rep.PSF.Rows, rep.PSF.Cols, rep.PSF.FluxKept, rep.Unit)
	for _, k := range sortedMaskKeys(rep.Masked) {
		fmt.Fprintf(env.stdout, "  masked (%s): %d pixels\n", k, rep.Masked[k])
	}
	return nil
}

func sortedMaskKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
