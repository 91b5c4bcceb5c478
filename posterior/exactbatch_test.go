package posterior

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lenscore/lenscore/linalg"
)

// perChain hides ScoreBatch, so that the sampler scores chain by chain.
type perChain struct{ Likelihood }

// Exact.ScoreBatch gives Score's scores (to rounding: a different order of
// the sums) for batches of 1 to 70 images (blocks of up to ExactBlock =
// 64, padded to multiples of 8), for an isotropic
// and a GRF prior; the score of an image does not depend on the batch
// size or on its place in the batch, bit for bit; and it does not
// allocate after its first call.
func TestExactBatchMatchesPerChain(t *testing.T) {
	for _, grf := range []bool{false, true} {
		p := newProblem(t, grf, 0.1)
		n := len(p.inv.Mean)
		const k = 70
		r := rand.New(rand.NewPCG(7, 8))
		x := make([]float64, k*n)
		for i := range x {
			x[i] = 0.5 + r.NormFloat64()
		}
		scratch := make([]float64, p.exact.ScratchLen())
		one := make([]float64, n)
		for _, tt := range []float64{0.02, 0.4, 1} {
			all := make([]float64, k*n)
			if err := p.exact.ScoreBatch(all, x, k, tt); err != nil {
				t.Fatal(err)
			}
			var worst, scale float64
			for c := 0; c < k; c++ {
				p.exact.Score(one, x[c*n:(c+1)*n], tt, scratch)
				for i, v := range one {
					worst = math.Max(worst, math.Abs(all[c*n+i]-v))
					scale = math.Max(scale, math.Abs(v))
				}
			}
			if worst > 1e-12*scale {
				t.Errorf("grf=%v t=%g: batched scores differ from per-chain ones by %.3g (scale %.3g)", grf, tt, worst, scale)
			}
			for _, part := range [][2]int{{0, 1}, {0, 5}, {3, 19}, {17, 40}, {16, 32}, {60, 70}, {1, 70}} {
				lo, hi := part[0], part[1]
				sub := make([]float64, (hi-lo)*n)
				if err := p.exact.ScoreBatch(sub, x[lo*n:hi*n], hi-lo, tt); err != nil {
					t.Fatal(err)
				}
				for i, v := range sub {
					if math.Float64bits(v) != math.Float64bits(all[lo*n+i]) {
						t.Fatalf("grf=%v t=%g: images %d…%d scored alone differ from the same images in a batch of %d (value %d)", grf, tt, lo, hi-1, k, i)
					}
				}
			}
		}
		// ScoreBatch's own code does not allocate (checked with the gonum
		// back-end; the OpenBLAS binding's foreign calls allocate a little
		// per call, which is logged).
		dst := make([]float64, k*n)
		a := testing.AllocsPerRun(5, func() { p.exact.ScoreBatch(dst, x, k, 0.3) })
		t.Logf("grf=%v: %v allocations per call with %s", grf, a, p.exact.batch.lib.Name())
		p.exact.batch.lib = linalg.Go()
		if a := testing.AllocsPerRun(5, func() { p.exact.ScoreBatch(dst, x, k, 0.3) }); a != 0 {
			t.Errorf("grf=%v: ScoreBatch allocates %v times per call with gonum", grf, a)
		}
		if err := p.exact.ScoreBatch(dst, x[:n], k, 0.3); err == nil {
			t.Error("ScoreBatch accepted a batch of the wrong length")
		}
	}
}

// With the exact likelihood the sampler scores the batch at once; chain k
// of a seed is still the same for any number of chains, worker count or
// FirstChain split, and the samples equal those of the per-chain path to
// rounding.
func TestSampleExactBatched(t *testing.T) {
	p := newProblem(t, true, 0.1)
	run := func(lik Likelihood, first uint64, chains, workers int) [][]float64 {
		res, err := Sample(context.Background(), p.prior, lik, testVE, Options{Seed: 3, FirstChain: first, Chains: chains, Workers: workers, Steps: 30, Sampler: SamplerPC, Denoise: true})
		if err != nil {
			t.Fatal(err)
		}
		return res.Samples
	}
	all := run(p.exact, 0, 20, 2)
	if a := run(p.exact, 0, 3, 1); !equalSamples(a, all[:3]) {
		t.Error("chains 0…2 differ between batches of 3 and 20")
	}
	if b := run(p.exact, 5, 13, 3); !equalSamples(b, all[5:18]) {
		t.Error("chains 5…17 of a FirstChain-5 run differ from those of a run from chain 0")
	}
	old := run(perChain{p.exact}, 0, 20, 2)
	var worst float64
	for c := range old {
		for i, v := range old[c] {
			worst = math.Max(worst, math.Abs(v-all[c][i]))
		}
	}
	if worst > 1e-8 {
		t.Errorf("batched and per-chain exact samples differ by %.3g", worst)
	}
}

