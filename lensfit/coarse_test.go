package lensfit

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
	"gonum.org/v1/gonum/mat"
)

// TestCoarsenPrior: the coarse prior's covariance equals B Σ₀ Bᵀ, B the
// f×f block-mean matrix, for a GRF (f = 2, 3) and an isotropic Gaussian.
func TestCoarsenPrior(t *testing.T) {
	const n = 12
	rng := rand.New(rand.NewPCG(7, 7))
	p := make([]float64, n*n)
	for ky := 0; ky < n; ky++ {
		for kx := 0; kx < n; kx++ {
			fy, fx := float64(min(ky, n-ky)), float64(min(kx, n-kx))
			p[ky*n+kx] = 1/(1+fx*fx+0.5*fy*fy) + 0.05*rng.Float64()
		}
	}
	g, err := posterior.NewGRF(n, n, 0.1, p, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	mu := make([]float64, n*n)
	for i := range mu {
		mu[i] = rng.Float64()
	}
	iso, _ := posterior.NewIsoGaussian(mu, 0.3, sigmaOne)
	cfg := lens.Config{Obs: lens.Grid{N: 10, Scale: 0.1}, Src: lens.Grid{N: n, Scale: 0.07}}
	y := make([]float64, 100)
	for _, prior := range []posterior.GaussianPrior{g, iso} {
		ev, err := NewEvidence(cfg, Data{Y: y, SigmaN: []float64{1}}, prior)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []int{2, 3} {
			c, err := ev.Coarsen(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.cfg.Src; got.N != n/f || math.Abs(got.Scale-0.07*float64(f)) > 1e-15 {
				t.Errorf("coarse source grid %+v", got)
			}
			nc := n / f
			b := mat.NewDense(nc*nc, n*n, nil)
			for i := 0; i < n*n; i++ {
				b.Set((i/n/f)*nc+(i%n)/f, i, 1/float64(f*f))
			}
			var bs, want mat.Dense
			bs.Mul(b, prior.Cov())
			want.Mul(&bs, b.T())
			got := c.prior.Cov()
			for i := 0; i < nc*nc; i++ {
				for j := 0; j < nc*nc; j++ {
					if d := math.Abs(got.At(i, j) - want.At(i, j)); d > 1e-12 {
						t.Fatalf("%T f=%d: coarse covariance [%d,%d] = %g, block means %g", prior, f, i, j, got.At(i, j), want.At(i, j))
					}
				}
			}
			var wm mat.VecDense
			wm.MulVec(b, mat.NewVecDense(n*n, prior.Mean()))
			for i, v := range c.prior.Mean() {
				if math.Abs(v-wm.AtVec(i)) > 1e-14 {
					t.Fatalf("%T f=%d: coarse mean [%d] = %g, block mean %g", prior, f, i, v, wm.AtVec(i))
				}
			}
		}
	}
	if _, err := (&Evidence{cfg: cfg}).Coarsen(5); err == nil {
		t.Error("a factor that does not divide the grid was accepted")
	}
}
