package nn

import (
	"math"
	"math/rand/v2"
)

// AttnBlock is NCSN++'s self-attention over the P = H·W pixels of a C×H×W
// image (AttnBlockpp with skip_rescale):
//
//	h = GroupNorm(x)                     (no activation)
//	[q; k; v] = W_qkv h + b_qkv          (three 1×1 "NIN" projections, one GEMM)
//	A = softmax_rows(qᵀk / √C)           (P×P, row i attends over pixels j)
//	o = v Aᵀ                             (o[c,i] = Σ_j v[c,j] A[i,j])
//	y = (x + W_o o + b_o) / √2.
//
// W_qkv has shape [3C, C] (rows q, then k, then v), W_o [C, C]. W_o is
// initialised with scale 0 (≈1e-10) as in NCSN++, so the block starts as
// y ≈ x/√2.
type AttnBlock struct {
	e       *Engine
	C, H, W int
	Norm    *GroupNorm // nil: no normalisation (h = x), see NewSelfAttention
	// SkipScale multiplies x + W_o o + b_o: 1/√2 (NewAttnBlock) or 1
	// (NewSelfAttention).
	SkipScale   float32
	WQKV, BQKV  *Param
	WO, BO      *Param
	gqkv, gbqkv *wgrad
	gwo, gbo    *wgrad

	n           int
	x, h        []float32
	qkv, att, o []float32
	y, dy, dh   []float32
	fwd, bwd    func(w, i int)
	fwdQKV      func(w, t int)
}

// NewAttnBlock returns the attention block for C×h×w images.
func NewAttnBlock(e *Engine, name string, c, h, w int) *AttnBlock {
	a := newAttn(e, name, c, h, w)
	a.Norm = NewGroupNorm(e, name+".norm", c, h*w, Groups(c), false)
	a.SkipScale = math.Sqrt2 / 2
	return a
}

// NewSelfAttention returns score_models' SelfAttentionBlock for C×h×w
// images: the block above without GroupNorm and without the 1/√2,
//
//	[q; k; v] = W_qkv x + b_qkv,  y = x + W_o o + b_o.
func NewSelfAttention(e *Engine, name string, c, h, w int) *AttnBlock {
	a := newAttn(e, name, c, h, w)
	a.SkipScale = 1
	return a
}

func newAttn(e *Engine, name string, c, h, w int) *AttnBlock {
	a := &AttnBlock{e: e, C: c, H: h, W: w}
	a.WQKV = NewParam(name+".qkv.weight", 3*c, c)
	a.BQKV = NewParam(name+".qkv.bias", 3*c)
	a.WO = NewParam(name+".out.weight", c, c)
	a.BO = NewParam(name+".out.bias", c)
	a.gqkv, a.gbqkv = newWGrad(e, a.WQKV), newWGrad(e, a.BQKV)
	a.gwo, a.gbo = newWGrad(e, a.WO), newWGrad(e, a.BO)
	a.fwd, a.bwd, a.fwdQKV = a.forwardOne, a.backwardOne, a.forwardQKV
	return a
}

// Init sets q, k, v projections by VarianceScaling(scale 1) and the output
// projection with scale outScale (NCSN++: 0); biases zero.
func (a *AttnBlock) Init(outScale float64, rng *rand.Rand) {
	c := a.C
	for p := 0; p < 3; p++ {
		VarianceScaling(a.WQKV.Data[p*c*c:(p+1)*c*c], c, c, 1, rng)
	}
	VarianceScaling(a.WO.Data, c, c, outScale, rng)
	clear(a.BQKV.Data)
	clear(a.BO.Data)
}

// Params returns the normalisation and projection parameters.
func (a *AttnBlock) Params() []*Param {
	if a.Norm == nil {
		return []*Param{a.WQKV, a.BQKV, a.WO, a.BO}
	}
	return append(a.Norm.Params(), a.WQKV, a.BQKV, a.WO, a.BO)
}

