package posterior

import (
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/linalg"
	"gonum.org/v1/gonum/mat"
)

// Evidence holds the one-time factorisation behind the exact Gaussian
// inversion of y = A x + η, η ~ N(0, N), under the family of priors
// N(μ₀, a² C) (C = LLᵀ the covariance of the prior given to NewEvidence).
// With W = keep/σ_n² and the eigendecomposition B̃ = Lᵀ AᵀWA L = V Λ Vᵀ,
// every evidence evaluation costs O(N) and a posterior O(N²).
type Evidence struct {
	prior GaussianPrior
	lib   *linalg.Lib
	n     int
	iso   float64   // s₀ when the prior is isotropic (L = s₀ I), else 0
	lam   []float64 // eigenvalues λ_k of B̃ (ascending, clamped at 0)
	gt    []float64 // row k: L v_k (isotropic prior: v_k, scaled by s₀ on use)
	ct    []float64 // c̃ = Vᵀ Lᵀ AᵀW (y − Aμ₀)
	rNr   float64   // (y − Aμ₀)ᵀ W (y − Aμ₀)
	logW  float64   // Σ log W_ii over kept pixels (= −log det N)
	mEff  int       // number of kept pixels
}

// NewEvidence forms B̃ = Lᵀ AᵀWA L (for an isotropic prior s₀²AᵀWA from the
// operator's sparse rows; otherwise (W^½AL)(W^½AL)ᵀ with one SYRK, L applied
// through ApplySqrt) and eigendecomposes it with package linalg (LAPACK
// dsyevd through OpenBLAS when available). Cost O(N³) once; memory: B̃ and
// its eigenvectors share one N×N array, plus dsyevd's 2N² workspace during
// the factorisation and, for a non-isotropic prior, the N×M matrix W^½AL
// while B̃ is formed (each N×N float64 array is 134 MB at N = 4096).
func NewEvidence(a Operator, y, sigmaN []float64, keep []bool, prior GaussianPrior) (*Evidence, error) {
	if a == nil || prior == nil {
		return nil, errors.New("posterior: inversion: nil operator or prior")
	}
	m, n := a.Dims()
	if prior.Dim() != n {
		return nil, fmt.Errorf("posterior: inversion: prior has %d pixels, operator has %d columns", prior.Dim(), n)
	}
	if len(y) != m {
		return nil, fmt.Errorf("posterior: inversion: y has %d pixels, operator has %d rows", len(y), m)
	}
	if len(sigmaN) != 1 && len(sigmaN) != m {
		return nil, fmt.Errorf("posterior: inversion: sigmaN has %d values, want 1 or %d", len(sigmaN), m)
	}
	if keep != nil && len(keep) != m {
		return nil, fmt.Errorf("posterior: inversion: mask has %d values, want %d", len(keep), m)
	}
	ev := &Evidence{prior: prior, n: n, lib: linalg.New()}
	w := make([]float64, m)
	for i := range w {
		s := sigmaN[0]
		if len(sigmaN) == m {
			s = sigmaN[i]
		}
		if keep != nil && !keep[i] {
			continue
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("posterior: inversion: sigmaN[%d] = %g must be positive and finite", i, s)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("posterior: inversion: y[%d] = %g is not finite", i, y[i])
		}
		w[i] = 1 / (s * s)
		ev.logW += math.Log(w[i])
		ev.mEff++
	}
	// Weighted residual W(y − Aμ₀).
	res := make([]float64, m)
	a.Apply(res, prior.Mean())
	for i := range res {
		res[i] = y[i] - res[i]
		ev.rNr += w[i] * res[i] * res[i]
		res[i] *= w[i]
	}
	b := make([]float64, n*n) // B̃, then Vᵀ
	c := make([]float64, n)   // Lᵀ AᵀW (y − Aμ₀)
	if iso, ok := prior.(*IsoGaussian); ok {
		ev.iso = iso.S()
		upperAtWA(b, a, w)
		s2 := ev.iso * ev.iso
		for i := range b {
			b[i] *= s2
		}
		a.Adjoint(c, res)
		for i := range c {
			c[i] *= ev.iso
		}
	} else {
		// Row j of x is W^½ A L e_j: B̃ = x xᵀ and c_j = x_j · W^½(y − Aμ₀).
		x := make([]float64, n*m)
		e := make([]float64, n)
		lc := make([]float64, n)
		sw := make([]float64, m) // W^½
		hr := make([]float64, m) // W^½ (y − Aμ₀)
		for i, wi := range w {
			sw[i] = math.Sqrt(wi)
			if wi > 0 {
				hr[i] = res[i] / sw[i]
			}
		}
		for j := 0; j < n; j++ {
			e[j] = 1
			prior.ApplySqrt(lc, e)
			e[j] = 0
			xj := x[j*m : (j+1)*m]
			a.Apply(xj, lc)
			var cj float64
			for i, wi := range sw {
				xj[i] *= wi
				cj += xj[i] * hr[i]
			}
			c[j] = cj
		}
		ev.lib.Syrk(false, n, m, 1, x, max(m, 1), 0, b, n)
	}
	ev.lam = make([]float64, n)
	if err := ev.lib.EigenSym(n, b, ev.lam); err != nil {
		return nil, fmt.Errorf("posterior: inversion: %w", err)
	}
	for k, l := range ev.lam {
		if l < 0 {
			ev.lam[k] = 0 // round-off on the PSD B̃
		}
	}
	ev.ct = make([]float64, n)
	for k := range ev.ct {
		var s float64
		for i, v := range b[k*n : (k+1)*n] {
			s += v * c[i]
		}
		ev.ct[k] = s
	}
	if ev.iso == 0 {
		// g_k = L v_k, overwriting v_k.
		lv := make([]float64, n)
		for k := 0; k < n; k++ {
			row := b[k*n : (k+1)*n]
			prior.ApplySqrt(lv, row)
			copy(row, lv)
		}
	}
	ev.gt = b
	return ev, nil
}

