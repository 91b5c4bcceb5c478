package posterior

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/dsp/fourier"
)

// PriorAware is implemented by likelihoods whose time-t score uses the
// prior's score at the same x. The sampler computes the prior score of
// every chain first and then calls ScoreGivenPrior instead of Score.
type PriorAware interface {
	// ScoreGivenPrior writes ∇ₓ log p_t(y|x) into dst, given ps =
	// ∇ₓ log p_t(x) (both of length N).
	ScoreGivenPrior(dst, x, ps []float64, t float64, scratch []float64)
}

// Projected is the time-t likelihood with the Gaussian projection of
// p(x₀ | x_t): its mean is Tweedie's x̂₀ = x + σ² ∇ₓ log p_t(x), computed
// from the prior's own score, and its covariance and Jacobian are those of
// a stationary Gaussian proxy N(μ, Σ_g), Σ_g = F⁻¹ diag(P) F (a GRF):
//
//	S_t = (Σ_g⁻¹ + σ⁻² I)⁻¹,   ∂x̂₀/∂x ≈ S_t / σ²,
//	p_t(y|x) ≈ N(y | A x̂₀, Σ_n + A S_t Aᵀ),
//	∇ₓ log p_t(y|x) ≈ (S_t/σ²) Aᵀ (Σ_n + A S_t Aᵀ)⁻¹ (y − A x̂₀)
//	               = σ⁻² H⁻¹ Aᵀ W Σ_n⁻¹ (y − A x̂₀),   H = S_t⁻¹ + Aᵀ W Σ_n⁻¹ A
//
// (push-through identity; W the 0/1 mask), with H⁻¹ applied by conjugate
// gradients in the source plane, preconditioned by the Fourier-diagonal
// F⁻¹ diag(1/P + σ⁻² + a) F, a the mean of diag(Aᵀ W Σ_n⁻¹ A). When the
// prior is itself Gaussian and the proxy equals it, x̂₀ and S_t are the exact
// moments of p(x₀ | x_t) and this is the exact likelihood score
// ∇ₓ log p_t(y|x) (see TestProjectedExactForGRF); the paper's convolved
// likelihood instead sets x̂₀ = x, S_t = σ² I and ∂x̂₀/∂x = I, which is
// right only when σ(t) is small against the prior's spread.
//
// For a learned prior the proxy is a GRF fitted to the training images
// (FitGRF): it supplies only the uncertainty of x₀ given x_t, while the
// network supplies the mean.
type Projected struct {
	a       Operator
	y, w    []float64 // w_i = W_ii / σ_n,i²
	proxy   *GRF
	sigma   func(float64) float64
	aMean   float64
	tol     float64
	maxIter int
	pool    fftPool
	opHash  string

	calls, iters atomic.Int64
}

// fftWork is one goroutine's 2-D FFT state.
type fftWork struct {
	fx, fy   *fourier.CmplxFFT
	rx       *fourier.FFT // real rows, for the half spectra of the CG
	buf, col []complex128
	// CG, on half spectra (ky, kx ≤ nx/2), ny·(nx/2+1) values: the
	// residual, the direction, a work spectrum, 1/P + σ⁻², the
	// preconditioner 1/(1/P + σ⁻² + a) and the Parseval weight (1 or 2).
	fr, fp, fh []complex128
	d, m, wk   []float64
}

// NewProjected returns the Projected likelihood for y = A x + η with noise
// sigmaN (length 1 or M, positive on the kept pixels), mask keep (nil =
// all) and the Gaussian proxy of the prior (its grid must match A's source
// plane). CG stops at a relative residual of 1e-6 or after 500 iterations.
func NewProjected(a Operator, y, sigmaN []float64, keep []bool, proxy *GRF, sigma func(float64) float64) (*Projected, error) {
	c, err := newConvolved("projected", a, y, sigmaN, keep, sigma)
	if err != nil {
		return nil, err
	}
	if proxy == nil {
		return nil, errors.New("posterior: projected likelihood: nil Gaussian proxy")
	}
	m, n := a.Dims()
	if proxy.Dim() != n {
		return nil, fmt.Errorf("posterior: projected likelihood: proxy has %d pixels, operator %d source pixels", proxy.Dim(), n)
	}
	pl := &Projected{a: a, y: c.y, w: make([]float64, m), proxy: proxy, sigma: sigma, tol: 1e-6, maxIter: 500, opHash: c.opHash}
	for i := range pl.w {
		if c.keep[i] == 0 {
			continue
		}
		if !(c.noise2[i] > 0) {
			return nil, fmt.Errorf("posterior: projected likelihood: sigmaN must be positive on kept pixels (pixel %d)", i)
		}
		pl.w[i] = 1 / c.noise2[i]
	}
	// a = mean diag(AᵀWΣ⁻¹A) = E[zᵀAᵀWΣ⁻¹Az]/N for random signs z
	// (Hutchinson; 16 fixed probes).
	rng := rand.New(rand.NewPCG(11, 12))
	z, az := make([]float64, n), make([]float64, m)
	var s float64
	const probes = 16
	for range probes {
		for j := range z {
			z[j] = float64(2*rng.IntN(2) - 1)
		}
		a.Apply(az, z)
		for i, v := range az {
			s += pl.w[i] * v * v
		}
	}
	pl.aMean = s / probes / float64(n)
	nx, ny := proxy.Grid()
	pl.pool = fftPool{nx: nx, ny: ny, cg: true}
	return pl, nil
}

