package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// withKernelPath runs f with the named kernel path switched on, then
// restores the previous one.
func withKernelPath(t *testing.T, path string, f func(t *testing.T)) {
	t.Helper()
	prev, err := SetKernelPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer SetKernelPath(prev)
	f(t)
}

// TestKernelPathSelection checks the path chosen at start, the listing of
// the paths this CPU has, LENSCORE_KERNELS and SetKernelPath's refusals.
func TestKernelPathSelection(t *testing.T) {
	paths := KernelPaths()
	t.Logf("kernel paths on this CPU: %v; in use: %s", paths, KernelPath())
	if paths[0] != kernelNames[cpuKernelLevel()] || paths[len(paths)-1] != "purego" {
		t.Fatalf("KernelPaths() = %v, best should be %s and the last purego", paths, kernelNames[cpuKernelLevel()])
	}
	if os.Getenv("LENSCORE_KERNELS") == "" && KernelPath() != paths[0] {
		t.Fatalf("without LENSCORE_KERNELS the path is %s, want the best, %s", KernelPath(), paths[0])
	}
	if _, err := SetKernelPath("avx1024"); err == nil || !strings.Contains(err.Error(), "avx1024") {
		t.Fatalf("unknown path: err = %v", err)
	}
	if paths[0] != "avx512" {
		if _, err := SetKernelPath("avx512"); err == nil {
			t.Fatal("SetKernelPath(avx512) succeeded on a CPU without AVX-512")
		}
	}
	before := KernelPath()
	for _, p := range paths {
		prev, err := SetKernelPath(p)
		if err != nil {
			t.Fatal(err)
		}
		if KernelPath() != p {
			t.Fatalf("after SetKernelPath(%s): %s", p, KernelPath())
		}
		want := map[string]string{"avx512": "AVX-512 small-product", "avx2": "AVX2 small-product", "purego": "pure-Go"}[p]
		if n := (&smallGemm{base: NaiveGemm{}}).Name(); !strings.Contains(n, want) {
			t.Fatalf("path %s: Name() = %q, want it to mention %q", p, n, want)
		}
		SetKernelPath(prev)
	}
	if KernelPath() != before {
		t.Fatalf("path not restored: %s, want %s", KernelPath(), before)
	}

	// LENSCORE_KERNELS, read again as at start.
	defer func(l int32, note string) { kernelLevel.Store(l); kernelNote = note }(kernelLevel.Load(), kernelNote)
	for _, c := range []struct{ env, path, note string }{
		{"purego", "purego", "LENSCORE_KERNELS=purego"},
		{" AVX2 ", map[bool]string{true: "avx2", false: "purego"}[cpuKernelLevel() >= levelAVX2], "LENSCORE_KERNELS"},
		{"avx1024", paths[0], "unknown kernel path"},
	} {
		t.Setenv("LENSCORE_KERNELS", c.env)
		note := initKernelLevel()
		if KernelPath() != c.path || !strings.Contains(note, c.note) {
			t.Errorf("LENSCORE_KERNELS=%q: path %s, note %q; want %s, a note with %q", c.env, KernelPath(), note, c.path, c.note)
		}
	}
}

// TestAVX512Expected fails when the environment says the CPU has AVX-512
// (scripts/test-avx512-emulated sets LENSCORE_EXPECT_AVX512=1 inside the
// emulator) but the AVX-512 path is not available: the other tests would
// otherwise pass while testing only the lower paths.
func TestAVX512Expected(t *testing.T) {
	if os.Getenv("LENSCORE_EXPECT_AVX512") == "" {
		t.Skip("LENSCORE_EXPECT_AVX512 not set")
	}
	if p := KernelPaths(); p[0] != "avx512" {
		t.Fatalf("AVX-512 expected but this CPU offers only %v", p)
	}
	if KernelPath() != "avx512" {
		t.Fatalf("AVX-512 available but the path in use is %s", KernelPath())
	}
}

