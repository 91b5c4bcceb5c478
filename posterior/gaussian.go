package posterior

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// IsoGaussian is the prior N(μ₀, s² I). Its time-t marginal is
// N(μ₀, (s² + σ(t)²) I) with score −(x − μ₀)/(s² + σ(t)²).
type IsoGaussian struct {
	mu    []float64
	s     float64
	sigma func(t float64) float64
}

// NewIsoGaussian returns N(mu, s² I) for the schedule sigma (usually
// sde.VE.Sigma). len(mu) is the dimension.
func NewIsoGaussian(mu []float64, s float64, sigma func(float64) float64) (*IsoGaussian, error) {
	if len(mu) == 0 {
		return nil, errors.New("posterior: isotropic prior: empty mean")
	}
	if !(s > 0) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("posterior: isotropic prior: std s must be positive and finite, got %g", s)
	}
	if sigma == nil {
		return nil, errors.New("posterior: isotropic prior: nil noise schedule")
	}
	return &IsoGaussian{mu: append([]float64(nil), mu...), s: s, sigma: sigma}, nil
}

// Dim returns the dimension.
func (g *IsoGaussian) Dim() int { return len(g.mu) }

// S returns the prior standard deviation s.
func (g *IsoGaussian) S() float64 { return g.s }

// Mean returns μ₀.
func (g *IsoGaussian) Mean() []float64 { return g.mu }

// Fingerprint describes the prior.
func (g *IsoGaussian) Fingerprint() string {
	return fmt.Sprintf("iso-gaussian(n=%d,s=%g,mu=%s)", len(g.mu), g.s, hashFloats(g.mu))
}

// Score writes −(x − μ₀)/(s² + σ(t)²) for each of the n images.
func (g *IsoGaussian) Score(dst, x []float64, n int, t float64) error {
	d := len(g.mu)
	if len(x) != n*d || len(dst) != n*d {
		return fmt.Errorf("posterior: isotropic prior: batch of %d needs %d values, got x=%d dst=%d", n, n*d, len(x), len(dst))
	}
	s := g.sigma(t)
	inv := 1 / (g.s*g.s + s*s)
	for k := 0; k < n; k++ {
		xk, dk := x[k*d:(k+1)*d], dst[k*d:(k+1)*d]
		for i, m := range g.mu {
			dk[i] = -(xk[i] - m) * inv
		}
	}
	return nil
}

// Cov returns s² I.
func (g *IsoGaussian) Cov() *mat.SymDense {
	n := len(g.mu)
	c := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		c.SetSym(i, i, g.s*g.s)
	}
	return c
}

// ApplySqrt sets dst = s z.
func (g *IsoGaussian) ApplySqrt(dst, z []float64) {
	for i := range dst {
		dst[i] = g.s * z[i]
	}
}

// Scaled returns N(μ₀, (a s)² I).
func (g *IsoGaussian) Scaled(a float64) GaussianPrior {
	return &IsoGaussian{mu: g.mu, s: a * g.s, sigma: g.sigma}
}

// GRF is a stationary Gaussian random field on an nx×ny periodic grid:
// N(μ 1, Σ₀) with Σ₀ = F⁻¹ diag(P(k)) F, F the unnormalised 2-D DFT. The
// eigenvalues of the circulant Σ₀ are P(k); the covariance of two pixels
// depends only on their separation modulo the grid (periodic boundary).
type GRF struct {
	nx, ny int
	mu     float64
	p      []float64 // P(k), index ky*nx+kx
	sigma  func(float64) float64
	fw     *fftWork // 2-D FFT state (not safe for concurrent use)
	mean   []float64
	keptT  float64 // time of the last ScoreKeep
}

