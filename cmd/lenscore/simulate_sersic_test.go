package main

import (
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
)

// pixelObs is smallObs's observation simulated again from its rendered
// SOURCE, a pixel source, so that the data lie in the range of the
// operator (up to the noise), as χ² checks of invert assume: smallObs's
// analytic Sérsic is imaged without pixelisation and extends beyond its
// 8×8 source grid.
func pixelObs(t *testing.T, dir string) (lensPath, obsPath string) {
	t.Helper()
	lensPath, first := smallObs(t, dir)
	src := extNamed(t, readHDUs(t, first), "SOURCE")
	srcPath := filepath.Join(dir, "source8.fits")
	if err := fits.WriteFile(srcPath, []*fits.HDU{fits.NewImage(src.Shape[0], src.Shape[1], src.Data)}); err != nil {
		t.Fatal(err)
	}
	obsPath = filepath.Join(dir, "obs-pixel.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--source", srcPath, "--npix", "16", "--pixel-scale", "0.1",
		"--source-pixel-scale", "0.1", "--noise-sigma", "0.05", "--seed", "1", "--out", obsPath)
	return lensPath, obsPath
}

// simulate images an analytic source at the ray-traced positions
// (lens.ObserveLight), so a cuspy Sérsic profile keeps its peak: the
// noise-free image equals ObserveLight's bit for bit, with and without a
// PSF, and lies well above the image of the rendered SOURCE through the
// operator, which loses a quarter of the peak here.
func TestSimulateAnalyticSourceNotPixelised(t *testing.T) {
	dir := t.TempDir()
	const lensJSON = `{"components": [{"type": "SIE", "theta_e": 1.2, "q": 0.7, "phi": 0.3, "center_x": 0.02, "center_y": -0.01},
                {"type": "SHEAR", "gamma1": 0.04, "gamma2": -0.03}],
 "source_light": [{"type": "SERSIC_ELLIPSE", "amp": 1, "R_sersic": 0.3, "n_sersic": 2.5, "q": 0.75, "phi": 0.5,
                   "center_x": 0.05, "center_y": -0.03}]}`
	lensPath := writeText(t, dir, "lens.json", lensJSON)
	m, err := lens.ParseFile(lensPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, fwhm := range []float64{0, 0.1} {
		out := filepath.Join(dir, "o"+ftoa(fwhm)+".fits")
		mustRun(t, "simulate", "--lens", lensPath, "--npix", "64", "--pixel-scale", "0.078125", "--source-npix", "64",
			"--source-pixel-scale", "0.05", "--supersample", "2", "--psf-fwhm", ftoa(fwhm), "--out", out)
		h := readHDUs(t, out)
		cfg := lens.Config{Obs: lens.Grid{N: 64, Scale: 0.078125}, Src: lens.Grid{N: 64, Scale: 0.05}, Supersample: 2}
		if fwhm > 0 {
			if cfg.PSF, err = lens.GaussianPSF(fwhm, 0.078125, 0); err != nil {
				t.Fatal(err)
			}
		}
		want, err := lens.ObserveLight(m.Mass(), m.SourceLight(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		nf := extNamed(t, h, "NOISEFREE").Data
		for i, v := range want {
			if nf[i] != v {
				t.Fatalf("PSF FWHM %g: pixel %d = %g, ObserveLight %g", fwhm, i, nf[i], v)
			}
		}
		op, err := lens.NewOperator(m.Mass(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		old := make([]float64, 64*64)
		op.Apply(old, extNamed(t, h, "SOURCE").Data)
		if pk, po := maxOf(nf), maxOf(old); fwhm == 0 && !(po < 0.8*pk) || !(po < pk) {
			t.Errorf("PSF FWHM %g: peak %g, through the pixelised source %g", fwhm, pk, po)
		} else {
			t.Logf("PSF FWHM %g: peak %.4g; through the pixelised SOURCE %.4g (%.0f%% low)", fwhm, pk, po, 100*(1-po/pk))
		}
	}
}