// TestKernelPathsGemm runs the small-product GEMM on every path this CPU
// has and compares each with a float64 product, within float32 rounding
// (|error| ≤ 2⁻²²·(k+1)·Σ_p |A(i,p) B(p,j)| plus the rounding of C). The
// vector paths sum every element in the same order with one FMA per term,
// so their results must also agree bit for bit, packed or not. The shapes
// cover column blocks of 32, 16 and 8, packed 32- and 16-column panels,
// Aᵀ and accumulation.
func TestKernelPathsGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 512))
	type shape struct {
		tA      bool
		m, n, k int
		beta    float32
		pad     int
	}
	shapes := []shape{
		{false, 4, 8, 1, 0, 0},
		{false, 4, 24, 3, 1, 0},
		{false, 8, 32, 5, 0, 0},
		{false, 8, 40, 7, 1, 3},
		{false, 12, 56, 9, 0, 0},
		{false, 16, 96, 33, 1, 0},
		{false, 8, 72, 6, 0, 1024 - 72}, // ldb = 1024: packed panels, then 8 columns
		{false, 8, 88, 6, 1, 1024 - 88}, // packed panels, then 24 columns
		{false, 12, 264, 300, 0, 0},     // K·N > packMinKN: packed
		{true, 16, 48, 70, 1, 976},      // Aᵀ, ldb = 1024: packed
		{true, 12, 40, 7, 1, 0},
	}
	paths := KernelPaths()
	for _, s := range shapes {
		lda, ra := s.k+s.pad, s.m
		if s.tA {
			lda, ra = s.m+s.pad, s.k
		}
		ldb, ldc := s.n+s.pad, s.n+s.pad
		a := randSlice(rng, ra*lda)
		b := randSlice(rng, s.k*ldb)
		c0 := randSlice(rng, s.m*ldc)
		at := func(i, p int) float64 {
			if s.tA {
				return float64(a[p*lda+i])
			}
			return float64(a[i*lda+p])
		}
		results := map[string][]float32{}
		for _, path := range paths {
			withKernelPath(t, path, func(t *testing.T) {
				for _, noPack := range []bool{false, true} {
					got := append([]float32(nil), c0...)
					(&smallGemm{base: NaiveGemm{}, noPack: noPack}).Sgemm(s.tA, false, s.m, s.n, s.k, 1, a, lda, b, ldb, s.beta, got, ldc)
					name := fmt.Sprintf("%s tA=%v %dx%dx%d beta=%g pad=%d noPack=%v", path, s.tA, s.m, s.n, s.k, s.beta, s.pad, noPack)
					checkGemmRef(t, name, got, c0, s.m, s.n, s.k, ldc, float64(s.beta), func(i, j, p int) float64 { return at(i, p) * float64(b[p*ldb+j]) })
					if path == "purego" {
						continue
					}
					key := "simd"
					if ref, ok := results[key]; ok {
						for i := range got {
							if got[i] != ref[i] {
								t.Fatalf("%s: element %d = %g differs from the other vector path's %g", name, i, got[i], ref[i])
							}
						}
					} else {
						results[key] = got
					}
				}
			})
		}
	}
}

// TestEveryKernelPath runs the kernel tests of this package, each of which
// compares against a float64 evaluation of the same formulas, once per
// kernel path the CPU has (the plain runs above use only the best one).
func TestEveryKernelPath(t *testing.T) {
	tests := []struct {
		name string
		f    func(*testing.T)
	}{
		{"SmallGemmMatchesNaive", TestSmallGemmMatchesNaive},
		{"RowKernels", TestRowKernels},
		{"MeanVar", TestMeanVar},
		{"WinogradKernels", TestWinogradKernels},
		{"Interleave", TestInterleave},
		{"ExpNaN", TestExpNaN},
		{"SoftmaxRows", TestSoftmaxRows},
		{"FillCols", TestFillCols},
		{"WinogradShortOutput", TestWinogradShortOutput},
		{"FillAddScale", TestFillAddScale},
		{"Winograd4Kernels", TestWinograd4Kernels},
		{"Bt6Row", TestBt6Row},
	}
	if os.Getenv("LENSCORE_EXPECT_AVX512") == "" && !testing.Short() {
		// Whole-layer tests: seconds natively, too slow for the emulator.
		tests = append(tests, struct {
			name string
			f    func(*testing.T)
		}{"Winograd4Inference", TestWinograd4Inference})
	}
	for _, p := range KernelPaths() {
		t.Run(p, func(t *testing.T) {
			withKernelPath(t, p, func(t *testing.T) {
				for _, tc := range tests {
					t.Run(tc.name, tc.f)
				}
			})
		})
	}
}

