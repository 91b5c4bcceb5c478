package nn

import (
	"math"
	"math/rand/v2"
)

// Fourier is the Gaussian Fourier feature embedding of a scalar s (in the
// score network s = log σ) with fixed random frequencies ω_j ~ N(0, scale²),
// j < E:
//
//	y = [sin(2π s ω_1) … sin(2π s ω_E), cos(2π s ω_1) … cos(2π s ω_E)].
//
// The frequencies are stored in a Param (so they are saved with the
// weights) but are not trained: Backward never writes W.Grad.
type Fourier struct {
	E    int
	W    *Param
	n    int
	s, y []float32
	ds   []float32
}

// NewFourier returns an embedding of size 2E with zero frequencies; call Init.
func NewFourier(name string, e int) *Fourier {
	return &Fourier{E: e, W: NewParam(name+".W", e)}
}

// Init draws ω_j ~ N(0, scale²) (NCSN++ uses scale 16).
func (f *Fourier) Init(scale float64, rng *rand.Rand) {
	for i := range f.W.Data {
		f.W.Data[i] = float32(scale * rng.NormFloat64())
	}
}

// Params returns the (untrained) frequencies.
func (f *Fourier) Params() []*Param { return []*Param{f.W} }

// Forward implements Layer; x holds one scalar per sample.
func (f *Fourier) Forward(x []float32, n int) []float32 {
	f.s, f.n = x, n
	f.y = grow(f.y, n*2*f.E)
	for i := 0; i < n; i++ {
		y := f.y[i*2*f.E : (i+1)*2*f.E]
		for j, w := range f.W.Data {
			a := 2 * math.Pi * float64(x[i]) * float64(w)
			y[j] = float32(math.Sin(a))
			y[f.E+j] = float32(math.Cos(a))
		}
	}
	return f.y
}

// Backward implements Layer: it returns dL/ds (one per sample).
func (f *Fourier) Backward(dout []float32) []float32 {
	f.ds = grow(f.ds, f.n)
	for i := 0; i < f.n; i++ {
		d := dout[i*2*f.E : (i+1)*2*f.E]
		var s float64
		for j, w := range f.W.Data {
			k := 2 * math.Pi * float64(w)
			a := k * float64(f.s[i])
			s += k * (float64(d[j])*math.Cos(a) - float64(d[f.E+j])*math.Sin(a))
		}
		f.ds[i] = float32(s)
	}
	return f.ds
}

// Concat concatenates two NCHW tensors along channels: y = [a; b] per
// image, a with C1 and b with C2 channels of HW pixels. The copies run as
// parallel tasks of concatChunk floats on the engine (serially if it is
// nil).
type Concat struct {
	e          *Engine
	C1, C2, HW int
	n          int
	a, b       []float32
	y, da, db  []float32
	bwd        bool
	task       func(w, t int)
}

// concatChunk is the number of floats of y one copy task moves.
const concatChunk = 1 << 15

// NewConcat returns the concatenation of C1- and C2-channel tensors, whose
// copies run on e (nil: serially).
func NewConcat(e *Engine, c1, c2, hw int) *Concat {
	c := &Concat{e: e, C1: c1, C2: c2, HW: hw}
	c.task = c.copyTask
	return c
}

// run performs the forward copies (bwd false) or the backward split.
func (c *Concat) run() {
	s := (c.C1 + c.C2) * c.HW
	tasks := c.n * ((s + concatChunk - 1) / concatChunk)
	if c.e == nil {
		for t := 0; t < tasks; t++ {
			c.copyTask(0, t)
		}
		return
	}
	c.e.RunDynamic(tasks, c.task)
}

// copyTask moves floats [lo, hi) of one image of y from (to) a and b.
func (c *Concat) copyTask(_, t int) {
	s1, s2 := c.C1*c.HW, c.C2*c.HW
	per := (s1 + s2 + concatChunk - 1) / concatChunk
	i, k := t/per, t%per
	lo, hi := k*concatChunk, min(s1+s2, (k+1)*concatChunk)
	y := c.y[i*(s1+s2) : (i+1)*(s1+s2)]
	if lo < s1 {
		e := min(hi, s1)
		if c.bwd {
			copy(c.da[i*s1+lo:i*s1+e], y[lo:e])
		} else {
			copy(y[lo:e], c.a[i*s1+lo:i*s1+e])
		}
	}
	if hi > s1 {
		b := max(lo, s1)
		if c.bwd {
			copy(c.db[i*s2+b-s1:i*s2+hi-s1], y[b:hi])
		} else {
			copy(y[b:hi], c.b[i*s2+b-s1:i*s2+hi-s1])
		}
	}
}

// Forward returns the concatenation of n images of a and b.
func (c *Concat) Forward(a, b []float32, n int) []float32 {
	c.n = n
	s1, s2 := c.C1*c.HW, c.C2*c.HW
	c.y = grow(c.y, n*(s1+s2))
	c.a, c.b, c.bwd = a[:n*s1], b[:n*s2], false
	c.run()
	c.a, c.b = nil, nil
	return c.y
}

// Backward splits dout into the gradients for a and b.
func (c *Concat) Backward(dout []float32) (da, db []float32) {
	s1, s2 := c.C1*c.HW, c.C2*c.HW
	c.da = grow(c.da, c.n*s1)
	c.db = grow(c.db, c.n*s2)
	y := c.y
	c.y, c.bwd = dout[:c.n*(s1+s2)], true
	c.run()
	c.y = y
	return c.da, c.db
}
