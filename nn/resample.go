package nn

import "math/rand/v2"

// Nearest2 is nearest-neighbour up-sampling by 2: y[c,i,j] = x[c,⌊i/2⌋,⌊j/2⌋]
// on C×H×W inputs. Its backward sums each 2×2 block.
type Nearest2 struct {
	C, H, W int
	// E, if set, runs Forward and Backward as parallel tasks of whole
	// planes (NewUpsample sets it); nil runs them on the caller.
	E        *Engine
	n        int
	x, y, dx []float32
	dout     []float32
	fwd, bwd func(w, i int)
}

// NewNearest2 returns the up-sampler for C×h×w inputs.
func NewNearest2(c, h, w int) *Nearest2 {
	u := &Nearest2{C: c, H: h, W: w}
	u.fwd, u.bwd = u.forwardPlane, u.backwardPlane
	return u
}

// Params returns nil.
func (u *Nearest2) Params() []*Param { return nil }

// Forward implements Layer.
func (u *Nearest2) Forward(x []float32, n int) []float32 {
	u.n, u.x = n, x
	u.y = grow(u.y, n*u.C*4*u.H*u.W)
	u.run(n*u.C, u.fwd)
	u.x = nil
	return u.y
}

// run calls f for every plane, as parallel tasks when E is set.
func (u *Nearest2) run(planes int, f func(w, i int)) {
	if u.E == nil {
		for i := 0; i < planes; i++ {
			f(0, i)
		}
		return
	}
	u.E.RunDynamic(planes, f)
}

func (u *Nearest2) forwardPlane(_, pl int) {
	W2 := 2 * u.W
	for p := pl * u.H; p < (pl+1)*u.H; p++ { // p indexes input rows
		src := u.x[p*u.W : (p+1)*u.W]
		d0 := u.y[2*p*W2 : (2*p+1)*W2]
		for j, v := range src {
			d0[2*j] = v
			d0[2*j+1] = v
		}
		copy(u.y[(2*p+1)*W2:(2*p+2)*W2], d0)
	}
}

// Backward implements Layer.
func (u *Nearest2) Backward(dout []float32) []float32 {
	u.dx = grow(u.dx, u.n*u.C*u.H*u.W)
	u.dout = dout
	u.run(u.n*u.C, u.bwd)
	u.dout = nil
	return u.dx
}

func (u *Nearest2) backwardPlane(_, pl int) {
	W2 := 2 * u.W
	for p := pl * u.H; p < (pl+1)*u.H; p++ {
		d := u.dx[p*u.W : (p+1)*u.W]
		r0 := u.dout[2*p*W2 : (2*p+1)*W2]
		r1 := u.dout[(2*p+1)*W2 : (2*p+2)*W2]
		for j := range d {
			d[j] = r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]
		}
	}
}

// AvgPool2 is 2×2 average pooling with stride 2 (H and W even).
type AvgPool2 struct {
	C, H, W int
	n       int
	y, dx   []float32
}

// NewAvgPool2 returns the pooling layer for C×h×w inputs.
func NewAvgPool2(c, h, w int) *AvgPool2 { return &AvgPool2{C: c, H: h, W: w} }

// Params returns nil.
func (a *AvgPool2) Params() []*Param { return nil }

// Forward implements Layer.
func (a *AvgPool2) Forward(x []float32, n int) []float32 {
	a.n = n
	Wo := a.W / 2
	a.y = grow(a.y, n*a.C*a.H*a.W/4)
	for p := 0; p < n*a.C*a.H/2; p++ { // output rows
		r0 := x[2*p*a.W : (2*p+1)*a.W]
		r1 := x[(2*p+1)*a.W : (2*p+2)*a.W]
		d := a.y[p*Wo : (p+1)*Wo]
		for j := range d {
			d[j] = 0.25 * (r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1])
		}
	}
	return a.y
}

// Backward implements Layer.
func (a *AvgPool2) Backward(dout []float32) []float32 {
	Wo := a.W / 2
	a.dx = grow(a.dx, a.n*a.C*a.H*a.W)
	for p := 0; p < a.n*a.C*a.H/2; p++ {
		r0 := a.dx[2*p*a.W : (2*p+1)*a.W]
		r1 := a.dx[(2*p+1)*a.W : (2*p+2)*a.W]
		for j, v := range dout[p*Wo : (p+1)*Wo] {
			v *= 0.25
			r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1] = v, v, v, v
		}
	}
	return a.dx
}

// Upsample is NCSN++'s up-sampling without FIR: nearest ×2 followed by a
// 3×3 convolution (Cin → Cout, padding 1).
type Upsample struct {
	Near *Nearest2
	Conv *Conv2D
}

// NewUpsample returns the up-sampler for Cin×h×w inputs (output Cout×2h×2w).
func NewUpsample(e *Engine, name string, cin, cout, h, w int) *Upsample {
	near := NewNearest2(cin, h, w)
	near.E = e
	return &Upsample{Near: near, Conv: NewConv2D(e, name+".conv", cin, cout, 2*h, 2*w, 3, 1, 1)}
}

// Init initialises the convolution (default_init with the given scale).
func (u *Upsample) Init(scale float64, rng *rand.Rand) { u.Conv.Init(scale, rng) }

// Params returns the convolution's parameters.
func (u *Upsample) Params() []*Param { return u.Conv.Params() }

// Forward implements Layer.
func (u *Upsample) Forward(x []float32, n int) []float32 {
	return u.Conv.Forward(u.Near.Forward(x, n), n)
}

// Backward implements Layer.
func (u *Upsample) Backward(dout []float32) []float32 {
	return u.Near.Backward(u.Conv.Backward(dout))
}

// NewDownsample returns NCSN++'s down-sampling without FIR: a 3×3
// convolution with stride 2 and padding 1 (h, w even → h/2 × w/2).
func NewDownsample(e *Engine, name string, cin, cout, h, w int) *Conv2D {
	return NewConv2D(e, name+".conv", cin, cout, h, w, 3, 2, 1)
}
