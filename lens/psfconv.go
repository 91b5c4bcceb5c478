package lens

import "math"

// tap is one non-zero kernel coefficient k at source offset off: an output
// pixel in row r, column c receives k·src[r+dr][c+off], where dr is the
// offset shared by the taps of one kernel row.
type tap struct {
	off int
	k   float64
}

// tapRow is the non-zero taps of one kernel row, all at row offset dr.
type tapRow struct {
	dr   int
	taps []tap
}

// stencil is a zero-padded 2-D correlation on an n×n image,
//
//	dst[r][c] = Σ_{rows, taps} k·src[r+dr][c+off],   terms outside the image dropped.
//
// The forward PSF convolution is the stencil with offsets dr = −(a−h_r),
// off = −(b−h_c) and its adjoint the one with the signs flipped. The
// columns c ∈ [lo, hi) are interior: every tap reads a pixel inside the
// image there, so that range needs no bounds logic.
type stencil struct {
	n      int
	rows   []tapRow
	lo, hi int
}

func newStencil(n int, kernel []float64, rows, cols int, sign int) stencil {
	hr, hc := rows/2, cols/2
	s := stencil{n: n, lo: 0, hi: n}
	for a := 0; a < rows; a++ {
		tr := tapRow{dr: sign * (a - hr)}
		if tr.dr <= -n || tr.dr >= n {
			continue
		}
		for b := 0; b < cols; b++ {
			k := kernel[a*cols+b]
			if k == 0 {
				continue
			}
			off := sign * (b - hc)
			tr.taps = append(tr.taps, tap{off, k})
			s.lo, s.hi = max(s.lo, -off), min(s.hi, n-off)
		}
		if len(tr.taps) > 0 {
			s.rows = append(s.rows, tr)
		}
	}
	s.lo = min(s.lo, n)
	s.hi = max(s.hi, s.lo)
	return s
}

// apply sets dst = stencil(src); dst and src are n×n and must not overlap.
// For each output row, every tap valid for that row contributes over the
// interior columns in fused groups of four (one pass over the destination
// row per group), and over its own valid columns outside the interior
// one tap at a time; no per-pixel bounds tests.
func (s *stencil) apply(dst, src []float64) {
	n, lo, hi := s.n, s.lo, s.hi
	dst = dst[:n*n]
	src = src[:n*n]
	clear(dst)
	for r := 0; r < n; r++ {
		d := dst[r*n : (r+1)*n]
		di := d[lo:hi]
		var g0, g1, g2, g3 []float64
		var k0, k1, k2 float64
		ng := 0
		for i := range s.rows {
			tr := &s.rows[i]
			sr := r + tr.dr
			if sr < 0 || sr >= n {
				continue
			}
			srow := src[sr*n : (sr+1)*n]
			for _, t := range tr.taps {
				c0, c1 := max(0, -t.off), min(n, n-t.off)
				if c0 >= c1 {
					continue
				}
				if c0 < lo {
					axpy(d[c0:min(lo, c1)], srow[c0+t.off:], t.k)
				}
				if c1 > hi {
					c := max(hi, c0)
					axpy(d[c:c1], srow[c+t.off:], t.k)
				}
				if lo >= hi {
					continue
				}
				si := srow[lo+t.off:]
				switch ng {
				case 0:
					g0, k0, ng = si, t.k, 1
				case 1:
					g1, k1, ng = si, t.k, 2
				case 2:
					g2, k2, ng = si, t.k, 3
				default:
					g3 = si
					axpy4(di, g0, g1, g2, g3, k0, k1, k2, t.k)
					ng = 0
				}
			}
		}
		switch ng {
		case 1:
			axpy(di, g0, k0)
		case 2:
			axpy2(di, g0, g1, k0, k1)
		case 3:
			axpy3(di, g0, g1, g2, k0, k1, k2)
		}
	}
}

// axpy sets d[i] += k·s[i] for i < len(d). The axpy kernels are kept out
// of line so that their loops get the registers to themselves.
//
//go:noinline
func axpy(d, s []float64, k float64) {
	s = s[:len(d)]
	for i, v := range s {
		d[i] += k * v
	}
}

