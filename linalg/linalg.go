package linalg

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/gonum"

	"github.com/lenscore/lenscore/internal/openblas"
)

// EnvBackend names the environment variable that selects the back-end of
// New: "go" forces the gonum implementation; anything else (or unset) tries
// OpenBLAS first.
const EnvBackend = "LENSCORE_LINALG"

// EnvOpenBLASPath, when set, is the only shared object tried when loading
// OpenBLAS (the same variable as package nn uses).
const EnvOpenBLASPath = openblas.EnvPath

// Lib is a dense float64 linear-algebra back-end: OpenBLAS/LAPACK loaded at
// run time, or gonum. All matrices are row-major with an explicit leading
// dimension (row stride). A Lib is safe for concurrent use; calls into
// OpenBLAS are serialised (each one uses Threads() threads).
type Lib struct {
	ob      *openblasLib // nil: gonum
	threads int
}

// New returns the OpenBLAS back-end when it loads and LENSCORE_LINALG is
// not "go", and the gonum back-end otherwise. It never fails.
func New() *Lib {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(EnvBackend)), "go") {
		return Go()
	}
	if l, err := OpenBLAS(); err == nil {
		return l
	}
	return Go()
}

// Go returns the pure-Go (gonum) back-end.
func Go() *Lib { return &Lib{threads: 1} }

// OpenBLAS returns the OpenBLAS back-end, or an error naming the paths
// tried. The library is loaded once per process; before loading,
// OPENBLAS_CORETYPE is chosen by internal/openblas (unless set), so the
// two packages share one consistently initialised library whichever loads
// it first. Threads defaults to GOMAXPROCS.
func OpenBLAS() (*Lib, error) {
	ob, err := loadOpenBLAS()
	if err != nil {
		return nil, err
	}
	return &Lib{ob: ob, threads: runtime.GOMAXPROCS(0)}, nil
}

// IsOpenBLAS reports whether l calls OpenBLAS.
func (l *Lib) IsOpenBLAS() bool { return l.ob != nil }

// Threads returns the OpenBLAS thread count used inside each call (1 for
// gonum).
func (l *Lib) Threads() int { return l.threads }

// SetThreads sets the OpenBLAS thread count used inside each call (n < 1 is
// 1). OpenBLAS's thread count is a process-wide setting: every call sets it,
// runs, and restores the previous value (package nn keeps it at 1 for the
// network). A network GEMM issued by another goroutine while a linalg call
// runs may therefore also use Threads() threads.
func (l *Lib) SetThreads(n int) {
	if l.ob != nil {
		l.threads = max(1, min(n, 1<<10))
	}
}

// Name describes the back-end, e.g. "openblas (2 threads)" or "gonum".
func (l *Lib) Name() string {
	if l.ob == nil {
		return "gonum"
	}
	return fmt.Sprintf("openblas %s(%d threads)", l.ob.describe(), l.threads)
}

// EigenSym computes all eigenvalues and eigenvectors of the symmetric n×n
// matrix stored in the upper triangle of a (row-major, leading dimension
// n; the strict lower triangle is not read):
//
//	A = Σ_k w_k v_k v_kᵀ,  w_0 ≤ w_1 ≤ … ≤ w_{n−1},  v_kᵀv_l = δ_kl.
//
// On return w holds the eigenvalues in ascending order and ROW k of a holds
// v_k, i.e. a is overwritten with Vᵀ. OpenBLAS uses LAPACK dsyevd (divide
// and conquer), whose workspace is 1 + 6n + 2n² floats on top of a (268 MB
// at n = 4096); gonum uses Dsyev (QR iteration, much slower for large n).
func (l *Lib) EigenSym(n int, a, w []float64) error {
	if n < 0 || len(a) < n*n || len(w) < n {
		return fmt.Errorf("linalg: EigenSym: n=%d needs len(a) ≥ %d and len(w) ≥ %d, got %d and %d", n, n*n, n, len(a), len(w))
	}
	if n == 0 {
		return nil
	}
	if l.ob != nil {
		return l.ob.dsyevd(l.threads, n, a, w)
	}
	var impl gonum.Implementation
	work := []float64{0}
	impl.Dsyev('V', blas.Upper, n, a, n, w, work, -1)
	work = make([]float64, int(work[0]))
	if !impl.Dsyev('V', blas.Upper, n, a, n, w, work, len(work)) {
		return fmt.Errorf("linalg: EigenSym: QR iteration did not converge (n=%d)", n)
	}
	transposeSquare(n, a) // gonum leaves v_k in column k
	return nil
}