// upperAtWA accumulates the upper triangle of AᵀWA (row-major N×N) from the
// operator's columns A e_j, gathered once into sparse rows.
func upperAtWA(b []float64, a Operator, w []float64) {
	m, n := a.Dims()
	type ent struct {
		j int
		v float64
	}
	rows := make([][]ent, m)
	e := make([]float64, n)
	col := make([]float64, m)
	for j := 0; j < n; j++ {
		e[j] = 1
		a.Apply(col, e)
		e[j] = 0
		for i, v := range col {
			if v != 0 && w[i] != 0 {
				rows[i] = append(rows[i], ent{j, v})
			}
		}
	}
	for i, r := range rows {
		for p, u := range r {
			wu := w[i] * u.v
			row := b[u.j*n:]
			for _, v := range r[p:] {
				row[v.j] += wu * v.v
			}
		}
	}
}

// LogEvidence returns log p(y | a) = log N(y | Aμ₀, a² A C Aᵀ + N) over the
// kept pixels, via det(N + a²ACAᵀ) = det N · Π_k (1 + a²λ_k) and Woodbury:
// rᵀ(N + a²ACAᵀ)⁻¹r = rᵀWr − a² Σ_k c̃_k²/(1 + a²λ_k). It costs O(N).
func (ev *Evidence) LogEvidence(a float64) float64 {
	al := a * a
	var logdet, q float64
	for k, l := range ev.lam {
		f := 1 + al*l
		logdet += math.Log(f)
		q += ev.ct[k] * ev.ct[k] / f
	}
	quad := ev.rNr - al*q
	return -0.5 * (quad + logdet - ev.logW + float64(ev.mEff)*math.Log(2*math.Pi))
}

// Maximise returns the amplitude a in [lo, hi] maximising the evidence:
// a 61-point grid in log a, then golden-section refinement to 1e-6 in log a.
func (ev *Evidence) Maximise(lo, hi float64) (a, logEv float64, err error) {
	if !(lo > 0) || !(hi > lo) || math.IsInf(hi, 0) {
		return 0, 0, fmt.Errorf("posterior: evidence: bracket [%g, %g] must satisfy 0 < lo < hi < ∞", lo, hi)
	}
	f := func(u float64) float64 { return ev.LogEvidence(math.Exp(u)) }
	const grid = 61
	u0, u1 := math.Log(lo), math.Log(hi)
	h := (u1 - u0) / (grid - 1)
	best, bu := math.Inf(-1), u0
	for i := 0; i < grid; i++ {
		u := u0 + h*float64(i)
		if v := f(u); v > best {
			best, bu = v, u
		}
	}
	x0, x1 := math.Max(u0, bu-h), math.Min(u1, bu+h)
	g := (math.Sqrt(5) - 1) / 2
	c, d := x1-g*(x1-x0), x0+g*(x1-x0)
	fc, fd := f(c), f(d)
	for x1-x0 > 1e-6 {
		if fc > fd {
			x1, d, fd = d, c, fc
			c = x1 - g*(x1-x0)
			fc = f(c)
		} else {
			x0, c, fc = c, d, fd
			d = x0 + g*(x1-x0)
			fd = f(d)
		}
	}
	u := (x0 + x1) / 2
	if fu := f(u); fu < best {
		u = bu
	}
	return math.Exp(u), f(u), nil
}

