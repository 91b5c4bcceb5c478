package nn

import (
	"fmt"
	"testing"
)

// TestParamGradsOff checks Engine.SetParamGrads(false) on every layer kind
// with parameters (convolutions on each path: im2col, 1×1, strided with
// col2im, Winograd forward and Winograd dx, several bands per image;
// Linear, GroupNorm, attention, residual block): Backward must return the
// same input gradient bit for bit as with parameter gradients on, leave
// every Param.Grad exactly as it was, and accumulate again once switched
// back on.
func TestParamGradsOff(t *testing.T) {
	rng := NewRand(11)
	e := testEngine(2)
	defer e.Close()
	type lc struct {
		name   string
		l      Layer
		inSize int
	}
	var cases []lc
	for _, tc := range []struct{ cin, cout, h, w, k, s, p, rows int }{
		{4, 6, 6, 6, 3, 1, 1, 0}, {5, 3, 6, 6, 1, 1, 0, 0}, {3, 4, 7, 5, 3, 2, 1, 0},
		{16, 3, 4, 6, 3, 1, 1, 0}, {4, 16, 4, 6, 3, 1, 1, 0}, {16, 16, 6, 6, 3, 1, 1, 2},
	} {
		c := NewConv2D(e, "conv", tc.cin, tc.cout, tc.h, tc.w, tc.k, tc.s, tc.p)
		if tc.rows > 0 {
			c.setTileRows(tc.rows)
		}
		cases = append(cases, lc{fmt.Sprintf("conv%+v", tc), c, tc.cin * tc.h * tc.w})
	}
	cases = append(cases,
		lc{"linear", NewLinear(e, "lin", 7, 5), 7},
		lc{"groupnorm", NewGroupNorm(e, "gn", 8, 6, 4, true), 8 * 6},
		lc{"attention", NewAttnBlock(e, "attn", 8, 4, 5), 8 * 20})
	r := NewResBlock(e, "res", 4, 8, 6, 6, 5)
	cases = append(cases, lc{"resblock", &resLayer{r: r, t: randVec(rng, 2*5, 1), dt: make([]float32, 2*5)}, 4 * 36})

	const n = 2
	for _, c := range cases {
		randomizeParams(c.l.Params(), rng, 0.3)
		x := randVec(rng, c.inSize*n, 1)
		w := randVec(rng, len(c.l.Forward(x, n)), 1)
		for _, p := range c.l.Params() {
			p.ZeroGrad()
		}
		dxOn := append([]float32(nil), c.l.Backward(w)...)
		nonzero := 0
		for _, p := range c.l.Params() {
			for i := range p.Grad {
				if p.Grad[i] != 0 {
					nonzero++
				}
				p.Grad[i] = 7
			}
		}
		if nonzero == 0 {
			t.Fatalf("%s: no parameter gradient with them on", c.name)
		}
		e.SetParamGrads(false)
		if e.ParamGrads() {
			t.Fatal("ParamGrads() after SetParamGrads(false)")
		}
		c.l.Forward(x, n)
		dxOff := c.l.Backward(w)
		e.SetParamGrads(true)
		for i := range dxOn {
			if dxOff[i] != dxOn[i] {
				t.Fatalf("%s: dx[%d] = %g without parameter gradients, %g with", c.name, i, dxOff[i], dxOn[i])
			}
		}
		for _, p := range c.l.Params() {
			for i, g := range p.Grad {
				if g != 7 {
					t.Fatalf("%s: %s.Grad[%d] changed to %g with parameter gradients off", c.name, p.Name, i, g)
				}
			}
		}
		c.l.Forward(x, n)
		c.l.Backward(w)
		changed := 0
		for _, p := range c.l.Params() {
			for _, g := range p.Grad {
				if g != 7 {
					changed++
				}
			}
		}
		if changed == 0 {
			t.Errorf("%s: switched back on, Backward accumulated nothing", c.name)
		}
	}
}
