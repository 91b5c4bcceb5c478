package lens

import (
	"fmt"
	"math"
)

// PSF is a point-spread function kernel on the image pixel grid: Rows×Cols
// (both odd), centred on the middle pixel, normalised to unit sum, stored
// row-major with row 0 at the most negative y offset.
type PSF struct {
	Rows, Cols int
	Kernel     []float64
}

// NewPSF copies a 2-D kernel (k[row][col]; e.g. read from FITS by the
// caller), checks that it is rectangular with odd sizes and finite entries
// with a positive sum, and normalises it to unit sum.
func NewPSF(k [][]float64) (*PSF, error) {
	rows := len(k)
	if rows == 0 || rows%2 == 0 {
		return nil, fmt.Errorf("lens: psf: number of rows must be odd and > 0, got %d", rows)
	}
	cols := len(k[0])
	if cols == 0 || cols%2 == 0 {
		return nil, fmt.Errorf("lens: psf: number of columns must be odd and > 0, got %d", cols)
	}
	p := &PSF{Rows: rows, Cols: cols, Kernel: make([]float64, 0, rows*cols)}
	var sum float64
	for r, row := range k {
		if len(row) != cols {
			return nil, fmt.Errorf("lens: psf: row %d has %d columns, want %d", r, len(row), cols)
		}
		for c, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("lens: psf: kernel[%d][%d] is not finite: %g", r, c, v)
			}
			sum += v
			p.Kernel = append(p.Kernel, v)
		}
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("lens: psf: kernel sum must be finite and > 0, got %g", sum)
	}
	for i := range p.Kernel {
		p.Kernel[i] /= sum
	}
	return p, nil
}

// GaussianPSF returns a circular Gaussian kernel of the given FWHM (arcsec)
// sampled at pixel centres of a grid with the given pixel scale (arcsec),
// σ = FWHM/(2 sqrt(2 ln 2)), truncated to a square of half-width radius
// pixels and normalised to unit sum. radius ≤ 0 selects ceil(5σ/scale)
// (at least 1), which loses < 1e-5 of the flux to truncation.
func GaussianPSF(fwhm, pixelScale float64, radius int) (*PSF, error) {
	if !(fwhm > 0) || math.IsInf(fwhm, 0) {
		return nil, fmt.Errorf("lens: gaussian psf: fwhm must be finite and > 0, got %g", fwhm)
	}
	if !(pixelScale > 0) || math.IsInf(pixelScale, 0) {
		return nil, fmt.Errorf("lens: gaussian psf: pixel scale must be finite and > 0, got %g", pixelScale)
	}
	sigma := fwhm / (2 * math.Sqrt(2*math.Ln2)) / pixelScale // in pixels
	if radius <= 0 {
		radius = max(1, int(math.Ceil(5*sigma)))
	}
	n := 2*radius + 1
	k := make([][]float64, n)
	for r := range k {
		k[r] = make([]float64, n)
		dy := float64(r - radius)
		for c := range k[r] {
			dx := float64(c - radius)
			k[r][c] = math.Exp(-(dx*dx + dy*dy) / (2 * sigma * sigma))
		}
	}
	return NewPSF(k)
}

// Convolve sets dst to the convolution of the n×n image src with the
// kernel, dst[r][c] = Σ K[a][b]·src[r−(a−hr)][c−(b−hc)], treating pixels
// outside the image as zero. dst and src must not overlap.
func (p *PSF) Convolve(dst, src []float64, n int) {
	hr, hc := p.Rows/2, p.Cols/2
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			var v float64
			for a := 0; a < p.Rows; a++ {
				sr := r - (a - hr)
				if sr < 0 || sr >= n {
					continue
				}
				for b := 0; b < p.Cols; b++ {
					sc := c - (b - hc)
					if sc < 0 || sc >= n {
						continue
					}
					v += p.Kernel[a*p.Cols+b] * src[sr*n+sc]
				}
			}
			dst[r*n+c] = v
		}
	}
}
