package score

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
)

func tinyNCSNpp() Config {
	c := NewNCSNppConfig(1, 8, []int{1, 2}, 1, 8, 16, 0.01, 20)
	return c
}

// The NCSNpp's parameters are score_models' state-dict entries in order,
// with the shapes of ncsnppPlan (up to attention's 1×1 kernel dims), and
// NumParams agrees with the built network.
func TestNCSNppParams(t *testing.T) {
	for _, c := range []Config{tinyNCSNpp(), NewNCSNppConfig(2, 16, []int{1, 2, 2, 2}, 2, 32, 16, 1e-3, 50)} {
		net, err := New(c, nn.NaiveGemm{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		plan := c.ncsnppPlan()
		ps := net.Params()
		if len(ps) != len(plan) {
			t.Fatalf("%d params, plan has %d", len(ps), len(plan))
		}
		for i, p := range ps {
			want := plan[i]
			sh := p.Shape
			if len(want.shape) == 4 && len(sh) == 2 {
				sh = append(slices.Clone(sh), 1, 1)
			}
			if p.Name != want.name || !slices.Equal(sh, want.shape) {
				t.Fatalf("param %d: %s %v, want %s %v", i, p.Name, p.Shape, want.name, want.shape)
			}
		}
		if int64(net.NumParams()) != c.NumParams() {
			t.Errorf("NumParams %d, config says %d", net.NumParams(), c.NumParams())
		}
		net.Close()
	}
	bad := tinyNCSNpp()
	bad.NCSNpp.FIRKernel = []float64{1}
	if bad.Validate() == nil {
		t.Error("1-tap FIR kernel accepted")
	}
	bad = tinyNCSNpp()
	bad.AttnResolutions = []int{4}
	if bad.Validate() == nil {
		t.Error("attn_resolutions accepted for ncsnpp")
	}
	bad = tinyNCSNpp()
	bad.NCSNpp.SigmaMax = bad.NCSNpp.SigmaMin
	if bad.Validate() == nil {
		t.Error("sigma_max = sigma_min accepted")
	}
	bad = tinyNCSNpp()
	bad.Arch = "unet"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "unet") {
		t.Errorf("unknown arch: %v", err)
	}
}

// Finite-difference check of the NCSNpp's input and parameter gradients
// (the Jacobian the projected-jacobian likelihood uses, and training).
func TestNCSNppGrad(t *testing.T) {
	cfg := tinyNCSNpp()
	cfg.NCSNpp.FIRKernel = []float64{1, 2, 1}
	cfg.Workers = 2
	net, err := New(cfg, fastGemm(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	randomize(net, rng)
	n := 2
	x := randVec(rng, n*64, 1)
	sig := []float32{0.05, 3}
	out := net.Forward(x, sig, n)
	w := randVec(rng, len(out), 1)
	net.ZeroGrad()
	net.Backward(w)
	dx := append([]float32(nil), net.InputGrad()...)
	check(t, "dL/dx", net, x, dx, rng.Perm(len(x))[:40], x, sig, w, n)
	var grads [][]float32
	for _, p := range net.Params() {
		grads = append(grads, append([]float32(nil), p.Grad...))
	}
	for k, p := range net.Params() {
		if strings.HasSuffix(p.Name, ".W") {
			continue
		}
		best := 0
		for i, g := range grads[k] {
			if math.Abs(float64(g)) > math.Abs(float64(grads[k][best])) {
				best = i
			}
		}
		check(t, "dL/d"+p.Name, net, p.Data, grads[k], []int{best, rng.IntN(p.Size())}, x, sig, w, n)
	}
}

// Resized runs the same weights at another size: at the original size it
// gives the same output bit for bit, and a lenscore network refuses.
func TestResized(t *testing.T) {
	cfg := tinyNCSNpp()
	net, err := New(cfg, nn.NaiveGemm{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomize(net, rand.New(rand.NewPCG(1, 1)))
	big, err := Resized(net, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	x := randVec(rand.New(rand.NewPCG(2, 2)), 256, 1)
	if out := big.Forward(x, []float32{0.3}, 1); len(out) != 256 {
		t.Fatalf("output %d", len(out))
	}
	same, err := Resized(big, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer same.Close()
	a := append([]float32(nil), net.Forward(x[:64], []float32{0.3}, 1)...)
	b := same.Forward(x[:64], []float32{0.3}, 1)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("resized back: %v vs %v at %d", a[i], b[i], i)
		}
	}
	if _, err := Resized(big, 7); err == nil {
		t.Error("size 7 accepted for 2 levels")
	}
	own, _ := New(tinyConfig(), nn.NaiveGemm{}, 1)
	defer own.Close()
	if _, err := Resized(own, 16); err == nil {
		t.Error("lenscore network resized")
	}
}

// Forward and Forward+Backward of the NCSNpp do not allocate in steady state.
func TestNCSNppNoAllocs(t *testing.T) {
	cfg := NewNCSNppConfig(1, 16, []int{1, 2}, 1, 16, 16, 0.01, 20)
	cfg.Workers = 2
	net, err := New(cfg, fastGemm(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	x := make([]float32, 3*256)
	sig := []float32{1, 2, 3}
	d := make([]float32, 3*256)
	for range 10 {
		net.Forward(x, sig, 3)
		net.Backward(d)
	}
	least := func(f func()) float64 {
		m := math.Inf(1)
		for range 3 {
			m = min(m, testing.AllocsPerRun(10, f))
		}
		return m
	}
	if a := least(func() { net.Forward(x, sig, 3); net.Backward(d) }); a != 0 {
		t.Errorf("Forward+Backward allocates %v times per call", a)
	}
	net.SetInference(true)
	net.Forward(x, sig, 3)
	if a := least(func() { net.ForwardTime(x, sig, 3) }); a != 0 {
		t.Errorf("inference-mode ForwardTime allocates %v times per call", a)
	}
}

// BenchmarkNCSNpp64Infer times the inference forward pass of the NCSNpp
// that bench/cmd/smbench compares with PyTorch (nf 32, ch_mult 1,2,2,2,
// 64²) at batch 1 and 32.
func BenchmarkNCSNpp64InferBatch1(b *testing.B) {
	benchNetMode(b, NewNCSNppConfig(1, 32, []int{1, 2, 2, 2}, 2, 64, 16, 1e-3, 50), 1, false, true)
}

func BenchmarkNCSNpp64InferBatch32(b *testing.B) {
	benchNetMode(b, NewNCSNppConfig(1, 32, []int{1, 2, 2, 2}, 2, 64, 16, 1e-3, 50), 32, false, true)
}

// With parameter gradients off, the NCSNpp's Backward gives the same input
// gradient (the vector–Jacobian product of the projected-jacobian
// likelihood) and leaves Grad untouched.
func TestNCSNppInputGradOnly(t *testing.T) {
	cfg := tinyNCSNpp()
	cfg.Workers = 2
	net, err := New(cfg, fastGemm(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	randomize(net, rng)
	x := randVec(rng, 2*64, 1)
	sig := []float32{0.2, 2}
	w := randVec(rng, 2*64, 1)
	net.ZeroGrad()
	net.Forward(x, sig, 2)
	net.Backward(w)
	want := append([]float32(nil), net.InputGrad()...)
	net.ZeroGrad()
	net.SetParamGrads(false)
	net.Forward(x, sig, 2)
	net.Backward(w)
	for i, v := range net.InputGrad() {
		if v != want[i] {
			t.Fatalf("input gradient %d: %v without parameter gradients, %v with", i, v, want[i])
		}
	}
	for _, p := range net.Params() {
		for _, g := range p.Grad {
			if g != 0 {
				t.Fatalf("%s received a gradient with parameter gradients off", p.Name)
			}
		}
	}
}
