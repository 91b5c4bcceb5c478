package lens

import (
	"fmt"
	"slices"
	"sync"
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

// at returns m[i][j] (binary search in row i).
func (m *csr) at(i, j int) float64 {
	a, b := m.ptr[i], m.ptr[i+1]
	if p, ok := slices.BinarySearch(m.idx[a:b], int32(j)); ok {
		return m.val[a+p]
	}
	return 0
}

// Operator is the linear forward model A = P·L from a source image (N =
// Src.N² pixels) to an observed image (M = Obs.N² pixels): L ray-traces
// Supersample² sub-pixel rays per image pixel through the lens, samples the
// source bilinearly and averages; P is the optional zero-padded PSF
// convolution. A is kept factored: L and Lᵀ are CSR matrices built once and
// P is applied as a convolution (Apply = P(L x), Adjoint = Lᵀ(Pᵀ r)), so
// the PSF does not multiply the stored non-zeros. Apply, Adjoint and the
// batch forms do not allocate in steady state (the M-pixel intermediate
// comes from a pool) and an Operator is safe for concurrent use.
type Operator struct {
	l, lt  *csr
	n      int    // Obs.N
	kernel *PSF   // private copy of the PSF; nil for none
	psf    *psfOp // fast P and Pᵀ; nil for none

	scratch sync.Pool // *[]float64 intermediates for Apply and Adjoint

	statsOnce sync.Once // composed-operator statistics, on first use
	nnz       int
	rowNorms  []float64
}

// NewOperator builds A for the mass model and configuration.
func NewOperator(mass Mass, cfg Config) (*Operator, error) {
	if mass == nil {
		return nil, fmt.Errorf("lens: operator: nil mass model")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := lensingMatrix(mass, cfg)
	o := &Operator{l: l, lt: l.transpose(), n: cfg.Obs.N}
	if p := cfg.PSF; p != nil {
		o.kernel = &PSF{Rows: p.Rows, Cols: p.Cols, Kernel: slices.Clone(p.Kernel)}
		o.psf = newPSFOp(o.kernel, cfg.Obs.N)
	}
	return o, nil
}

// Dims returns (M, N): image-plane and source-plane sizes.
func (o *Operator) Dims() (m, n int) { return o.l.rows, o.l.cols }

// NNZ returns the number of structural non-zeros of the composed matrix
// A = P·L, i.e. the entries a CSR matrix of A would store (with duplicates
// merged and zero PSF taps skipped). With a PSF it is computed on the first
// call to NNZ or RowNorms2 by composing A one row at a time; the operator
// itself stores only StoredNNZ values.
func (o *Operator) NNZ() int {
	o.stats()
	return o.nnz
}

// StoredNNZ returns the number of coefficients the operator stores and
// reads per Apply: the non-zeros of L plus the non-zero taps of the PSF
// kernel (Lᵀ, a copy of L, is not counted).
func (o *Operator) StoredNNZ() int {
	n := len(o.l.val)
	if o.kernel != nil {
		for _, k := range o.kernel.Kernel {
			if k != 0 {
				n++
			}
		}
	}
	return n
}

// Apply sets dst (len M) to A·x (len N).
func (o *Operator) Apply(dst, x []float64) {
	o.check(dst, x, o.l.rows, o.l.cols, 1, "Apply")
	m := o.l.rows
	if o.psf == nil {
		o.l.mulRange(dst, x, 0, m)
		return
	}
	buf := o.getScratch(m + o.psf.scratchLen())
	lx, tmp := (*buf)[:m], (*buf)[m:]
	o.l.mulRange(lx, x, 0, m)
	o.psf.apply(dst, lx, tmp)
	o.scratch.Put(buf)
}

// Adjoint sets dst (len N) to Aᵀ·r (len M).
func (o *Operator) Adjoint(dst, r []float64) {
	o.check(dst, r, o.lt.rows, o.lt.cols, 1, "Adjoint")
	if o.psf == nil {
		o.lt.mulRange(dst, r, 0, o.lt.rows)
		return
	}
	m := o.l.rows
	buf := o.getScratch(m + o.psf.scratchLen())
	pr, tmp := (*buf)[:m], (*buf)[m:]
	o.psf.adjoint(pr, r, tmp)
	o.lt.mulRange(dst, pr, 0, o.lt.rows)
	o.scratch.Put(buf)
}

// ApplyBatch applies A to k source vectors stored consecutively in x
// (len k·N), writing k image vectors consecutively into dst (len k·M).
func (o *Operator) ApplyBatch(dst, x []float64, k int) {
	o.check(dst, x, o.l.rows, o.l.cols, k, "ApplyBatch")
	m := o.l.rows
	if o.psf == nil {
		o.l.mulBatchRange(dst, x, k, 0, m)
		return
	}
	buf := o.getScratch(k*m + o.psf.scratchLen())
	lx, tmp := (*buf)[:k*m], (*buf)[k*m:]
	o.l.mulBatchRange(lx, x, k, 0, m)
	for v := 0; v < k; v++ {
		o.psf.apply(dst[v*m:(v+1)*m], lx[v*m:(v+1)*m], tmp)
	}
	o.scratch.Put(buf)
}

// AdjointBatch applies Aᵀ to k image vectors stored consecutively.
func (o *Operator) AdjointBatch(dst, r []float64, k int) {
	o.check(dst, r, o.lt.rows, o.lt.cols, k, "AdjointBatch")
	if o.psf == nil {
		o.lt.mulBatchRange(dst, r, k, 0, o.lt.rows)
		return
	}
	m := o.l.rows
	buf := o.getScratch(k*m + o.psf.scratchLen())
	pr, tmp := (*buf)[:k*m], (*buf)[k*m:]
	for v := 0; v < k; v++ {
		o.psf.adjoint(pr[v*m:(v+1)*m], r[v*m:(v+1)*m], tmp)
	}
	o.lt.mulBatchRange(dst, pr, k, 0, o.lt.rows)
	o.scratch.Put(buf)
}

// getScratch returns a pooled buffer of length n; the caller Puts it back.
// Storing *[]float64 keeps Get and Put free of allocations.
func (o *Operator) getScratch(n int) *[]float64 {
	if p, ok := o.scratch.Get().(*[]float64); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float64, n)
	return &s
}

// RowNorms2 returns diag(A Aᵀ), the squared Euclidean norm of each row of
// the composed A = P·L, in a new slice. The norms are computed once, on
// the first call to RowNorms2 or NNZ.
func (o *Operator) RowNorms2() []float64 {
	o.stats()
	return slices.Clone(o.rowNorms)
}

// stats fills nnz and rowNorms: row i of A = Σ_taps K·(row of L) is
// composed in a dense accumulator, its squares summed, and discarded.
func (o *Operator) stats() {
	o.statsOnce.Do(func() {
		m := o.l.rows
		o.rowNorms = make([]float64, m)
		if o.kernel == nil {
			for i := range o.rowNorms {
				var s float64
				for _, v := range o.l.val[o.l.ptr[i]:o.l.ptr[i+1]] {
					s += v * v
				}
				o.rowNorms[i] = s
			}
			o.nnz = len(o.l.val)
			return
		}
		acc := newAccumulator(o.l.cols)
		for i := range o.rowNorms {
			o.composeRow(acc, i)
			var s float64
			for _, j := range acc.touched {
				v := acc.dense[j]
				s += v * v
				acc.dense[j] = 0
				acc.used[j] = false
			}
			o.nnz += len(acc.touched)
			acc.touched = acc.touched[:0]
			o.rowNorms[i] = s
		}
	})
}

// composeRow adds row i of P·L, Σ_{a,b} K[a][b]·L[(r−(a−hr), c−(b−hc))],
// into acc, taps in row-major kernel order and zero taps skipped.
func (o *Operator) composeRow(acc *accumulator, i int) {
	p, n, l := o.kernel, o.n, o.l
	hr, hc := p.Rows/2, p.Cols/2
	r, c := i/n, i%n
	for a := max(0, r+hr-n+1); a < min(p.Rows, r+hr+1); a++ {
		sr := r - (a - hr)
		for b := max(0, c+hc-n+1); b < min(p.Cols, c+hc+1); b++ {
			kv := p.Kernel[a*p.Cols+b]
			if kv == 0 {
				continue
			}
			row := sr*n + c - (b - hc)
			for q := l.ptr[row]; q < l.ptr[row+1]; q++ {
				acc.add(l.idx[q], kv*l.val[q])
			}
		}
	}
}

// At returns the matrix element A[i][j] of the composed operator,
// Σ_{a,b} K[a][b]·L[(r−(a−hr), c−(b−hc))][j] with pixel i = (r, c) (binary
// searches in L; for tests and tools).
func (o *Operator) At(i, j int) float64 {
	if o.kernel == nil {
		return o.l.at(i, j)
	}
	p, n := o.kernel, o.n
	hr, hc := p.Rows/2, p.Cols/2
	r, c := i/n, i%n
	var s float64
	for a := max(0, r+hr-n+1); a < min(p.Rows, r+hr+1); a++ {
		sr := r - (a - hr)
		for b := max(0, c+hc-n+1); b < min(p.Cols, c+hc+1); b++ {
			if kv := p.Kernel[a*p.Cols+b]; kv != 0 {
				if v := o.l.at(sr*n+c-(b-hc), j); v != 0 {
					s += kv * v
				}
			}
		}
	}
	return s
}

func (o *Operator) check(dst, x []float64, rows, cols, k int, op string) {
	if k < 0 || len(dst) != k*rows || len(x) != k*cols {
		panic(fmt.Sprintf("lens: Operator.%s: got len(dst)=%d, len(x)=%d for k=%d, want %d and %d",
			op, len(dst), len(x), k, k*rows, k*cols))
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
