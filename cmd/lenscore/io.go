package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/observation"
)

// Header keywords of the observation file (package observation).
const (
	kwPixScale = observation.KeyPixScale
	kwSrcScale = observation.KeySrcScale
	kwSrcNPix  = observation.KeySrcNPix
	kwSuper    = observation.KeySuper
	kwNoise    = observation.KeyNoise
	kwSeed     = observation.KeySeed
	kwPSFFWHM  = observation.KeyPSFFWHM
	kwLens     = observation.KeyLens
)

// readSquareImage reads the first image HDU of a FITS file (or the one named
// ext) and checks that it is a finite square 2-D image.
func readSquareImage(path, ext string) ([]float64, int, *fits.HDU, error) {
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, 0, nil, err
	}
	return squareImage(path, hdus, ext)
}

// squareImage picks the image of readSquareImage from HDUs already read.
func squareImage(path string, hdus []*fits.HDU, ext string) ([]float64, int, *fits.HDU, error) {
	var h *fits.HDU
	if ext != "" {
		var ok bool
		if h, ok = fits.ByName(hdus, ext); !ok {
			return nil, 0, nil, fmt.Errorf("%s: no extension named %s", path, ext)
		}
	} else {
		for _, c := range hdus {
			if !c.Skipped && len(c.Shape) > 0 {
				h = c
				break
			}
		}
		if h == nil {
			return nil, 0, nil, fmt.Errorf("%s: no image HDU", path)
		}
	}
	if len(h.Shape) != 2 {
		return nil, 0, nil, fmt.Errorf("%s: expected a 2-D image, got NAXIS=%d", path, len(h.Shape))
	}
	if h.Shape[0] != h.Shape[1] {
		return nil, 0, nil, fmt.Errorf("%s: expected a square image, got %d×%d", path, h.Shape[0], h.Shape[1])
	}
	for i, v := range h.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, nil, fmt.Errorf("%s: pixel (row %d, col %d) is %g; images must be finite", path, i/h.Shape[0], i%h.Shape[0], v)
		}
	}
	return h.Data, h.Shape[0], h, nil
}

// readPSF reads an odd-sized PSF kernel from a FITS file.
func readPSF(path string) (*lens.PSF, error) {
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, h := range hdus {
		if h.Skipped || len(h.Shape) == 0 {
			continue
		}
		if len(h.Shape) != 2 {
			return nil, fmt.Errorf("%s: PSF must be a 2-D image, got NAXIS=%d", path, len(h.Shape))
		}
		nx, ny := h.Shape[0], h.Shape[1]
		k := make([][]float64, ny)
		for r := range k {
			k[r] = h.Data[r*nx : (r+1)*nx]
		}
		p, err := lens.NewPSF(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%s: no image HDU holding a PSF", path)
}

// psfKernelHDU stores a PSF as an image extension named PSF.
func psfKernelHDU(p *lens.PSF) *fits.HDU {
	h := fits.NewImage(p.Cols, p.Rows, append([]float64(nil), p.Kernel...))
	h.Name = "PSF"
	return h
}

// checkOutDir creates dir if needed and checks it is writable.
func checkOutDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".lenscore-probe-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// checkOutFile checks that the directory of an output file exists.
func checkOutFile(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("output %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("output %s: %s is not a directory", path, dir)
	}
	return nil
}

// seedCard is a seed as a FITS header value: an integer when it fits in
// int64 (FITS integers are signed), else its decimal string.
func seedCard(seed uint64) any {
	if seed <= math.MaxInt64 {
		return int64(seed)
	}
	return strconv.FormatUint(seed, 10)
}

// cardText makes s fit a FITS string card (observation.CardText).
func cardText(s string) string { return observation.CardText(s) }
