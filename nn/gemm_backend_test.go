package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// openBLASOrSkip loads OpenBLAS, skipping the test when it is absent — except
// under CI (env CI set), where the library is installed and its absence is a
// failure.
func openBLASOrSkip(t testing.TB) *OpenBLAS {
	t.Helper()
	o, err := LoadOpenBLAS()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but OpenBLAS did not load: %v", err)
		}
		t.Skipf("OpenBLAS not available, skipping (install libopenblas0 to run): %v", err)
	}
	return o
}

// gemmCase is one Sgemm problem with padded leading dimensions, so that the
// operands are sub-matrix views of larger arrays.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int
	padC           int
	nanC           bool // fill C with NaN (only meaningful with beta = 0)
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d/%d/%d,nan=%v",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC, tc.nanC)
}

// gemmCases enumerates all four transpose combinations over odd sizes that
// straddle the GoGemm block sizes (MR=NR=4, MC=64, KC=256), with several
// alpha/beta pairs including beta = 0 on a NaN-filled C.
func gemmCases() []gemmCase {
	sizes := [][3]int{
		{1, 1, 1}, {3, 17, 65}, {17, 3, 1}, {1, 65, 3}, {65, 1, 17},
		{5, 7, 0}, {0, 4, 3}, {4, 0, 3}, {67, 66, 257}, {130, 9, 300},
	}
	ab := [][2]float32{{1, 0}, {0.5, -1.5}, {-2, 1}, {0, 0.5}}
	var cases []gemmCase
	i := 0
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, s := range sizes {
				for _, p := range ab {
					i++
					cases = append(cases, gemmCase{
						transA: tA, transB: tB,
						m: s[0], n: s[1], k: s[2],
						alpha: p[0], beta: p[1],
						padA: i % 3, padB: (i + 1) % 4, padC: (i + 2) % 5,
						nanC: p[1] == 0,
					})
				}
			}
		}
	}
	return cases
}

// checkGemm runs tc on g and compares with NaiveGemm. The tolerance is the
// standard float32 dot-product bound, |err_ij| ≤ γ·(|α|·(|A||B|)_ij + |β|·|c_ij|)
// with γ = (k+4)·2⁻²³, where the right-hand side is itself computed by
// NaiveGemm on absolute values. Entries of the padded arrays outside the
// m×n view of C must be left untouched.
func checkGemm(t *testing.T, g Gemm, tc gemmCase, rng *rand.Rand) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := max(1, ac+tc.padA), max(1, bc+tc.padB), max(1, tc.n+tc.padC)
	fill := func(rows, ld int) []float32 {
		x := make([]float32, rows*ld)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	a, b, c := fill(ar, lda), fill(br, ldb), fill(tc.m, ldc)
	const sentinel = float32(12345)
	for i := 0; i < tc.m; i++ {
		for j := tc.n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	if tc.nanC {
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	want := append([]float32(nil), c...)
	NaiveGemm{}.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	abs := func(x []float32) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = float32(math.Abs(float64(v)))
			if tc.nanC && math.IsNaN(float64(v)) {
				y[i] = 0
			}
		}
		return y
	}
	bound := abs(c)
	NaiveGemm{}.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, float32(math.Abs(float64(tc.alpha))),
		abs(a), lda, abs(b), ldb, float32(math.Abs(float64(tc.beta))), bound, ldc)
	gamma := float64(tc.k+4) * 0x1p-23

	got := append([]float32(nil), c...)
	g.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got, ldc)
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			idx := i*ldc + j
			if j >= tc.n {
				if got[idx] != sentinel {
					t.Fatalf("%s: %v: wrote outside the view at (%d,%d): %g", g.Name(), tc, i, j, got[idx])
				}
				continue
			}
			diff := math.Abs(float64(got[idx]) - float64(want[idx]))
			if !(diff <= gamma*float64(bound[idx])+1e-30) {
				bad++
				if bad <= 3 {
					t.Errorf("%s: %v: C[%d,%d] = %g, want %g (bound %g)",
						g.Name(), tc, i, j, got[idx], want[idx], gamma*float64(bound[idx]))
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %v: %d wrong entries", g.Name(), tc, bad)
	}
}

func testAgainstNaive(t *testing.T, g Gemm) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range gemmCases() {
		checkGemm(t, g, tc, rng)
	}
}

// goKernels returns GoGemm with each inner kernel forced, so that both are
// tested whatever GOARCH the tests run on.
func goKernels() []Gemm {
	return []Gemm{&GoGemm{kernel: kernelAxpy}, &GoGemm{kernel: kernelTiled}}
}

func TestGoGemmMatchesNaive(t *testing.T) {
	for _, g := range goKernels() {
		testAgainstNaive(t, g)
	}
}

// TestGemmLargeBlocks covers several KC and NC blocks (k > 2·256, n > 1024)
// for both Go kernels, in the two layouts lenscore's conv layers use.
func TestGemmLargeBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []gemmCase{
		{m: 9, n: 1030, k: 520, alpha: 1, beta: 0, nanC: true, padA: 1, padB: 2, padC: 3},
		{transA: true, m: 70, n: 1025, k: 513, alpha: 1, beta: 1},
		{transB: true, m: 33, n: 31, k: 1100, alpha: 0.25, beta: 2},
	} {
		for _, g := range goKernels() {
			checkGemm(t, g, tc, rng)
		}
	}
}

