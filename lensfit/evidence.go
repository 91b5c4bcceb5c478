package lensfit

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"runtime"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/linalg"
	"github.com/lenscore/lenscore/posterior"
)

// Data is an observation: the image y (M pixels), the noise σ (one value or
// a map of M) and the mask (nil: every pixel is used; false: excluded).
type Data struct {
	Y      []float64
	SigmaN []float64
	Keep   []bool
}

// Component is an extra linear component of the model: an image-plane
// template (M pixels, as it would be observed, i.e. with the PSF applied if
// it should be) whose amplitude b is solved for together with the source,
// under the Gaussian prior b ~ N(Mean, Sigma²). A lens-light Sérsic of
// unit amplitude with a wide Sigma is the typical use.
type Component struct {
	Image       []float64
	Mean, Sigma float64
}

// Evidence evaluates log p(y | lens, a) with the pixelated source
// integrated out under the Gaussian prior N(μ₀, a²Σ₀) (and any extra
// components' amplitudes under theirs): see the package documentation for
// the formula. It keeps its dense (N+K)² work matrix between calls; it is
// not safe for concurrent use.
type Evidence struct {
	rows   *lens.Rows
	lib    *linalg.Lib
	m, n   int
	y, w   []float64
	mu0    []float64
	prec   []float64 // Σ₀⁻¹ (N×N row-major), nil for an isotropic prior
	isoS   float64   // s of an isotropic prior N(μ₀, s²I)
	logDet float64   // log det Σ₀
	logW   float64   // Σ log W_ii over kept pixels
	mEff   int

	// work, sized for the largest K seen
	h, c, r []float64
	k       int     // extra components of the last evaluation
	ld      int     // N + k
	ok      bool    // h holds the Cholesky factor of the last evaluation
	last    float64 // its log evidence
	logA    float64
	extra   []Component

	cfg       lens.Config
	data      Data
	prior     posterior.GaussianPrior
	cfgN      int   // side of the observed grid
	route     Route // requested route
	lastRoute Route // route of the last successful evaluation
	ds        dataSpace
	goThreads int     // goroutines of the data-space route's loops
	lnnz      int     // stored entries of L of the last Build
	acc       float64 // multiply–adds of the source route outside the factorisation
}

// smallN is the source size below which the factorisation runs on one
// thread.
const smallN = 2048

// NewEvidence prepares the evidence of data on the geometry cfg under the
// Gaussian source prior (posterior.GRF or posterior.IsoGaussian). It checks
// the data (sizes, finite values, positive noise, a non-empty mask).
func NewEvidence(cfg lens.Config, d Data, prior posterior.GaussianPrior) (*Evidence, error) {
	rows, err := lens.NewRows(cfg)
	if err != nil {
		return nil, err
	}
	m, n := rows.Dims()
	if prior == nil || prior.Dim() != n {
		return nil, fmt.Errorf("lensfit: evidence: the source prior must have %d pixels", n)
	}
	if len(d.Y) != m {
		return nil, fmt.Errorf("lensfit: evidence: the observation has %d pixels, the geometry %d", len(d.Y), m)
	}
	if len(d.SigmaN) != 1 && len(d.SigmaN) != m {
		return nil, fmt.Errorf("lensfit: evidence: the noise has %d values, want 1 or %d", len(d.SigmaN), m)
	}
	if d.Keep != nil && len(d.Keep) != m {
		return nil, fmt.Errorf("lensfit: evidence: the mask has %d values, want %d", len(d.Keep), m)
	}
	e := &Evidence{rows: rows, lib: linalg.New(), m: m, n: n, y: append([]float64(nil), d.Y...), w: make([]float64, m), cfgN: cfg.Obs.N, cfg: cfg, data: d, prior: prior,
		goThreads: runtime.GOMAXPROCS(0)}
	if n < smallN {
		e.lib.SetThreads(1) // threads cost more than they save on small matrices
	}
	for i := range e.w {
		if d.Keep != nil && !d.Keep[i] {
			continue
		}
		s := d.SigmaN[0]
		if len(d.SigmaN) == m {
			s = d.SigmaN[i]
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("lensfit: evidence: noise σ of pixel %d is %g, want positive and finite", i, s)
		}
		if math.IsNaN(d.Y[i]) || math.IsInf(d.Y[i], 0) {
			return nil, fmt.Errorf("lensfit: evidence: pixel %d of the observation is %g", i, d.Y[i])
		}
		e.w[i] = 1 / (s * s)
		e.logW += math.Log(e.w[i])
		e.mEff++
	}
	if e.mEff == 0 {
		return nil, errors.New("lensfit: evidence: the mask excludes every pixel")
	}
	if err := e.SetPrior(prior); err != nil {
		return nil, err
	}
	return e, nil
}

