package lens

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// convolveRows returns P·L where P is the zero-padded convolution by psf on
// the n×n observation grid: row (r,c) of the result is
// Σ_{a,b} K[a][b]·L[(r−(a−hr), c−(b−hc))], terms outside the grid dropped.
func convolveRows(l *csr, p *PSF, n int) *csr {
	m := &csr{rows: l.rows, cols: l.cols, ptr: make([]int, 1, l.rows+1)}
	acc := newAccumulator(l.cols)
	hr, hc := p.Rows/2, p.Cols/2
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			for a := 0; a < p.Rows; a++ {
				sr := r - (a - hr)
				if sr < 0 || sr >= n {
					continue
				}
				for b := 0; b < p.Cols; b++ {
					sc := c - (b - hc)
					if sc < 0 || sc >= n {
						continue
					}
					kv := p.Kernel[a*p.Cols+b]
					if kv == 0 {
						continue
					}
					row := sr*n + sc
					for q := l.ptr[row]; q < l.ptr[row+1]; q++ {
						acc.add(l.idx[q], kv*l.val[q])
					}
				}
			}
			acc.flush(m)
		}
	}
	return m
}

// composedOperator builds A = P·L as one CSR matrix, the way Operator did
// before it kept the PSF factored; it is the reference for the factored form.
func composedOperator(t *testing.T, mass Mass, cfg Config) *csr {
	t.Helper()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	a := lensingMatrix(mass, cfg)
	if cfg.PSF != nil {
		a = convolveRows(a, cfg.PSF, cfg.Obs.N)
	}
	return a
}

// factorConfigs covers no PSF, the separable Gaussian, odd and even,
// asymmetric, sparse and image-sized kernels.
func factorConfigs(t *testing.T) map[string]Config {
	cfgs := testConfigs(t)
	// Separable but asymmetric and even-sized: outer product of two
	// lopsided vectors (4 rows, 6 columns).
	u, v := []float64{0.1, 0.7, 0.25, 0.05}, []float64{0.02, 0.3, 0.9, 0.4, 0.1, 0.03}
	sep := &PSF{Rows: 4, Cols: 6}
	for _, a := range u {
		for _, b := range v {
			sep.Kernel = append(sep.Kernel, a*b)
		}
	}
	cfgs["sepEven4x6"] = Config{Obs: Grid{19, 0.12}, Src: Grid{16, 0.08}, PSF: sep}
	cfgs["even2x2"] = Config{Obs: Grid{18, 0.13}, Src: Grid{15, 0.08},
		PSF: &PSF{Rows: 2, Cols: 2, Kernel: []float64{0.5, 0.3, 0.15, 0.05}}}
	rng := rand.New(rand.NewPCG(31, 32))
	odd := &PSF{Rows: 7, Cols: 5, Kernel: make([]float64, 35)}
	for i := range odd.Kernel {
		if i%4 != 1 { // some zero taps
			odd.Kernel[i] = rng.Float64()
		}
	}
	cfgs["asym7x5_zeros"] = Config{Obs: Grid{17, 0.14}, Src: Grid{15, 0.08}, PSF: odd}
	// Kernel wider than the image: many taps fall entirely outside.
	wide := &PSF{Rows: 13, Cols: 15, Kernel: make([]float64, 13*15)}
	for i := range wide.Kernel {
		wide.Kernel[i] = 0.1 + rng.Float64()
	}
	cfgs["wide13x15_obs6"] = Config{Obs: Grid{6, 0.4}, Src: Grid{10, 0.12}, PSF: wide}
	return cfgs
}

func csrMul(m *csr, x []float64) []float64 {
	y := make([]float64, m.rows)
	m.mulRange(y, x, 0, m.rows)
	return y
}

