package score

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
)

func tinyConfig() Config {
	return Config{ImageSize: 8, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnResolutions: []int{4}, FourierScale: 16}
}

func fastGemm(t testing.TB) nn.Gemm {
	g, err := nn.DefaultGemm()
	if err != nil {
		t.Logf("DefaultGemm: %v; using NaiveGemm", err)
		return nn.NaiveGemm{}
	}
	return g
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * rng.NormFloat64())
	}
	return v
}

// randomize replaces the NCSN++ initialisation (whose zero-initialised last
// layers would hide gradient errors) by random weights of variance 1/fan_in,
// random biases and GroupNorm affine maps near identity.
func randomize(net *Net, rng *rand.Rand) {
	for _, p := range net.Params() {
		if strings.HasSuffix(p.Name, "fourier.W") {
			continue
		}
		isNorm := strings.Contains(p.Name, "norm")
		for i := range p.Data {
			switch {
			case isNorm && strings.HasSuffix(p.Name, ".weight"):
				p.Data[i] = float32(1 + 0.2*rng.NormFloat64())
			case len(p.Shape) == 1:
				p.Data[i] = float32(0.2 * rng.NormFloat64())
			default:
				p.Data[i] = float32(rng.NormFloat64() / math.Sqrt(float64(p.Size()/p.Shape[0])))
			}
		}
	}
}

func dot(w, v []float32) float64 {
	var s float64
	for i := range v {
		s += float64(w[i]) * float64(v[i])
	}
	return s
}

// check compares analytic gradient entries idx of v with central
// differences of L = <w, Forward>, asserting a relative error of the
// checked vector < 1e-2 and |fd−an| ≤ 0.05|an| + 0.02·rms(an) entry-wise.
func check(t *testing.T, what string, net *Net, v, an []float32, idx []int, x, sig, w []float32, n int) {
	t.Helper()
	const h = 1e-2
	var num, den float64
	fds := make([]float64, len(idx))
	for k, j := range idx {
		old := v[j]
		v[j] = old + h
		lp := dot(w, net.Forward(x, sig, n))
		v[j] = old - h
		lm := dot(w, net.Forward(x, sig, n))
		v[j] = old
		fds[k] = (lp - lm) / (2 * h)
		d := fds[k] - float64(an[j])
		num += d * d
		den += float64(an[j]) * float64(an[j])
	}
	if den == 0 {
		t.Errorf("%s: zero analytic gradient", what)
		return
	}
	rms := math.Sqrt(den / float64(len(idx)))
	if rel := math.Sqrt(num / den); rel > 1e-2 {
		t.Errorf("%s: relative gradient error %.3g", what, rel)
	}
	for k, j := range idx {
		a := float64(an[j])
		if math.Abs(fds[k]-a) > 0.05*math.Abs(a)+0.02*rms {
			t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", what, j, a, fds[k])
		}
	}
}

