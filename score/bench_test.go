package score

import (
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/internal/threadcpu"
)

func benchNet(b *testing.B, cfg Config, batch int, backward bool) {
	benchNetMode(b, cfg, batch, backward, false)
}

func benchNetMode(b *testing.B, cfg Config, batch int, backward, infer bool) {
	benchNetGrads(b, cfg, batch, backward, infer, true)
}

// benchNetGrads times Forward (and Backward) of a batch; paramGrads false
// is the input-gradient-only Backward of posterior.NetworkPrior.VJP.
func benchNetGrads(b *testing.B, cfg Config, batch int, backward, infer, paramGrads bool) {
	net, err := New(cfg, fastGemm(b), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	net.SetInference(infer)
	net.SetParamGrads(paramGrads)
	if !paramGrads {
		net.SetWeightsFixed(true) // as posterior.NetworkPrior's ScoreKeep and VJP
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sz := cfg.Channels * cfg.ImageSize * cfg.ImageSize
	x := randVec(rng, batch*sz, 1)
	sig := make([]float32, batch)
	for i := range sig {
		sig[i] = float32(0.01 + rng.Float64())
	}
	d := randVec(rng, batch*sz, 1)
	run := func() {
		net.Forward(x, sig, batch)
		if backward {
			net.Backward(d)
		}
	}
	run()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
	}
	flops := float64(net.Flops()) * float64(batch)
	if backward && paramGrads {
		flops *= 3 // backward ≈ 2× forward
	} else if backward {
		flops *= 2 // input gradient only ≈ 1× forward
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(batch)*1e3, "ms/image")
}

func BenchmarkForward64Batch1(b *testing.B)          { benchNet(b, DefaultConfig(), 1, false) }
func BenchmarkForward64Batch32(b *testing.B)         { benchNet(b, DefaultConfig(), 32, false) }
func BenchmarkForwardBackward64Batch16(b *testing.B) { benchNet(b, DefaultConfig(), 16, true) }

// Inference mode (SetInference), as used when sampling.
func BenchmarkInfer64Batch1(b *testing.B)  { benchNetMode(b, DefaultConfig(), 1, false, true) }
func BenchmarkInfer64Batch32(b *testing.B) { benchNetMode(b, DefaultConfig(), 32, false, true) }

// BenchmarkForward256Paper runs the NCSN++ 256×256 settings (slow: ~470
// GFLOP per image).
func BenchmarkForward256Paper(b *testing.B) {
	cfg := Config{ImageSize: 256, Channels: 1, NF: 128, ChMult: []int{1, 1, 2, 2, 2, 2, 2}, NumResBlocks: 2, AttnResolutions: []int{16}, FourierScale: 16}
	benchNet(b, cfg, 1, false)
}

// Forward + backward for a batch of 3 chains (experiment coverage's K), as
// the sampler's Jacobian likelihood uses it: with parameter gradients
// (training) and with the input gradient only (posterior.NetworkPrior.VJP).
func BenchmarkForwardBackward64Batch3(b *testing.B) {
	benchNetGrads(b, DefaultConfig(), 3, true, false, true)
}
func BenchmarkVJP64Batch3(b *testing.B) { benchNetGrads(b, DefaultConfig(), 3, true, false, false) }

// BenchmarkVJP64Batch16: the same at e2ebench's batch.
func BenchmarkVJP64Batch16(b *testing.B) { benchNetGrads(b, DefaultConfig(), 16, true, false, false) }

// BenchmarkModesCPU16 times the sampler's network calls at batch 16 on one
// thread (thread CPU time, robust on a busy machine): the forward pass in
// training and in inference mode, and forward + input VJP with the weight
// transforms recomputed on every call or kept (SetWeightsFixed, as
// posterior.NetworkPrior does).
func BenchmarkModesCPU16(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Workers = 1
	net, err := New(cfg, fastGemm(b), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	const n = 16
	rng := rand.New(rand.NewPCG(1, 2))
	x, d := randVec(rng, n*4096, 1), randVec(rng, n*4096, 1)
	sig := make([]float32, n)
	for i := range sig {
		sig[i] = 0.1
	}
	fwd := func() { net.Forward(x, sig, n) }
	vjp := func() {
		net.Forward(x, sig, n)
		net.SetParamGrads(false)
		net.Backward(d)
		net.SetParamGrads(true)
	}
	for _, m := range []struct {
		name string
		set  func()
		run  func()
	}{
		{"forward_training", func() { net.SetInference(false) }, fwd},
		{"forward_inference", func() { net.SetInference(true) }, fwd},
		{"vjp_recomputed", func() { net.SetInference(false) }, vjp},
		{"vjp_weights_fixed", func() { net.SetInference(false); net.SetWeightsFixed(true) }, vjp},
	} {
		b.Run(m.name, func(b *testing.B) {
			m.set()
			threadcpu.Bench(b, m.run)
		})
	}
}

// BenchmarkTrainCPU16: forward + backward with parameter gradients at
// batch 16 on one thread (thread CPU time per call).
func BenchmarkTrainCPU16(b *testing.B) {
	threadcpu.Bench(b, trainStep16(b, 1))
}

// trainStep16 builds the default network with the given workers (closed
// when b ends) and returns one forward + backward with parameter gradients
// at batch 16 on fixed random inputs.
func trainStep16(b *testing.B, workers int) func() {
	cfg := DefaultConfig()
	cfg.Workers = workers
	net, err := New(cfg, fastGemm(b), 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(net.Close)
	const n = 16
	rng := rand.New(rand.NewPCG(1, 2))
	x, d := randVec(rng, n*4096, 1), randVec(rng, n*4096, 1)
	sig := make([]float32, n)
	for i := range sig {
		sig[i] = float32(0.01 + rng.Float64())
	}
	return func() { net.Forward(x, sig, n); net.Backward(d) }
}
