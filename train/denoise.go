package train

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/lenscore/lenscore/diag"
)

// Denoising the sky of a training image (LoadOptions.Sky = SkyDenoised).
//
// A lensed source has no sky noise of its own: the noise of a lens
// observation is in the image plane. A galaxy photograph's sky noise is
// part of the photograph, not of the galaxy, so a prior trained on
// photographs with their noise learns it as source structure (and one
// trained on skies clipped at zero learns a rectified noise floor). The
// denoised preparation removes it with the starlet (isotropic undecimated
// wavelet) transform of Starck & Murtagh:
//
//	c_0 = x,  c_{j+1} = h_j ∗ c_j,  w_{j+1} = c_j − c_{j+1},  x = c_J + Σ_{j=1..J} w_j
//
// with h_j the separable B3-spline kernel (1, 4, 6, 4, 1)/16 with 2^j − 1
// zeros between its taps (à trous) and mirror boundaries. The noise σ of
// the image is estimated from the finest scale, σ = MAD(w_1)/(0.6745 σ_1),
// where σ_j is the standard deviation of w_j for unit white noise (the
// norm of the scale-j wavelet, computed once from a delta image); each
// detail coefficient with |w_j| < k σ σ_j is set to zero (hard
// thresholding, k = DenoiseK), and the image is rebuilt from the coarse
// scale and the significant coefficients. Structure above the noise — the
// knots, rings and arms the prior must learn — is kept; faint light below
// k σ at every scale is lost with the noise.

// DenoiseScales is the number of starlet detail scales J used by Denoise
// (scale j has a support of about 2^(j+2) pixels: 4–64 at J = 4).
const DenoiseScales = 4

// DenoiseK is the threshold of Denoise in units of the noise at each
// scale.
const DenoiseK = 3.0

// madGauss is Φ⁻¹(3/4): the median absolute deviation of a unit Gaussian.
const madGauss = 0.6744897501960817

// starletSmooth writes h_j ∗ c into dst (n×n, row-major, mirror
// boundaries), using tmp (n×n) for the row pass.
func starletSmooth(dst, c, tmp []float64, n, j int) {
	step := 1 << j
	w := [5]float64{1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16}
	mirror := func(i int) int {
		for i < 0 || i >= n {
			if i < 0 {
				i = -i
			}
			if i >= n {
				i = 2*(n-1) - i
			}
		}
		return i
	}
	for r := range n {
		row := c[r*n : (r+1)*n]
		for x := range n {
			var s float64
			for k := -2; k <= 2; k++ {
				s += w[k+2] * row[mirror(x+k*step)]
			}
			tmp[r*n+x] = s
		}
	}
	for r := range n {
		for x := range n {
			var s float64
			for k := -2; k <= 2; k++ {
				s += w[k+2] * tmp[mirror(r+k*step)*n+x]
			}
			dst[r*n+x] = s
		}
	}
}

// Starlet returns the starlet transform of the n×n image x with J detail
// scales: w[0…J−1] the details w_1…w_J and w[J] the coarse scale c_J, so
// that x = Σ_k w[k] exactly (up to rounding).
func Starlet(x []float64, n, J int) [][]float64 {
	c := slices.Clone(x)
	next := make([]float64, n*n)
	tmp := make([]float64, n*n)
	out := make([][]float64, J+1)
	for j := range J {
		starletSmooth(next, c, tmp, n, j)
		d := make([]float64, n*n)
		for i := range d {
			d[i] = c[i] - next[i]
		}
		out[j] = d
		c, next = next, c
	}
	out[J] = c
	return out
}

var (
	starletNormOnce sync.Once
	starletNorm     [DenoiseScales + 2]float64
)

// starletNoise returns σ_j, the standard deviation of detail scale j+1 for
// unit white noise: the L2 norm of that scale's wavelet, the transform of a
// delta at the centre of an image wide enough for no mirror to reach it.
func starletNoise() []float64 {
	starletNormOnce.Do(func() {
		const J = DenoiseScales + 1
		n := 8<<J + 1
		x := make([]float64, n*n)
		x[(n/2)*n+n/2] = 1
		for j, w := range Starlet(x, n, J)[:J] {
			var s float64
			for _, v := range w {
				s += v * v
			}
			starletNorm[j] = math.Sqrt(s)
		}
	})
	return starletNorm[:DenoiseScales+1]
}

// NoiseSigma estimates the standard deviation of white noise in the n×n
// image x from its finest starlet scale: MAD(w_1)/(0.6745 σ_1). Light that
// varies on scales of a few pixels raises it little (the median ignores a
// minority of large coefficients).
func NoiseSigma(x []float64, n int) float64 {
	w1 := Starlet(x, n, 1)[0]
	return madAbout(w1) / (madGauss * starletNoise()[0])
}

// madAbout returns the median absolute deviation of v about its median
// (v is reordered).
func madAbout(v []float64) float64 {
	m := diag.Median(v)
	for i, x := range v {
		v[i] = math.Abs(x - m)
	}
	return diag.Median(v)
}

// Denoise removes white noise of standard deviation sigma (≤ 0: estimated
// by NoiseSigma) from the n×n image x by hard thresholding of its starlet
// coefficients at DenoiseK·sigma·σ_j over DenoiseScales scales, and
// returns the denoised image and the sigma used.
func Denoise(x []float64, n int, sigma float64) ([]float64, float64, error) {
	if len(x) != n*n || n < 2 {
		return nil, 0, fmt.Errorf("train: denoise: %d values for a %d×%d image", len(x), n, n)
	}
	if sigma <= 0 {
		sigma = NoiseSigma(x, n)
	}
	if math.IsNaN(sigma) || math.IsInf(sigma, 0) {
		return nil, 0, fmt.Errorf("train: denoise: noise σ %g", sigma)
	}
	J := DenoiseScales
	w := Starlet(x, n, J)
	norm := starletNoise()
	out := slices.Clone(w[J])
	for j := range J {
		t := DenoiseK * sigma * norm[j]
		for i, v := range w[j] {
			if math.Abs(v) >= t {
				out[i] += v
			}
		}
	}
	return out, sigma, nil
}