// Tridiag reduces the symmetric n×n matrix stored in the upper triangle of
// a (row-major) to tridiagonal form T = QᵀAQ by Householder reflections
// (LAPACK dsytrd), writing the diagonal of T into d (n values) and the
// sub-diagonal into e (n−1 values; T[i+1][i] = e[i]). The reflections are
// applied from the first row on, Q = H_0 H_1 ⋯ H_{n−2} with H_i acting on
// indices i+1…n−1: hence Q e₀ = e₀ and |e[0]| = ‖A[1:,0]‖ — the reduction
// is the Lanczos process started from e₀. a is overwritten (by the
// reflectors, in a back-end specific layout); Q is not formed. Cost
// (4/3)n³, half of it in memory-bound matrix–vector products.
func (l *Lib) Tridiag(n int, a, d, e []float64) error {
	if n < 0 || len(a) < n*n || len(d) < n || len(e) < max(n-1, 0) {
		return fmt.Errorf("linalg: Tridiag: n=%d needs len(a) ≥ %d, len(d) ≥ %d, len(e) ≥ %d; got %d, %d, %d",
			n, n*n, n, max(n-1, 0), len(a), len(d), len(e))
	}
	if n == 0 {
		return nil
	}
	if l.ob != nil {
		return l.ob.dsytrd(l.threads, n, a, d, e)
	}
	// gonum's row-major Lower reduction starts from the first column, like
	// LAPACK's column-major 'L' used above: mirror the upper triangle.
	for i := 1; i < n; i++ {
		for j := 0; j < i; j++ {
			a[i*n+j] = a[j*n+i]
		}
	}
	var impl gonum.Implementation
	tau := make([]float64, max(n-1, 1))
	ee := make([]float64, max(n-1, 1))
	work := []float64{0}
	impl.Dsytrd(blas.Lower, n, a, n, d, ee, tau, work, -1)
	work = make([]float64, int(work[0]))
	impl.Dsytrd(blas.Lower, n, a, n, d, ee, tau, work, len(work))
	copy(e, ee[:n-1])
	return nil
}

// InvLower overwrites the lower triangular n×n matrix in a (row-major; the
// strict upper triangle is neither read nor written) with its inverse
// (LAPACK dtrtri). It fails if a diagonal element is zero.
func (l *Lib) InvLower(n int, a []float64) error {
	if n < 0 || len(a) < n*n {
		return fmt.Errorf("linalg: InvLower: n=%d needs len(a) ≥ %d, got %d", n, n*n, len(a))
	}
	if n == 0 {
		return nil
	}
	if l.ob != nil {
		if info := l.ob.dtrtri(l.threads, n, a); info != 0 {
			return fmt.Errorf("linalg: InvLower: singular (diagonal element %d is zero)", info)
		}
		return nil
	}
	var impl gonum.Implementation
	if !impl.Dtrtri(blas.Lower, blas.NonUnit, n, a, n) {
		return errors.New("linalg: InvLower: singular (a diagonal element is zero)")
	}
	return nil
}

// Cholesky factorises the symmetric positive definite n×n matrix whose
// lower triangle is stored in a (row-major, leading dimension n; the strict
// upper triangle is not read) as A = L Lᵀ. On return a holds L with its
// strict upper triangle set to zero. If A is not positive definite it
// returns an error naming the order of the failing leading minor, and a is
// left partially overwritten.
func (l *Lib) Cholesky(n int, a []float64) error {
	if n < 0 || len(a) < n*n {
		return fmt.Errorf("linalg: Cholesky: n=%d needs len(a) ≥ %d, got %d", n, n*n, len(a))
	}
	if n == 0 {
		return nil
	}
	if l.ob != nil {
		if info := l.ob.dpotrf(l.threads, n, a); info != 0 {
			return notPD(info, n)
		}
	} else {
		var impl gonum.Implementation
		if !impl.Dpotrf(blas.Lower, n, a, n) {
			// gonum does not report the failing minor; find it as LAPACK would.
			return notPD(failingMinor(n, a), n)
		}
	}
	for i := 0; i < n; i++ {
		clear(a[i*n+i+1 : (i+1)*n])
	}
	return nil
}

func notPD(info, n int) error {
	return fmt.Errorf("linalg: Cholesky: matrix is not positive definite (leading minor of order %d of %d)", info, n)
}

// failingMinor returns the 1-based order of the first non-positive pivot of
// the partially factorised lower triangle left by an unblocked Cholesky, or
// n if it cannot tell.
func failingMinor(n int, a []float64) int {
	for i := 0; i < n; i++ {
		if d := a[i*n+i]; !(d > 0) {
			return i + 1
		}
	}
	return n
}

