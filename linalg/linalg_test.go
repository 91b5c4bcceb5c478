package linalg

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// backends returns the gonum back-end and, when it loads, OpenBLAS. Without
// OpenBLAS the OpenBLAS variants are skipped with a message, except under CI
// (env CI set), where the library is installed and its absence is an error.
func backends(t testing.TB) []*Lib {
	t.Helper()
	libs := []*Lib{Go()}
	ob, err := OpenBLAS()
	switch {
	case err == nil:
		libs = append(libs, ob)
	case os.Getenv("CI") != "":
		t.Fatalf("CI is set but OpenBLAS did not load: %v", err)
	default:
		t.Logf("OpenBLAS variant skipped (library not loadable): %v", err)
	}
	return libs
}

func randSym(n int, r *rand.Rand) []float64 {
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := r.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	return a
}

// randSPD returns B Bᵀ + n I for a random n×n B.
func randSPD(n int, r *rand.Rand) []float64 {
	b := make([]float64, n*n)
	for i := range b {
		b[i] = r.NormFloat64()
	}
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for k := 0; k < n; k++ {
				s += b[i*n+k] * b[j*n+k]
			}
			a[i*n+j] = s
		}
		a[i*n+i] += float64(n)
	}
	return a
}

func maxAbs(a []float64) float64 {
	m := 0.0
	for _, v := range a {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// checkEigen asserts V Λ Vᵀ = A and V Vᵀ = I for eigenvectors in the rows
// of vt.
func checkEigen(t *testing.T, name string, n int, a, vt, w []float64, tol float64) {
	t.Helper()
	scale := math.Max(maxAbs(a), 1)
	var errRec, errOrth float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var rec, orth float64
			for k := 0; k < n; k++ {
				rec += vt[k*n+i] * w[k] * vt[k*n+j]
				orth += vt[i*n+k] * vt[j*n+k]
			}
			if i == j {
				orth--
			}
			errRec = math.Max(errRec, math.Abs(rec-a[i*n+j]))
			errOrth = math.Max(errOrth, math.Abs(orth))
		}
	}
	if errRec > tol*scale || errOrth > tol {
		t.Errorf("%s: |VΛVᵀ − A| = %.3g (scale %.3g), |VVᵀ − I| = %.3g", name, errRec, scale, errOrth)
	}
	if !sort.Float64sAreSorted(w[:n]) {
		t.Errorf("%s: eigenvalues not ascending", name)
	}
}

func TestEigenSymMatchesGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, l := range backends(t) {
		for _, n := range []int{1, 2, 7, 40, 200} {
			a := randSym(n, r)
			if n > 1 {
				a[n] = math.NaN() // strict lower triangle must not be read
			}
			full := append([]float64(nil), a...)
			if n > 1 {
				full[n] = full[1]
			}
			var ref mat.EigenSym
			if !ref.Factorize(mat.NewSymDense(n, append([]float64(nil), full...)), false) {
				t.Fatal("gonum reference failed")
			}
			want := ref.Values(nil)
			vt := append([]float64(nil), a...)
			w := make([]float64, n)
			if err := l.EigenSym(n, vt, w); err != nil {
				t.Fatalf("%s n=%d: %v", l.Name(), n, err)
			}
			for k := range w {
				if math.Abs(w[k]-want[k]) > 1e-11*math.Max(1, math.Abs(want[n-1])) {
					t.Errorf("%s n=%d: λ_%d = %.15g, gonum %.15g", l.Name(), n, k, w[k], want[k])
				}
			}
			checkEigen(t, fmt.Sprintf("%s n=%d", l.Name(), n), n, full, vt, w, 1e-12*float64(n))
		}
	}
}

