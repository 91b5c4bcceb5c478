package posterior

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// csrOp is a random sparse operator in CSR form (nnz per row fixed). Like
// lens.Operator it also stores Aᵀ in CSR form, so Adjoint is a gather.
type csrOp struct {
	m, n   int
	rowPtr []int
	col    []int
	val    []float64
	tPtr   []int
	tCol   []int
	tVal   []float64
}

func randomCSR(m, n, perRow int, seed uint64) *csrOp {
	r := rand.New(rand.NewPCG(seed, 1))
	o := &csrOp{m: m, n: n, rowPtr: make([]int, m+1)}
	for i := 0; i < m; i++ {
		for k := 0; k < perRow; k++ {
			o.col = append(o.col, r.IntN(n))
			o.val = append(o.val, r.Float64()/float64(perRow))
		}
		o.rowPtr[i+1] = len(o.col)
	}
	o.tPtr = make([]int, n+1)
	for _, j := range o.col {
		o.tPtr[j+1]++
	}
	for j := 0; j < n; j++ {
		o.tPtr[j+1] += o.tPtr[j]
	}
	o.tCol, o.tVal = make([]int, len(o.col)), make([]float64, len(o.col))
	next := append([]int(nil), o.tPtr[:n]...)
	for i := 0; i < m; i++ {
		for p := o.rowPtr[i]; p < o.rowPtr[i+1]; p++ {
			q := next[o.col[p]]
			o.tCol[q], o.tVal[q] = i, o.val[p]
			next[o.col[p]]++
		}
	}
	return o
}

func (o *csrOp) Dims() (int, int) { return o.m, o.n }
func (o *csrOp) Apply(dst, x []float64) {
	for i := 0; i < o.m; i++ {
		var s float64
		for p := o.rowPtr[i]; p < o.rowPtr[i+1]; p++ {
			s += o.val[p] * x[o.col[p]]
		}
		dst[i] = s
	}
}
func (o *csrOp) Adjoint(dst, r []float64) {
	for j := 0; j < o.n; j++ {
		var s float64
		for p := o.tPtr[j]; p < o.tPtr[j+1]; p++ {
			s += o.tVal[p] * r[o.tCol[p]]
		}
		dst[j] = s
	}
}

// zeroPrior isolates the sampler's own cost (score 0, no work).
type zeroPrior struct{ n int }

func (z zeroPrior) Dim() int { return z.n }
func (z zeroPrior) Score(dst, x []float64, n int, t float64) error {
	clear(dst)
	return nil
}

// BenchmarkStepPerChain: the sampler step beyond the network at 64² with a
// random sparse operator of 65 536 non-zeros (16 per image row): likelihood
// (apply + adjoint), noise and update. Reports ns per step per chain.
func BenchmarkStepPerChain(b *testing.B) {
	n := 64 * 64
	op := randomCSR(n, n, 16, 1)
	y := make([]float64, n)
	lik, _ := NewConvolved(op, y, []float64{0.1}, nil, testVE.Sigma)
	for _, chains := range []int{1, 16} {
		b.Run(fmt.Sprintf("chains=%d", chains), func(b *testing.B) {
			s, err := newSampler(zeroPrior{n}, lik, testVE, Options{Chains: chains, Steps: b.N + 1})
			if err != nil {
				b.Fatal(err)
			}
			s.init()
			s.start()
			defer s.stop()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.step(i)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chains), "ns/step/chain")
		})
	}
}

// BenchmarkChainsPerSecond: whole runs (100 steps) at 64² with the cheap
// isotropic analytic prior and the sparse convolved likelihood.
func BenchmarkChainsPerSecond(b *testing.B) {
	n := 64 * 64
	op := randomCSR(n, n, 16, 1)
	y := make([]float64, n)
	lik, _ := NewConvolved(op, y, []float64{0.1}, nil, testVE.Sigma)
	prior, _ := NewIsoGaussian(make([]float64, n), 1, testVE.Sigma)
	for _, chains := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch=%d", chains), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Sample(context.Background(), prior, lik, testVE, Options{Chains: chains, Steps: 100, Seed: uint64(i)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*chains)/b.Elapsed().Seconds(), "chains/s")
		})
	}
}

