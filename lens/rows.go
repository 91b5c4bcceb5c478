package lens

// Rows is the composed operator A = P·L held as sparse rows (CSR), the form
// a dense normal matrix AᵀWA is accumulated from. Unlike Operator, which
// keeps A factored, Rows multiplies the PSF into the rows, and Build
// re-traces a new lens into the same buffers, so fitting a lens (thousands
// of operators on one geometry) does not allocate per lens in steady state.
// Row i equals the row of the composed matrix whose entries Operator.At
// returns; a Rows is not safe for concurrent use.
type Rows struct {
	cfg    Config
	l      csr // L, rebuilt by Build
	a      csr // P·L
	acc    *accumulator
	kernel *PSF
}

// NewRows checks the configuration and returns an empty Rows for it.
func NewRows(cfg Config) (*Rows, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Rows{cfg: cfg, acc: newAccumulator(cfg.Src.Len())}
	if p := cfg.PSF; p != nil {
		r.kernel = &PSF{Rows: p.Rows, Cols: p.Cols, Kernel: append([]float64(nil), p.Kernel...)}
	}
	m, n := cfg.Obs.Len(), cfg.Src.Len()
	r.l = csr{rows: m, cols: n}
	r.a = csr{rows: m, cols: n}
	return r, nil
}

// Dims returns (M, N).
func (r *Rows) Dims() (m, n int) { return r.a.rows, r.a.cols }

// Config returns the configuration the rows were made for.
func (r *Rows) Config() Config { return r.cfg }

// NNZ returns the number of stored entries of the composed rows.
func (r *Rows) NNZ() int { return len(r.a.val) }

// Row returns the column indices (ascending) and values of row i of the
// last Build; the slices are overwritten by the next Build.
func (r *Rows) Row(i int) ([]int32, []float64) {
	a, b := r.a.ptr[i], r.a.ptr[i+1]
	return r.a.idx[a:b], r.a.val[a:b]
}

// LensRow returns the column indices (ascending) and values of row i of L,
// the ray-traced interpolation before the PSF, of the last Build: row i of
// the composed A is Σ_t k_t·LensRow(s_t) over the PSF taps t whose shifted
// pixel s_t lies in the image (zero padding), as Build composes it. The
// slices are overwritten by the next Build.
func (r *Rows) LensRow(i int) ([]int32, []float64) {
	a, b := r.l.ptr[i], r.l.ptr[i+1]
	return r.l.idx[a:b], r.l.val[a:b]
}

// Build ray-traces mass through the configuration and composes A = P·L.
func (r *Rows) Build(mass Mass) {
	s := r.cfg.supersample()
	obs, src := r.cfg.Obs, r.cfg.Src
	l := &r.l
	l.ptr, l.idx, l.val = append(l.ptr[:0], 0), l.idx[:0], l.val[:0]
	w := 1 / float64(s*s)
	var idx [4]int32
	var wt [4]float64
	for row := 0; row < obs.N; row++ {
		for c := 0; c < obs.N; c++ {
			for a := 0; a < s; a++ {
				y := obs.Coord(row) + subOffset(a, s)*obs.Scale
				for b := 0; b < s; b++ {
					x := obs.Coord(c) + subOffset(b, s)*obs.Scale
					ax, ay := mass.Deflection(x, y)
					n := bilinear(src, x-ax, y-ay, &idx, &wt)
					for k := 0; k < n; k++ {
						r.acc.add(idx[k], w*wt[k])
					}
				}
			}
			r.acc.flush(l)
		}
	}
	if r.kernel == nil {
		r.a.ptr, r.a.idx, r.a.val = append(r.a.ptr[:0], l.ptr...), append(r.a.idx[:0], l.idx...), append(r.a.val[:0], l.val...)
		return
	}
	a := &r.a
	a.ptr, a.idx, a.val = append(a.ptr[:0], 0), a.idx[:0], a.val[:0]
	p, n := r.kernel, obs.N
	hr, hc := p.Rows/2, p.Cols/2
	for i := 0; i < obs.Len(); i++ {
		rr, c := i/n, i%n
		for ka := max(0, rr+hr-n+1); ka < min(p.Rows, rr+hr+1); ka++ {
			sr := rr - (ka - hr)
			for kb := max(0, c+hc-n+1); kb < min(p.Cols, c+hc+1); kb++ {
				kv := p.Kernel[ka*p.Cols+kb]
				if kv == 0 {
					continue
				}
				row := sr*n + c - (kb - hc)
				for q := l.ptr[row]; q < l.ptr[row+1]; q++ {
					r.acc.add(l.idx[q], kv*l.val[q])
				}
			}
		}
		r.acc.flush(a)
	}
}

// Apply sets dst (len M) to A·x from the composed rows.
func (r *Rows) Apply(dst, x []float64) { r.a.mulRange(dst, x, 0, r.a.rows) }
