package lens

import (
	"fmt"
	"slices"
)

// Config describes the forward model of an Operator.
type Config struct {
	Obs         Grid // observed image grid (M = Obs.N² pixels)
	Src         Grid // source grid (N = Src.N² pixels)
	Supersample int  // rays per pixel side; 0 selects 2
	PSF         *PSF // optional PSF on the Obs grid; nil for none
}

func (c Config) supersample() int {
	if c.Supersample == 0 {
		return 2
	}
	return c.Supersample
}

func (c Config) validate() error {
	if err := c.Obs.validate("observation"); err != nil {
		return err
	}
	if err := c.Src.validate("source"); err != nil {
		return err
	}
	if c.Supersample < 0 {
		return fmt.Errorf("lens: supersample must be >= 0, got %d", c.Supersample)
	}
	if int64(c.Src.N)*int64(c.Src.N) >= 1<<31 || int64(c.Obs.N)*int64(c.Obs.N) >= 1<<31 {
		return fmt.Errorf("lens: grid too large for 32-bit indices")
	}
	if c.PSF != nil && len(c.PSF.Kernel) != c.PSF.Rows*c.PSF.Cols {
		return fmt.Errorf("lens: psf: kernel has %d entries, want %d×%d", len(c.PSF.Kernel), c.PSF.Rows, c.PSF.Cols)
	}
	return nil
}

// csr is a compressed sparse row matrix.
type csr struct {
	rows, cols int
	ptr        []int   // len rows+1
	idx        []int32 // column indices, ascending within a row
	val        []float64
}

// accumulator gathers one sparse row in a dense buffer.
type accumulator struct {
	dense   []float64
	used    []bool
	touched []int32
}

func newAccumulator(n int) *accumulator {
	return &accumulator{dense: make([]float64, n), used: make([]bool, n)}
}

func (a *accumulator) add(j int32, v float64) {
	if !a.used[j] {
		a.used[j] = true
		a.touched = append(a.touched, j)
	}
	a.dense[j] += v
}

// flush appends the row (sorted by column) to m and clears the accumulator.
func (a *accumulator) flush(m *csr) {
	slices.Sort(a.touched)
	for _, j := range a.touched {
		m.idx = append(m.idx, j)
		m.val = append(m.val, a.dense[j])
		a.dense[j] = 0
		a.used[j] = false
	}
	a.touched = a.touched[:0]
	m.ptr = append(m.ptr, len(m.idx))
}

// lensingMatrix builds L: each observed pixel is the mean over s×s
// sub-pixel rays of the bilinearly interpolated source at β = θ − α(θ).
func lensingMatrix(mass Mass, cfg Config) *csr {
	s := cfg.supersample()
	obs, src := cfg.Obs, cfg.Src
	m := &csr{rows: obs.Len(), cols: src.Len(), ptr: make([]int, 1, obs.Len()+1)}
	m.idx = make([]int32, 0, 4*s*s*obs.Len())
	m.val = make([]float64, 0, 4*s*s*obs.Len())
	acc := newAccumulator(src.Len())
	w := 1 / float64(s*s)
	var idx [4]int32
	var wt [4]float64
	for r := 0; r < obs.N; r++ {
		for c := 0; c < obs.N; c++ {
			for a := 0; a < s; a++ {
				y := obs.Coord(r) + subOffset(a, s)*obs.Scale
				for b := 0; b < s; b++ {
					x := obs.Coord(c) + subOffset(b, s)*obs.Scale
					ax, ay := mass.Deflection(x, y)
					n := bilinear(src, x-ax, y-ay, &idx, &wt)
					for k := 0; k < n; k++ {
						acc.add(idx[k], w*wt[k])
					}
				}
			}
			acc.flush(m)
		}
	}
	return m
}

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

// transpose returns mᵀ in CSR form (column indices ascending).
func (m *csr) transpose() *csr {
	t := &csr{rows: m.cols, cols: m.rows, ptr: make([]int, m.cols+1),
		idx: make([]int32, len(m.idx)), val: make([]float64, len(m.val))}
	for _, j := range m.idx {
		t.ptr[j+1]++
	}
	for j := 0; j < m.cols; j++ {
		t.ptr[j+1] += t.ptr[j]
	}
	next := slices.Clone(t.ptr[:m.cols])
	for i := 0; i < m.rows; i++ {
		for q := m.ptr[i]; q < m.ptr[i+1]; q++ {
			j := m.idx[q]
			p := next[j]
			t.idx[p] = int32(i)
			t.val[p] = m.val[q]
			next[j]++
		}
	}
	return t
}

// mulRange sets dst[i] = (m·x)[i] for rows lo ≤ i < hi.
func (m *csr) mulRange(dst, x []float64, lo, hi int) {
	ptr, idx, val := m.ptr, m.idx, m.val
	for i := lo; i < hi; i++ {
		a, b := ptr[i], ptr[i+1]
		ri, rv := idx[a:b], val[a:b]
		rv = rv[:len(ri)]
		var s float64
		for k, j := range ri {
			s += rv[k] * x[j]
		}
		dst[i] = s
	}
}