// fftPool is a free list of FFT states, one per goroutine that needed one
// at the same time. Unlike a sync.Pool it never drops them, so that a
// sampler's steps allocate nothing once every worker has had one.
type fftPool struct {
	mu     sync.Mutex
	free   []*fftWork
	nx, ny int
	cg     bool
}

func (p *fftPool) get() *fftWork {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := len(p.free); k > 0 {
		fw := p.free[k-1]
		p.free = p.free[:k-1]
		return fw
	}
	return newFFTWork(p.nx, p.ny, p.cg)
}

func (p *fftPool) put(fw *fftWork) {
	p.mu.Lock()
	p.free = append(p.free, fw)
	p.mu.Unlock()
}

// reserve makes at least k states available without allocating.
func (p *fftPool) reserve(k int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.free) < k {
		p.free = append(p.free, newFFTWork(p.nx, p.ny, p.cg))
	}
	p.free = slices.Grow(p.free, k) // put never grows the list either
}

// newFFTWork returns the 2-D FFT state of an nx×ny grid, with the CG's
// half-spectrum buffers when cg is set.
func newFFTWork(nx, ny int, cg bool) *fftWork {
	fw := &fftWork{fx: fourier.NewCmplxFFT(nx), fy: fourier.NewCmplxFFT(ny),
		buf: make([]complex128, nx*ny), col: make([]complex128, ny)}
	if !cg {
		return fw
	}
	h := nx/2 + 1
	fw.rx = fourier.NewFFT(nx)
	fw.fr, fw.fp, fw.fh = make([]complex128, ny*h), make([]complex128, ny*h), make([]complex128, ny*h)
	fw.d, fw.m, fw.wk = make([]float64, ny*h), make([]float64, ny*h), make([]float64, ny*h)
	for k := range fw.wk {
		fw.wk[k] = 2 // the mode and its conjugate, kx and nx − kx
		if kx := k % h; kx == 0 || 2*kx == nx {
			fw.wk[k] = 1
		}
	}
	return fw
}

// reserve prepares the FFT states of k goroutines scoring at once (the
// sampler's workers), so that no step allocates them.
func (pl *Projected) reserve(k int) { pl.pool.reserve(k) }

// Dim returns N.
func (pl *Projected) Dim() int { _, n := pl.a.Dims(); return n }

// ScratchLen returns 5N + M.
func (pl *Projected) ScratchLen() int { m, n := pl.a.Dims(); return 5*n + m }

// Fingerprint names the likelihood and hashes the operator, y, the weights
// and the proxy.
func (pl *Projected) Fingerprint() string {
	return fmt.Sprintf("projected(A=%s,y=%s,w=%s,proxy=%s)", pl.opHash, hashFloats(pl.y), hashFloats(pl.w), pl.proxy.Fingerprint())
}

// Proxy returns the Gaussian proxy.
func (pl *Projected) Proxy() *GRF { return pl.proxy }

// MeanIterations returns the mean number of CG iterations per score so far.
func (pl *Projected) MeanIterations() float64 {
	c := pl.calls.Load()
	if c == 0 {
		return 0
	}
	return float64(pl.iters.Load()) / float64(c)
}

