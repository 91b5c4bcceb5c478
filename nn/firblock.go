package nn

import "math"

// ResampleBlock is NCSN++'s BigGAN residual block that changes resolution
// by 2 with FIR filters (ResnetBlockBigGANpp with up or down), for Cin×H×W
// inputs and a time embedding t (already through SiLU):
//
//	h = R(SiLU(GroupNorm₀(x)))
//	h = Conv3×3(h) + Dense(t)[:, c]
//	h = Conv3×3(SiLU(GroupNorm₁(h)))
//	y = (Conv1×1(R(x)) + h) · OutScale     (OutScale 1/√2 or 1)
//
// where R is the FIR resampler (NewFIR) up or down; the convolutions run at
// the output resolution Ho×Wo.
type ResampleBlock struct {
	Cin, Cout, H, W, Ho, Wo int
	Norm0, Norm1            *GroupNorm
	FirH, FirX              *FIR
	Conv0, Conv1            *Conv2D
	Dense                   *Linear
	Skip                    *Conv2D
	OutScale                float32

	e        *Engine
	n        int
	dh, dtmp []float32
	y        []float32
}

// NewResampleBlock returns the block for cin×h×w inputs, resampling up
// (2h×2w) or down (h/2×w/2) with FIR kernel k; tdim is the time-embedding
// size.
func NewResampleBlock(e *Engine, name string, cin, cout, h, w, tdim int, k []float64, up bool) *ResampleBlock {
	r := &ResampleBlock{Cin: cin, Cout: cout, H: h, W: w, e: e, OutScale: math.Sqrt2 / 2}
	r.Norm0 = NewGroupNorm(e, name+".norm0", cin, h*w, Groups(cin), true)
	r.FirH = NewFIR(e, cin, h, w, k, up)
	r.FirX = NewFIR(e, cin, h, w, k, up)
	r.Ho, r.Wo = r.FirH.Ho, r.FirH.Wo
	r.Conv0 = NewConv2D(e, name+".conv0", cin, cout, r.Ho, r.Wo, 3, 1, 1)
	r.Dense = NewLinear(e, name+".dense", tdim, cout)
	r.Norm1 = NewGroupNorm(e, name+".norm1", cout, r.Ho*r.Wo, Groups(cout), true)
	r.Conv1 = NewConv2D(e, name+".conv1", cout, cout, r.Ho, r.Wo, 3, 1, 1)
	r.Skip = NewConv2D(e, name+".skip", cin, cout, r.Ho, r.Wo, 1, 1, 0)
	return r
}

// Params returns all parameters in a fixed order.
func (r *ResampleBlock) Params() []*Param {
	ps := append(r.Norm0.Params(), r.Conv0.Params()...)
	ps = append(ps, r.Dense.Params()...)
	ps = append(ps, r.Norm1.Params()...)
	ps = append(ps, r.Conv1.Params()...)
	return append(ps, r.Skip.Params()...)
}

// Flops returns the forward floating-point operations of the convolutions
// for one image.
func (r *ResampleBlock) Flops() int64 { return r.Conv0.Flops() + r.Conv1.Flops() + r.Skip.Flops() }

// Forward computes the block for n images x with time embeddings t.
func (r *ResampleBlock) Forward(x, t []float32, n int) []float32 {
	r.n = n
	r.Conv0.Extra = r.Dense.Forward(t, n)
	h := r.Conv0.Forward(r.FirH.Forward(r.Norm0.Forward(x, n), n), n)
	s := r.Skip.Forward(r.FirX.Forward(x, n), n)
	r.Conv1.Residual, r.Conv1.ResidualScale = s, r.OutScale
	r.y = r.Conv1.Forward(r.Norm1.Forward(h, n), n)
	return r.y
}

// Backward takes dL/dy, accumulates parameter gradients, adds dL/dt into
// dt (n×T) and returns dL/dx.
func (r *ResampleBlock) Backward(dy, dt []float32) []float32 {
	n, hw := r.n, r.Ho*r.Wo
	r.dh = grow(r.dh, n*r.Cout*hw)
	for j, v := range dy[:len(r.dh)] {
		r.dh[j] = v * r.OutScale
	}
	g := r.Norm1.Backward(r.Conv1.Backward(r.dh))
	r.dtmp = grow(r.dtmp, n*r.Cout)
	for c := range r.dtmp {
		var s float32
		for _, v := range g[c*hw : (c+1)*hw] {
			s += v
		}
		r.dtmp[c] = s
	}
	for j, v := range r.Dense.Backward(r.dtmp) {
		dt[j] += v
	}
	dx := r.Norm0.Backward(r.FirH.Backward(r.Conv0.Backward(g)))
	for j, v := range r.FirX.Backward(r.Skip.Backward(r.dh)) {
		dx[j] += v
	}
	return dx
}
