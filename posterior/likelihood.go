package posterior

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/linalg"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// hashFloats returns a short hex SHA-256 of the values' bit patterns.
func hashFloats(v []float64) string {
	h := sha256.New()
	var b [8]byte
	for _, x := range v {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Convolved is the Gaussian likelihood of y = A x + η with the diffusion
// noise convolved in image space (Adam et al. 2022, eq. 19):
//
//	∇ₓ log p_t(y|x) = Aᵀ W (y − A x) ⊘ (σ_n² + σ(t)² d)
//
// where W is the 0/1 mask, σ_n the (per-pixel) noise and d = 1 (the paper's
// choice, NewConvolved) or d_i = (AAᵀ)_ii (NewDiag).
type Convolved struct {
	a      Operator
	y      []float64
	noise2 []float64 // σ_n,i²
	keep   []float64 // W_ii ∈ {0,1}
	d      []float64 // multiplier of σ(t)²
	sigma  func(float64) float64
	name   string
	opHash string // hash of A and Aᵀ applied to fixed probe vectors
}

// operatorHash identifies a linear operator by its action on two fixed
// probe vectors (one through A, one through Aᵀ), so that a checkpoint made
// with one lens model, PSF or grid is not resumed with another.
func operatorHash(a Operator) string {
	m, n := a.Dims()
	x, r := make([]float64, n), make([]float64, m)
	for j := range x {
		x[j] = math.Sin(0.7*float64(j)+0.3) + 0.1
	}
	for i := range r {
		r[i] = math.Cos(1.3*float64(i)+0.2) - 0.05
	}
	ax, atr := make([]float64, m), make([]float64, n)
	a.Apply(ax, x)
	a.Adjoint(atr, r)
	return hashFloats(append(ax, atr...))
}

func newConvolved(name string, a Operator, y, sigmaN []float64, keep []bool, sigma func(float64) float64) (*Convolved, error) {
	if a == nil {
		return nil, errors.New("posterior: likelihood: nil operator")
	}
	if sigma == nil {
		return nil, errors.New("posterior: likelihood: nil noise schedule")
	}
	m, _ := a.Dims()
	if len(y) != m {
		return nil, fmt.Errorf("posterior: likelihood: y has %d pixels, operator has %d rows", len(y), m)
	}
	if len(sigmaN) != 1 && len(sigmaN) != m {
		return nil, fmt.Errorf("posterior: likelihood: sigmaN has %d values, want 1 or %d", len(sigmaN), m)
	}
	if keep != nil && len(keep) != m {
		return nil, fmt.Errorf("posterior: likelihood: mask has %d values, want %d", len(keep), m)
	}
	c := &Convolved{a: a, y: append([]float64(nil), y...), noise2: make([]float64, m), keep: make([]float64, m), d: make([]float64, m), sigma: sigma, name: name, opHash: operatorHash(a)}
	for i := 0; i < m; i++ {
		s := sigmaN[0]
		if len(sigmaN) == m {
			s = sigmaN[i]
		}
		if !(s >= 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("posterior: likelihood: sigmaN[%d] = %g must be non-negative and finite", i, s)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("posterior: likelihood: y[%d] = %g is not finite", i, y[i])
		}
		c.noise2[i] = s * s
		c.d[i] = 1
		if keep == nil || keep[i] {
			c.keep[i] = 1
		}
	}
	return c, nil
}

// NewConvolved returns the paper's likelihood (d = 1). sigmaN has length 1
// (uniform noise) or M (noise map); keep (nil = all) marks the image pixels
// that enter the likelihood (W_ii = 1 where keep[i]).
func NewConvolved(a Operator, y, sigmaN []float64, keep []bool, sigma func(float64) float64) (*Convolved, error) {
	return newConvolved("convolved", a, y, sigmaN, keep, sigma)
}

// NewDiag returns the variant with σ(t)² diag(AAᵀ) in place of σ(t)² I. The
// row norms come from the operator's RowNorms2 when it implements RowNormer,
// otherwise from M adjoint applications.
func NewDiag(a Operator, y, sigmaN []float64, keep []bool, sigma func(float64) float64) (*Convolved, error) {
	c, err := newConvolved("diag", a, y, sigmaN, keep, sigma)
	if err != nil {
		return nil, err
	}
	m, n := a.Dims()
	switch rn := a.(type) {
	case RowNormer:
		d := rn.RowNorms2()
		if len(d) != m {
			return nil, fmt.Errorf("posterior: diag likelihood: RowNorms2 returned %d values, want %d", len(d), m)
		}
		copy(c.d, d)
	case interface{ RowNorms2(dst []float64) }:
		rn.RowNorms2(c.d)
	default:
		e := make([]float64, m)
		col := make([]float64, n)
		for i := 0; i < m; i++ {
			e[i] = 1
			a.Adjoint(col, e)
			e[i] = 0
			var s float64
			for _, v := range col {
				s += v * v
			}
			c.d[i] = s
		}
	}
	return c, nil
}

// Dim returns N.
func (c *Convolved) Dim() int { _, n := c.a.Dims(); return n }

// ScratchLen returns M.
func (c *Convolved) ScratchLen() int { m, _ := c.a.Dims(); return m }

// Fingerprint names the variant and hashes the operator, y, the noise and
// the mask.
func (c *Convolved) Fingerprint() string {
	return fmt.Sprintf("%s(A=%s,y=%s,noise=%s,mask=%s)", c.name, c.opHash, hashFloats(c.y), hashFloats(c.noise2), hashFloats(c.keep))
}

// Score writes Aᵀ W (y − A x) ⊘ (σ_n² + σ(t)² d) into dst.
func (c *Convolved) Score(dst, x []float64, t float64, r []float64) {
	s := c.sigma(t)
	s2 := s * s
	c.a.Apply(r, x)
	for i, yi := range c.y {
		r[i] = c.keep[i] * (yi - r[i]) / (c.noise2[i] + s2*c.d[i])
	}
	c.a.Adjoint(dst, r)
}

// Gaussian is a multivariate normal N(Mean, Cov).
type Gaussian struct {
	Mean []float64
	Cov  *mat.SymDense
}

// eigOp applies (S + σ²I)⁻¹ through S = Σ_k λ_k v_k v_kᵀ; for S = s² I
// (scalar) it needs no eigenvectors.
type eigOp struct {
	n      int
	vt     []float64 // row-major N×N, row k is v_k (nil when scalar)
	lam    []float64
	scalar float64 // s² when S = s² I
}

// newEigOp eigendecomposes s with package linalg (LAPACK dsyevd when
// OpenBLAS is available). The only N×N array kept is Vᵀ; the copy of s it
// starts from becomes Vᵀ in place.
func newEigOp(lib *linalg.Lib, s *mat.SymDense, what string) (*eigOp, error) {
	n := s.SymmetricDim()
	raw := s.RawSymmetric()
	vt := make([]float64, n*n)
	for i := 0; i < n; i++ {
		copy(vt[i*n+i:(i+1)*n], raw.Data[i*raw.Stride+i:i*raw.Stride+n]) // upper triangle
	}
	op := &eigOp{n: n, vt: vt, lam: make([]float64, n)}
	if err := lib.EigenSym(n, vt, op.lam); err != nil {
		return nil, fmt.Errorf("posterior: exact likelihood: eigendecomposition of the %s covariance: %w", what, err)
	}
	for i, l := range op.lam {
		if l < 0 {
			op.lam[i] = 0 // round-off on a PSD matrix
		}
	}
	return op, nil
}

// apply adds sign·(S + s2 I)⁻¹ d into dst; w is scratch of length n.
func (o *eigOp) apply(dst, d []float64, s2, sign float64, w []float64) {
	if o.vt == nil {
		f := sign / (o.scalar + s2)
		for i, v := range d {
			dst[i] += f * v
		}
		return
	}
	impl := blas64.Implementation()
	impl.Dgemv(blas.NoTrans, o.n, o.n, 1, o.vt, o.n, d, 1, 0, w, 1)
	for i, l := range o.lam {
		w[i] /= l + s2
	}
	impl.Dgemv(blas.Trans, o.n, o.n, sign, o.vt, o.n, w, 1, 1, dst, 1)
}

// Exact is the exact time-t likelihood score for a Gaussian prior:
// ∇ log p_t(x|y) − ∇ log p_t(x) with p_t(x|y) = N(μ_post, Σ_post + σ²I) and
// p_t(x) = N(μ₀, Σ₀ + σ²I). It costs O(N²) per call; for validation.
type Exact struct {
	post, prior *eigOp
	muPost      []float64
	muPrior     []float64
	sigma       func(float64) float64
	name        string
	batch       exactBatch // ScoreBatch's buffers
}

// NewExact eigendecomposes Σ_post and Σ₀ once (Σ₀ = s²I of an IsoGaussian
// needs none). At N = 4096 each eigendecomposition is one LAPACK dsyevd
// and Exact keeps one N×N array (134 MB) per covariance.
func NewExact(post *Gaussian, prior GaussianPrior, sigma func(float64) float64) (*Exact, error) {
	if post == nil || post.Cov == nil || prior == nil || sigma == nil {
		return nil, errors.New("posterior: exact likelihood: nil posterior, prior or schedule")
	}
	n := prior.Dim()
	if len(post.Mean) != n || post.Cov.SymmetricDim() != n {
		return nil, fmt.Errorf("posterior: exact likelihood: posterior has dimension %d/%d, prior %d", len(post.Mean), post.Cov.SymmetricDim(), n)
	}
	lib := linalg.New()
	p, err := newEigOp(lib, post.Cov, "posterior")
	if err != nil {
		return nil, err
	}
	var q *eigOp
	if iso, ok := prior.(*IsoGaussian); ok {
		q = &eigOp{n: n, scalar: iso.S() * iso.S()}
	} else if q, err = newEigOp(lib, prior.Cov(), "prior"); err != nil {
		return nil, err
	}
	name := "exact(post=" + hashFloats(post.Mean) + ")"
	return &Exact{post: p, prior: q, muPost: append([]float64(nil), post.Mean...), muPrior: append([]float64(nil), prior.Mean()...), sigma: sigma, name: name}, nil
}

// Dim returns N.
func (e *Exact) Dim() int { return len(e.muPost) }

// ScratchLen returns 2N.
func (e *Exact) ScratchLen() int { return 2 * len(e.muPost) }

// Fingerprint names the likelihood.
func (e *Exact) Fingerprint() string { return e.name }

// Score writes −(Σ_post+σ²I)⁻¹(x−μ_post) + (Σ₀+σ²I)⁻¹(x−μ₀).
func (e *Exact) Score(dst, x []float64, t float64, scratch []float64) {
	n := len(x)
	s := e.sigma(t)
	s2 := s * s
	d, w := scratch[:n], scratch[n:2*n]
	for i := range dst {
		dst[i] = 0
		d[i] = x[i] - e.muPost[i]
	}
	e.post.apply(dst, d, s2, -1, w)
	for i := range d {
		d[i] = x[i] - e.muPrior[i]
	}
	e.prior.apply(dst, d, s2, 1, w)
}