// NewGRF returns the stationary field with mean mu and power spectrum p
// (length nx·ny, row-major in (ky, kx), DFT index order). p is symmetrised,
// P(k) ← (P(k)+P(−k))/2, so the covariance is real; every value must be
// positive and finite.
func NewGRF(nx, ny int, mu float64, p []float64, sigma func(float64) float64) (*GRF, error) {
	if nx < 1 || ny < 1 {
		return nil, fmt.Errorf("posterior: GRF: grid %d×%d is empty", nx, ny)
	}
	if len(p) != nx*ny {
		return nil, fmt.Errorf("posterior: GRF: spectrum has %d values, grid %d×%d needs %d", len(p), nx, ny, nx*ny)
	}
	if sigma == nil {
		return nil, errors.New("posterior: GRF: nil noise schedule")
	}
	if math.IsNaN(mu) || math.IsInf(mu, 0) {
		return nil, fmt.Errorf("posterior: GRF: mean %g is not finite", mu)
	}
	q := make([]float64, nx*ny)
	for ky := 0; ky < ny; ky++ {
		for kx := 0; kx < nx; kx++ {
			v, w := p[ky*nx+kx], p[((ny-ky)%ny)*nx+(nx-kx)%nx]
			if !(v > 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("posterior: GRF: P(kx=%d, ky=%d) = %g must be positive and finite", kx, ky, v)
			}
			q[ky*nx+kx] = (v + w) / 2
		}
	}
	g := &GRF{nx: nx, ny: ny, mu: mu, p: q, sigma: sigma,
		fw: newFFTWork(nx, ny, false), mean: make([]float64, nx*ny)}
	for i := range g.mean {
		g.mean[i] = mu
	}
	return g, nil
}

// Dim returns nx·ny.
func (g *GRF) Dim() int { return g.nx * g.ny }

// Grid returns (nx, ny).
func (g *GRF) Grid() (nx, ny int) { return g.nx, g.ny }

// Spectrum returns P(k) (callers must not modify it).
func (g *GRF) Spectrum() []float64 { return g.p }

// Mean returns μ 1.
func (g *GRF) Mean() []float64 { return g.mean }

// Fingerprint describes the prior.
func (g *GRF) Fingerprint() string {
	return fmt.Sprintf("grf(%dx%d,mu=%g,P=%s)", g.nx, g.ny, g.mu, hashFloats(g.p))
}

// filter sets dst = F⁻¹ diag(f(P(k))) F (src − shift) (real part).
func (g *GRF) filter(dst, src []float64, shift float64, f func(p float64) float64) {
	g.fw.filter(dst, src, g.nx, g.ny, g.p, shift, f)
}

// Score writes −F⁻¹ diag(1/(P(k)+σ(t)²)) F (x − μ) for each image.
func (g *GRF) Score(dst, x []float64, n int, t float64) error {
	d := g.nx * g.ny
	if len(x) != n*d || len(dst) != n*d {
		return fmt.Errorf("posterior: GRF prior: batch of %d needs %d values, got x=%d dst=%d", n, n*d, len(x), len(dst))
	}
	s := g.sigma(t)
	s2 := s * s
	neg := func(p float64) float64 { return -1 / (p + s2) }
	for k := 0; k < n; k++ {
		g.filter(dst[k*d:(k+1)*d], x[k*d:(k+1)*d], g.mu, neg)
	}
	return nil
}

// ScoreKeep implements JacobianPrior: Score, remembering t for VJP.
func (g *GRF) ScoreKeep(dst, x []float64, n int, t float64) error {
	g.keptT = t
	return g.Score(dst, x, n, t)
}

// VJP implements JacobianPrior: the score's Jacobian is the symmetric
// −(Σ₀ + σ²I)⁻¹, so dst = −F⁻¹ diag(1/(P + σ²)) F v image by image.
func (g *GRF) VJP(dst, v []float64, n int) error {
	d := g.nx * g.ny
	if len(v) != n*d || len(dst) != n*d {
		return fmt.Errorf("posterior: GRF prior: VJP of a batch of %d needs %d values, got v=%d dst=%d", n, n*d, len(v), len(dst))
	}
	s := g.sigma(g.keptT)
	s2 := s * s
	neg := func(p float64) float64 { return -1 / (p + s2) }
	for k := 0; k < n; k++ {
		g.filter(dst[k*d:(k+1)*d], v[k*d:(k+1)*d], 0, neg)
	}
	return nil
}

// ApplySqrt sets dst = F⁻¹ diag(√P) F z, the symmetric square root of Σ₀.
func (g *GRF) ApplySqrt(dst, z []float64) { g.filter(dst, z, 0, math.Sqrt) }