// TestGemmBadArgsPanic checks that inconsistent arguments are rejected with
// a descriptive panic before any C code could overrun a slice.
func TestGemmBadArgsPanic(t *testing.T) {
	backends := goKernels()
	if o, err := LoadOpenBLAS(); err == nil {
		backends = append(backends, o)
	}
	a, b, c := make([]float32, 12), make([]float32, 12), make([]float32, 12)
	for _, g := range backends {
		for _, bad := range []struct {
			name string
			call func()
			msg  string
		}{
			{"short a", func() { g.Sgemm(false, false, 4, 3, 4, 1, a, 4, b, 3, 0, c, 3) }, "len(a)"},
			{"small ldb", func() { g.Sgemm(false, false, 3, 3, 4, 1, a, 4, b, 2, 0, c, 3) }, "ldb"},
			{"short c", func() { g.Sgemm(false, true, 3, 5, 2, 1, a, 2, b, 2, 0, c, 5) }, "len(c)"},
			{"negative", func() { g.Sgemm(false, false, -1, 3, 4, 1, a, 4, b, 3, 0, c, 3) }, "negative"},
		} {
			func() {
				defer func() {
					r := recover()
					if s, _ := r.(string); !strings.Contains(s, bad.msg) {
						t.Errorf("%s %s: panic %v, want message containing %q", g.Name(), bad.name, r, bad.msg)
					}
				}()
				bad.call()
			}()
		}
	}
}

// TestGemmConcurrent runs many goroutines on one back-end at once, each
// with its own C, and checks every result against a precomputed reference.
func TestGemmConcurrent(t *testing.T) {
	backends := goKernels()
	if o, err := LoadOpenBLAS(); err == nil {
		backends = append(backends, o)
	}
	const m, n, k, workers, reps = 13, 37, 29, 8, 20
	rng := rand.New(rand.NewPCG(5, 6))
	a, b := make([]float32, m*k), make([]float32, n*k)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	for _, g := range backends {
		want := make([][]float32, workers)
		for w := range want {
			want[w] = make([]float32, m*n)
			NaiveGemm{}.Sgemm(false, true, m, n, k, float32(w+1), a, k, b, k, 0, want[w], n)
		}
		var wg sync.WaitGroup
		errs := make([]string, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := make([]float32, m*n)
				for r := 0; r < reps; r++ {
					g.Sgemm(false, true, m, n, k, float32(w+1), a, k, b, k, 0, c, n)
					for i := range c {
						if d := math.Abs(float64(c[i] - want[w][i])); d > 1e-4*float64(w+1)*math.Sqrt(k) {
							errs[w] = fmt.Sprintf("worker %d rep %d: C[%d] = %g, want %g", w, r, i, c[i], want[w][i])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Errorf("%s: %s", g.Name(), e)
			}
		}
	}
}

func TestSelectGemm(t *testing.T) {
	_, blasErr := LoadOpenBLAS()
	for _, tc := range []struct {
		pref, want string // want is a Name prefix; "" means an error
	}{
		{"go", "go"}, {"naive", "naive"}, {" NAIVE ", "naive"}, {"bogus", ""},
	} {
		g, err := SelectGemm(tc.pref)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("SelectGemm(%q) = %s, want an error", tc.pref, g.Name())
		case tc.want != "" && (err != nil || !strings.HasPrefix(g.Name(), tc.want)):
			t.Errorf("SelectGemm(%q) = %v, %v; want %s", tc.pref, g, err, tc.want)
		}
	}
	auto, err := SelectGemm("auto")
	if err != nil {
		t.Fatal(err)
	}
	_, isBLAS := auto.(*OpenBLAS)
	_, isGo := auto.(*GoGemm)
	if (blasErr == nil) != isBLAS || (blasErr != nil) != isGo {
		t.Errorf("SelectGemm(auto) = %s with OpenBLAS load error %v", auto.Name(), blasErr)
	}
	ob, err := SelectGemm("openblas")
	if (err == nil) != (blasErr == nil) {
		t.Errorf("SelectGemm(openblas) = %v, %v; load error %v", ob, err, blasErr)
	}

	t.Setenv(EnvGemm, "naive")
	if g, err := DefaultGemm(); err != nil || g.Name() != "naive" {
		t.Errorf("DefaultGemm with %s=naive: %v, %v", EnvGemm, g, err)
	}
	t.Setenv(EnvGemm, "go")
	if g, err := DefaultGemm(); err != nil || !strings.HasPrefix(g.Name(), "go") {
		t.Errorf("DefaultGemm with %s=go: %v, %v", EnvGemm, g, err)
	}
	t.Setenv(EnvGemm, "fortran")
	if _, err := DefaultGemm(); err == nil || !strings.Contains(err.Error(), EnvGemm) {
		t.Errorf("DefaultGemm with %s=fortran: error %v, want one naming the variable", EnvGemm, err)
	}
}

// TestSelectWithoutOpenBLAS re-runs itself in a child process in which the
// OpenBLAS search is pointed at a missing file (the library is loaded once
// per process, so this cannot be done in-process): "auto" must fall back to
// GoGemm and "openblas" must fail with an error naming the problem.
func TestSelectWithoutOpenBLAS(t *testing.T) {
	if os.Getenv("LENSCORE_GEMM_TEST_CHILD") == "1" {
		g, err := SelectGemm("auto")
		if _, ok := g.(*GoGemm); err != nil || !ok {
			t.Fatalf("child: SelectGemm(auto) = %v, %v; want GoGemm", g, err)
		}
		if _, err := SelectGemm("openblas"); err == nil || !strings.Contains(err.Error(), "OpenBLAS") {
			t.Fatalf("child: SelectGemm(openblas) error = %v, want one naming OpenBLAS", err)
		}
		fmt.Println("child-ok")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSelectWithoutOpenBLAS$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "LENSCORE_GEMM_TEST_CHILD=1", EnvOpenBLASPath+"=/nonexistent/libopenblas.so.0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child-ok") {
		t.Fatalf("child process: %v\n%s", err, out)
	}
}