// Flops returns the forward floating-point operations for one image.
func (a *AttnBlock) Flops() int64 {
	c, p := int64(a.C), int64(a.H*a.W)
	return 2*3*c*c*p + 2*2*p*p*c + 2*c*c*p
}

// attnBlockPix is the number of pixels (columns of q, k, v and rows of A)
// per task of the forward pass, so that even one image keeps every worker
// busy; it depends only on the shape, so results do not depend on the
// batch or the worker count.
const attnBlockPix = 32

// blocks returns the number of pixel blocks per image and the block size.
func (a *AttnBlock) blocks() (nb, bs int) {
	p := a.H * a.W
	bs = min(p, attnBlockPix)
	return (p + bs - 1) / bs, bs
}

// Forward implements Layer. It runs in two parallel phases over blocks of
// pixels: the projections [q; k; v] of a block of columns, then, for a
// block of query pixels, its rows of A, their softmax, its columns of o
// and of y.
func (a *AttnBlock) Forward(x []float32, n int) []float32 {
	c, p := a.C, a.H*a.W
	a.x, a.n = x, n
	if a.Norm != nil {
		a.h = a.Norm.Forward(x, n)
	} else {
		a.h = x[:n*c*p]
	}
	a.qkv = grow(a.qkv, n*3*c*p)
	a.att = grow(a.att, n*p*p)
	a.o = grow(a.o, n*c*p)
	a.y = grow(a.y, n*c*p)
	nb, _ := a.blocks()
	a.e.RunDynamic(n*nb, a.fwdQKV)
	a.e.RunDynamic(n*nb, a.fwd)
	return a.y
}

// block returns the image and pixel range [j0, j1) of task t.
func (a *AttnBlock) block(t int) (i, j0, j1 int) {
	nb, bs := a.blocks()
	i, b := t/nb, t%nb
	j0 = b * bs
	return i, j0, min(a.H*a.W, j0+bs)
}

// forwardQKV computes columns [j0, j1) of [q; k; v] = W_qkv h + b_qkv.
func (a *AttnBlock) forwardQKV(_, t int) {
	c, p := a.C, a.H*a.W
	i, j0, j1 := a.block(t)
	h := a.h[i*c*p : (i+1)*c*p]
	qkv := a.qkv[i*3*c*p : (i+1)*3*c*p]
	fillCols(qkv, a.BQKV.Data, p, j0, j1)
	a.e.gemm.Sgemm(false, false, 3*c, j1-j0, c, 1, a.WQKV.Data, c, h[j0:], p, 1, qkv[j0:], p)
}

// forwardOne computes, for the query pixels [r0, r1) of task t, rows
// [r0, r1) of A and columns [r0, r1) of o and y. The products are arranged
// without a transposed B (A's rows as qᵀk with q read transposed, then
// o = v·(A rows)ᵀ through a transposed copy of the block), the form the
// engine's small-product kernel takes.
func (a *AttnBlock) forwardOne(w, t int) {
	c, p := a.C, a.H*a.W
	i, r0, r1 := a.block(t)
	nr := r1 - r0
	g := a.e.gemm
	qkv := a.qkv[i*3*c*p : (i+1)*3*c*p]
	att := a.att[i*p*p : (i+1)*p*p]
	o := a.o[i*c*p : (i+1)*c*p]
	y := a.y[i*c*p : (i+1)*c*p]
	x := a.x[i*c*p : (i+1)*c*p]
	q, k, v := qkv[:c*p], qkv[c*p:2*c*p], qkv[2*c*p:]
	g.Sgemm(true, false, nr, p, c, 1, q[r0:], p, k, p, 0, att[r0*p:], p)
	scale := float32(1 / math.Sqrt(float64(c)))
	attT := a.e.scratch(w, 0, p*nr) // attT[j][r−r0] = A[r][j]
	softmaxRows(att, attT, p, r0, r1, scale)
	g.Sgemm(false, false, c, nr, p, 1, v, p, attT, nr, 0, o[r0:], p)
	fillCols(y, a.BO.Data, p, r0, r1)
	g.Sgemm(false, false, c, nr, c, 1, a.WO.Data, c, o[r0:], p, 1, y[r0:], p)
	for r := 0; r < c; r++ {
		addScale(y[r*p+r0:r*p+r1], x[r*p+r0:r*p+r1], a.SkipScale)
	}
}

