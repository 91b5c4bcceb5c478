package posterior

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/sde"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// denseOp is a dense M×N operator (row-major).
type denseOp struct {
	m, n int
	a    []float64
}

func (d *denseOp) Dims() (int, int) { return d.m, d.n }
func (d *denseOp) Apply(dst, x []float64) {
	for i := 0; i < d.m; i++ {
		var s float64
		row := d.a[i*d.n : (i+1)*d.n]
		for j, v := range row {
			s += v * x[j]
		}
		dst[i] = s
	}
}
func (d *denseOp) Adjoint(dst, r []float64) {
	for j := range dst[:d.n] {
		dst[j] = 0
	}
	for i := 0; i < d.m; i++ {
		row := d.a[i*d.n : (i+1)*d.n]
		for j, v := range row {
			dst[j] += v * r[i]
		}
	}
}
func (d *denseOp) mat() *mat.Dense { return mat.NewDense(d.m, d.n, append([]float64(nil), d.a...)) }

func randomOp(m, n int, seed uint64) *denseOp {
	r := rand.New(rand.NewPCG(seed, 99))
	d := &denseOp{m: m, n: n, a: make([]float64, m*n)}
	for i := range d.a {
		if r.Float64() < 0.3 {
			d.a[i] = r.NormFloat64()
		}
	}
	return d
}

// lensOp is a lens-like operator: an ns×ns source (unit square [-1,1]²) seen
// through a singular isothermal sphere of Einstein radius b (plus a small
// offset, so the images are asymmetric), sampled with bilinear interpolation
// on an ni×ni image grid of half-width w and blurred by a Gaussian PSF of
// width psf image pixels.
func lensOp(ns, ni int, b, w, psf float64) *denseOp {
	n, m := ns*ns, ni*ni
	ray := make([]float64, m*n)
	h := 2 * w / float64(ni)
	for iy := 0; iy < ni; iy++ {
		for ix := 0; ix < ni; ix++ {
			tx, ty := -w+(float64(ix)+0.5)*h, -w+(float64(iy)+0.5)*h
			r := math.Hypot(tx, ty) + 1e-12
			bx, by := tx-b*tx/r-0.1, ty-b*ty/r+0.05
			// source pixel coordinates
			u := (bx+1)/2*float64(ns) - 0.5
			v := (by+1)/2*float64(ns) - 0.5
			x0, y0 := math.Floor(u), math.Floor(v)
			fx, fy := u-x0, v-y0
			for _, c := range [4][3]float64{{0, 0, (1 - fx) * (1 - fy)}, {1, 0, fx * (1 - fy)}, {0, 1, (1 - fx) * fy}, {1, 1, fx * fy}} {
				sx, sy := int(x0+c[0]), int(y0+c[1])
				if sx >= 0 && sx < ns && sy >= 0 && sy < ns {
					ray[(iy*ni+ix)*n+sy*ns+sx] += c[2]
				}
			}
		}
	}
	d := &denseOp{m: m, n: n, a: make([]float64, m*n)}
	for iy := 0; iy < ni; iy++ {
		for ix := 0; ix < ni; ix++ {
			var wsum float64
			for jy := 0; jy < ni; jy++ {
				for jx := 0; jx < ni; jx++ {
					dx, dy := float64(ix-jx), float64(iy-jy)
					k := math.Exp(-(dx*dx + dy*dy) / (2 * psf * psf))
					if k < 1e-4 {
						continue
					}
					wsum += k
					row, src := d.a[(iy*ni+ix)*n:], ray[(jy*ni+jx)*n:]
					for j := 0; j < n; j++ {
						row[j] += k * src[j]
					}
				}
			}
			row := d.a[(iy*ni+ix)*n : (iy*ni+ix+1)*n]
			for j := range row {
				row[j] /= wsum
			}
		}
	}
	return d
}

// postStats compares samples with N(mu, cov).
type postStats struct {
	chi2, chi2Crit float64 // K (m−μ)ᵀΣ⁻¹(m−μ) and its 1−1e-3 quantile (χ²_N)
	varRatio       float64 // mean over pixels of sample var / exact var
	varSE          float64 // its standard error under exact sampling
}

func computeStats(t *testing.T, samples [][]float64, mu []float64, cov *mat.SymDense) postStats {
	t.Helper()
	k, n := len(samples), len(mu)
	m := make([]float64, n)
	for _, s := range samples {
		for i, v := range s {
			m[i] += v / float64(k)
		}
	}
	v := make([]float64, n)
	for _, s := range samples {
		for i, x := range s {
			v[i] += (x - m[i]) * (x - m[i]) / float64(k-1)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(cov) {
		t.Fatal("posterior covariance not positive definite")
	}
	d := mat.NewVecDense(n, nil)
	for i := range m {
		d.SetVec(i, m[i]-mu[i])
	}
	var sol mat.VecDense
	if err := ch.SolveVecTo(&sol, d); err != nil {
		t.Fatal(err)
	}
	st := postStats{chi2: float64(k) * mat.Dot(d, &sol), chi2Crit: distuv.ChiSquared{K: float64(n)}.Quantile(1 - 1e-3)}
	var rho2 float64
	for i := 0; i < n; i++ {
		st.varRatio += v[i] / cov.At(i, i) / float64(n)
		for j := 0; j < n; j++ {
			c := cov.At(i, j)
			rho2 += c * c / (cov.At(i, i) * cov.At(j, j))
		}
	}
	st.varSE = math.Sqrt(2*rho2/float64(k-1)) / float64(n)
	return st
}

// emVariance returns the per-pixel variance and the mean that the
// Euler–Maruyama recursion predicts when the total score is the exact
// posterior marginal score −(Σ+σ²I)⁻¹(x−μ), started from N(0, σ_max² I).
func emVariance(cov *mat.SymDense, mu []float64, ve sde.VE, steps int, eps float64) (vr, mean []float64) {
	var e mat.EigenSym
	e.Factorize(cov, true)
	var vecs mat.Dense
	e.VectorsTo(&vecs)
	lam := e.Values(nil)
	n := len(lam)
	ts := sde.Times(steps, eps)
	vv := make([]float64, n)
	off := make([]float64, n) // mean offset from μ in the eigenbasis
	for j := 0; j < n; j++ {
		vv[j] = ve.SigmaMax * ve.SigmaMax
		for i := 0; i < n; i++ {
			off[j] -= vecs.At(i, j) * mu[i]
		}
	}
	for i := 0; i < steps; i++ {
		t := ts[i]
		dt := t - ts[i+1]
		g2 := ve.G2(t)
		s := ve.Sigma(t)
		for j := range vv {
			f := 1 - g2*dt/(lam[j]+s*s)
			vv[j] = f * f * vv[j]
			off[j] *= f
			if i < steps-1 {
				vv[j] += g2 * dt
			}
		}
	}
	vr = make([]float64, n)
	mean = make([]float64, n)
	for i := 0; i < n; i++ {
		mean[i] = mu[i]
		for j := 0; j < n; j++ {
			vr[i] += vecs.At(i, j) * vecs.At(i, j) * vv[j]
			mean[i] += vecs.At(i, j) * off[j]
		}
	}
	return vr, mean
}