// Gemm computes C = α op(A) op(B) + β C with op(X) = X or Xᵀ, op(A) m×k,
// op(B) k×n and C m×n, all row-major with leading dimensions lda, ldb, ldc.
// It panics on inconsistent dimensions, like BLAS.
func (l *Lib) Gemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("Gemm", "A", ar, ac, a, lda)
	checkMat("Gemm", "B", br, bc, b, ldb)
	checkMat("Gemm", "C", m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if l.ob != nil && k > 0 {
		l.ob.dgemm(l.threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	blas64.Implementation().Dgemm(tr(transA), tr(transB), m, n, k, alpha, a, max(lda, 1), b, max(ldb, 1), beta, c, ldc)
}

// Syrk computes the symmetric rank-k update C = α op(A) op(A)ᵀ + β C with
// op(A) = A (n×k) when trans is false and Aᵀ (A k×n) when it is true. Both
// triangles of the n×n C are written (the upper one is computed and
// mirrored).
func (l *Lib) Syrk(trans bool, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int) {
	ar, ac := n, k
	if trans {
		ar, ac = k, n
	}
	checkMat("Syrk", "A", ar, ac, a, lda)
	checkMat("Syrk", "C", n, n, c, ldc)
	if n == 0 {
		return
	}
	if l.ob != nil && k > 0 {
		l.ob.dsyrk(l.threads, trans, n, k, alpha, a, lda, beta, c, ldc)
	} else {
		blas64.Implementation().Dsyrk(blas.Upper, tr(trans), n, k, alpha, a, max(lda, 1), beta, c, ldc)
	}
	for i := 1; i < n; i++ {
		for j := 0; j < i; j++ {
			c[i*ldc+j] = c[j*ldc+i]
		}
	}
}

// Trsm solves op(T) X = α B (left is true) or X op(T) = α B (left false)
// for X, overwriting the m×n matrix B. T is triangular (lower or upper as
// given; its other triangle is not read) of order m (left) or n (right),
// with op(T) = T or Tᵀ; unit selects an implicit unit diagonal.
func (l *Lib) Trsm(left, lower, transT, unit bool, m, n int, alpha float64, t []float64, ldt int, b []float64, ldb int) {
	k := n
	if left {
		k = m
	}
	checkMat("Trsm", "T", k, k, t, ldt)
	checkMat("Trsm", "B", m, n, b, ldb)
	if m == 0 || n == 0 {
		return
	}
	if l.ob != nil {
		l.ob.dtrsm(l.threads, left, lower, transT, unit, m, n, alpha, t, ldt, b, ldb)
		return
	}
	side, uplo, diag := blas.Right, blas.Upper, blas.NonUnit
	if left {
		side = blas.Left
	}
	if lower {
		uplo = blas.Lower
	}
	if unit {
		diag = blas.Unit
	}
	blas64.Implementation().Dtrsm(side, uplo, tr(transT), diag, m, n, alpha, t, ldt, b, ldb)
}

func tr(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

// checkMat panics unless x can hold an r×c row-major matrix with stride ld.
func checkMat(fn, name string, r, c int, x []float64, ld int) {
	if r < 0 || c < 0 {
		panic(fmt.Sprintf("linalg: %s: %s has negative dimensions %d×%d", fn, name, r, c))
	}
	if ld < max(1, c) {
		panic(fmt.Sprintf("linalg: %s: leading dimension of %s is %d, want ≥ %d", fn, name, ld, max(1, c)))
	}
	if r > 0 && c > 0 && len(x) < (r-1)*ld+c {
		panic(fmt.Sprintf("linalg: %s: %s (%d×%d, ld %d) needs %d values, has %d", fn, name, r, c, ld, (r-1)*ld+c, len(x)))
	}
	if int64(r) > 1<<31-1 || int64(c) > 1<<31-1 || int64(ld) > 1<<31-1 {
		panic(fmt.Sprintf("linalg: %s: %s exceeds the 32-bit BLAS interface", fn, name))
	}
}

// transposeSquare transposes the n×n row-major a in place, in 32×32 tiles.
func transposeSquare(n int, a []float64) {
	const bs = 32
	for ib := 0; ib < n; ib += bs {
		for jb := ib; jb < n; jb += bs {
			for i := ib; i < min(ib+bs, n); i++ {
				j0 := jb
				if ib == jb {
					j0 = i + 1
				}
				for j := j0; j < min(jb+bs, n); j++ {
					a[i*n+j], a[j*n+i] = a[j*n+i], a[i*n+j]
				}
			}
		}
	}
}
