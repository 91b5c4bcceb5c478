package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// linFunc returns L = <w, out> in float64.
func linFunc(w, out []float32) float64 {
	var s float64
	for i, v := range out {
		s += float64(w[i]) * float64(v)
	}
	return s
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * rng.NormFloat64())
	}
	return v
}

// gradCheck compares analytic against central differences of
// L(v) = <w, forward()> with respect to the entries of v (perturbed in
// place), at most maxEntries of them chosen at random. It asserts a
// relative error of the checked vector below 1e-2 and an entry-wise bound
// |fd − an| ≤ 0.03|an| + 0.01·rms(an).
func gradCheck(t *testing.T, what string, v, analytic, w []float32, forward func() []float32, maxEntries int, rng *rand.Rand) {
	t.Helper()
	const h = 1e-2
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	if len(idx) > maxEntries {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:maxEntries]
	}
	fd := make([]float64, len(idx))
	var num, den, ss float64
	for k, j := range idx {
		old := v[j]
		v[j] = old + h
		lp := linFunc(w, forward())
		v[j] = old - h
		lm := linFunc(w, forward())
		v[j] = old
		fd[k] = (lp - lm) / (2 * h)
		d := fd[k] - float64(analytic[j])
		num += d * d
		den += float64(analytic[j]) * float64(analytic[j])
		ss += float64(analytic[j]) * float64(analytic[j])
	}
	forward() // restore saved state
	rms := math.Sqrt(ss / float64(len(idx)))
	if den == 0 {
		if num > 1e-10 {
			t.Errorf("%s: analytic gradient is zero but finite differences are not (‖fd‖²=%g)", what, num)
		}
		return
	}
	rel := math.Sqrt(num / den)
	if rel > 1e-2 {
		t.Errorf("%s: relative error %.3g of gradient (‖an‖=%.3g)", what, rel, math.Sqrt(den))
	}
	bad := 0
	for k, j := range idx {
		an := float64(analytic[j])
		if math.Abs(fd[k]-an) > 0.03*math.Abs(an)+0.01*rms {
			if bad < 3 {
				t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", what, j, an, fd[k])
			}
			bad++
		}
	}
}

// checkLayer runs a full gradient check of a Layer on a random input of
// length inSize·n: dL/dx and dL/dθ for every parameter.
func checkLayer(t *testing.T, name string, l Layer, inSize, n int, rng *rand.Rand) {
	t.Helper()
	x := randVec(rng, inSize*n, 1)
	out := l.Forward(x, n)
	w := randVec(rng, len(out), 1)
	for _, p := range l.Params() {
		p.ZeroGrad()
	}
	dx := append([]float32(nil), l.Backward(w)...)
	fwd := func() []float32 { return l.Forward(x, n) }
	gradCheck(t, name+" dx", x, dx, w, fwd, 400, rng)
	for _, p := range l.Params() {
		if len(p.Grad) == 0 {
			continue
		}
		gradCheck(t, name+" d"+p.Name, p.Data, append([]float32(nil), p.Grad...), w, fwd, 200, rng)
	}
}

func randomizeParams(ps []*Param, rng *rand.Rand, scale float64) {
	for _, p := range ps {
		for i := range p.Data {
			p.Data[i] = float32(scale * rng.NormFloat64())
		}
	}
}

func testEngine(workers int) *Engine { return NewEngine(NaiveGemm{}, workers) }

func TestGradConv2D(t *testing.T) {
	rng := NewRand(1)
	e := testEngine(2)
	defer e.Close()
	for _, tc := range []struct{ cin, cout, h, w, k, s, p int }{
		{4, 6, 6, 6, 3, 1, 1}, {4, 6, 6, 6, 3, 2, 1}, {5, 3, 6, 6, 1, 1, 0}, {3, 4, 7, 5, 3, 2, 1}, {4, 4, 6, 6, 1, 2, 0},
		{16, 3, 4, 6, 3, 1, 1}, {4, 16, 4, 6, 3, 1, 1}, // Winograd forward; Winograd dx
	} {
		c := NewConv2D(e, "conv", tc.cin, tc.cout, tc.h, tc.w, tc.k, tc.s, tc.p)
		if want := tc.cout >= 16; (c.tconv != nil && c.tconv.wU != nil) != want {
			t.Fatalf("%+v: Winograd dx = %v, want %v", tc, !want, want)
		}
		randomizeParams(c.Params(), rng, 0.3)
		checkLayer(t, "conv", c, tc.cin*tc.h*tc.w, 3, rng)
		c.setTileRows(2) // several bands per image
		checkLayer(t, "conv(banded)", c, tc.cin*tc.h*tc.w, 3, rng)
	}
}

func TestGradGroupNorm(t *testing.T) {
	rng := NewRand(2)
	e := testEngine(2)
	defer e.Close()
	for _, act := range []bool{false, true} {
		g := NewGroupNorm(e, "gn", 8, 36, 2, act)
		for i := range g.Gamma.Data {
			g.Gamma.Data[i] = float32(1 + 0.3*rng.NormFloat64())
			g.Beta.Data[i] = float32(0.3 * rng.NormFloat64())
		}
		checkLayer(t, "groupnorm", g, 8*36, 2, rng)
	}
}

func TestGradSiLULinear(t *testing.T) {
	rng := NewRand(3)
	e := testEngine(2)
	defer e.Close()
	checkLayer(t, "silu", NewSiLU(10), 10, 3, rng)
	l := NewLinear(e, "lin", 7, 5)
	randomizeParams(l.Params(), rng, 0.5)
	checkLayer(t, "linear", l, 7, 3, rng)
}

