package posterior

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/lenscore/lenscore/progress"

	"gonum.org/v1/gonum/mat"
)

// KrylovOptions configures NewKrylovEvidence and KrylovEvidence.Posterior.
type KrylovOptions struct {
	// Iterations bounds the Lanczos steps of the data term (default 300,
	// at most N); the quadrature stops earlier when it has converged.
	Iterations int
	// Probes is the number of Rademacher vectors of the log-determinant
	// estimate (default 32); ProbeIterations the Lanczos steps per probe
	// (default 80, at most N).
	Probes, ProbeIterations int
	// UnitProbes uses the N unit vectors as probes instead: the trace is
	// then exact (up to the Lanczos quadrature), at N probe runs — for
	// small problems and tests.
	UnitProbes bool
	// Samples is the number of exact posterior samples whose spread gives
	// the per-pixel standard deviation (default 32).
	Samples int
	// Tol is the relative residual at which the conjugate-gradient solves
	// of the mean and the samples stop (default 1e-8).
	Tol  float64
	Seed uint64
	// Progress receives progress lines (nil: none): the Lanczos runs of
	// NewKrylovEvidence, the solves of Posterior.
	Progress io.Writer
	// Context, when not nil, stops NewKrylovEvidence and Posterior with its
	// error once it is done (checked at every operator application).
	Context context.Context
}

// KrylovEvidence is the matrix-free counterpart of Evidence for sources too
// large for its dense N×N factorisation (a 256² source has N = 65,536).
// In the whitened coordinates x = μ₀ + a L u (C = LLᵀ, L symmetric: the
// isotropic Gaussian's s₀I or the GRF's F⁻¹diag(√P)F) with
// B̃ = Lᵀ AᵀWA L and c = Lᵀ AᵀW (y − Aμ₀), as for Evidence,
//
//	log p(y | a) = −½ [ rᵀWr − a² cᵀ(I + a²B̃)⁻¹c + log det(I + a²B̃) − log det W + M log 2π ].
//
// The quadratic term is ‖c‖² e₁ᵀ(I + a²T)⁻¹e₁ with T the Lanczos
// tridiagonal matrix of B̃ started from c (Gauss quadrature, converging
// fast; full re-orthogonalisation); the log-determinant is stochastic
// Lanczos quadrature (Ubaru, Chen & Saad 2017): the mean over Rademacher
// probes v of ‖v‖² Σᵢ τᵢ² log(1 + a²θᵢ), θᵢ the Ritz values of B̃ from v and
// τᵢ the first components of their eigenvectors — an unbiased estimate of
// the trace whose standard error LogDetStdErr reports. Both are computed
// once; every amplitude a then costs O(k) per probe, so the evidence is
// maximised as cheaply as Evidence's. The posterior mean solves
// (I + a²B̃) u = a c by conjugate gradients, and the standard deviation is
// the spread of exact posterior samples u = (I + a²B̃)⁻¹(a c + ξ + a LᵀAᵀW^½ η),
// ξ ~ N(0, I_N), η ~ N(0, I_M): a Monte Carlo estimate with relative error
// ≈ 1/√(2K) for K samples. One application of B̃ costs one A, one Aᵀ and
// two applications of L.
type KrylovEvidence struct {
	prior GaussianPrior
	op    Operator
	n, m  int
	w     []float64 // 1/σ² on kept pixels, 0 elsewhere
	sw    []float64 // W^½
	c     []float64
	cn    float64
	rNr   float64
	logW  float64
	mEff  int
	alpha []float64 // Lanczos of B̃ from c
	beta  []float64
	probe []slqProbe
	opt   KrylovOptions

	bufN1, bufN2 []float64
	bufM         []float64
}

type slqProbe struct {
	theta, tau2 []float64
	norm2       float64
}

func (o KrylovOptions) withDefaults(n int) KrylovOptions {
	if o.Iterations <= 0 {
		o.Iterations = 300
	}
	if o.Probes <= 0 {
		o.Probes = 32
	}
	if o.ProbeIterations <= 0 {
		o.ProbeIterations = 80
	}
	if o.Samples <= 0 {
		o.Samples = 32
	}
	if !(o.Tol > 0) {
		o.Tol = 1e-8
	}
	o.Iterations = min(o.Iterations, n)
	o.ProbeIterations = min(o.ProbeIterations, n)
	return o
}

