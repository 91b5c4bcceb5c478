package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/sde"
)

// TestDSMGradientFD checks the gradient that DSMLoss feeds to Backward
// against central finite differences of the loss in the parameters.
func TestDSMGradientFD(t *testing.T) {
	const n, batch = 6, 3
	m := newLinModel(n, batch)
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] = float32(r.NormFloat64())
		}
	}
	x := make([]float32, n*batch)
	z := make([]float32, n*batch)
	for i := range x {
		x[i], z[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	sig := []float32{0.1, 0.7, 2.5}
	dout := make([]float32, n*batch)
	loss := func() float64 { return DSMLoss(m.Forward(x, sig, batch), z, dout) }
	l0 := loss()
	// DSMLoss must equal the batch mean of the per-example sde.DSMLossTerm.
	eps := m.Forward(x, sig, batch)
	var ref float64
	for k := range batch {
		ref += sde.DSMLossTerm(eps[k*n:(k+1)*n], z[k*n:(k+1)*n]) / batch
	}
	if math.Abs(ref-l0) > 1e-12*math.Abs(ref) {
		t.Fatalf("DSMLoss %v, mean of DSMLossTerm %v", l0, ref)
	}
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
	loss()
	m.Backward(dout)
	grads := map[string][]float32{}
	for _, p := range m.Params() {
		grads[p.Name] = append([]float32(nil), p.Grad...)
	}
	const h = 1e-2 // the loss is quadratic in θ: central differences are exact up to rounding
	for _, p := range m.Params() {
		for i := range p.Data {
			old := p.Data[i]
			p.Data[i] = old + h
			lp := loss()
			p.Data[i] = old - h
			lm := loss()
			p.Data[i] = old
			fd := (lp - lm) / (2 * h)
			g := float64(grads[p.Name][i])
			if math.Abs(fd-g) > 2e-3*math.Max(1, math.Abs(g)) {
				t.Errorf("%s[%d]: backward %g, finite difference %g", p.Name, i, g, fd)
			}
		}
	}
}

func TestAdamStep(t *testing.T) {
	p := nn.NewParam("p", 2)
	p.Data[0], p.Data[1] = 1, -2
	a := NewAdam([]*nn.Param{p}, 0.9, 0.999, 1e-8)
	g1 := []float64{0.5, -1e-3}
	g2 := []float64{-0.25, 4}
	lr := 0.1
	copy(p.Grad, []float32{float32(g1[0]), float32(g1[1])})
	a.Step([]*nn.Param{p}, lr, 1)
	// Step 1: m̂ = g, v̂ = g², so θ moves by lr·g/(|g|+ε).
	want := []float64{1 - lr*g1[0]/(math.Abs(g1[0])+1e-8), -2 - lr*g1[1]/(math.Abs(g1[1])+1e-8)}
	for i := range 2 {
		if math.Abs(float64(p.Data[i])-want[i]) > 1e-6 {
			t.Fatalf("step 1: θ[%d] = %v, want %v", i, p.Data[i], want[i])
		}
	}
	copy(p.Grad, []float32{float32(g2[0]), float32(g2[1])})
	a.Step([]*nn.Param{p}, lr, 2)
	for i := range 2 {
		m := 0.9*0.1*g1[i] + 0.1*g2[i]
		v := 0.999*0.001*g1[i]*g1[i] + 0.001*g2[i]*g2[i]
		mh, vh := m/(1-0.81), v/(1-0.998001)
		want[i] -= lr * mh / (math.Sqrt(vh) + 1e-8)
		if math.Abs(float64(p.Data[i])-want[i]) > 1e-6 {
			t.Fatalf("step 2: θ[%d] = %v, want %v", i, p.Data[i], want[i])
		}
		if math.Abs(float64(a.M[0].Data[i])-m) > 1e-7 || math.Abs(float64(a.V[0].Data[i])-v) > 1e-7*math.Max(v, 1e-3) {
			t.Fatalf("moments %v %v, want %v %v", a.M[0].Data[i], a.V[0].Data[i], m, v)
		}
	}
}

func TestLearningRate(t *testing.T) {
	for _, c := range []struct {
		warm, step int
		want       float64
	}{{5000, 1, 4e-8}, {5000, 2500, 1e-4}, {5000, 4999, 2e-4 * 4999 / 5000}, {5000, 5000, 2e-4}, {5000, 90000, 2e-4}, {0, 1, 2e-4}} {
		if got := LearningRate(2e-4, c.warm, c.step); math.Abs(got-c.want) > 1e-18 {
			t.Errorf("LearningRate(2e-4, %d, %d) = %g, want %g", c.warm, c.step, got, c.want)
		}
	}
}

func TestClipGradients(t *testing.T) {
	mk := func() []*nn.Param {
		p, q := nn.NewParam("p", 2), nn.NewParam("q", 1)
		copy(p.Grad, []float32{3, 4})
		q.Grad[0] = 12
		return []*nn.Param{p, q}
	}
	ps := mk()
	if n := ClipGradients(ps, 1); n != 13 {
		t.Fatalf("norm %v, want 13", n)
	}
	want := []float32{3.0 / 13, 4.0 / 13, 12.0 / 13}
	got := []float32{ps[0].Grad[0], ps[0].Grad[1], ps[1].Grad[0]}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-7 {
			t.Fatalf("clipped %v, want %v", got, want)
		}
	}
	if n := ClipGradients(ps, 0); math.Abs(n-1) > 1e-6 {
		t.Fatalf("norm after clipping %v, want 1", n)
	}
	for _, c := range []float64{0, 13, 20} {
		ps = mk()
		ClipGradients(ps, c)
		if ps[0].Grad[0] != 3 || ps[0].Grad[1] != 4 || ps[1].Grad[0] != 12 {
			t.Fatalf("clip %v changed gradients below the bound", c)
		}
	}
}

func TestEMA(t *testing.T) {
	p, e := nn.NewParam("p", 1), nn.NewParam("e", 1)
	p.Data[0], e.Data[0] = 3, 1
	for k := 1; k <= 20; k++ {
		UpdateEMA([]*nn.Param{e}, []*nn.Param{p}, 0.9)
		want := 3 - 2*math.Pow(0.9, float64(k)) // closed form of the recursion
		if math.Abs(float64(e.Data[0])-want) > 1e-6 {
			t.Fatalf("after %d updates ema %v, want %v", k, e.Data[0], want)
		}
	}
}

// The EMA decay ramps as (1+s)/(10+s) until it reaches the configured value.
func TestEMADecayAt(t *testing.T) {
	for _, c := range []struct {
		d    float64
		s    int
		want float64
	}{{0.999, 1, 2.0 / 11}, {0.999, 90, 91.0 / 100}, {0.999, 8990, 0.999}, {0.5, 1, 2.0 / 11}, {0.5, 20, 0.5}} {
		if got := EMADecayAt(c.d, c.s); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("EMADecayAt(%g, %d) = %g, want %g", c.d, c.s, got, c.want)
		}
	}
}