func TestFactoredMatchesComposed(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for name, cfg := range factorConfigs(t) {
		op, err := NewOperator(testLens(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := composedOperator(t, testLens(), cfg)
		at := a.transpose()
		m, n := op.Dims()
		if m != a.rows || n != a.cols {
			t.Fatalf("%s: Dims %d,%d, composed %d,%d", name, m, n, a.rows, a.cols)
		}
		if op.NNZ() != len(a.val) {
			t.Fatalf("%s: NNZ %d, composed matrix stores %d", name, op.NNZ(), len(a.val))
		}
		const k = 3
		x, r := randVec(rng, k*n), randVec(rng, k*m)
		yb, xb := make([]float64, k*m), make([]float64, k*n)
		op.ApplyBatch(yb, x, k)
		op.AdjointBatch(xb, r, k)
		y, z := make([]float64, m), make([]float64, n)
		for v := 0; v < k; v++ {
			op.Apply(y, x[v*n:(v+1)*n])
			op.Adjoint(z, r[v*m:(v+1)*m])
			want, wantT := csrMul(a, x[v*n:(v+1)*n]), csrMul(at, r[v*m:(v+1)*m])
			for i := range want {
				if d := math.Abs(y[i] - want[i]); d > 1e-13*(1+math.Abs(want[i])) || yb[v*m+i] != y[i] {
					t.Fatalf("%s: (Ax)[%d] = %.17g (batch %.17g), composed %.17g", name, i, y[i], yb[v*m+i], want[i])
				}
			}
			for j := range wantT {
				if d := math.Abs(z[j] - wantT[j]); d > 1e-13*(1+math.Abs(wantT[j])) || xb[v*n+j] != z[j] {
					t.Fatalf("%s: (Aᵀr)[%d] = %.17g (batch %.17g), composed %.17g", name, j, z[j], xb[v*n+j], wantT[j])
				}
			}
		}
		// Every element and every row norm, against the stored composition.
		rn := op.RowNorms2()
		for i := 0; i < m; i++ {
			var s float64
			q := a.ptr[i]
			for j := 0; j < n; j++ {
				var w float64
				if q < a.ptr[i+1] && int(a.idx[q]) == j {
					w = a.val[q]
					q++
				}
				if got := op.At(i, j); got != w {
					t.Fatalf("%s: At(%d,%d) = %.17g, composed %.17g", name, i, j, got, w)
				}
				s += w * w
			}
			if math.Abs(rn[i]-s) > 1e-14*s {
				t.Fatalf("%s: RowNorms2[%d] = %.17g, composed %.17g", name, i, rn[i], s)
			}
		}
	}
}

// The Gaussian takes the two-pass path, the asymmetric kernels the 2-D one.
func TestSeparableDetection(t *testing.T) {
	for name, want := range map[string]bool{"gaussPSF": true, "sepEven4x6": true, "asymPSF_s3": false,
		"asym7x5_zeros": false, "even2x2": false} {
		op, err := NewOperator(testLens(), factorConfigs(t)[name])
		if err != nil {
			t.Fatal(err)
		}
		if op.psf.separable != want {
			t.Fatalf("%s: separable = %v, want %v", name, op.psf.separable, want)
		}
	}
}

// The stencils against PSF.Convolve (the direct reference) and against the
// explicit correlation for the adjoint, on a random image.
func TestPSFOpMatchesConvolve(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for name, cfg := range factorConfigs(t) {
		p := cfg.PSF
		if p == nil {
			continue
		}
		n := cfg.Obs.N
		op := newPSFOp(p, n)
		src := randVec(rng, n*n)
		got, want, tmp := make([]float64, n*n), make([]float64, n*n), make([]float64, op.scratchLen())
		op.apply(got, src, tmp)
		p.Convolve(want, src, n)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-14*(1+math.Abs(want[i])) {
				t.Fatalf("%s: P pixel %d: %.17g, Convolve %.17g", name, i, got[i], want[i])
			}
		}
		op.adjoint(got, src, tmp)
		hr, hc := p.Rows/2, p.Cols/2
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				var s float64
				for a := 0; a < p.Rows; a++ {
					for b := 0; b < p.Cols; b++ {
						sr, sc := r+a-hr, c+b-hc
						if sr >= 0 && sr < n && sc >= 0 && sc < n {
							s += p.Kernel[a*p.Cols+b] * src[sr*n+sc]
						}
					}
				}
				if math.Abs(got[r*n+c]-s) > 1e-14*(1+math.Abs(s)) {
					t.Fatalf("%s: Pᵀ pixel (%d,%d): %.17g, correlation %.17g", name, r, c, got[r*n+c], s)
				}
			}
		}
	}
}

func TestFactoredDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	for _, name := range []string{"noPSF", "gaussPSF", "asymPSF_s3"} {
		op, err := NewOperator(testLens(), testConfigs(t)[name])
		if err != nil {
			t.Fatal(err)
		}
		m, n := op.Dims()
		x, y := make([]float64, n), make([]float64, m)
		xb, yb := make([]float64, 4*n), make([]float64, 4*m)
		op.ApplyBatch(yb, xb, 4) // the pool's first buffer
		if a := testing.AllocsPerRun(20, func() {
			op.Apply(y, x)
			op.Adjoint(x, y)
			op.ApplyBatch(yb, xb, 4)
			op.AdjointBatch(xb, yb, 4)
			op.ApplyBatch(yb[:2*m], xb[:2*n], 2)
		}); a != 0 {
			t.Fatalf("%s: %g allocations per run", name, a)
		}
	}
}

// Several goroutines share one operator (as the posterior sampler's
// workers do); each result must equal the sequential one bit for bit.
// Run with -race to check the pooled scratch.
func TestConcurrentApply(t *testing.T) {
	for _, name := range []string{"gaussPSF", "asymPSF_s3"} {
		op, err := NewOperator(testLens(), testConfigs(t)[name])
		if err != nil {
			t.Fatal(err)
		}
		m, n := op.Dims()
		const workers, iters = 4, 25
		rng := rand.New(rand.NewPCG(37, 38))
		xs, rs := make([][]float64, workers), make([][]float64, workers)
		wantY, wantZ := make([][]float64, workers), make([][]float64, workers)
		for w := range xs {
			xs[w], rs[w] = randVec(rng, n), randVec(rng, m)
			wantY[w], wantZ[w] = make([]float64, m), make([]float64, n)
			op.Apply(wantY[w], xs[w])
			op.Adjoint(wantZ[w], rs[w])
		}
		var wg sync.WaitGroup
		errs := make([]string, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				y, z := make([]float64, m), make([]float64, n)
				yb := make([]float64, 2*m)
				xb := append(slices.Clone(xs[w]), xs[(w+1)%workers]...)
				for it := 0; it < iters; it++ {
					op.Apply(y, xs[w])
					op.Adjoint(z, rs[w])
					op.ApplyBatch(yb, xb, 2)
					if !slices.Equal(y, wantY[w]) || !slices.Equal(z, wantZ[w]) ||
						!slices.Equal(yb[:m], wantY[w]) || !slices.Equal(yb[m:], wantY[(w+1)%workers]) {
						errs[w] = "result differs from the sequential one"
						return
					}
				}
			}()
		}
		wg.Wait()
		for w, e := range errs {
			if e != "" {
				t.Fatalf("%s: worker %d: %s", name, w, e)
			}
		}
	}
}