// NewKrylovEvidence prepares the matrix-free inversion of y = A x + η,
// η ~ N(0, diag σ_n²) over the kept pixels, under priors N(μ₀, a²C) with C
// the covariance of prior (an *IsoGaussian or a *GRF).
func NewKrylovEvidence(a Operator, y, sigmaN []float64, keep []bool, prior GaussianPrior, opt KrylovOptions) (*KrylovEvidence, error) {
	if a == nil || prior == nil {
		return nil, errors.New("posterior: Krylov inversion: nil operator or prior")
	}
	switch prior.(type) {
	case *IsoGaussian, *GRF:
	default:
		return nil, fmt.Errorf("posterior: Krylov inversion: prior %T has no symmetric square root (want an isotropic Gaussian or a GRF)", prior)
	}
	m, n := a.Dims()
	switch {
	case prior.Dim() != n:
		return nil, fmt.Errorf("posterior: Krylov inversion: prior has %d pixels, operator has %d columns", prior.Dim(), n)
	case len(y) != m:
		return nil, fmt.Errorf("posterior: Krylov inversion: y has %d pixels, operator has %d rows", len(y), m)
	case len(sigmaN) != 1 && len(sigmaN) != m:
		return nil, fmt.Errorf("posterior: Krylov inversion: sigmaN has %d values, want 1 or %d", len(sigmaN), m)
	case keep != nil && len(keep) != m:
		return nil, fmt.Errorf("posterior: Krylov inversion: mask has %d values, want %d", len(keep), m)
	}
	k := &KrylovEvidence{prior: prior, op: a, n: n, m: m, w: make([]float64, m), sw: make([]float64, m), opt: opt.withDefaults(n),
		bufN1: make([]float64, n), bufN2: make([]float64, n), bufM: make([]float64, m)}
	for i := range k.w {
		if keep != nil && !keep[i] {
			continue
		}
		s := sigmaN[0]
		if len(sigmaN) == m {
			s = sigmaN[i]
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("posterior: Krylov inversion: sigmaN[%d] = %g must be positive and finite", i, s)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("posterior: Krylov inversion: y[%d] = %g is not finite", i, y[i])
		}
		k.w[i], k.sw[i] = 1/(s*s), 1/s
		k.logW += math.Log(k.w[i])
		k.mEff++
	}
	res := make([]float64, m)
	a.Apply(res, prior.Mean())
	for i := range res {
		res[i] = y[i] - res[i]
		k.rNr += k.w[i] * res[i] * res[i]
		res[i] *= k.w[i]
	}
	a.Adjoint(k.bufN1, res)
	k.c = make([]float64, n)
	prior.ApplySqrt(k.c, k.bufN1)
	k.cn = math.Sqrt(dotK(k.c, k.c))
	probes := k.opt.Probes
	if k.opt.UnitProbes {
		probes = n
	}
	var bar *progress.Bar
	if k.opt.Progress != nil {
		bar = progress.New(k.opt.Progress, "lanczos", 0, probes+1)
	}
	if k.cn > 0 {
		var err error
		if k.alpha, k.beta, err = k.lanczos(k.c, k.opt.Iterations); err != nil {
			return nil, err
		}
	}
	if bar != nil {
		bar.Update(1, fmt.Sprintf("data term: %d steps", len(k.alpha)))
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x51a9))
	v := make([]float64, n)
	for p := 0; p < probes; p++ {
		for i := range v {
			switch {
			case k.opt.UnitProbes:
				v[i] = 0
			case rng.IntN(2) == 0:
				v[i] = -1
			default:
				v[i] = 1
			}
		}
		if k.opt.UnitProbes {
			v[p] = 1
		}
		al, be, err := k.lanczos(v, k.opt.ProbeIterations)
		if err != nil {
			return nil, err
		}
		theta, tau2, err := ritz(al, be)
		if err != nil {
			return nil, err
		}
		k.probe = append(k.probe, slqProbe{theta: theta, tau2: tau2, norm2: dotK(v, v)})
		if bar != nil {
			bar.Update(p+2, "log-det probes")
		}
	}
	return k, nil
}

// applyB sets dst = B̃ u = L AᵀWA L u (L symmetric).
func (k *KrylovEvidence) applyB(dst, u []float64) {
	k.prior.ApplySqrt(k.bufN1, u)
	k.op.Apply(k.bufM, k.bufN1)
	for i, w := range k.w {
		k.bufM[i] *= w
	}
	k.op.Adjoint(k.bufN1, k.bufM)
	k.prior.ApplySqrt(dst, k.bufN1)
}

