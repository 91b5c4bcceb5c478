package experiment

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/lenscore/lenscore/posterior"
)

// FitProxy returns the stationary Gaussian proxy of a set of side×side
// images that the projected likelihood (posterior.NewProjected) needs for a
// learned prior: mean μ = the mean pixel value and power spectrum
// P(k) = mean over images of |F(x − μ)(k)|² / side² (F the unnormalised
// DFT, so that a white field of variance v has P = v). Spectrum values are
// floored at 1e-9 · max P so that every mode has a positive variance.
// Images should be in the units the prior sees (e.g. Galaxies of the
// training split).
func FitProxy(imgs [][]float64, side int, sigma func(float64) float64) (*posterior.GRF, error) {
	if len(imgs) == 0 {
		return nil, errors.New("experiment: proxy: no images")
	}
	n := side * side
	var mu float64
	for j, x := range imgs {
		if len(x) != n {
			return nil, fmt.Errorf("experiment: proxy: image %d has %d pixels, want %d", j, len(x), n)
		}
		for _, v := range x {
			mu += v
		}
	}
	mu /= float64(n * len(imgs))
	p := make([]float64, n)
	ft := fourier.NewCmplxFFT(side)
	buf := make([]complex128, n)
	col := make([]complex128, side)
	for _, x := range imgs {
		for i, v := range x {
			buf[i] = complex(v-mu, 0)
		}
		for y := 0; y < side; y++ {
			ft.Coefficients(buf[y*side:(y+1)*side], buf[y*side:(y+1)*side])
		}
		for c := 0; c < side; c++ {
			for y := 0; y < side; y++ {
				col[y] = buf[y*side+c]
			}
			ft.Coefficients(col, col)
			for y := 0; y < side; y++ {
				z := col[y]
				p[y*side+c] += (real(z)*real(z) + imag(z)*imag(z)) / float64(n)
			}
		}
	}
	var top float64
	for k := range p {
		p[k] /= float64(len(imgs))
		top = math.Max(top, p[k])
	}
	if !(top > 0) || math.IsInf(top, 0) {
		return nil, fmt.Errorf("experiment: proxy: power spectrum maximum %g", top)
	}
	for k := range p {
		p[k] = math.Max(p[k], 1e-9*top)
	}
	return posterior.NewGRF(side, side, mu, p, sigma)
}
