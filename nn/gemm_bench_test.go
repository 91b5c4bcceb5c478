package nn

import (
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// gonumGemm adapts gonum's pure-Go Sgemm (which has SSE assembly for its
// inner axpy and splits large products over goroutines) for comparison.
type gonumGemm struct{}

func (gonumGemm) Name() string { return "gonum" }

func (gonumGemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// benchShapes are the im2col GEMMs of 3×3 convolutions on one batch element:
// forward Y = W·col (M = C_out, N = H·W, K = 9·C_in), and for 64 channels the
// two backward products dW = dY·colᵀ and dcol = Wᵀ·dY.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"conv32x64x64", false, false, 32, 4096, 288},
	{"conv64x64x64", false, false, 64, 4096, 576},
	{"conv128x16x16", false, false, 128, 256, 1152},
	{"conv64-dW", false, true, 64, 576, 4096},
	{"conv64-dcol", true, false, 576, 4096, 64},
}

func benchBackends(b *testing.B) []Gemm {
	gs := []Gemm{&GoGemm{kernel: kernelAxpy}, &GoGemm{kernel: kernelTiled}, gonumGemm{}}
	if o, err := LoadOpenBLAS(); err == nil {
		gs = append([]Gemm{o}, gs...)
	} else {
		b.Logf("OpenBLAS not available: %v", err)
	}
	return gs
}

func randSlice(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func BenchmarkSgemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, g := range benchBackends(b) {
		short := map[string]string{"naive": "naive", "gonum": "gonum"}[g.Name()]
		switch g := g.(type) {
		case *OpenBLAS:
			short = "openblas"
		case *GoGemm:
			short = map[gemmKernel]string{kernelAxpy: "go-axpy", kernelTiled: "go-tiled"}[g.kernel]
		}
		for _, s := range benchShapes {
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			a, bm, c := randSlice(rng, s.m*s.k), randSlice(rng, s.k*s.n), make([]float32, s.m*s.n)
			b.Run(short+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					g.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkOpenBLASPeak estimates the machine's FP32 throughput: two
// goroutines, each running single-threaded OpenBLAS on its own 1024³
// product, reporting the total GFLOP/s.
func BenchmarkOpenBLASPeak(b *testing.B) {
	o, err := LoadOpenBLAS()
	if err != nil {
		b.Skipf("OpenBLAS not available: %v", err)
	}
	const n, workers = 1024, 2
	rng := rand.New(rand.NewPCG(9, 10))
	type job struct{ a, bm, c []float32 }
	jobs := make([]job, workers)
	for i := range jobs {
		jobs[i] = job{randSlice(rng, n*n), randSlice(rng, n*n), make([]float32, n*n)}
	}
	for b.Loop() {
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Go(func() { o.Sgemm(false, false, n, n, n, 1, j.a, n, j.bm, n, 0, j.c, n) })
		}
		wg.Wait()
	}
	flops := 2 * float64(n*n*n) * workers * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