// The second-difference matrix tridiag(−1, 2, −1) of order n has
// eigenvalues 2 − 2cos(kπ/(n+1)), k = 1…n.
func TestEigenSymAnalytic(t *testing.T) {
	const n = 150
	for _, l := range backends(t) {
		a := make([]float64, n*n)
		for i := 0; i < n; i++ {
			a[i*n+i] = 2
			if i+1 < n {
				a[i*n+i+1], a[(i+1)*n+i] = -1, -1
			}
		}
		w := make([]float64, n)
		vt := append([]float64(nil), a...)
		if err := l.EigenSym(n, vt, w); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < n; k++ {
			want := 2 - 2*math.Cos(float64(k+1)*math.Pi/(n+1))
			if math.Abs(w[k]-want) > 1e-13 {
				t.Errorf("%s: λ_%d = %.16g, want %.16g", l.Name(), k, w[k], want)
			}
		}
		checkEigen(t, l.Name()+" second difference", n, a, vt, w, 1e-12)
	}
}

// T = QᵀAQ with Q e₀ = e₀: T has A's eigenvalues, d[0] = A₀₀,
// |e[0]| = ‖A[1:,0]‖ and e₀ᵀ(A + σI)⁻¹e₀ = e₀ᵀ(T + σI)⁻¹e₀.
func TestTridiag(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, l := range backends(t) {
		for _, n := range []int{1, 2, 9, 150} {
			a := randSym(n, r)
			for i := 0; i < n; i++ {
				a[i*n+i] += float64(3 * n) // PD, so A + σI is invertible
			}
			var ref mat.EigenSym
			if !ref.Factorize(mat.NewSymDense(n, append([]float64(nil), a...)), false) {
				t.Fatal("gonum reference failed")
			}
			want := ref.Values(nil)
			b := append([]float64(nil), a...)
			if n > 1 {
				b[n] = math.NaN() // strict lower triangle must not be read
			}
			d, e := make([]float64, n), make([]float64, max(n-1, 0))
			if err := l.Tridiag(n, b, d, e); err != nil {
				t.Fatalf("%s n=%d: %v", l.Name(), n, err)
			}
			tm := mat.NewSymDense(n, nil)
			for i := 0; i < n; i++ {
				tm.SetSym(i, i, d[i])
				if i+1 < n {
					tm.SetSym(i, i+1, e[i])
				}
			}
			var te mat.EigenSym
			if !te.Factorize(tm, false) {
				t.Fatal("eigen of T failed")
			}
			got := te.Values(nil)
			for k := range got {
				if math.Abs(got[k]-want[k]) > 1e-10*float64(n) {
					t.Errorf("%s n=%d: eigenvalue %d of T = %.12g, of A %.12g", l.Name(), n, k, got[k], want[k])
				}
			}
			if d[0] != a[0] {
				t.Errorf("%s n=%d: d[0] = %g, A₀₀ = %g", l.Name(), n, d[0], a[0])
			}
			if n > 1 {
				var nc float64
				for i := 1; i < n; i++ {
					nc += a[i*n] * a[i*n]
				}
				if math.Abs(math.Abs(e[0])-math.Sqrt(nc)) > 1e-12*math.Sqrt(nc) {
					t.Errorf("%s n=%d: |e[0]| = %g, ‖A[1:,0]‖ = %g", l.Name(), n, e[0], math.Sqrt(nc))
				}
			}
			const sigma = 0.3
			resolvent := func(m mat.Symmetric) float64 {
				s := mat.NewSymDense(n, nil)
				s.CopySym(m)
				for i := 0; i < n; i++ {
					s.SetSym(i, i, s.At(i, i)+sigma)
				}
				var ch mat.Cholesky
				if !ch.Factorize(s) {
					t.Fatal("not PD")
				}
				var x mat.VecDense
				e0 := mat.NewVecDense(n, nil)
				e0.SetVec(0, 1)
				ch.SolveVecTo(&x, e0)
				return x.AtVec(0)
			}
			ra, rt := resolvent(mat.NewSymDense(n, a)), resolvent(tm)
			if math.Abs(ra-rt) > 1e-12*math.Abs(ra) {
				t.Errorf("%s n=%d: e₀ᵀ(A+σI)⁻¹e₀ = %.15g, with T %.15g", l.Name(), n, ra, rt)
			}
		}
	}
}

