package nn

import (
	"math"
	"testing"
)

// firRef is upfirdn2d written from its definition: zero-stuff (up), pad,
// correlate with the flipped 2-D kernel, take every down-th sample.
func firRef(x []float32, h, w int, k []float64, up bool) ([]float64, int, int) {
	L := len(k)
	var s float64
	for _, v := range k {
		s += v
	}
	K := make([]float64, L*L)
	gain := 1.0
	if up {
		gain = 4
	}
	for a := range L {
		for b := range L {
			K[a*L+b] = gain * k[a] * k[b] / (s * s)
		}
	}
	p := L - 2
	pad0, pad1 := (p+1)/2, p/2
	fu, fd := 1, 2
	if up {
		fu, fd, pad0 = 2, 1, pad0+1
	}
	uh, uw := h*fu, w*fu
	ph, pw := uh+pad0+pad1, uw+pad0+pad1
	pad := make([]float64, ph*pw)
	for i := range h {
		for j := range w {
			pad[(i*fu+pad0)*pw+j*fu+pad0] = float64(x[i*w+j])
		}
	}
	oh, ow := (ph-L)/fd+1, (pw-L)/fd+1
	out := make([]float64, oh*ow)
	for i := range oh {
		for j := range ow {
			var v float64
			for a := range L {
				for b := range L {
					v += K[(L-1-a)*L+(L-1-b)] * pad[(i*fd+a)*pw+j*fd+b]
				}
			}
			out[i*ow+j] = v
		}
	}
	return out, oh, ow
}

// FIR matches upfirdn2d's definition for several kernels (even and odd
// length), up and down, on non-square images; (1,1) is average pooling and
// nearest-neighbour up-sampling; constants are preserved away from the
// border.
func TestFIRMatchesDefinition(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	rng := NewRand(3)
	for _, k := range [][]float64{{1, 3, 3, 1}, {1, 1}, {1, 2, 1}, {1, 4, 6, 4, 1, 2}} {
		for _, up := range []bool{false, true} {
			C, H, W, n := 3, 6, 8, 2
			f := NewFIR(e, C, H, W, k, up)
			x := randVec(rng, n*C*H*W, 1)
			y := f.Forward(x, n)
			for p := 0; p < n*C; p++ {
				ref, oh, ow := firRef(x[p*H*W:(p+1)*H*W], H, W, k, up)
				if oh != f.Ho || ow != f.Wo {
					t.Fatalf("k=%v up=%v: size %d×%d, want %d×%d", k, up, f.Ho, f.Wo, oh, ow)
				}
				for i, r := range ref {
					if d := math.Abs(float64(y[p*oh*ow+i]) - r); d > 1e-5*(1+math.Abs(r)) {
						t.Fatalf("k=%v up=%v plane %d pixel %d: %v, want %v", k, up, p, i, y[p*oh*ow+i], r)
					}
				}
			}
		}
	}
	// (1,1): 2×2 means and nearest neighbour.
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	d := NewFIR(e, 1, 4, 4, []float64{1, 1}, false).Forward(x, 1)
	for i, want := range []float32{3.5, 5.5, 11.5, 13.5} {
		if d[i] != want {
			t.Fatalf("average pooling %v", d)
		}
	}
	u := NewFIR(e, 1, 4, 4, []float64{1, 1}, true).Forward(x, 1)
	for i := range 8 {
		for j := range 8 {
			if u[i*8+j] != x[(i/2)*4+j/2] {
				t.Fatalf("nearest up-sampling at %d,%d: %v", i, j, u[i*8+j])
			}
		}
	}
	// A constant stays constant away from the border (gain 1 down, 4 up).
	c := make([]float32, 16*16)
	for i := range c {
		c[i] = 2
	}
	for _, up := range []bool{false, true} {
		f := NewFIR(e, 1, 16, 16, []float64{1, 3, 3, 1}, up)
		y := f.Forward(c, 1)
		mid := (f.Ho/2)*f.Wo + f.Wo/2
		if math.Abs(float64(y[mid])-2) > 1e-6 {
			t.Errorf("up=%v: constant 2 became %v", up, y[mid])
		}
	}
}

