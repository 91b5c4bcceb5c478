package nn

import "fmt"

// FIR resamples C×H×W images by 2 with a separable finite-impulse-response
// filter, as StyleGAN2's upfirdn2d and the FIR layers of NCSN++ do. With
// the 1-D kernel k normalised to k̂ = k/Σk, length L, and p = L − 2, each
// axis is
//
//	down: y[i] = Σ_a k̂[L−1−a] · x[2i + a − ⌈p/2⌉]                  (H → H/2)
//	up:   y[i] = Σ_a 2k̂[L−1−a] · u[i + a − ⌈p/2⌉ − 1],  u[2m] = x[m], u[2m+1] = 0   (H → 2H)
//
// with zeros outside the image, and the 2-D filter is the outer product
// (gain 1 down, 4 up, so that a constant image keeps its value). k = (1, 1)
// is 2×2 average pooling down and nearest-neighbour up-sampling; NCSN++'s
// default is (1, 3, 3, 1). Each axis is a sparse matrix of at most L
// entries per output; the 2-D pass is y = M_H x M_Wᵀ, its adjoint
// dx = M_Hᵀ dy M_W.
type FIR struct {
	e          *Engine
	C, H, W    int
	Ho, Wo     int
	Up         bool
	rows, cols sparse1D
	n          int
	y, dx      []float32
	x, dy      []float32
	fwd, bwd   func(w, t int)
}

// sparse1D is an out×in matrix with the entries of row i at
// idx/val[off[i]:off[i+1]].
type sparse1D struct {
	out, in int
	off     []int
	idx     []int
	val     []float32
	// transposed copy, for the adjoint
	toff []int
	tidx []int
	tval []float32
}

func firMatrix(n int, k []float64, up bool) sparse1D {
	L := len(k)
	var s float64
	for _, v := range k {
		s += v
	}
	p := L - 2
	pad0 := (p + 1) / 2
	out, gain := n/2, 1.0
	if up {
		out, gain, pad0 = 2*n, 2, pad0+1
	}
	m := sparse1D{out: out, in: n, off: make([]int, out+1)}
	for i := 0; i < out; i++ {
		for a := 0; a < L; a++ {
			w := float32(gain * k[L-1-a] / s)
			if up {
				j := i + a - pad0 // index into u
				if j < 0 || j >= 2*n || j%2 != 0 {
					continue
				}
				m.idx = append(m.idx, j/2)
			} else {
				j := 2*i + a - pad0
				if j < 0 || j >= n {
					continue
				}
				m.idx = append(m.idx, j)
			}
			m.val = append(m.val, w)
		}
		m.off[i+1] = len(m.idx)
	}
	// transpose
	m.toff = make([]int, n+1)
	for _, j := range m.idx {
		m.toff[j+1]++
	}
	for j := 0; j < n; j++ {
		m.toff[j+1] += m.toff[j]
	}
	m.tidx = make([]int, len(m.idx))
	m.tval = make([]float32, len(m.idx))
	fill := append([]int(nil), m.toff[:n]...)
	for i := 0; i < out; i++ {
		for e := m.off[i]; e < m.off[i+1]; e++ {
			j := m.idx[e]
			m.tidx[fill[j]], m.tval[fill[j]] = i, m.val[e]
			fill[j]++
		}
	}
	return m
}

// CheckFIRKernel reports whether k is usable as a FIR resampling kernel:
// 2 to 16 finite taps with a positive sum.
func CheckFIRKernel(k []float64) error {
	if len(k) < 2 || len(k) > 16 {
		return fmt.Errorf("FIR kernel needs 2 to 16 taps, got %d", len(k))
	}
	var s float64
	for _, v := range k {
		if v != v || v > 1e30 || v < -1e30 {
			return fmt.Errorf("FIR kernel %v has a non-finite tap", k)
		}
		s += v
	}
	if !(s > 0) {
		return fmt.Errorf("FIR kernel %v must have a positive sum", k)
	}
	return nil
}

// NewFIR returns the resampler of C×h×w images (h, w even when down) by 2
// with kernel k (see CheckFIRKernel).
func NewFIR(e *Engine, c, h, w int, k []float64, up bool) *FIR {
	f := &FIR{e: e, C: c, H: h, W: w, Up: up}
	f.rows, f.cols = firMatrix(h, k, up), firMatrix(w, k, up)
	f.Ho, f.Wo = f.rows.out, f.cols.out
	f.fwd, f.bwd = f.forwardOne, f.backwardOne
	return f
}

// Forward resamples n images x.
func (f *FIR) Forward(x []float32, n int) []float32 {
	f.n, f.x = n, x
	f.y = grow(f.y, n*f.C*f.Ho*f.Wo)
	f.e.RunDynamic(n*f.C, f.fwd)
	f.x = nil
	return f.y
}

