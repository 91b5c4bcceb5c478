package diag

import (
	"fmt"
	"math"
)

// Forward is the linear forward model A: source plane (n pixels) → image
// plane (m pixels). lens operators satisfy it.
type Forward interface {
	// Dims returns (m, n): image-plane and source-plane sizes.
	Dims() (m, n int)
	// Apply sets dst (length m) to A·x (x of length n).
	Apply(dst, x []float64)
}

// Noise describes the image-plane noise and which pixels take part in the
// residual statistics.
type Noise struct {
	// Sigma is the scalar noise standard deviation σ_n, used when Map is nil.
	Sigma float64
	// Map, when not nil, gives σ_n per image-plane pixel.
	Map []float64
	// Mask, when not nil, excludes pixel i from every statistic when
	// Mask[i] is true; such pixels are NaN in residual maps.
	Mask []bool
}

func (nz Noise) check(m int) error {
	if nz.Map != nil {
		if len(nz.Map) != m {
			return fmt.Errorf("diag: Noise.Map has %d pixels, want %d", len(nz.Map), m)
		}
		for i, s := range nz.Map {
			if !(s > 0) && !nz.masked(i) {
				return fmt.Errorf("diag: Noise.Map[%d] = %g, want > 0", i, s)
			}
		}
	} else if !(nz.Sigma > 0) || math.IsInf(nz.Sigma, 0) {
		return fmt.Errorf("diag: Noise.Sigma = %g, want finite > 0", nz.Sigma)
	}
	if nz.Mask != nil && len(nz.Mask) != m {
		return fmt.Errorf("diag: Noise.Mask has %d pixels, want %d", len(nz.Mask), m)
	}
	return nil
}

func (nz Noise) masked(i int) bool { return nz.Mask != nil && nz.Mask[i] }

func (nz Noise) sigma(i int) float64 {
	if nz.Map != nil {
		return nz.Map[i]
	}
	return nz.Sigma
}

// ResidualSNR writes r_i = (y_i − model_i)/σ_i into dst and returns the
// number ν of unmasked pixels. Masked pixels are set to NaN. dst may alias
// model or y.
func ResidualSNR(dst, y, model []float64, nz Noise) (nu int, err error) {
	m := len(y)
	if len(model) != m || len(dst) != m {
		return 0, fmt.Errorf("diag: ResidualSNR: lengths y=%d model=%d dst=%d differ", m, len(model), len(dst))
	}
	if err := nz.check(m); err != nil {
		return 0, err
	}
	for i := range dst {
		if nz.masked(i) {
			dst[i] = math.NaN()
			continue
		}
		dst[i] = (y[i] - model[i]) / nz.sigma(i)
		nu++
	}
	return nu, nil
}

// ImageResidualSNR writes (y − A x)/σ_n into dst (length m), using dst as
// the buffer for A x, and returns ν. It does not allocate.
func ImageResidualSNR(dst []float64, a Forward, y, x []float64, nz Noise) (nu int, err error) {
	m, n := a.Dims()
	if len(dst) != m || len(y) != m || len(x) != n {
		return 0, fmt.Errorf("diag: ImageResidualSNR: lengths dst=%d y=%d x=%d, want %d, %d, %d", len(dst), len(y), len(x), m, m, n)
	}
	a.Apply(dst, x)
	return ResidualSNR(dst, y, dst, nz)
}

// SourceResidualSNR writes (xTrue − x)/std into dst: truth minus estimate,
// the same sign convention as the image plane's data minus model. Pixels
// with std ≤ 0 or NaN are NaN. dst may alias any input.
func SourceResidualSNR(dst, xTrue, x, std []float64) error {
	n := len(xTrue)
	if len(x) != n || len(std) != n || len(dst) != n {
		return fmt.Errorf("diag: SourceResidualSNR: lengths dst=%d xTrue=%d x=%d std=%d differ", len(dst), n, len(x), len(std))
	}
	for i := range dst {
		s := std[i]
		if !(s > 0) {
			dst[i] = math.NaN()
			continue
		}
		dst[i] = (xTrue[i] - x[i]) / s
	}
	return nil
}

// ChiSquaredNuModel returns the reduced chi-squared of a model image,
//
//	χ²_ν = (1/ν) Σ_{i unmasked} ((y_i − model_i)/σ_i)²,
//
// with ν the number of unmasked pixels (see the package documentation for
// why no parameters are subtracted), and ν itself.
func ChiSquaredNuModel(y, model []float64, nz Noise) (chi2nu float64, nu int, err error) {
	m := len(y)
	if len(model) != m {
		return math.NaN(), 0, fmt.Errorf("diag: ChiSquaredNu: lengths y=%d model=%d differ", m, len(model))
	}
	if err := nz.check(m); err != nil {
		return math.NaN(), 0, err
	}
	var s float64
	for i := range y {
		if nz.masked(i) {
			continue
		}
		r := (y[i] - model[i]) / nz.sigma(i)
		s += r * r
		nu++
	}
	if nu == 0 {
		return math.NaN(), 0, fmt.Errorf("diag: ChiSquaredNu: every pixel is masked")
	}
	return s / float64(nu), nu, nil
}

// ChiSquaredNu returns χ²_ν of the source x: the model is A x, computed into
// buf (length m; allocated when nil). With a buffer it does not allocate.
func ChiSquaredNu(a Forward, y, x, buf []float64, nz Noise) (chi2nu float64, nu int, err error) {
	m, n := a.Dims()
	if len(y) != m || len(x) != n {
		return math.NaN(), 0, fmt.Errorf("diag: ChiSquaredNu: lengths y=%d x=%d, want %d, %d", len(y), len(x), m, n)
	}
	if buf == nil {
		buf = make([]float64, m)
	}
	if len(buf) != m {
		return math.NaN(), 0, fmt.Errorf("diag: ChiSquaredNu: buffer has %d elements, want %d", len(buf), m)
	}
	a.Apply(buf, x)
	return ChiSquaredNuModel(y, buf, nz)
}

// ChiSquaredNuStd returns √(2/ν), the standard deviation of χ²_ν when the
// model is exact and the noise Gaussian with the stated σ_n.
func ChiSquaredNuStd(nu int) float64 { return math.Sqrt(2 / float64(nu)) }