// Backward is the adjoint of Forward: <F x, w> = <x, Fᵀ w>.
func TestFIRAdjoint(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	rng := NewRand(4)
	for _, k := range [][]float64{{1, 3, 3, 1}, {1, 2, 1}} {
		for _, up := range []bool{false, true} {
			f := NewFIR(e, 2, 6, 4, k, up)
			x := randVec(rng, 2*2*24, 1)
			y := f.Forward(x, 2)
			w := randVec(rng, len(y), 1)
			lhs := linFunc(w, y)
			rhs := linFunc(x, f.Backward(w))
			if math.Abs(lhs-rhs) > 1e-5*(math.Abs(lhs)+1) {
				t.Errorf("k=%v up=%v: <Fx,w>=%v <x,Fᵀw>=%v", k, up, lhs, rhs)
			}
		}
	}
}

type resampleLayer struct {
	r  *ResampleBlock
	t  []float32
	dt []float32
}

func (l *resampleLayer) Forward(x []float32, n int) []float32 { return l.r.Forward(x, l.t, n) }
func (l *resampleLayer) Backward(d []float32) []float32 {
	clear(l.dt)
	return l.r.Backward(d, l.dt)
}
func (l *resampleLayer) Params() []*Param { return l.r.Params() }

func TestGradResampleBlock(t *testing.T) {
	rng := NewRand(8)
	e := testEngine(2)
	defer e.Close()
	for _, up := range []bool{false, true} {
		for _, scale := range []float32{float32(math.Sqrt2 / 2), 1} {
			r := NewResampleBlock(e, "rs", 8, 8, 4, 4, 5, []float64{1, 3, 3, 1}, up)
			r.OutScale = scale
			randomizeParams(r.Params(), rng, 0.3)
			for _, g := range []*GroupNorm{r.Norm0, r.Norm1} {
				for i := range g.Gamma.Data {
					g.Gamma.Data[i] += 1
				}
			}
			n := 2
			l := &resampleLayer{r: r, t: randVec(rng, n*5, 1), dt: make([]float32, n*5)}
			checkLayer(t, "resample block", l, 8*16, n, rng)
			x := randVec(rng, 8*16*n, 1)
			out := l.Forward(x, n)
			w := randVec(rng, len(out), 1)
			l.Backward(w)
			dt := append([]float32(nil), l.dt...)
			gradCheck(t, "resample block dt", l.t, dt, w, func() []float32 { return l.Forward(x, n) }, 10, rng)
		}
	}
}

// The self-attention without normalisation: gradients, and the forward
// against its definition y = x + W_o·softmax-attention(W_qkv x) + b_o.
func TestSelfAttention(t *testing.T) {
	rng := NewRand(9)
	e := testEngine(2)
	defer e.Close()
	a := NewSelfAttention(e, "sa", 4, 3, 5)
	if len(a.Params()) != 4 {
		t.Fatalf("%d params", len(a.Params()))
	}
	randomizeParams(a.Params(), rng, 0.5)
	checkLayer(t, "self-attention", a, 4*15, 2, rng)
	C, P := 4, 15
	x := randVec(rng, C*P, 1)
	y := a.Forward(x, 1)
	qkv := make([]float64, 3*C*P)
	for o := range 3 * C {
		for j := range P {
			v := float64(a.BQKV.Data[o])
			for c := range C {
				v += float64(a.WQKV.Data[o*C+c]) * float64(x[c*P+j])
			}
			qkv[o*P+j] = v
		}
	}
	for i := range P {
		wts := make([]float64, P)
		var m, s float64 = math.Inf(-1), 0
		for j := range P {
			for c := range C {
				wts[j] += qkv[c*P+i] * qkv[(C+c)*P+j]
			}
			wts[j] /= math.Sqrt(float64(C))
			m = math.Max(m, wts[j])
		}
		for j := range wts {
			wts[j] = math.Exp(wts[j] - m)
			s += wts[j]
		}
		o := make([]float64, C)
		for c := range C {
			for j := range P {
				o[c] += wts[j] / s * qkv[(2*C+c)*P+j]
			}
		}
		for c := range C {
			want := float64(x[c*P+i]) + float64(a.BO.Data[c])
			for d := range C {
				want += float64(a.WO.Data[c*C+d]) * o[d]
			}
			if math.Abs(float64(y[c*P+i])-want) > 1e-5*(1+math.Abs(want)) {
				t.Fatalf("y[%d,%d] = %v, want %v", c, i, y[c*P+i], want)
			}
		}
	}
}