func TestInvLower(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, l := range backends(t) {
		for _, n := range []int{1, 6, 130} {
			a := make([]float64, n*n)
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					a[i*n+j] = r.NormFloat64()
				}
				a[i*n+i] = 2 + math.Abs(a[i*n+i])
				for j := i + 1; j < n; j++ {
					a[i*n+j] = 7 // sentinel: must stay untouched
				}
			}
			x := append([]float64(nil), a...)
			if err := l.InvLower(n, x); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					if j > i {
						if x[i*n+j] != 7 {
							t.Fatalf("%s n=%d: upper element (%d,%d) written", l.Name(), n, i, j)
						}
						continue
					}
					var s, abs float64
					for k := j; k <= i; k++ {
						s += a[i*n+k] * x[k*n+j]
						abs += math.Abs(a[i*n+k] * x[k*n+j])
					}
					if i == j {
						s--
					}
					if math.Abs(s) > 1e-13*math.Max(abs, 1) {
						t.Fatalf("%s n=%d: (L L⁻¹ − I)[%d,%d] = %g", l.Name(), n, i, j, s)
					}
				}
			}
		}
		if err := l.InvLower(2, []float64{1, 0, 3, 0}); err == nil {
			t.Errorf("%s: singular triangle accepted", l.Name())
		}
	}
}

func TestCholesky(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, l := range backends(t) {
		for _, n := range []int{1, 5, 100, 300} {
			a := randSPD(n, r)
			var ref mat.Cholesky
			if !ref.Factorize(mat.NewSymDense(n, append([]float64(nil), a...))) {
				t.Fatal("gonum reference failed")
			}
			var lref mat.TriDense
			ref.LTo(&lref)
			f := append([]float64(nil), a...)
			if n > 1 {
				f[1] = math.NaN() // strict upper triangle must not be read
			}
			if err := l.Cholesky(n, f); err != nil {
				t.Fatalf("%s n=%d: %v", l.Name(), n, err)
			}
			var worst, worstRec float64
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					if j > i && f[i*n+j] != 0 {
						t.Fatalf("%s n=%d: L[%d,%d] = %g above the diagonal", l.Name(), n, i, j, f[i*n+j])
					}
					worst = math.Max(worst, math.Abs(f[i*n+j]-lref.At(i, j)))
					var s float64
					for k := 0; k <= min(i, j); k++ {
						s += f[i*n+k] * f[j*n+k]
					}
					worstRec = math.Max(worstRec, math.Abs(s-a[i*n+j]))
				}
			}
			if worst > 1e-10*math.Sqrt(float64(n)) || worstRec > 1e-12*maxAbs(a) {
				t.Errorf("%s n=%d: |L − L_gonum| = %.3g, |LLᵀ − A| = %.3g", l.Name(), n, worst, worstRec)
			}
		}
		// diag(4, 1, −1, 2) fails at the third leading minor.
		d := []float64{4, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 2}
		err := l.Cholesky(4, d)
		if err == nil || !contains(err.Error(), "order 3 of 4") {
			t.Errorf("%s: indefinite matrix: error %v, want the minor of order 3", l.Name(), err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// at reads element (i, j) of op(X) for row-major X with stride ld.
func at(x []float64, ld int, trans bool, i, j int) float64 {
	if trans {
		return x[j*ld+i]
	}
	return x[i*ld+j]
}

func randVec(n int, r *rand.Rand) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

func TestGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 37, 29, 71
	for _, l := range backends(t) {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+1, n+2
				a, b, c := randVec(ar*lda, r), randVec(br*ldb, r), randVec(m*ldc, r)
				c0 := append([]float64(nil), c...)
				const alpha, beta = 1.5, -0.5
				l.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						want := c0[i*ldc+j]
						if j < n {
							var s float64
							for p := 0; p < k; p++ {
								s += at(a, lda, ta, i, p) * at(b, ldb, tb, p, j)
							}
							want = alpha*s + beta*want
						}
						if math.Abs(c[i*ldc+j]-want) > 1e-12*float64(k) {
							t.Fatalf("%s transA=%v transB=%v: C[%d,%d] = %g, want %g", l.Name(), ta, tb, i, j, c[i*ldc+j], want)
						}
					}
				}
			}
		}
	}
}