//go:noinline
func axpy2(d, s0, s1 []float64, k0, k1 float64) {
	s0, s1 = s0[:len(d)], s1[:len(d)]
	for i := range d {
		d[i] += k0*s0[i] + k1*s1[i]
	}
}

//go:noinline
func axpy3(d, s0, s1, s2 []float64, k0, k1, k2 float64) {
	s0, s1, s2 = s0[:len(d)], s1[:len(d)], s2[:len(d)]
	for i := range d {
		d[i] += (k0*s0[i] + k1*s1[i]) + k2*s2[i]
	}
}

//go:noinline
func axpy4(d, s0, s1, s2, s3 []float64, k0, k1, k2, k3 float64) {
	s0, s1, s2, s3 = s0[:len(d)], s1[:len(d)], s2[:len(d)], s3[:len(d)]
	for i := range d {
		d[i] += (k0*s0[i] + k1*s1[i]) + (k2*s2[i] + k3*s3[i])
	}
}

// psfOp is the PSF convolution P on the n×n observation grid and its
// adjoint Pᵀ, either as one 2-D stencil or, for a separable kernel
// K[a][b] = u[a]·v[b], as a row pass by v followed by a column pass by u.
type psfOp struct {
	fwd, adj   stencil // 2-D, or the row (v) pass when separable
	fwdU, adjU stencil // column (u) pass; used only when separable
	separable  bool
}

// separableTol is the largest |K[a][b] − u[a]v[b]|, relative to max|K|,
// for which a kernel is treated as separable: a few rounding errors, so
// that the two 1-D passes agree with the 2-D sum to rounding.
const separableTol = 1e-15

func newPSFOp(p *PSF, n int) *psfOp {
	op := &psfOp{}
	if u, v, ok := separate(p); ok {
		op.separable = true
		op.fwd = newStencil(n, v, 1, p.Cols, -1)
		op.adj = newStencil(n, v, 1, p.Cols, 1)
		op.fwdU = newStencil(n, u, p.Rows, 1, -1)
		op.adjU = newStencil(n, u, p.Rows, 1, 1)
		return op
	}
	op.fwd = newStencil(n, p.Kernel, p.Rows, p.Cols, -1)
	op.adj = newStencil(n, p.Kernel, p.Rows, p.Cols, 1)
	return op
}

// scratchLen is the length of the scratch slice apply and adjoint need.
func (p *psfOp) scratchLen() int {
	if p.separable {
		return p.fwd.n * p.fwd.n
	}
	return 0
}

// apply sets dst = P·src using tmp (len scratchLen) as scratch.
func (p *psfOp) apply(dst, src, tmp []float64) {
	if !p.separable {
		p.fwd.apply(dst, src)
		return
	}
	p.fwd.apply(tmp, src)
	p.fwdU.apply(dst, tmp)
}

// adjoint sets dst = Pᵀ·src using tmp (len scratchLen) as scratch.
func (p *psfOp) adjoint(dst, src, tmp []float64) {
	if !p.separable {
		p.adj.apply(dst, src)
		return
	}
	p.adjU.apply(tmp, src)
	p.adj.apply(dst, tmp)
}

// separate factors K = u vᵀ with u the column and v the row through the
// largest |K| entry (v scaled by 1/K at that entry), and reports whether
// the factorisation reproduces every entry to separableTol·max|K|.
func separate(p *PSF) (u, v []float64, ok bool) {
	if p.Rows == 1 || p.Cols == 1 {
		return nil, nil, false // already one pass
	}
	pi, m := 0, 0.0
	for i, k := range p.Kernel {
		if math.Abs(k) > m {
			pi, m = i, math.Abs(k)
		}
	}
	if m == 0 {
		return nil, nil, false
	}
	pr, pc := pi/p.Cols, pi%p.Cols
	u = make([]float64, p.Rows)
	v = make([]float64, p.Cols)
	for a := range u {
		u[a] = p.Kernel[a*p.Cols+pc]
	}
	for b := range v {
		v[b] = p.Kernel[pr*p.Cols+b] / p.Kernel[pi]
	}
	for a := range u {
		for b := range v {
			if math.Abs(p.Kernel[a*p.Cols+b]-u[a]*v[b]) > separableTol*m {
				return nil, nil, false
			}
		}
	}
	return u, v, true
}