// SetPrior replaces the Gaussian source prior (same number of pixels)
// without rebuilding the geometry: the way to vary a hyperparameter of the
// prior's shape, such as the spectral tilt of TiltedGRF, between
// evaluations. It costs O(N²) (the dense GRF precision), negligible beside
// one evaluation.
func (e *Evidence) SetPrior(prior posterior.GaussianPrior) error {
	if prior == nil || prior.Dim() != e.n {
		return fmt.Errorf("lensfit: evidence: the source prior must have %d pixels", e.n)
	}
	e.ok = false
	e.mu0 = append(e.mu0[:0], prior.Mean()...)
	switch p := prior.(type) {
	case *posterior.IsoGaussian:
		e.prec, e.isoS, e.ds.kern2 = nil, p.S(), nil
		e.logDet = float64(e.n) * 2 * math.Log(e.isoS)
	case *posterior.GRF:
		e.prec, e.logDet = grfPrecision(p, e.prec)
		nx, ny := p.Grid()
		e.ds.prepareKernel(circulantKernel(p.Spectrum(), nx, ny, func(v float64) float64 { return v }), nx, ny)
	default:
		return fmt.Errorf("lensfit: evidence: unsupported source prior %T (want a GRF or an isotropic Gaussian)", prior)
	}
	e.prior = prior
	return nil
}

// grfPrecision returns the dense circulant Σ₀⁻¹ = F⁻¹ diag(1/P) F of a GRF
// (in buf when it has room) and log det Σ₀ = Σ_k log P(k).
func grfPrecision(g *posterior.GRF, buf []float64) ([]float64, float64) {
	nx, ny := g.Grid()
	p := g.Spectrum()
	var logDet float64
	for _, v := range p {
		logDet += math.Log(v)
	}
	c := circulantKernel(p, nx, ny, func(v float64) float64 { return 1 / v })
	n := nx * ny
	prec := buf[:0]
	if cap(prec) < n*n {
		prec = make([]float64, n*n)
	}
	prec = prec[:n*n]
	for i := 0; i < n; i++ {
		yi, xi := i/nx, i%nx
		for j := 0; j < n; j++ {
			yj, xj := j/nx, j%nx
			prec[i*n+j] = c[((yi-yj+ny)%ny)*nx+(xi-xj+nx)%nx]
		}
	}
	return prec, logDet
}

// circulantKernel returns the first row c(dy, dx) of the circulant
// F⁻¹ diag(f(P)) F on an ny×nx periodic grid:
// c(dy, dx) = (1/N) Σ_k f(P(k)) exp(2πi(ky dy/ny + kx dx/nx)), separably.
func circulantKernel(p []float64, nx, ny int, f func(float64) float64) []float64 {
	t := make([]complex128, ny*nx) // [ky][dx]
	for ky := 0; ky < ny; ky++ {
		for dx := 0; dx < nx; dx++ {
			var s complex128
			for kx := 0; kx < nx; kx++ {
				s += complex(f(p[ky*nx+kx]), 0) * cmplx.Rect(1, 2*math.Pi*float64(kx*dx%nx)/float64(nx))
			}
			t[ky*nx+dx] = s
		}
	}
	c := make([]float64, ny*nx)
	for dy := 0; dy < ny; dy++ {
		for dx := 0; dx < nx; dx++ {
			var s complex128
			for ky := 0; ky < ny; ky++ {
				s += t[ky*nx+dx] * cmplx.Rect(1, 2*math.Pi*float64(ky*dy%ny)/float64(ny))
			}
			c[dy*nx+dx] = real(s) / float64(nx*ny)
		}
	}
	return c
}