func TestGradWholeNetwork(t *testing.T) {
	cfg := tinyConfig()
	cfg.Workers = 2
	net, err := New(cfg, fastGemm(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	randomize(net, rng)
	n := 3
	x := randVec(rng, n*64, 1)
	sig := []float32{0.05, 0.7, 3}
	out := net.Forward(x, sig, n)
	w := randVec(rng, len(out), 1)
	for _, p := range net.Params() {
		p.ZeroGrad()
	}
	net.Backward(w)
	dx := append([]float32(nil), net.InputGrad()...)
	check(t, "dL/dx", net, x, dx, rng.Perm(len(x))[:48], x, sig, w, n)
	// every parameter tensor: its largest-gradient entry and 3 random ones
	var grads [][]float32
	for _, p := range net.Params() {
		grads = append(grads, append([]float32(nil), p.Grad...))
	}
	for k, p := range net.Params() {
		if strings.HasSuffix(p.Name, "fourier.W") {
			for _, g := range p.Grad {
				if g != 0 {
					t.Fatalf("fixed Fourier frequencies received a gradient")
				}
			}
			continue
		}
		best := 0
		for i, g := range grads[k] {
			if math.Abs(float64(g)) > math.Abs(float64(grads[k][best])) {
				best = i
			}
		}
		idx := []int{best, rng.IntN(p.Size()), rng.IntN(p.Size()), rng.IntN(p.Size())}
		check(t, "dL/d"+p.Name, net, p.Data, grads[k], idx, x, sig, w, n)
	}
}

func TestShapeAndParams(t *testing.T) {
	cfg := tinyConfig()
	net, err := New(cfg, nn.NaiveGemm{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	for _, n := range []int{1, 3, 2} {
		out := net.Forward(make([]float32, n*64), []float32{1, 2, 3}, n)
		if len(out) != n*64 {
			t.Fatalf("batch %d: output length %d, want %d", n, len(out), n*64)
		}
	}
	seen := map[string]bool{}
	total := 0
	for _, p := range net.Params() {
		if seen[p.Name] {
			t.Fatalf("duplicate parameter name %q", p.Name)
		}
		seen[p.Name] = true
		sz := 1
		for _, s := range p.Shape {
			sz *= s
		}
		if sz != len(p.Data) || sz != len(p.Grad) {
			t.Fatalf("%s: shape %v but %d values", p.Name, p.Shape, len(p.Data))
		}
		total += sz
	}
	if total != net.NumParams() {
		t.Fatalf("NumParams %d, sum %d", net.NumParams(), total)
	}
	// default configuration: parameter count (documented in doc.go)
	def, err := New(DefaultConfig(), nn.NaiveGemm{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := def.NumParams(); got != 2265505 {
		t.Errorf("default config has %d parameters, doc says 2265505", got)
	}
	bad := []Config{
		{ImageSize: 10, Channels: 1, NF: 8, ChMult: []int{1, 2, 2}, NumResBlocks: 1, FourierScale: 16},
		{ImageSize: 8, Channels: 1, NF: 6, ChMult: []int{1, 3}, NumResBlocks: 1, FourierScale: 16},
		{ImageSize: 8, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnResolutions: []int{3}, FourierScale: 16},
		{ImageSize: 8, Channels: 0, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, FourierScale: 16},
	}
	for i, c := range bad {
		if _, err := New(c, nn.NaiveGemm{}, 1); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

func TestDeterminism(t *testing.T) {
	cfg := tinyConfig()
	cfg.ImageSize, cfg.AttnResolutions = 16, []int{8}
	g := fastGemm(t)
	rng := rand.New(rand.NewPCG(5, 6))
	n := 5
	x := randVec(rng, n*256, 1)
	sig := []float32{0.01, 0.1, 1, 10, 50}
	var ref []float32
	var refParams []float32
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		net, err := New(cfg, g, 42)
		if err != nil {
			t.Fatal(err)
		}
		randomize(net, rand.New(rand.NewPCG(7, 8)))
		var ps []float32
		for _, p := range net.Params() {
			ps = append(ps, p.Data...)
		}
		out1 := append([]float32(nil), net.Forward(x, sig, n)...)
		out2 := net.Forward(x, sig, n)
		for i := range out1 {
			if out1[i] != out2[i] {
				t.Fatalf("GOMAXPROCS=%d: same input twice gave different outputs at %d", procs, i)
			}
		}
		// Batch split: each image's output must not depend on which other
		// images share its batch.
		const d = 256
		for _, split := range []int{1, 2, 4} {
			a := append([]float32(nil), net.Forward(x[:split*d], sig[:split], split)...)
			b := net.Forward(x[split*d:], sig[split:], n-split)
			for j := range out1 {
				got := b[j-min(j, split*d)]
				if j < split*d {
					got = a[j]
				}
				if got != out1[j] {
					t.Fatalf("GOMAXPROCS=%d: batch split at %d changes output %d: %g vs %g", procs, split, j, got, out1[j])
				}
			}
		}
		// Inference mode: same output bit for bit, and Backward refuses.
		net.SetInference(true)
		inf := net.Forward(x, sig, n)
		for j := range out1 {
			if inf[j] != out1[j] {
				t.Fatalf("GOMAXPROCS=%d: inference-mode output %d = %g, training mode %g", procs, j, inf[j], out1[j])
			}
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Backward after an inference-mode Forward did not panic")
				}
			}()
			net.Backward(out1)
		}()
		net.SetInference(false)
		if ref == nil {
			ref, refParams = out1, ps
		} else {
			for i := range ref {
				if ref[i] != out1[i] {
					t.Fatalf("GOMAXPROCS=%d: output %d = %g differs from GOMAXPROCS=1 (%g)", procs, i, out1[i], ref[i])
				}
			}
			for i := range ps {
				if ps[i] != refParams[i] {
					t.Fatalf("same seed gave different weights")
				}
			}
		}
		net.Close()
	}
	// NCSN++ initialisation itself: same seed same weights, other seed different
	a, _ := New(cfg, g, 1)
	b, _ := New(cfg, g, 1)
	c, _ := New(cfg, g, 2)
	defer a.Close()
	defer b.Close()
	defer c.Close()
	same, diff := true, false
	for k, p := range a.Params() {
		for i, v := range p.Data {
			same = same && v == b.Params()[k].Data[i]
			diff = diff || v != c.Params()[k].Data[i]
		}
	}
	if !same || !diff {
		t.Errorf("seeding: same seed identical = %v, other seed differs = %v", same, diff)
	}
}

// TestOverfit trains a tiny network with Adam on a DSM-like loss
// ‖ε(x+σz, σ) + z‖² for 4 fixed images, noises and noise levels.
func TestOverfit(t *testing.T) {
	cfg := Config{ImageSize: 16, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnResolutions: []int{8}, FourierScale: 16}
	net, err := New(cfg, fastGemm(t), 9)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	n, d := 4, 256
	sig := []float32{0.1, 0.3, 1, 2}
	z := randVec(rng, n*d, 1)
	xt := make([]float32, n*d)
	for i := 0; i < n; i++ { // smooth "galaxies": Gaussian blobs
		cx, cy, w := 4+8*rng.Float64(), 4+8*rng.Float64(), 1.5+2*rng.Float64()
		for p := 0; p < d; p++ {
			dx, dy := float64(p%16)-cx, float64(p/16)-cy
			xt[i*d+p] = float32(math.Exp(-(dx*dx+dy*dy)/(2*w*w))) + sig[i]*z[i*d+p]
		}
	}
	ps := net.Params()
	m := make([][]float32, len(ps))
	v := make([][]float32, len(ps))
	for k, p := range ps {
		m[k], v[k] = make([]float32, p.Size()), make([]float32, p.Size())
	}
	dout := make([]float32, n*d)
	loss := func(out []float32) float64 {
		var s float64
		for i, e := range out {
			r := float64(e) + float64(z[i])
			s += r * r
			dout[i] = float32(2 * r / float64(n*d))
		}
		return s / float64(n*d)
	}
	const lr, b1, b2 = 3e-3, 0.9, 0.999
	first := loss(net.Forward(xt, sig, n))
	var last float64
	for step := 1; step <= 150; step++ {
		last = loss(net.Forward(xt, sig, n))
		for _, p := range ps {
			p.ZeroGrad()
		}
		net.Backward(dout)
		c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
		for k, p := range ps {
			for i, g := range p.Grad {
				m[k][i] = b1*m[k][i] + (1-b1)*g
				v[k][i] = b2*v[k][i] + (1-b2)*g*g
				p.Data[i] -= float32(lr * (float64(m[k][i]) / c1) / (math.Sqrt(float64(v[k][i])/c2) + 1e-8))
			}
		}
	}
	t.Logf("DSM loss %.4g → %.4g", first, last)
	if !(last < first/10) {
		t.Errorf("loss fell from %.4g to %.4g, less than 10×", first, last)
	}
}

func TestNoAllocs(t *testing.T) {
	cfg := tinyConfig()
	cfg.ImageSize, cfg.AttnResolutions = 16, []int{8}
	cfg.Workers = 2
	net, err := New(cfg, fastGemm(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	x := make([]float32, 3*256)
	sig := []float32{1, 2, 3}
	d := make([]float32, 3*256)
	// Warm up: the first calls allocate the buffers, and the Go runtime
	// itself allocates a little (sudog and sync.Pool caches refilled after
	// a GC) during the first iterations; none of it is per call.
	for i := 0; i < 10; i++ {
		net.Forward(x, sig, 3)
		net.Backward(d)
	}
	// A per-call allocation shows in every measurement; rare background
	// allocations by the runtime do not, so take the least of three.
	least := func(f func()) float64 {
		m := math.Inf(1)
		for k := 0; k < 3; k++ {
			m = min(m, testing.AllocsPerRun(10, f))
		}
		return m
	}
	if a := least(func() { net.Forward(x, sig, 3) }); a != 0 {
		t.Errorf("Forward allocates %v times per call", a)
	}
	if a := least(func() { net.Forward(x, sig, 3); net.Backward(d) }); a != 0 {
		t.Errorf("Forward+Backward allocates %v times per call", a)
	}
	net.SetInference(true)
	net.Forward(x, sig, 3)
	if a := least(func() { net.Forward(x, sig, 3) }); a != 0 {
		t.Errorf("inference-mode Forward allocates %v times per call", a)
	}
}

// TestInferenceWeightChange checks that SetInference(true) after changing
// the weights drops the transformed weights kept in inference mode.
func TestInferenceWeightChange(t *testing.T) {
	cfg := tinyConfig()
	cfg.ImageSize, cfg.NF, cfg.AttnResolutions = 16, 16, []int{8}
	net, err := New(cfg, fastGemm(t), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	randomize(net, rand.New(rand.NewPCG(1, 1)))
	rng := rand.New(rand.NewPCG(2, 2))
	x := randVec(rng, 2*256, 1)
	sig := []float32{0.5, 2}
	net.SetInference(true)
	before := append([]float32(nil), net.Forward(x, sig, 2)...)
	for _, p := range net.Params() {
		if strings.Contains(p.Name, "conv1.weight") {
			for i := range p.Data {
				p.Data[i] *= 1.5
			}
		}
	}
	net.SetInference(true)
	after := append([]float32(nil), net.Forward(x, sig, 2)...)
	net.SetInference(false)
	want := net.Forward(x, sig, 2)
	changed := false
	for i := range want {
		if after[i] != want[i] {
			t.Fatalf("output %d: inference mode %g, training mode %g after the weight change", i, after[i], want[i])
		}
		changed = changed || before[i] != after[i]
	}
	if !changed {
		t.Fatal("scaling the conv1 weights did not change the output")
	}
}

// TestInputGradOnly: with SetParamGrads(false) the whole network's input
// gradient is bit for bit the one of a full Backward, and no parameter
// gradient (the time embedding's included) changes.
func TestInputGradOnly(t *testing.T) {
	cfg := tinyConfig()
	cfg.Workers = 2
	net, err := New(cfg, fastGemm(t), 5)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	randomize(net, rng)
	n := 2
	x := randVec(rng, n*64, 1)
	sig := []float32{0.02, 1.5}
	w := randVec(rng, len(net.Forward(x, sig, n)), 1)
	net.ZeroGrad()
	net.Backward(w)
	full := append([]float32(nil), net.InputGrad()...)
	for _, p := range net.Params() {
		for i := range p.Grad {
			p.Grad[i] = -3
		}
	}
	net.SetParamGrads(false)
	net.Forward(x, sig, n)
	net.Backward(w)
	net.SetParamGrads(true)
	for i, g := range net.InputGrad() {
		if g != full[i] {
			t.Fatalf("input gradient [%d] = %g without parameter gradients, %g with", i, g, full[i])
		}
	}
	for _, p := range net.Params() {
		for i, g := range p.Grad {
			if g != -3 {
				t.Fatalf("%s.Grad[%d] changed to %g", p.Name, i, g)
			}
		}
	}
}
