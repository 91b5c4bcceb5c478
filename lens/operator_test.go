package lens

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func testLens() Composite {
	return Composite{SIE{ThetaE: 1.2, Q: 0.7, Phi: 0.3, CenterX: 0.1, CenterY: -0.05},
		Shear{Gamma1: 0.03, Gamma2: -0.02}}
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func testConfigs(t *testing.T) map[string]Config {
	psf, err := GaussianPSF(0.25, 0.1, 0)
	if err != nil {
		t.Fatal(err)
	}
	asym, err := NewPSF([][]float64{{0.1, 0.5, 0}, {0.2, 2, 0.3}, {0, 0.05, 0.4}, {0.1, 0.1, 0.2}, {0, 0, 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Config{
		"noPSF":      {Obs: Grid{24, 0.12}, Src: Grid{20, 0.07}},
		"gaussPSF":   {Obs: Grid{24, 0.12}, Src: Grid{20, 0.07}, PSF: psf},
		"asymPSF_s3": {Obs: Grid{21, 0.13}, Src: Grid{17, 0.08}, Supersample: 3, PSF: asym},
		"s1":         {Obs: Grid{16, 0.2}, Src: Grid{30, 0.05}, Supersample: 1},
	}
}

func TestAdjointDotProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for name, cfg := range testConfigs(t) {
		op, err := NewOperator(testLens(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, n := op.Dims()
		if m != cfg.Obs.Len() || n != cfg.Src.Len() {
			t.Fatalf("%s: Dims = %d,%d", name, m, n)
		}
		ax, atr := make([]float64, m), make([]float64, n)
		for trial := 0; trial < 5; trial++ {
			x, r := randVec(rng, n), randVec(rng, m)
			op.Apply(ax, x)
			op.Adjoint(atr, r)
			l, rr := dot(ax, r), dot(x, atr)
			if relErr(l, rr) > 1e-10 {
				t.Fatalf("%s: <Ax,r>=%.15g <x,Aᵀr>=%.15g", name, l, rr)
			}
		}
		// Adjoint against the explicit transpose, element by element.
		r := randVec(rng, m)
		op.Adjoint(atr, r)
		for j := 0; j < n; j += 7 {
			var s float64
			for i := 0; i < m; i++ {
				s += op.At(i, j) * r[i]
			}
			if math.Abs(s-atr[j]) > 1e-12*(1+math.Abs(s)) {
				t.Fatalf("%s: (Aᵀr)[%d] = %g, explicit %g", name, j, atr[j], s)
			}
		}
	}
}

func TestSparseMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for name, cfg := range testConfigs(t) {
		op, err := NewOperator(testLens(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, n := op.Dims()
		x := randVec(rng, n)
		got := make([]float64, m)
		op.Apply(got, x)
		want, err := DirectForward(testLens(), cfg, x)
		if err != nil {
			t.Fatal(err)
		}
		var nonzero int
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("%s: pixel %d: sparse %.17g direct %.17g", name, i, got[i], want[i])
			}
			if want[i] != 0 {
				nonzero++
			}
		}
		if nonzero < m/4 {
			t.Fatalf("%s: only %d of %d pixels non-zero; test is vacuous", name, nonzero, m)
		}
	}
}

func TestBatchAndRowNorms(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	cfg := testConfigs(t)["gaussPSF"]
	op, err := NewOperator(testLens(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, n := op.Dims()
	const k = 3
	x, r := randVec(rng, k*n), randVec(rng, k*m)
	yb, ab := make([]float64, k*m), make([]float64, k*n)
	op.ApplyBatch(yb, x, k)
	op.AdjointBatch(ab, r, k)
	y1, a1 := make([]float64, m), make([]float64, n)
	for v := 0; v < k; v++ {
		op.Apply(y1, x[v*n:(v+1)*n])
		op.Adjoint(a1, r[v*m:(v+1)*m])
		for i := range y1 {
			if y1[i] != yb[v*m+i] {
				t.Fatalf("ApplyBatch vector %d pixel %d: %g vs %g", v, i, yb[v*m+i], y1[i])
			}
		}
		for j := range a1 {
			if a1[j] != ab[v*n+j] {
				t.Fatalf("AdjointBatch vector %d pixel %d", v, j)
			}
		}
	}
	rn := op.RowNorms2()
	nnz := 0
	for i := 0; i < m; i++ {
		var s float64
		for j := 0; j < n; j++ {
			a := op.At(i, j)
			s += a * a
			if a != 0 {
				nnz++
			}
		}
		if math.Abs(s-rn[i]) > 1e-14*(1+s) {
			t.Fatalf("RowNorms2[%d] = %g, want %g", i, rn[i], s)
		}
	}
	if nnz > op.NNZ() || nnz < op.NNZ()*9/10 {
		t.Fatalf("NNZ %d, counted %d non-zero elements", op.NNZ(), nnz)
	}
}

func TestApplyDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	op, err := NewOperator(testLens(), testConfigs(t)["gaussPSF"])
	if err != nil {
		t.Fatal(err)
	}
	m, n := op.Dims()
	x, y := make([]float64, n), make([]float64, m)
	xb, yb := make([]float64, 2*n), make([]float64, 2*m)
	if a := testing.AllocsPerRun(5, func() {
		op.Apply(y, x)
		op.Adjoint(x, y)
		op.ApplyBatch(yb, xb, 2)
		op.AdjointBatch(xb, yb, 2)
	}); a != 0 {
		t.Fatalf("%g allocations per call", a)
	}
}

// A uniform source gives exactly the same uniform image wherever every
// sub-pixel ray lands between the outermost source pixel centres.
func TestSurfaceBrightnessConservation(t *testing.T) {
	cfg := Config{Obs: Grid{40, 0.1}, Src: Grid{30, 0.08}, Supersample: 3}
	mass := testLens()
	op, err := NewOperator(mass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, n := op.Dims()
	src := make([]float64, n)
	for i := range src {
		src[i] = 2.5
	}
	img := make([]float64, m)
	op.Apply(img, src)
	edge := cfg.Src.Coord(cfg.Src.N - 1)
	inside, outside := 0, 0
	for r := 0; r < cfg.Obs.N; r++ {
		for c := 0; c < cfg.Obs.N; c++ {
			all := true
			for a := 0; a < 3; a++ {
				for b := 0; b < 3; b++ {
					x := cfg.Obs.Coord(c) + subOffset(b, 3)*cfg.Obs.Scale
					y := cfg.Obs.Coord(r) + subOffset(a, 3)*cfg.Obs.Scale
					ax, ay := mass.Deflection(x, y)
					if math.Abs(x-ax) > edge || math.Abs(y-ay) > edge {
						all = false
					}
				}
			}
			v := img[r*cfg.Obs.N+c]
			if all {
				inside++
				if math.Abs(v-2.5) > 1e-12 {
					t.Fatalf("pixel (%d,%d) = %.17g, want 2.5", r, c, v)
				}
			} else if v < 2.5-1e-12 {
				outside++
			}
		}
	}
	if inside < m/3 || outside == 0 {
		t.Fatalf("inside %d, dimmed outside %d of %d: test not exercised", inside, outside, m)
	}
}

// A small source at β < θ_E behind an SIS has total magnification
// |μ₊| + |μ₋| = 2θ_E/β.
func TestSISPointSourceMagnification(t *testing.T) {
	const thetaE, beta, sig = 1.0, 0.5, 0.02
	cfg := Config{Obs: Grid{170, 0.02}, Src: Grid{128, 0.01}, Supersample: 3}
	mass := SIS{ThetaE: thetaE}
	op, err := NewOperator(mass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, n := op.Dims()
	src := make([]float64, n)
	var srcFlux float64
	for r := 0; r < cfg.Src.N; r++ {
		for c := 0; c < cfg.Src.N; c++ {
			dx, dy := cfg.Src.Coord(c)-beta, cfg.Src.Coord(r)
			v := math.Exp(-(dx*dx + dy*dy) / (2 * sig * sig))
			src[r*cfg.Src.N+c] = v
			srcFlux += v * cfg.Src.Scale * cfg.Src.Scale
		}
	}
	img := make([]float64, m)
	op.Apply(img, src)
	var imgFlux float64
	for _, v := range img {
		imgFlux += v * cfg.Obs.Scale * cfg.Obs.Scale
	}
	mu := imgFlux / srcFlux
	t.Logf("total magnification %.6g (want %g)", mu, 2*thetaE/beta)
	if want := 2 * thetaE / beta; relErr(mu, want) > 2e-3 {
		t.Fatalf("total magnification %g, want %g", mu, want)
	}
}

func TestPSFDeltaIsIdentity(t *testing.T) {
	delta, err := NewPSF([][]float64{{0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 3, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Obs: Grid{20, 0.12}, Src: Grid{20, 0.07}}
	plain, err := NewOperator(testLens(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PSF = delta
	withPSF, err := NewOperator(testLens(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if plain.NNZ() != withPSF.NNZ() {
		t.Fatalf("NNZ %d vs %d", plain.NNZ(), withPSF.NNZ())
	}
	m, n := plain.Dims()
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if plain.At(i, j) != withPSF.At(i, j) {
				t.Fatalf("entry (%d,%d) differs: %g vs %g", i, j, plain.At(i, j), withPSF.At(i, j))
			}
		}
	}
	rng := rand.New(rand.NewPCG(27, 28))
	x, r := randVec(rng, n), randVec(rng, m)
	y0, y1 := make([]float64, m), make([]float64, m)
	a0, a1 := make([]float64, n), make([]float64, n)
	plain.Apply(y0, x)
	withPSF.Apply(y1, x)
	plain.Adjoint(a0, r)
	withPSF.Adjoint(a1, r)
	if !slices.Equal(y0, y1) || !slices.Equal(a0, a1) {
		t.Fatal("delta PSF changes Apply or Adjoint")
	}
}

func TestGaussianPSF(t *testing.T) {
	const fwhm, scale = 0.3, 0.05 // σ ≈ 2.55 pixels
	p, err := GaussianPSF(fwhm, scale, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sum, m2 float64
	h := p.Rows / 2
	for r := 0; r < p.Rows; r++ {
		for c := 0; c < p.Cols; c++ {
			k := p.Kernel[r*p.Cols+c]
			dx := float64(c - h)
			sum += k
			m2 += k * dx * dx
			if k != p.Kernel[c*p.Cols+r] || k != p.Kernel[(p.Rows-1-r)*p.Cols+c] {
				t.Fatal("kernel not symmetric")
			}
		}
	}
	if math.Abs(sum-1) > 1e-14 {
		t.Fatalf("sum %g", sum)
	}
	got := 2 * math.Sqrt(2*math.Ln2) * math.Sqrt(m2) * scale
	if relErr(got, fwhm) > 1e-4 {
		t.Fatalf("FWHM from second moment %g, want %g", got, fwhm)
	}
}

func TestConvolveOrientation(t *testing.T) {
	// A delta image at (r,c) convolved with K shows K[a][b] at
	// (r + a − hr, c + b − hc).
	p, err := NewPSF([][]float64{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 7
	src, dst := make([]float64, n*n), make([]float64, n*n)
	src[3*n+2] = 1
	p.Convolve(dst, src, n)
	for a := 0; a < 3; a++ {
		for b := 0; b < 3; b++ {
			if got, want := dst[(3+a-1)*n+2+b-1], float64(3*a+b+1)/45; math.Abs(got-want) > 1e-16 {
				t.Fatalf("(%d,%d): %g want %g", a, b, got, want)
			}
		}
	}
	// Zero padding: a delta in the corner loses the kernel part outside.
	clear(src)
	src[0] = 1
	p.Convolve(dst, src, n)
	var s float64
	for _, v := range dst {
		s += v
	}
	if math.Abs(s-(5+6+8+9)/45.0) > 1e-15 {
		t.Fatalf("corner flux %g", s)
	}
}

func TestPSFErrors(t *testing.T) {
	for _, k := range [][][]float64{nil, {{1, 2}}, {{1}, {2}}, {{1, 1, 1}, {1, 1}, {1, 1, 1}},
		{{0, 0, 0}}, {{math.NaN()}}, {{-1}}} {
		if _, err := NewPSF(k); err == nil {
			t.Fatalf("NewPSF(%v): no error", k)
		}
	}
	if _, err := GaussianPSF(-1, 0.1, 0); err == nil {
		t.Fatal("negative FWHM accepted")
	}
	if _, err := NewOperator(testLens(), Config{Obs: Grid{0, 0.1}, Src: Grid{4, 0.1}}); err == nil {
		t.Fatal("empty grid accepted")
	}
	if _, err := NewOperator(testLens(), Config{Obs: Grid{4, 0.1}, Src: Grid{4, math.NaN()}}); err == nil {
		t.Fatal("NaN scale accepted")
	}
}