// filter sets dst = F⁻¹ diag(f(P(k))) F (src − shift) (real part) on an
// nx×ny grid with spectrum p.
func (fw *fftWork) filter(dst, src []float64, nx, ny int, p []float64, shift float64, f func(p float64) float64) {
	for i, v := range src {
		fw.buf[i] = complex(v-shift, 0)
	}
	fft2(fw, nx, ny, false)
	for k, pk := range p {
		fw.buf[k] *= complex(f(pk), 0)
	}
	fft2(fw, nx, ny, true)
	inv := 1 / float64(len(p))
	for i := range dst {
		dst[i] = real(fw.buf[i]) * inv
	}
}

// rfft2 sets spec (ny rows of nx/2+1) to the 2-D DFT of the real ny×nx
// image x: real FFTs along the rows, then complex ones down the columns.
func (fw *fftWork) rfft2(spec []complex128, x []float64, nx, ny int) {
	h := nx/2 + 1
	for y := 0; y < ny; y++ {
		fw.rx.Coefficients(spec[y*h:(y+1)*h], x[y*nx:(y+1)*nx])
	}
	fw.columns(spec, h, ny, false)
}

// irfft2 sets x to the real image whose (half) 2-D DFT is spec, the
// normalised inverse of rfft2; spec is overwritten.
func (fw *fftWork) irfft2(x []float64, spec []complex128, nx, ny int) {
	h := nx/2 + 1
	fw.columns(spec, h, ny, true)
	inv := 1 / float64(nx*ny)
	for y := 0; y < ny; y++ {
		row := x[y*nx : (y+1)*nx]
		fw.rx.Sequence(row, spec[y*h:(y+1)*h])
		for i := range row {
			row[i] *= inv
		}
	}
}

// columns transforms in place each of the w columns of the ny×w array a
// (forward, or the unnormalised inverse).
func (fw *fftWork) columns(a []complex128, w, ny int, inverse bool) {
	for x := 0; x < w; x++ {
		for y := 0; y < ny; y++ {
			fw.col[y] = a[y*w+x]
		}
		if inverse {
			fw.fy.Sequence(fw.col, fw.col)
		} else {
			fw.fy.Coefficients(fw.col, fw.col)
		}
		for y := 0; y < ny; y++ {
			a[y*w+x] = fw.col[y]
		}
	}
}

// fft2 transforms fw.buf in place (forward, or the unnormalised inverse).
func fft2(fw *fftWork, nx, ny int, inverse bool) {
	for y := 0; y < ny; y++ {
		row := fw.buf[y*nx : (y+1)*nx]
		if inverse {
			fw.fx.Sequence(row, row)
		} else {
			fw.fx.Coefficients(row, row)
		}
	}
	fw.columns(fw.buf, nx, ny, inverse)
}

// Score writes the likelihood score using the proxy's own score as the
// prior's, i.e. the exact likelihood score when the prior is the proxy.
func (pl *Projected) Score(dst, x []float64, t float64, scratch []float64) {
	_, n := pl.a.Dims()
	ps := scratch[:n]
	fw := pl.pool.get()
	s := pl.sigma(t)
	s2 := s * s
	g := pl.proxy
	fw.filter(ps, x, g.nx, g.ny, g.p, g.mu, func(p float64) float64 { return -1 / (p + s2) })
	pl.pool.put(fw)
	pl.ScoreGivenPrior(dst, x, ps, t, scratch[n:])
}

// ScoreGivenPrior implements PriorAware. scratch needs 4N + M values.
func (pl *Projected) ScoreGivenPrior(dst, x, ps []float64, t float64, scratch []float64) {
	pl.solve(dst, x, ps, t, scratch)
	s := pl.sigma(t)
	inv := 1 / (s * s)
	for i := range dst[:pl.Dim()] {
		dst[i] *= inv
	}
}

// Cotangent implements CotangentLikelihood: with H w = b as in
// ScoreGivenPrior, v = Aᵀ(Σ_n + A S_t Aᵀ)⁻¹ W (y − A x̂₀) = b − AᵀWΣ_n⁻¹A w
// (Woodbury), so that the likelihood score is (∂x̂₀/∂x)ᵀ v with the prior's
// own Jacobian in place of the proxy's S_t/σ² (for the proxy itself,
// S_t/σ² · v = w/σ², ScoreGivenPrior's result). scratch needs 4N + M values.
func (pl *Projected) Cotangent(dst, x, ps []float64, t float64, scratch []float64) {
	m, n := pl.a.Dims()
	pl.solve(dst, x, ps, t, scratch)
	b, hp, img := scratch[n:2*n], scratch[3*n:4*n], scratch[4*n:4*n+m]
	pl.normal(hp, dst[:n], img)
	for i := range dst[:n] {
		dst[i] = b[i] - hp[i]
	}
}