func TestGradResample(t *testing.T) {
	rng := NewRand(4)
	e := testEngine(2)
	defer e.Close()
	checkLayer(t, "nearest2", NewNearest2(3, 3, 4), 3*3*4, 2, rng)
	checkLayer(t, "avgpool2", NewAvgPool2(3, 6, 4), 3*6*4, 2, rng)
	u := NewUpsample(e, "up", 4, 6, 3, 3)
	randomizeParams(u.Params(), rng, 0.3)
	checkLayer(t, "upsample", u, 4*9, 2, rng)
	d := NewDownsample(e, "down", 4, 4, 6, 6)
	randomizeParams(d.Params(), rng, 0.3)
	checkLayer(t, "downsample", d, 4*36, 2, rng)
	if d.Ho != 3 || d.Wo != 3 {
		t.Errorf("downsample 6×6 → %d×%d, want 3×3", d.Ho, d.Wo)
	}
}

func TestGradFourier(t *testing.T) {
	rng := NewRand(5)
	f := NewFourier("f", 6)
	f.Init(1, rng)
	x := randVec(rng, 3, 0.3)
	out := f.Forward(x, 3)
	w := randVec(rng, len(out), 1)
	ds := append([]float32(nil), f.Backward(w)...)
	gradCheck(t, "fourier ds", x, ds, w, func() []float32 { return f.Forward(x, 3) }, 10, rng)
}

func TestGradAttention(t *testing.T) {
	rng := NewRand(6)
	e := testEngine(2)
	defer e.Close()
	a := NewAttnBlock(e, "attn", 8, 4, 5)
	randomizeParams(a.Params(), rng, 0.4)
	for i := range a.Norm.Gamma.Data {
		a.Norm.Gamma.Data[i] += 1
	}
	checkLayer(t, "attention", a, 8*20, 3, rng)
	// 6×7 = 42 pixels: two blocks in the forward pass
	b := NewAttnBlock(e, "attn2", 8, 6, 7)
	randomizeParams(b.Params(), rng, 0.4)
	for i := range b.Norm.Gamma.Data {
		b.Norm.Gamma.Data[i] += 1
	}
	checkLayer(t, "attention 6×7", b, 8*42, 2, rng)
}

// resLayer adapts ResBlock to Layer with a fixed time embedding and exposes
// dL/dt for checking.
type resLayer struct {
	r  *ResBlock
	t  []float32
	dt []float32
}

func (l *resLayer) Forward(x []float32, n int) []float32 { return l.r.Forward(x, l.t, n) }
func (l *resLayer) Backward(d []float32) []float32 {
	clear(l.dt)
	return l.r.Backward(d, l.dt)
}
func (l *resLayer) Params() []*Param { return l.r.Params() }

func TestGradResBlock(t *testing.T) {
	rng := NewRand(7)
	e := testEngine(2)
	defer e.Close()
	for _, tc := range []struct{ cin, cout int }{{8, 8}, {4, 8}} {
		r := NewResBlock(e, "res", tc.cin, tc.cout, 6, 6, 5)
		randomizeParams(r.Params(), rng, 0.3)
		for _, g := range []*GroupNorm{r.Norm0, r.Norm1} {
			for i := range g.Gamma.Data {
				g.Gamma.Data[i] += 1
			}
		}
		n := 2
		l := &resLayer{r: r, t: randVec(rng, n*5, 1), dt: make([]float32, n*5)}
		checkLayer(t, "resblock", l, tc.cin*36, n, rng)
		// dL/dt
		x := randVec(rng, tc.cin*36*n, 1)
		out := l.Forward(x, n)
		w := randVec(rng, len(out), 1)
		l.Backward(w)
		dt := append([]float32(nil), l.dt...)
		gradCheck(t, "resblock dt", l.t, dt, w, func() []float32 { return l.Forward(x, n) }, 20, rng)
	}
}

// TestWinogradMatchesIm2col compares the Winograd forward, dx and weight
// gradient of a 3×3 convolution with the im2col path on the same data.
func TestWinogradMatchesIm2col(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	const n, cin, cout, h, w = 3, 16, 20, 8, 6
	run := func(wino bool) (y, dx, dw, db []float32) {
		c := NewConv2D(e, "c", cin, cout, h, w, 3, 1, 1)
		r := NewRand(9)
		randomizeParams(c.Params(), r, 0.3)
		if !wino {
			c.wU, c.tconv.wU = nil, nil
		} else if c.wU == nil || c.tconv.wU == nil {
			t.Fatal("Winograd not selected for a 16→20 channel 3×3 convolution")
		}
		x := randVec(r, n*cin*h*w, 1)
		y = append([]float32(nil), c.Forward(x, n)...)
		dx = append([]float32(nil), c.Backward(randVec(r, n*cout*h*w, 1))...)
		return y, dx, c.Weight.Grad, c.Bias.Grad
	}
	f64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	y1, dx1, dw1, db1 := run(true)
	y0, dx0, dw0, db0 := run(false)
	maxRelDiff(t, "winograd y", y1, f64(y0), 1e-5)
	maxRelDiff(t, "winograd dx", dx1, f64(dx0), 1e-5)
	maxRelDiff(t, "winograd dW", dw1, f64(dw0), 1e-5)
	maxRelDiff(t, "winograd db", db1, f64(db0), 1e-5)
}