// ApplyCov sets dst = Σ₀ z.
func (g *GRF) ApplyCov(dst, z []float64) { g.filter(dst, z, 0, func(p float64) float64 { return p }) }

// Cov returns the dense circulant Σ₀: Σ₀[i,j] = C(r_i − r_j mod grid) with
// C = F⁻¹ P.
func (g *GRF) Cov() *mat.SymDense {
	d := g.nx * g.ny
	e := make([]float64, d)
	e[0] = 1
	c0 := make([]float64, d)
	g.ApplyCov(c0, e) // column 0: C(r)
	cov := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		yi, xi := i/g.nx, i%g.nx
		for j := i; j < d; j++ {
			yj, xj := j/g.nx, j%g.nx
			dy, dx := ((yi-yj)%g.ny+g.ny)%g.ny, ((xi-xj)%g.nx+g.nx)%g.nx
			cov.SetSym(i, j, c0[dy*g.nx+dx])
		}
	}
	return cov
}

// Scaled returns the field with spectrum a² P.
func (g *GRF) Scaled(a float64) GaussianPrior {
	p := make([]float64, len(g.p))
	for i, v := range g.p {
		p[i] = a * a * v
	}
	h, _ := NewGRF(g.nx, g.ny, g.mu, p, g.sigma) // a·P(k) stays positive for a > 0
	return h
}

// FitOptions tunes FitGRF.
type FitOptions struct {
	// Radial averages the periodogram over annuli of |k| (isotropic field)
	// of width one frequency unit, |k| measured in cycles per grid.
	Radial bool
	// Floor is the smallest allowed P(k) as a fraction of max P (default 1e-8).
	Floor float64
}

// FitGRF estimates a stationary field from training images (each nx·ny,
// row-major): μ is the mean of all pixels and P(k) the average periodogram
// |F(x − μ)|²/(nx·ny), optionally radially averaged, floored at
// Floor·max P so it stays positive.
func FitGRF(images [][]float64, nx, ny int, opt FitOptions, sigma func(float64) float64) (*GRF, error) {
	if len(images) == 0 {
		return nil, errors.New("posterior: FitGRF: no training images")
	}
	d := nx * ny
	var mu float64
	for i, im := range images {
		if len(im) != d {
			return nil, fmt.Errorf("posterior: FitGRF: image %d has %d pixels, grid %d×%d needs %d", i, len(im), nx, ny, d)
		}
		for _, v := range im {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("posterior: FitGRF: image %d has a non-finite pixel", i)
			}
			mu += v
		}
	}
	mu /= float64(d * len(images))
	ones := make([]float64, d)
	for i := range ones {
		ones[i] = 1
	}
	g, err := NewGRF(nx, ny, mu, ones, sigma)
	if err != nil {
		return nil, err
	}
	p := make([]float64, d)
	for _, im := range images {
		for i, v := range im {
			g.fw.buf[i] = complex(v-mu, 0)
		}
		fft2(g.fw, nx, ny, false)
		for i, c := range g.fw.buf {
			p[i] += (real(c)*real(c) + imag(c)*imag(c)) / float64(d*len(images))
		}
	}
	if opt.Radial {
		kr := func(i int) int {
			ky, kx := i/nx, i%nx
			if ky > ny/2 {
				ky -= ny
			}
			if kx > nx/2 {
				kx -= nx
			}
			fy, fx := float64(ky)*float64(nx)/float64(ny), float64(kx)
			return int(math.Round(math.Hypot(fx, fy)))
		}
		sum := map[int]float64{}
		cnt := map[int]int{}
		for i, v := range p {
			sum[kr(i)] += v
			cnt[kr(i)]++
		}
		for i := range p {
			p[i] = sum[kr(i)] / float64(cnt[kr(i)])
		}
	}
	floor := opt.Floor
	if floor <= 0 {
		floor = 1e-8
	}
	mx := 0.0
	for _, v := range p {
		mx = math.Max(mx, v)
	}
	if mx == 0 {
		return nil, errors.New("posterior: FitGRF: training images are constant; spectrum is zero")
	}
	for i := range p {
		p[i] = math.Max(p[i], floor*mx)
	}
	copy(g.p, p)
	g2, err := NewGRF(nx, ny, mu, p, sigma)
	return g2, err
}