// SetRoute selects the factorisation route of LogEvidence (RouteAuto by
// default). Both routes give the same log evidence up to rounding.
func (e *Evidence) SetRoute(r Route) { e.route = r }

// LastRoute returns the route the last successful LogEvidence took.
func (e *Evidence) LastRoute() Route { return e.lastRoute }

// Dims returns (M, N): observed and source pixels.
func (e *Evidence) Dims() (m, n int) { return e.m, e.n }

// Rows returns the composed operator of the last evaluation.
func (e *Evidence) Rows() *lens.Rows { return e.rows }

// SetThreads sets the number of threads of the dense factorisation and of
// the data-space route's loops.
func (e *Evidence) SetThreads(n int) {
	e.lib.SetThreads(n)
	e.goThreads = max(1, n)
}

// LogEvidence returns log p(y | mass, a) with the source (and the extra
// components' amplitudes) integrated out; logA = ln a scales the source
// prior's covariance by a² = exp(2 logA). It fails if the precision is not
// positive definite (which needs a degenerate prior) or a component is
// malformed.
func (e *Evidence) LogEvidence(mass lens.Mass, logA float64, extra []Component) (float64, error) {
	e.ok = false
	if math.IsNaN(logA) || math.IsInf(logA, 0) {
		return 0, fmt.Errorf("lensfit: evidence: log amplitude %g is not finite", logA)
	}
	k := len(extra)
	for i, c := range extra {
		if len(c.Image) != e.m || !(c.Sigma > 0) || math.IsInf(c.Sigma, 0) || math.IsNaN(c.Mean) || math.IsInf(c.Mean, 0) {
			return 0, fmt.Errorf("lensfit: evidence: component %d needs %d pixels, a finite mean and sigma > 0", i, e.m)
		}
	}
	n, m := e.n, e.m
	ld := n + k
	if cap(e.c) < ld {
		e.c, e.r = make([]float64, ld), make([]float64, max(ld, m))
	}
	c, r := e.c[:ld], e.r[:m]
	e.rows.Build(mass)
	// Residual r = y − Aμ₀ − Σ_k mean_k B_k.
	e.rows.Apply(r, e.mu0)
	for i := range r {
		r[i] = e.y[i] - r[i]
	}
	for _, comp := range extra {
		if comp.Mean != 0 {
			for i, v := range comp.Image {
				r[i] -= comp.Mean * v
			}
		}
	}
	route := e.route
	if route != RouteSource {
		mi, mj := e.dataSets()
		if route == RouteAuto {
			e.lnnz, e.acc = 0, float64(n)*float64(n)/2
			for i := 0; i < m; i++ {
				li, _ := e.rows.LensRow(i)
				e.lnnz += len(li)
				if e.w[i] != 0 {
					ai, _ := e.rows.Row(i)
					e.acc += float64(len(ai)*(len(ai)+1)) / 2
				}
			}
			route = RouteSource
			if dc, sc := e.routeCosts(mi, mj, ld); dc < sc {
				route = RouteData
			}
		}
	}
	if route == RouteData {
		lp, err := e.logEvidenceData(r, logA, extra)
		if err != nil {
			return 0, err
		}
		e.ok, e.k, e.ld, e.last, e.logA, e.extra, e.lastRoute = true, k, ld, lp, logA, extra, RouteData
		return lp, nil
	}
	// H (lower triangle) = prior precision, then + [A B]ᵀ W [A B].
	if cap(e.h) < ld*ld {
		e.h = make([]float64, ld*ld)
	}
	h := e.h[:ld*ld]
	inv := math.Exp(-2 * logA)
	if e.prec != nil {
		for i := 0; i < n; i++ {
			row, src := h[i*ld:i*ld+i+1], e.prec[i*n:i*n+i+1]
			for j, v := range src {
				row[j] = inv * v
			}
		}
	} else {
		d := inv / (e.isoS * e.isoS)
		for i := 0; i < n; i++ {
			clear(h[i*ld : i*ld+i])
			h[i*ld+i] = d
		}
	}
	for a := 0; a < k; a++ {
		clear(h[(n+a)*ld : (n+a)*ld+n+a+1])
		h[(n+a)*ld+n+a] = 1 / (extra[a].Sigma * extra[a].Sigma)
	}
	clear(c)
	var rWr float64
	for i := 0; i < m; i++ {
		wi := e.w[i]
		if wi == 0 {
			continue
		}
		rWr += wi * r[i] * r[i]
		wr := wi * r[i]
		idx, val := e.rows.Row(i)
		for q, jq := range idx {
			wv := wi * val[q]
			c[jq] += wr * val[q]
			row := h[int(jq)*ld:]
			for p, jp := range idx[:q+1] {
				row[jp] += wv * val[p]
			}
		}
		for a := 0; a < k; a++ {
			ba := wi * extra[a].Image[i]
			if ba == 0 {
				continue
			}
			row := h[(n+a)*ld:]
			for q, jq := range idx {
				row[jq] += ba * val[q]
			}
			for b := 0; b <= a; b++ {
				row[n+b] += ba * extra[b].Image[i]
			}
			c[n+a] += ba * r[i]
		}
	}
	if err := e.lib.Cholesky(ld, h); err != nil {
		return 0, fmt.Errorf("lensfit: evidence: posterior precision: %w", err)
	}
	var logDetH float64
	for i := 0; i < ld; i++ {
		logDetH += math.Log(h[i*ld+i])
	}
	logDetH *= 2
	u := e.r[:ld] // r is no longer needed
	copy(u, c)
	e.lib.Trsm(true, true, false, false, ld, 1, 1, h, ld, u, 1)
	var uu float64
	for _, v := range u {
		uu += v * v
	}
	logDetS := e.logDet + 2*float64(n)*logA
	for _, comp := range extra {
		logDetS += 2 * math.Log(comp.Sigma)
	}
	lp := -0.5 * (rWr - uu + logDetH + logDetS - e.logW + float64(e.mEff)*math.Log(2*math.Pi))
	e.ok, e.k, e.ld, e.last, e.logA, e.extra, e.lastRoute = true, k, ld, lp, logA, extra, RouteSource
	return lp, nil
}

// PosteriorMean writes the posterior mean of the source (N pixels) and of
// the extra components' amplitudes (K values) of the last successful
// LogEvidence call: μ₀ + H⁻¹c, from the factor that call left behind.
func (e *Evidence) PosteriorMean(src, amps []float64) error {
	if !e.ok {
		return errors.New("lensfit: evidence: no successful evaluation to take the posterior mean of")
	}
	if len(src) != e.n || len(amps) != e.k {
		return fmt.Errorf("lensfit: evidence: posterior mean needs %d source values and %d amplitudes, got %d and %d", e.n, e.k, len(src), len(amps))
	}
	if e.lastRoute == RouteData {
		e.posteriorMeanData(src, amps)
		return nil
	}
	ld := e.ld
	u := make([]float64, ld)
	copy(u, e.c[:ld])
	e.lib.Trsm(true, true, false, false, ld, 1, 1, e.h[:ld*ld], ld, u, 1)
	e.lib.Trsm(true, true, true, false, ld, 1, 1, e.h[:ld*ld], ld, u, 1)
	for j := range src {
		src[j] = e.mu0[j] + u[j]
	}
	for a := range amps {
		amps[a] = e.extra[a].Mean + u[e.n+a]
	}
	return nil
}