func TestSyrk(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n, k = 33, 50
	for _, l := range backends(t) {
		for _, trans := range []bool{false, true} {
			ar, ac := n, k
			if trans {
				ar, ac = k, n
			}
			lda, ldc := ac+2, n+1
			a := randVec(ar*lda, r)
			c := randSym(ldc, r)[:n*ldc]
			c0 := append([]float64(nil), c...)
			const alpha, beta = 0.7, 2.0
			l.Syrk(trans, n, k, alpha, a, lda, beta, c, ldc)
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for p := 0; p < k; p++ {
						s += at(a, lda, trans, i, p) * at(a, lda, trans, j, p)
					}
					// the reference is symmetric in C₀'s upper triangle
					want := alpha*s + beta*c0[min(i, j)*ldc+max(i, j)]
					if math.Abs(c[i*ldc+j]-want) > 1e-12*float64(k) {
						t.Fatalf("%s trans=%v: C[%d,%d] = %g, want %g", l.Name(), trans, i, j, c[i*ldc+j], want)
					}
				}
			}
		}
	}
}

func TestTrsm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const m, n = 23, 17
	for _, l := range backends(t) {
		for _, left := range []bool{false, true} {
			for _, lower := range []bool{false, true} {
				for _, trans := range []bool{false, true} {
					for _, unit := range []bool{false, true} {
						k := n
						if left {
							k = m
						}
						ldt, ldb := k+1, n+3
						tm := randVec(k*ldt, r)
						for i := 0; i < k; i++ {
							tm[i*ldt+i] = 3 + math.Abs(tm[i*ldt+i]) // well conditioned
						}
						// the effective triangular matrix
						tri := func(i, j int) float64 {
							if i == j && unit {
								return 1
							}
							if (lower && j > i) || (!lower && j < i) {
								return 0
							}
							return tm[i*ldt+j]
						}
						op := func(i, j int) float64 {
							if trans {
								return tri(j, i)
							}
							return tri(i, j)
						}
						b := randVec(m*ldb, r)
						x := append([]float64(nil), b...)
						const alpha = 1.25
						l.Trsm(left, lower, trans, unit, m, n, alpha, tm, ldt, x, ldb)
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								var s float64
								for p := 0; p < k; p++ {
									if left {
										s += op(i, p) * x[p*ldb+j]
									} else {
										s += x[i*ldb+p] * op(p, j)
									}
								}
								if math.Abs(s-alpha*b[i*ldb+j]) > 1e-11 {
									t.Fatalf("%s left=%v lower=%v trans=%v unit=%v: residual %g at (%d,%d)",
										l.Name(), left, lower, trans, unit, s-alpha*b[i*ldb+j], i, j)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestBackendSelection(t *testing.T) {
	t.Setenv(EnvBackend, "go")
	if l := New(); l.IsOpenBLAS() || l.Name() != "gonum" {
		t.Errorf("%s=go: New() = %s", EnvBackend, l.Name())
	}
	t.Setenv(EnvBackend, "")
	if libs := backends(t); len(libs) == 2 && !New().IsOpenBLAS() {
		t.Error("OpenBLAS loads but New() chose gonum")
	}
}

func BenchmarkEigenSym(b *testing.B) {
	for _, n := range []int{512, 1024} {
		for _, l := range backends(b) {
			b.Run(fmt.Sprintf("%s/n=%d", l.Name(), n), func(b *testing.B) {
				a := randSym(n, rand.New(rand.NewPCG(1, 1)))
				v := make([]float64, n*n)
				w := make([]float64, n)
				for b.Loop() {
					copy(v, a)
					if err := l.EigenSym(n, v, w); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