// lanczos runs at most iters steps from v with full re-orthogonalisation
// and returns the diagonal and off-diagonal of the tridiagonal matrix; it
// stops early at an invariant subspace.
func (k *KrylovEvidence) lanczos(v0 []float64, iters int) (alpha, beta []float64, err error) {
	n := k.n
	nv := math.Sqrt(dotK(v0, v0))
	if nv == 0 {
		return nil, nil, nil
	}
	basis := make([][]float64, 0, iters)
	q := make([]float64, n)
	for i := range q {
		q[i] = v0[i] / nv
	}
	wv := make([]float64, n)
	for j := 0; j < iters; j++ {
		if err := k.ctxErr(); err != nil {
			return nil, nil, err
		}
		basis = append(basis, q)
		k.applyB(wv, q)
		a := dotK(wv, q)
		alpha = append(alpha, a)
		// Full re-orthogonalisation (twice is enough).
		for range 2 {
			for _, b := range basis {
				h := dotK(wv, b)
				for i := range wv {
					wv[i] -= h * b[i]
				}
			}
		}
		b := math.Sqrt(dotK(wv, wv))
		if j == iters-1 || b <= 1e-12*math.Max(math.Abs(a), 1) {
			break
		}
		beta = append(beta, b)
		next := make([]float64, n)
		for i := range next {
			next[i] = wv[i] / b
		}
		q = next
	}
	return alpha, beta, nil
}

func (k *KrylovEvidence) ctxErr() error {
	if k.opt.Context == nil {
		return nil
	}
	return k.opt.Context.Err()
}