// mulBatchRange is mulRange for k vectors stored consecutively.
func (m *csr) mulBatchRange(dst, x []float64, k, lo, hi int) {
	ptr, idx, val := m.ptr, m.idx, m.val
	for i := lo; i < hi; i++ {
		a, b := ptr[i], ptr[i+1]
		ri, rv := idx[a:b], val[a:b]
		rv = rv[:len(ri)]
		for v := 0; v < k; v++ {
			xv := x[v*m.cols : (v+1)*m.cols]
			var s float64
			for q, j := range ri {
				s += rv[q] * xv[j]
			}
			dst[v*m.rows+i] = s
		}
	}
}

// Operator is the linear forward model A = P·L from a source image (N =
// Src.N² pixels) to an observed image (M = Obs.N² pixels): L ray-traces
// Supersample² sub-pixel rays per image pixel through the lens, samples the
// source bilinearly and averages; P is the optional zero-padded PSF
// convolution. A and Aᵀ are stored as CSR matrices built once; Apply and
// Adjoint do not allocate. An Operator is safe for concurrent use.
type Operator struct {
	a, at *csr
}

// NewOperator builds A for the mass model and configuration.
func NewOperator(mass Mass, cfg Config) (*Operator, error) {
	if mass == nil {
		return nil, fmt.Errorf("lens: operator: nil mass model")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := lensingMatrix(mass, cfg)
	if cfg.PSF != nil {
		a = convolveRows(a, cfg.PSF, cfg.Obs.N)
	}
	return &Operator{a: a, at: a.transpose()}, nil
}

// Dims returns (M, N): image-plane and source-plane sizes.
func (o *Operator) Dims() (m, n int) { return o.a.rows, o.a.cols }

// NNZ returns the number of stored non-zeros of A.
func (o *Operator) NNZ() int { return len(o.a.val) }

// Apply sets dst (len M) to A·x (len N).
func (o *Operator) Apply(dst, x []float64) {
	o.check(dst, x, o.a, 1, "Apply")
	o.a.mulRange(dst, x, 0, o.a.rows)
}

// Adjoint sets dst (len N) to Aᵀ·r (len M).
func (o *Operator) Adjoint(dst, r []float64) {
	o.check(dst, r, o.at, 1, "Adjoint")
	o.at.mulRange(dst, r, 0, o.at.rows)
}

// ApplyBatch applies A to k source vectors stored consecutively in x
// (len k·N), writing k image vectors consecutively into dst (len k·M).
func (o *Operator) ApplyBatch(dst, x []float64, k int) {
	o.check(dst, x, o.a, k, "ApplyBatch")
	o.a.mulBatchRange(dst, x, k, 0, o.a.rows)
}

// AdjointBatch applies Aᵀ to k image vectors stored consecutively.
func (o *Operator) AdjointBatch(dst, r []float64, k int) {
	o.check(dst, r, o.at, k, "AdjointBatch")
	o.at.mulBatchRange(dst, r, k, 0, o.at.rows)
}

// RowNorms2 returns diag(A Aᵀ), the squared Euclidean norm of each row of A.
func (o *Operator) RowNorms2() []float64 {
	out := make([]float64, o.a.rows)
	for i := range out {
		var s float64
		for q := o.a.ptr[i]; q < o.a.ptr[i+1]; q++ {
			s += o.a.val[q] * o.a.val[q]
		}
		out[i] = s
	}
	return out
}

// At returns the matrix element A[i][j] (binary search; for tests and tools).
func (o *Operator) At(i, j int) float64 {
	a, b := o.a.ptr[i], o.a.ptr[i+1]
	if p, ok := slices.BinarySearch(o.a.idx[a:b], int32(j)); ok {
		return o.a.val[a+p]
	}
	return 0
}

func (o *Operator) check(dst, x []float64, m *csr, k int, op string) {
	if k < 0 || len(dst) != k*m.rows || len(x) != k*m.cols {
		panic(fmt.Sprintf("lens: Operator.%s: got len(dst)=%d, len(x)=%d for k=%d, want %d and %d",
			op, len(dst), len(x), k, k*m.rows, k*m.cols))
	}
}

// DirectForward evaluates A·src without a matrix: ray-trace every sub-pixel
// centre, interpolate the source bilinearly, average-pool, then convolve with
// the PSF (zero padding). It is the reference implementation for Operator and
// returns a new image of Obs.N² pixels.
func DirectForward(mass Mass, cfg Config, src []float64) ([]float64, error) {
	if mass == nil {
		return nil, fmt.Errorf("lens: direct forward: nil mass model")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if len(src) != cfg.Src.Len() {
		return nil, fmt.Errorf("lens: direct forward: source has %d pixels, want %d", len(src), cfg.Src.Len())
	}
	ps := PixelSource{Grid: cfg.Src, Data: src}
	lensed := Render(lensedLight{mass, ps}, cfg.Obs, cfg.supersample())
	if cfg.PSF == nil {
		return lensed, nil
	}
	out := make([]float64, len(lensed))
	cfg.PSF.Convolve(out, lensed, cfg.Obs.N)
	return out, nil
}

// lensedLight is the image-plane brightness I(θ) = S(θ − α(θ)).
type lensedLight struct {
	mass Mass
	src  Light
}

func (l lensedLight) Brightness(x, y float64) float64 {
	ax, ay := l.mass.Deflection(x, y)
	return l.src.Brightness(x-ax, y-ay)
}

// LensedImage renders a light profile seen through the lens on grid g with
// super×super rays per pixel (no PSF).
func LensedImage(mass Mass, l Light, g Grid, super int) []float64 {
	return Render(lensedLight{mass, l}, g, super)
}