// Inversion is the exact Gaussian posterior for one prior amplitude.
type Inversion struct {
	Mean, Std   []float64
	LogEvidence float64
	Scale       float64       // amplitude a: prior covariance a²Σ₀
	Prior       GaussianPrior // the scaled prior N(μ₀, a²Σ₀)
	Cov         *mat.SymDense // Σ_post when requested
}

// Posterior returns μ_post = μ₀ + Σ_k d_k c̃_k g_k and the per-pixel
// standard deviation from Σ_post = Σ_k d_k g_k g_kᵀ, where g_k = L v_k and
// d_k = 1/(λ_k + 1/a²) (O(N²)); the dense Σ_post too when fullCov is set
// (one SYRK, O(N³), and two more N×N arrays).
func (ev *Evidence) Posterior(a float64, fullCov bool) (*Inversion, error) {
	if !(a > 0) || math.IsInf(a, 0) {
		return nil, fmt.Errorf("posterior: inversion: amplitude %g must be positive and finite", a)
	}
	n := ev.n
	inv := &Inversion{Mean: make([]float64, n), Std: make([]float64, n), Scale: a, Prior: ev.prior.Scaled(a), LogEvidence: ev.LogEvidence(a)}
	gs := 1.0 // g_k = gs · gt[k]
	if ev.iso > 0 {
		gs = ev.iso
	}
	d := make([]float64, n)
	for k, l := range ev.lam {
		d[k] = gs * gs / (l + 1/(a*a))
		if !(d[k] > 0) || math.IsInf(d[k], 0) {
			return nil, errors.New("posterior: inversion: posterior precision is not positive definite")
		}
	}
	copy(inv.Mean, ev.prior.Mean())
	v := inv.Std // accumulates the variances
	for k := 0; k < n; k++ {
		g := ev.gt[k*n : (k+1)*n]
		zk, dk := d[k]*ev.ct[k]/gs, d[k]
		for i, gi := range g {
			inv.Mean[i] += zk * gi
			v[i] += dk * gi * gi
		}
	}
	for i, vi := range v {
		inv.Std[i] = math.Sqrt(math.Max(vi, 0))
	}
	if fullCov {
		y := make([]float64, n*n) // row k: √d_k g_k
		for k := 0; k < n; k++ {
			sk := math.Sqrt(d[k])
			for i, gi := range ev.gt[k*n : (k+1)*n] {
				y[k*n+i] = sk * gi
			}
		}
		cov := make([]float64, n*n)
		ev.lib.Syrk(true, n, n, 1, y, n, 0, cov, n)
		inv.Cov = mat.NewSymDense(n, cov)
	}
	return inv, nil
}

// InvertOptions configures Invert.
type InvertOptions struct {
	Keep     []bool  // image pixels used (nil = all)
	Scale    float64 // fixed prior amplitude a (> 0); 0 = maximise the evidence
	ScaleMin float64 // evidence search bracket (default 1e-3)
	ScaleMax float64 // (default 1e3)
	FullCov  bool    // also return the dense Σ_post
}

// Invert computes the exact Gaussian posterior of x given y = A x + η
// (Warren & Dye 2003; Suyu et al. 2006) under the prior N(μ₀, a²Σ₀), with
// the amplitude a fixed or chosen by maximising the evidence.
func Invert(a Operator, y, sigmaN []float64, prior GaussianPrior, opt InvertOptions) (*Inversion, error) {
	ev, err := NewEvidence(a, y, sigmaN, opt.Keep, prior)
	if err != nil {
		return nil, err
	}
	s := opt.Scale
	if s == 0 {
		lo, hi := opt.ScaleMin, opt.ScaleMax
		if lo == 0 {
			lo = 1e-3
		}
		if hi == 0 {
			hi = 1e3
		}
		if s, _, err = ev.Maximise(lo, hi); err != nil {
			return nil, err
		}
	}
	return ev.Posterior(s, opt.FullCov)
}