// BenchmarkInvert64: exact inversion with evidence maximisation at 64²
// (4096 unknowns) with the sparse operator, for the isotropic prior and a
// GRF prior: building B̃, one dense eigendecomposition (package linalg),
// the evidence search and the posterior mean and standard deviation. B/op
// is the memory allocated (the N×N arrays are 134 MB each).
func BenchmarkInvert64(b *testing.B) {
	n := 64 * 64
	op := randomCSR(n, n, 16, 1)
	r := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, n)
	for i := range y {
		y[i] = r.NormFloat64()
	}
	iso, _ := NewIsoGaussian(make([]float64, n), 1, testVE.Sigma)
	grf, _ := NewGRF(64, 64, 0, powerLaw(64, 64, 2, 1), testVE.Sigma)
	for _, c := range []struct {
		name  string
		prior GaussianPrior
	}{{"iso", iso}, {"grf", grf}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				inv, err := Invert(op, y, []float64{0.1}, c.prior, InvertOptions{})
				if err != nil {
					b.Fatal(err)
				}
				b.Logf("s* = %.4g, log evidence %.6g", inv.Scale, inv.LogEvidence)
			}
		})
	}
}

// BenchmarkExact64: the setup of the exact-likelihood validation at 64²
// with an isotropic prior: Invert with the dense Σ_post, then NewExact (one
// dsyevd of Σ_post; the isotropic Σ₀ needs none).
func BenchmarkExact64(b *testing.B) {
	n := 64 * 64
	op := randomCSR(n, n, 16, 1)
	r := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, n)
	for i := range y {
		y[i] = r.NormFloat64()
	}
	iso, _ := NewIsoGaussian(make([]float64, n), 1, testVE.Sigma)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		inv, err := Invert(op, y, []float64{0.1}, iso, InvertOptions{Scale: 1, FullCov: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := NewExact(&Gaussian{Mean: inv.Mean, Cov: inv.Cov}, iso, testVE.Sigma); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProjected64 times one projected-likelihood score at 64×64 (a
// random sparse operator with 16 entries per row standing in for the lens,
// a power-law GRF proxy, σ_n = 0.02) at three diffusion times, and reports
// the CG iterations.
func BenchmarkProjected64(b *testing.B) {
	const side = 64
	op := randomCSR(side*side, side*side, 16, 3)
	g, err := NewGRF(side, side, 0.1, powerLaw(side, side, 0.5, 2), testVE.Sigma)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, side*side)
	Draw(x, g, r)
	y := make([]float64, side*side)
	op.Apply(y, x)
	for i := range y {
		y[i] += 0.02 * r.NormFloat64()
	}
	pl, err := NewProjected(op, y, []float64{0.02}, nil, g, testVE.Sigma)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range []float64{0.1, 0.5, 0.9} {
		b.Run(fmt.Sprintf("t=%g", t), func(b *testing.B) {
			xt, ps, dst := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
			s := testVE.Sigma(t)
			for i := range xt {
				xt[i] = x[i] + s*r.NormFloat64()
			}
			if err := g.Score(ps, xt, 1, t); err != nil {
				b.Fatal(err)
			}
			scratch := make([]float64, pl.ScratchLen())
			c0, i0 := pl.calls.Load(), pl.iters.Load()
			b.ReportAllocs()
			for b.Loop() {
				pl.ScoreGivenPrior(dst, xt, ps, t, scratch)
			}
			b.ReportMetric(float64(pl.iters.Load()-i0)/float64(pl.calls.Load()-c0), "CG-iters")
		})
	}
}