// ritz returns the eigenvalues of the tridiagonal matrix and the squared
// first components of its eigenvectors.
func ritz(alpha, beta []float64) (theta, tau2 []float64, err error) {
	k := len(alpha)
	if k == 0 {
		return nil, nil, nil
	}
	t := mat.NewSymDense(k, nil)
	for i := range k {
		t.SetSym(i, i, alpha[i])
		if i+1 < k {
			t.SetSym(i, i+1, beta[i])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(t, true) {
		return nil, nil, errors.New("posterior: Krylov inversion: eigen-decomposition of the Lanczos matrix failed")
	}
	theta = es.Values(nil)
	var vec mat.Dense
	es.VectorsTo(&vec)
	tau2 = make([]float64, k)
	for i := range k {
		tau2[i] = vec.At(0, i) * vec.At(0, i)
	}
	return theta, tau2, nil
}

// logDetProbes returns the per-probe estimates of log det(I + a²B̃).
func (k *KrylovEvidence) logDetProbes(a float64) []float64 {
	out := make([]float64, len(k.probe))
	for p, pr := range k.probe {
		var s float64
		for i, th := range pr.theta {
			s += pr.tau2[i] * math.Log1p(a*a*math.Max(th, 0))
		}
		out[p] = pr.norm2 * s
	}
	return out
}

// logDet returns the estimate of log det(I + a²B̃) and its standard error
// (zero with unit probes, whose sum is the trace itself).
func (k *KrylovEvidence) logDet(a float64) (est, stderr float64) {
	v := k.logDetProbes(a)
	if k.opt.UnitProbes {
		for _, x := range v {
			est += x
		}
		return est, 0
	}
	var mean, m2 float64
	for i, x := range v {
		d := x - mean
		mean += d / float64(i+1)
		m2 += d * (x - mean)
	}
	if len(v) > 1 {
		stderr = math.Sqrt(m2 / float64(len(v)-1) / float64(len(v)))
	}
	return mean, stderr
}

// LogEvidence returns the estimate of log p(y | a).
func (k *KrylovEvidence) LogEvidence(a float64) float64 {
	ld, _ := k.logDet(a)
	al := a * a
	var q float64
	if len(k.alpha) > 0 {
		// e₁ᵀ(I + a²T)⁻¹e₁ by the LDLᵀ recurrence of Evidence.LogEvidence.
		var dd, z float64
		for i, di := range k.alpha {
			if i == 0 {
				dd, z = 1+al*di, 1
			} else {
				off := al * k.beta[i-1]
				l := off / dd
				dd = 1 + al*di - off*l
				z *= -l
			}
			if !(dd > 0) {
				return math.Inf(-1)
			}
			q += z * z / dd
		}
	}
	quad := k.rNr - al*k.cn*k.cn*q
	return -0.5 * (quad + ld - k.logW + float64(k.mEff)*math.Log(2*math.Pi))
}

// LogDetStdErr returns the standard error of the log-determinant estimate
// at amplitude a, which is that of LogEvidence(a) (0 with unit probes).
func (k *KrylovEvidence) LogDetStdErr(a float64) float64 {
	_, s := k.logDet(a)
	return s / 2
}

// Maximise returns the amplitude in [lo, hi] maximising LogEvidence, as
// Evidence.Maximise does.
func (k *KrylovEvidence) Maximise(lo, hi float64) (a, logEv float64, err error) {
	return maximiseLogEvidence(k.LogEvidence, lo, hi)
}

// solve returns u with (I + a²B̃) u = b by conjugate gradients.
func (k *KrylovEvidence) solve(b []float64, a float64) ([]float64, int, error) {
	n := k.n
	u, r, p, hp := make([]float64, n), append([]float64(nil), b...), append([]float64(nil), b...), make([]float64, n)
	bn := math.Sqrt(dotK(b, b))
	if bn == 0 {
		return u, 0, nil
	}
	rr := dotK(r, r)
	for it := 1; it <= 10*n+100; it++ {
		if err := k.ctxErr(); err != nil {
			return nil, 0, err
		}
		k.applyB(hp, p)
		for i := range hp {
			hp[i] = p[i] + a*a*hp[i]
		}
		alpha := rr / dotK(p, hp)
		for i := range u {
			u[i] += alpha * p[i]
			r[i] -= alpha * hp[i]
		}
		rr2 := dotK(r, r)
		if math.Sqrt(rr2) <= k.opt.Tol*bn {
			return u, it, nil
		}
		for i := range p {
			p[i] = r[i] + rr2/rr*p[i]
		}
		rr = rr2
	}
	return nil, 0, errors.New("posterior: Krylov inversion: conjugate gradients did not converge")
}

// Posterior returns the posterior at amplitude a: the mean (to the CG
// tolerance) and the per-pixel standard deviation from Samples exact
// posterior samples. Cov is nil.
func (k *KrylovEvidence) Posterior(a float64) (*Inversion, error) {
	if !(a > 0) || math.IsInf(a, 0) {
		return nil, fmt.Errorf("posterior: Krylov inversion: amplitude %g must be positive and finite", a)
	}
	n := k.n
	inv := &Inversion{Mean: make([]float64, n), Std: make([]float64, n), Scale: a, Prior: k.prior.Scaled(a), LogEvidence: k.LogEvidence(a)}
	b := make([]float64, n)
	for i, c := range k.c {
		b[i] = a * c
	}
	var bar *progress.Bar
	if k.opt.Progress != nil {
		bar = progress.New(k.opt.Progress, "posterior", 0, k.opt.Samples+1)
	}
	u, it, err := k.solve(b, a)
	if err != nil {
		return nil, err
	}
	if bar != nil {
		bar.Update(1, fmt.Sprintf("mean: %d CG iterations", it))
	}
	mu0 := k.prior.Mean()
	toX := func(dst, u []float64) { // x − μ₀ = a L u
		k.prior.ApplySqrt(dst, u)
		for i := range dst {
			dst[i] *= a
		}
	}
	toX(inv.Mean, u)
	rng := rand.New(rand.NewPCG(k.opt.Seed, 0x5a3e))
	eta := make([]float64, k.m)
	x := make([]float64, n)
	var sum2 []float64 = inv.Std
	for smp := range k.opt.Samples {
		for i := range eta {
			eta[i] = k.sw[i] * rng.NormFloat64()
		}
		k.op.Adjoint(k.bufN2, eta)
		k.prior.ApplySqrt(b, k.bufN2)
		for i := range b {
			b[i] = a*k.c[i] + rng.NormFloat64() + a*b[i]
		}
		us, it, err := k.solve(b, a)
		if err != nil {
			return nil, err
		}
		if bar != nil {
			bar.Update(smp+2, fmt.Sprintf("samples for the std: %d CG iterations", it))
		}
		for i := range us {
			us[i] -= u[i]
		}
		toX(x, us)
		for i, v := range x {
			sum2[i] += v * v
		}
	}
	for i := range inv.Std {
		inv.Std[i] = math.Sqrt(sum2[i] / float64(k.opt.Samples))
		inv.Mean[i] += mu0[i]
	}
	return inv, nil
}

func dotK(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