// Backward implements Layer.
func (a *AttnBlock) Backward(dout []float32) []float32 {
	c, p := a.C, a.H*a.W
	a.dy = dout
	a.dh = grow(a.dh, a.n*c*p)
	u := a.e.used(a.n)
	for _, g := range []*wgrad{a.gqkv, a.gbqkv, a.gwo, a.gbo} {
		g.zero(u)
	}
	a.e.runBackward(a.n, a.bwd)
	if a.e.ParamGrads() {
		for _, g := range []*wgrad{a.gqkv, a.gbqkv, a.gwo, a.gbo} {
			g.reduce(u)
		}
	}
	dx := a.dh
	if a.Norm != nil {
		dx = a.Norm.Backward(a.dh)
	}
	a.e.AddTo(dx[:a.n*c*p], dout, a.SkipScale)
	return dx
}

func (a *AttnBlock) backwardOne(w, i int) {
	c, p := a.C, a.H*a.W
	g := a.e.gemm
	s := a.SkipScale
	h := a.h[i*c*p : (i+1)*c*p]
	qkv := a.qkv[i*3*c*p : (i+1)*3*c*p]
	att := a.att[i*p*p : (i+1)*p*p]
	o := a.o[i*c*p : (i+1)*c*p]
	dy := a.dy[i*c*p : (i+1)*c*p]
	dh := a.dh[i*c*p : (i+1)*c*p]
	q, k, v := qkv[:c*p], qkv[c*p:2*c*p], qkv[2*c*p:]
	dO := a.e.scratch(w, 0, c*p)
	dqkv := a.e.scratch(w, 1, 3*c*p)
	dA := a.e.scratch(w, 2, p*p)
	dq, dk, dv := dqkv[:c*p], dqkv[c*p:2*c*p], dqkv[2*c*p:]

	pg := a.e.ParamGrads()
	if pg {
		addRowSums(a.gbo.bufs[w], dy, p, 0, p, s)
		g.Sgemm(false, true, c, c, p, s, dy, p, o, p, 1, a.gwo.bufs[w], c)
	}
	g.Sgemm(true, false, c, p, c, s, a.WO.Data, c, dy, p, 0, dO, p)
	g.Sgemm(false, false, c, p, p, 1, dO, p, att, p, 0, dv, p)
	g.Sgemm(true, false, p, p, c, 1, dO, p, v, p, 0, dA, p)
	scale := float32(1 / math.Sqrt(float64(c)))
	for r := 0; r < p; r++ {
		ar := att[r*p : (r+1)*p]
		dr := dA[r*p : (r+1)*p]
		var dot float32
		for j, av := range ar {
			dot += av * dr[j]
		}
		for j, av := range ar {
			dr[j] = scale * av * (dr[j] - dot)
		}
	}
	g.Sgemm(false, true, c, p, p, 1, k, p, dA, p, 0, dq, p)
	g.Sgemm(false, false, c, p, p, 1, q, p, dA, p, 0, dk, p)
	if pg {
		addRowSums(a.gbqkv.bufs[w], dqkv, p, 0, p, 1)
		g.Sgemm(false, true, 3*c, c, p, 1, dqkv, p, h, p, 1, a.gqkv.bufs[w], c)
	}
	g.Sgemm(true, false, c, p, 3*c, 1, a.WQKV.Data, c, dqkv, p, 0, dh, p)
}