// TestKernelPathsWinograd runs the F(4×4) transforms bt6 and at6 on every
// path, lengths with 16-lane blocks, an 8-lane tail and a scalar tail,
// against float64 evaluations of Bᵀx and Aᵀx; the vector paths must agree
// bit for bit (same operations, same order).
func TestKernelPathsWinograd(t *testing.T) {
	bt := [6][6]float64{
		{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
	}
	atm := [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	rng := rand.New(rand.NewPCG(6, 4))
	for _, n := range []int{8, 16, 24, 40, 48, 61} {
		x := make([][]float32, 6)
		for m := range x {
			x[m] = randSlice(rng, n)
		}
		var simdB, simdA [][]float32
		for _, path := range KernelPaths() {
			withKernelPath(t, path, func(t *testing.T) {
				yb, ya := make([][]float32, 6), make([][]float32, 4)
				for k := range yb {
					yb[k] = make([]float32, n)
				}
				for k := range ya {
					ya[k] = make([]float32, n)
				}
				bt6(x[0], x[1], x[2], x[3], x[4], x[5], yb[0], yb[1], yb[2], yb[3], yb[4], yb[5])
				at6(x[0], x[1], x[2], x[3], x[4], x[5], ya[0], ya[1], ya[2], ya[3])
				check := func(name string, y [][]float32, mat [][6]float64) {
					for k := range y {
						for j := 0; j < n; j++ {
							want, mag := 0.0, 0.0
							for m := 0; m < 6; m++ {
								want += mat[k][m] * float64(x[m][j])
								mag += math.Abs(mat[k][m] * float64(x[m][j]))
							}
							if d := math.Abs(float64(y[k][j]) - want); d > 4*0x1p-24*mag {
								t.Fatalf("%s n=%d %s: y%d[%d] = %g, float64 %g", path, n, name, k, j, y[k][j], want)
							}
						}
					}
				}
				check("Bᵀ", yb, bt[:])
				check("Aᵀ", ya, atm[:])
				if path == "purego" {
					return
				}
				if simdB == nil {
					simdB, simdA = yb, ya
					return
				}
				for k := range yb {
					for j := range yb[k] {
						if yb[k][j] != simdB[k][j] || (k < 4 && ya[k][j] != simdA[k][j]) {
							t.Fatalf("%s n=%d: row %d element %d differs from the other vector path", path, n, k, j)
						}
					}
				}
			})
		}
	}
}

// TestKernelPathsRows runs the GroupNorm+SiLU row kernels (forward,
// backward, the backward's final step), the residual add-and-scale and the
// softmax exponential on every path, on lengths with 16-lane blocks, an
// 8-lane block and scalar tails, with inputs that reach the clamps of exp
// and a NaN. Elementwise results are checked against float64 and, between
// the vector paths, bit for bit; the sum of expSub to float32 rounding.
func TestKernelPathsRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 8))
	for _, n := range []int{8, 16, 24, 40, 53} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(4 * rng.NormFloat64())
		}
		x[1], x[n-2] = 150, -150 // exp clamps
		if n > 30 {
			x[20] = float32(math.NaN())
		}
		m, r, gam, bet := float32(0.2), float32(1.3), float32(0.9), float32(-0.3)
		dy, res := randSlice(rng, n), randSlice(rng, n)
		var ref [7][]float32
		var refSums [2]float32
		for _, path := range KernelPaths() {
			withKernelPath(t, path, func(t *testing.T) {
				h, s, y := make([]float32, n), make([]float32, n), make([]float32, n)
				gnSiluRow(x, h, s, y, m, r, gam, bet)
				e := append([]float32(nil), x...)
				sum := expSub(e, 0.5)
				var want float64
				for j := range x {
					a := float64(gam)*float64(h[j]) + float64(bet)
					sw := 1 / (1 + math.Exp(-a))
					ew := math.Exp(math.Max(-87, math.Min(87, float64(x[j])-0.5)))
					if math.IsNaN(float64(x[j])) {
						if !math.IsNaN(float64(y[j])) || !math.IsNaN(float64(e[j])) {
							t.Fatalf("%s n=%d j=%d: NaN input gave y=%g, exp=%g", path, n, j, y[j], e[j])
						}
						continue
					}
					want += ew
					if !near32(s[j], sw, 2e-6) || !near32(y[j], a*sw, 2e-6) || !near32(e[j], ew, 2e-6) {
						t.Fatalf("%s n=%d j=%d: s,y,exp = %g,%g,%g want %g,%g,%g", path, n, j, s[j], y[j], e[j], sw, a*sw, ew)
					}
				}
				if n <= 30 && !near32(sum, want, 1e-6*float64(n)) {
					t.Fatalf("%s n=%d: Σ exp = %g want %g", path, n, sum, want)
				}
				// Backward, on the finite part of the row.
				nf := min(n, 16)
				dx := make([]float32, nf)
				sg, sb := gnSiluBwdRow(h[:nf], dy[:nf], s[:nf], dx, gam, bet)
				var wg, wb, mag float64
				for j := 0; j < nf; j++ {
					a := float64(gam)*float64(h[j]) + float64(bet)
					sv := float64(s[j])
					da := float64(dy[j]) * sv * (1 + a*(1-sv))
					wg += da * float64(h[j])
					wb += da
					mag += math.Abs(da) * (1 + math.Abs(float64(h[j])))
					if !near32(dx[j], float64(gam)*da, 2e-6) {
						t.Fatalf("%s n=%d j=%d: dx = %g want %g", path, n, j, dx[j], float64(gam)*da)
					}
				}
				if math.Abs(float64(sg)-wg) > 1e-6*mag || math.Abs(float64(sb)-wb) > 1e-6*mag {
					t.Fatalf("%s n=%d: backward sums %g, %g want %g, %g", path, n, sg, sb, wg, wb)
				}
				ds := append([]float32(nil), dy[:nf]...)
				gnBwdFinish(ds, h[:nf], r, 0.1, -0.7)
				ys := append([]float32(nil), res...)
				addScale(ys, x, 0.5)
				for j := range ys {
					if w := (float64(res[j]) + float64(x[j])) * 0.5; !math.IsNaN(w) && !near32(ys[j], w, 1e-7) {
						t.Fatalf("%s n=%d j=%d: addScale = %g want %g", path, n, j, ys[j], w)
					}
				}
				for j := range ds {
					if w := float64(r) * (float64(dy[j]) - 0.1 + float64(h[j])*0.7); !near32(ds[j], w, 2e-6) {
						t.Fatalf("%s n=%d j=%d: gnBwdFinish = %g want %g", path, n, j, ds[j], w)
					}
				}
				if path == "purego" {
					return
				}
				got := [7][]float32{h, s, y, e, dx, ds, ys}
				if ref[0] == nil {
					ref, refSums = got, [2]float32{sg, sb}
					return
				}
				if d := math.Abs(float64(sg - refSums[0])); d > 1e-6*mag {
					t.Fatalf("%s n=%d: Σ da·h = %g, other vector path %g", path, n, sg, refSums[0])
				}
				for k := range got {
					for j := range got[k] {
						if math.Float32bits(got[k][j]) != math.Float32bits(ref[k][j]) {
							t.Fatalf("%s n=%d: output %d element %d = %g differs from the other vector path's %g", path, n, k, j, got[k][j], ref[k][j])
						}
					}
				}
			})
		}
	}
}

