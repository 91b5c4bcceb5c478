package nn

import (
	"math"
	"math/rand/v2"
)

// ResBlock is the BigGAN-style residual block of NCSN++ (ResnetBlockBigGANpp
// without resampling, dropout or FIR), for Cin×H×W inputs and a time
// embedding t (already passed through SiLU, n×T):
//
//	h = Conv3×3(SiLU(GroupNorm₀(x)))  + Dense(t)[:, c]   (per channel)
//	h = Conv3×3(SiLU(GroupNorm₁(h)))
//	y = (skip(x) + h)/√2,   skip = identity if Cin = Cout else Conv1×1
//
// (or skip(x) + h with OutScale 1).
//
// The second convolution is initialised with scale 0 (≈1e-10) as in NCSN++.
type ResBlock struct {
	Cin, Cout, H, W int
	Norm0, Norm1    *GroupNorm
	Conv0, Conv1    *Conv2D
	Dense           *Linear
	Skip            *Conv2D // nil when Cin == Cout
	// OutScale multiplies skip(x) + h: 1/√2 (NCSN++'s skip_rescale, the
	// default set by NewResBlock) or 1.
	OutScale float32

	e        *Engine
	n        int
	x, y, dx []float32
	dh, dtmp []float32
	g        []float32 // operand of sumAndAdd
	dy       []float32
	resBwd0  func(w, t int)
	resBwd1  func(w, t int)
}

// NewResBlock returns a residual block; tdim is the time-embedding size.
func NewResBlock(e *Engine, name string, cin, cout, h, w, tdim int) *ResBlock {
	r := &ResBlock{Cin: cin, Cout: cout, H: h, W: w, e: e, OutScale: math.Sqrt2 / 2}
	r.resBwd0, r.resBwd1 = r.scaleDy, r.sumAndAdd
	r.Norm0 = NewGroupNorm(e, name+".norm0", cin, h*w, Groups(cin), true)
	r.Conv0 = NewConv2D(e, name+".conv0", cin, cout, h, w, 3, 1, 1)
	r.Dense = NewLinear(e, name+".dense", tdim, cout)
	r.Norm1 = NewGroupNorm(e, name+".norm1", cout, h*w, Groups(cout), true)
	r.Conv1 = NewConv2D(e, name+".conv1", cout, cout, h, w, 3, 1, 1)
	if cin != cout {
		r.Skip = NewConv2D(e, name+".skip", cin, cout, h, w, 1, 1, 0)
	}
	return r
}

// Init applies the NCSN++ initialisation: default_init(1) for Conv0, Dense
// and Skip, default_init(conv1Scale) (NCSN++: 0) for Conv1.
func (r *ResBlock) Init(conv1Scale float64, rng *rand.Rand) {
	r.Conv0.Init(1, rng)
	r.Dense.Init(1, rng)
	r.Conv1.Init(conv1Scale, rng)
	if r.Skip != nil {
		r.Skip.Init(1, rng)
	}
}

// Params returns all parameters in a fixed order.
func (r *ResBlock) Params() []*Param {
	ps := append(r.Norm0.Params(), r.Conv0.Params()...)
	ps = append(ps, r.Dense.Params()...)
	ps = append(ps, r.Norm1.Params()...)
	ps = append(ps, r.Conv1.Params()...)
	if r.Skip != nil {
		ps = append(ps, r.Skip.Params()...)
	}
	return ps
}

// Flops returns the forward floating-point operations of the convolutions
// for one image.
func (r *ResBlock) Flops() int64 {
	f := r.Conv0.Flops() + r.Conv1.Flops()
	if r.Skip != nil {
		f += r.Skip.Flops()
	}
	return f
}

// Forward computes the block for n images x with time embeddings t.
func (r *ResBlock) Forward(x, t []float32, n int) []float32 {
	r.x, r.n = x, n
	hw := r.H * r.W
	r.Conv0.Extra = r.Dense.Forward(t, n) // added with Conv0's bias
	h := r.Conv0.Forward(r.Norm0.Forward(x, n), n)
	s := x
	if r.Skip != nil {
		s = r.Skip.Forward(x, n)
	}
	// Conv1 adds the skip and scales by 1/√2 band by band: its output is y.
	r.Conv1.Residual, r.Conv1.ResidualScale = s[:n*r.Cout*hw], r.OutScale
	r.y = r.Conv1.Forward(r.Norm1.Forward(h, n), n)
	return r.y
}

// The elementwise passes run as (image, channel) tasks writing disjoint
// ranges, so they are parallel and independent of the worker count.

func (r *ResBlock) scaleDy(_, t int) {
	hw := r.H * r.W
	scaleTo(r.dh[t*hw:(t+1)*hw], r.dy[t*hw:(t+1)*hw], r.OutScale)
}

// sumAndAdd: dtmp[t] = Σ g over the channel's pixels (dL/d(Dense output)).
func (r *ResBlock) sumAndAdd(_, t int) {
	hw := r.H * r.W
	r.dtmp[t] = sum8(r.g[t*hw : (t+1)*hw])
}

// Backward takes dL/dy, accumulates parameter gradients, adds dL/dt into
// dt (n×T) and returns dL/dx. With parameter gradients off
// (Engine.SetParamGrads) dt is left as it is: it feeds only the time
// embedding's parameters.
func (r *ResBlock) Backward(dy, dt []float32) []float32 {
	n, hw := r.n, r.H*r.W
	r.dh = grow(r.dh, n*r.Cout*hw)
	r.dy = dy
	r.e.RunDynamic(n*r.Cout, r.resBwd0)
	r.dy = nil
	g := r.Norm1.Backward(r.Conv1.Backward(r.dh))
	if r.e.ParamGrads() { // dL/dt feeds only the time embedding's parameters
		r.dtmp = grow(r.dtmp, n*r.Cout)
		r.g = g
		r.e.RunDynamic(n*r.Cout, r.resBwd1)
		r.g = nil
		for j, v := range r.Dense.Backward(r.dtmp) {
			dt[j] += v
		}
	}
	dx := r.Norm0.Backward(r.Conv0.Backward(g))
	ds := r.dh
	if r.Skip != nil {
		ds = r.Skip.Backward(r.dh)
	}
	r.e.AddTo(dx, ds, 1)
	return dx
}