// forwardOne: plane t of y = M_H x M_Wᵀ (columns first, into scratch).
func (f *FIR) forwardOne(w, t int) {
	H, W, Ho, Wo := f.H, f.W, f.Ho, f.Wo
	x := f.x[t*H*W : (t+1)*H*W]
	y := f.y[t*Ho*Wo : (t+1)*Ho*Wo]
	tmp := f.e.scratch(w, 0, H*Wo) // x M_Wᵀ
	// The taps of an output read consecutive inputs (firMatrix lists them
	// in ascending order), so each output is a short dot product; 2 and 4
	// taps (the interior of (1,3,3,1) up and down) are unrolled.
	c := &f.cols
	for r := 0; r < H; r++ {
		xr, tr := x[r*W:(r+1)*W], tmp[r*Wo:(r+1)*Wo]
		for j := range tr {
			e0, e1 := c.off[j], c.off[j+1]
			ws := c.val[e0:e1]
			var s float32
			switch len(ws) {
			case 0:
			case 2:
				xs := xr[c.idx[e0]:]
				xs = xs[:2]
				s = ws[0]*xs[0] + ws[1]*xs[1]
			case 4:
				xs := xr[c.idx[e0]:]
				xs = xs[:4]
				s = ws[0]*xs[0] + ws[1]*xs[1] + ws[2]*xs[2] + ws[3]*xs[3]
			default:
				xs := xr[c.idx[e0]:]
				xs = xs[:len(ws)]
				for q, w := range ws {
					s += w * xs[q]
				}
			}
			tr[j] = s
		}
	}
	// Each output row is a combination of a few rows of tmp, written once.
	rm := &f.rows
	for i := 0; i < Ho; i++ {
		yr := y[i*Wo : (i+1)*Wo]
		e0, e1 := rm.off[i], rm.off[i+1]
		row := func(e int) []float32 { return tmp[rm.idx[e]*Wo : rm.idx[e]*Wo+len(yr)] }
		switch e1 - e0 {
		case 0:
			clear(yr)
		case 2:
			v0, v1, t0, t1 := rm.val[e0], rm.val[e0+1], row(e0), row(e0+1)
			for j := range yr {
				yr[j] = v0*t0[j] + v1*t1[j]
			}
		case 4:
			v0, v1, v2, v3 := rm.val[e0], rm.val[e0+1], rm.val[e0+2], rm.val[e0+3]
			t0, t1, t2, t3 := row(e0), row(e0+1), row(e0+2), row(e0+3)
			for j := range yr {
				yr[j] = v0*t0[j] + v1*t1[j] + v2*t2[j] + v3*t3[j]
			}
		default:
			v, t := rm.val[e0], row(e0)
			for j := range yr {
				yr[j] = v * t[j]
			}
			for e := e0 + 1; e < e1; e++ {
				v, t := rm.val[e], row(e)
				for j := range yr {
					yr[j] += v * t[j]
				}
			}
		}
	}
}

// Backward returns dL/dx = M_Hᵀ dy M_W per plane.
func (f *FIR) Backward(dy []float32) []float32 {
	f.dy = dy
	f.dx = grow(f.dx, f.n*f.C*f.H*f.W)
	f.e.RunDynamic(f.n*f.C, f.bwd)
	f.dy = nil
	return f.dx
}

func (f *FIR) backwardOne(w, t int) {
	H, W, Ho, Wo := f.H, f.W, f.Ho, f.Wo
	dy := f.dy[t*Ho*Wo : (t+1)*Ho*Wo]
	dx := f.dx[t*H*W : (t+1)*H*W]
	tmp := f.e.scratch(w, 0, H*Wo) // M_Hᵀ dy
	rm := &f.rows
	for r := 0; r < H; r++ {
		tr := tmp[r*Wo : (r+1)*Wo]
		clear(tr)
		for e := rm.toff[r]; e < rm.toff[r+1]; e++ {
			v, dr := rm.tval[e], dy[rm.tidx[e]*Wo:(rm.tidx[e]+1)*Wo]
			for j := range tr {
				tr[j] += v * dr[j]
			}
		}
	}
	c := &f.cols
	for r := 0; r < H; r++ {
		tr, xr := tmp[r*Wo:(r+1)*Wo], dx[r*W:(r+1)*W]
		for j := 0; j < W; j++ {
			var s float32
			for e := c.toff[j]; e < c.toff[j+1]; e++ {
				s += c.tval[e] * tr[c.tidx[e]]
			}
			xr[j] = s
		}
	}
}