// TestKernelPathsStats runs GroupNorm's float64 statistics (meanVar) and
// softmax's row maximum-and-scale on every path against float64, for
// lengths with 32-, 16- and 8-lane blocks and scalar tails; the row
// maximum and the scaled row must agree bit for bit between the vector
// paths (maximum and products are exact or rounded once).
func TestKernelPathsStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(32, 64))
	for _, n := range []int{8, 16, 24, 32, 40, 72, 101} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(100 + 3*rng.NormFloat64())
		}
		x[n/2] = 130 // the maximum, away from the ends
		var mu0, ss0 float64
		for _, v := range x {
			mu0 += float64(v)
		}
		mu0 /= float64(n)
		for _, v := range x {
			ss0 += (float64(v) - mu0) * (float64(v) - mu0)
		}
		var refRow []float32
		for _, path := range KernelPaths() {
			withKernelPath(t, path, func(t *testing.T) {
				mu, ss := meanVar(x)
				if math.Abs(mu-mu0) > 1e-12*math.Abs(mu0) || math.Abs(ss-ss0) > 1e-9*ss0 {
					t.Fatalf("%s n=%d: meanVar = %g, %g want %g, %g", path, n, mu, ss, mu0, ss0)
				}
				if path == "purego" || n%8 != 0 {
					return
				}
				row := append([]float32(nil), x...)
				m := maxScaleVec(&row[0], n, 0.125)
				if m != 130 {
					t.Fatalf("%s n=%d: row maximum %g, want 130", path, n, m)
				}
				for j := range row {
					if row[j] != x[j]*0.125 {
						t.Fatalf("%s n=%d: scaled row[%d] = %g want %g", path, n, j, row[j], x[j]*0.125)
					}
				}
				if refRow != nil {
					for j := range row {
						if row[j] != refRow[j] {
							t.Fatalf("%s n=%d: scaled row[%d] differs between vector paths", path, n, j)
						}
					}
				}
				refRow = row
			})
		}
	}
}

// checkGemmRef compares the m×n product C (row stride ldc) of a GEMM with its
// float64 reference C(i,j) = beta·C0(i,j) + Σ_p term(i, j, p) over the k
// terms, within float32 rounding of the magnitudes summed, and checks that
// the padding columns n…ldc−1 of C0 were left alone.
func checkGemmRef(t *testing.T, name string, got, c0 []float32, m, n, k, ldc int, beta float64, term func(i, j, p int) float64) {
	t.Helper()
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			g := got[i*ldc+j]
			if j >= n {
				if g != c0[i*ldc+j] {
					t.Fatalf("%s: padding (%d,%d) changed", name, i, j)
				}
				continue
			}
			want := beta * float64(c0[i*ldc+j])
			mag := math.Abs(want)
			for p := 0; p < k; p++ {
				v := term(i, j, p)
				want += v
				mag += math.Abs(v)
			}
			if d := math.Abs(float64(g) - want); d > 0x1p-22*float64(k+1)*mag+1e-30 {
				t.Fatalf("%s: C(%d,%d) = %g, float64 reference %g (|error| %.3g, bound %.3g)", name, i, j, g, want, d, 0x1p-22*float64(k+1)*mag)
			}
		}
	}
}