// BenchmarkExactScores compares, in one run, the two ways the sampler can
// evaluate the exact likelihood for 32 chains of 64² sources (one pass of
// a step, Σ_post's eigenvectors random, isotropic prior): per chain (two
// matrix–vector products per chain, chains split over GOMAXPROCS
// goroutines, as the sampler's workers did; also on one goroutine, the
// issue's one-core figure) and batched (ScoreBatch: two matrix products
// per block of up to ExactBlock chains, OpenBLAS on Threads() threads). It
// reports the wall time of each per pass, the speed-ups over both
// per-chain variants, and the ratio of process CPU times (user + system,
// all threads) of the per-chain pass on GOMAXPROCS goroutines to the
// batched one, which a loaded machine distorts less than the wall clock.
func BenchmarkExactScores(b *testing.B) {
	const side, chains = 64, 32
	n := side * side
	e := randomExact(n, 1)
	r := rand.New(rand.NewPCG(1, 3))
	x := make([]float64, chains*n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	dst := make([]float64, chains*n)
	w := runtime.GOMAXPROCS(0)
	scratch := make([][]float64, w)
	for i := range scratch {
		scratch[i] = make([]float64, e.ScratchLen())
	}
	perChainPass := func(w int) {
		var wg sync.WaitGroup
		for g := 0; g < w; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for c := g * chains / w; c < (g+1)*chains/w; c++ {
					e.Score(dst[c*n:(c+1)*n], x[c*n:(c+1)*n], 0.3, scratch[g])
				}
			}(g)
		}
		wg.Wait()
	}
	if err := e.ScoreBatch(dst, x, chains, 0.3); err != nil { // allocate the buffers
		b.Fatal(err)
	}
	b.ResetTimer()
	var tOld, tOne, tNew, cOld, cNew time.Duration
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), cpuTime()
		perChainPass(w)
		t1, c1 := time.Now(), cpuTime()
		if err := e.ScoreBatch(dst, x, chains, 0.3); err != nil {
			b.Fatal(err)
		}
		tOld += t1.Sub(t0)
		tNew += time.Since(t1)
		cOld += c1 - c0
		cNew += cpuTime() - c1
		t2 := time.Now()
		perChainPass(1)
		tOne += time.Since(t2)
	}
	b.ReportMetric(float64(tOld.Milliseconds())/float64(b.N), "ms/per-chain-pass")
	b.ReportMetric(float64(tNew.Milliseconds())/float64(b.N), "ms/batched-pass")
	b.ReportMetric(float64(tOne.Milliseconds())/float64(b.N), "ms/per-chain-1core-pass")
	b.ReportMetric(float64(tOld)/float64(tNew), "speedup")
	b.ReportMetric(float64(tOne)/float64(tNew), "speedup-vs-1core")
	b.ReportMetric(float64(cOld)/float64(cNew), "cpu-speedup")
	b.Logf("%d chains at %d² (%s): per pass, per chain on %d goroutines %v wall %v CPU, on one %v wall; batched %v wall %v CPU", chains, side, e.batch.lib.Name(),
		w, tOld/time.Duration(b.N), cOld/time.Duration(b.N), tOne/time.Duration(b.N), tNew/time.Duration(b.N), cNew/time.Duration(b.N))
}

// cpuTime is the process's user + system CPU time (all threads, OpenBLAS's
// included): on a shared machine the ratio of CPU times is the cost ratio
// the wall clock blurs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// randomExact is an Exact for n pixels with random eigenvectors (not
// orthogonal: only the products matter) and an isotropic prior, for
// tests and benchmarks of the batched products at realistic sizes
// without an O(N³) set-up.
func randomExact(n int, seed uint64) *Exact {
	r := rand.New(rand.NewPCG(seed, 2))
	post := &eigOp{n: n, vt: make([]float64, n*n), lam: make([]float64, n)}
	for i := range post.vt {
		post.vt[i] = r.NormFloat64() / math.Sqrt(float64(n))
	}
	for i := range post.lam {
		post.lam[i] = 0.01 + r.Float64()
	}
	mu := make([]float64, n)
	return &Exact{post: post, prior: &eigOp{n: n, scalar: 0.09}, muPost: mu, muPrior: mu, sigma: testVE.Sigma, name: "random"}
}

// At a realistic size (N = 1024, where the GEMM runs its blocked kernels
// on all threads) an image's batched score is also independent of the
// batch size and of its place in the batch, bit for bit.
func TestExactBatchInvariantLarge(t *testing.T) {
	const n, k = 1024, 70
	e := randomExact(n, 3)
	r := rand.New(rand.NewPCG(9, 9))
	x := make([]float64, k*n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	all := make([]float64, k*n)
	if err := e.ScoreBatch(all, x, k, 0.2); err != nil {
		t.Fatal(err)
	}
	for _, part := range [][2]int{{0, 1}, {5, 12}, {30, 70}, {63, 66}} {
		lo, hi := part[0], part[1]
		sub := make([]float64, (hi-lo)*n)
		if err := e.ScoreBatch(sub, x[lo*n:hi*n], hi-lo, 0.2); err != nil {
			t.Fatal(err)
		}
		for i, v := range sub {
			if math.Float64bits(v) != math.Float64bits(all[lo*n+i]) {
				t.Fatalf("images %d…%d scored alone differ from the same images in a batch of %d (value %d, %s)", lo, hi-1, k, i, e.batch.lib.Name())
			}
		}
	}
}