// solve sets dst = H⁻¹ b, b = Aᵀ W Σ_n⁻¹ (y − A x̂₀) (left in scratch[N:2N]).
func (pl *Projected) solve(dst, x, ps []float64, t float64, scratch []float64) {
	m, n := pl.a.Dims()
	s := pl.sigma(t)
	s2 := s * s
	v := dst[:n]
	xh, b, p, hp := scratch[:n], scratch[n:2*n], scratch[2*n:3*n], scratch[3*n:4*n]
	img := scratch[4*n : 4*n+m]
	// x̂₀ = x + σ² ∇log p_t(x); b = Aᵀ W Σ⁻¹ (y − A x̂₀).
	for i := range xh {
		xh[i] = x[i] + s2*ps[i]
	}
	pl.a.Apply(img, xh)
	for i, yi := range pl.y {
		img[i] = pl.w[i] * (yi - img[i])
	}
	pl.a.Adjoint(b, img)
	clear(v)
	var bb float64
	for _, u := range b {
		bb += u * u
	}
	if bb == 0 {
		return
	}
	fw := pl.pool.get()
	defer pl.pool.put(fw)
	nx, ny := pl.proxy.nx, pl.proxy.ny
	h := nx/2 + 1
	nf := float64(n)
	for k := range fw.d {
		pk := pl.proxy.p[(k/h)*nx+k%h]
		fw.d[k] = 1/pk + 1/s2
		fw.m[k] = 1 / (fw.d[k] + pl.aMean)
	}
	// Preconditioned CG for H v = b from v = 0, H = F⁻¹ diag(d) F + AᵀWΣ⁻¹A,
	// preconditioner F⁻¹ diag(m) F. The residual and the direction are
	// carried as (half) spectra too, fr = F res and fp = F p, and dot
	// products of real vectors are taken in Fourier space (Parseval:
	// u·w = Σ_k ū_k w_k / N over all k, i.e. twice the modes 0 < kx < nx/2
	// of the half spectrum), so an iteration costs one real forward and one
	// real inverse 2-D FFT.
	// precond sets fh = m·fr, fp = fh + β fp, p = F⁻¹ fh + β p and returns
	// Σ m|fr|²/N.
	precond := func(beta float64) float64 {
		var rz float64
		for k, c := range fw.fr {
			mc := complex(fw.m[k], 0) * c
			rz += fw.wk[k] * fw.m[k] * (real(c)*real(c) + imag(c)*imag(c))
			fw.fh[k] = mc
			fw.fp[k] = mc + complex(beta, 0)*fw.fp[k]
		}
		fw.irfft2(hp, fw.fh, nx, ny)
		for i := range p {
			p[i] = hp[i] + beta*p[i]
		}
		return rz / nf
	}
	fw.rfft2(fw.fr, b, nx, ny)
	rz := precond(0)
	it := 0
	for it < pl.maxIter {
		it++
		// hp = AᵀWΣ⁻¹A p; F(Hp) = d·fp + F hp
		pl.normal(hp, p, img)
		fw.rfft2(fw.fh, hp, nx, ny)
		var php float64
		for k, c := range fw.fh {
			q := fw.fp[k]
			hk := complex(fw.d[k], 0)*q + c
			fw.fh[k] = hk
			php += fw.wk[k] * (real(q)*real(hk) + imag(q)*imag(hk))
		}
		alpha := rz / (php / nf)
		var rr float64
		for k, hk := range fw.fh {
			c := fw.fr[k] - complex(alpha, 0)*hk
			fw.fr[k] = c
			rr += fw.wk[k] * (real(c)*real(c) + imag(c)*imag(c))
		}
		for i := range v {
			v[i] += alpha * p[i]
		}
		if rr/nf <= pl.tol*pl.tol*bb {
			break
		}
		var rzNew float64
		for k, c := range fw.fr {
			rzNew += fw.wk[k] * fw.m[k] * (real(c)*real(c) + imag(c)*imag(c))
		}
		beta := rzNew / nf / rz
		rz = precond(beta)
	}
	pl.calls.Add(1)
	pl.iters.Add(int64(it))
}

// normal sets dst = AᵀWΣ_n⁻¹A x, using img (length M) as scratch.
func (pl *Projected) normal(dst, x, img []float64) {
	pl.a.Apply(img, x)
	for i := range img {
		img[i] *= pl.w[i]
	}
	pl.a.Adjoint(dst, img)
}
