package posterior

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/sde"
	"gonum.org/v1/gonum/mat"
)

var testVE = sde.VE{SigmaMin: 1e-3, SigmaMax: 30}

// powerLaw is a test spectrum P(k) = amp/(1 + (|k|/k0)²)^1.5 on an nx×ny grid.
func powerLaw(nx, ny int, amp, k0 float64) []float64 {
	p := make([]float64, nx*ny)
	for ky := 0; ky < ny; ky++ {
		for kx := 0; kx < nx; kx++ {
			fx, fy := float64(kx), float64(ky)
			if kx > nx/2 {
				fx -= float64(nx)
			}
			if ky > ny/2 {
				fy -= float64(ny)
			}
			k2 := (fx*fx/float64(nx*nx) + fy*fy/float64(ny*ny)) * 64
			p[ky*nx+kx] = amp / math.Pow(1+k2/(k0*k0), 1.5)
		}
	}
	return p
}

// denseGRFCov builds Σ₀ = F⁻¹ diag(P) F directly from the cosine sum.
func denseGRFCov(nx, ny int, p []float64) *mat.SymDense {
	n := nx * ny
	c := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			dx, dy := float64(i%nx-j%nx), float64(i/nx-j/nx)
			var s float64
			for ky := 0; ky < ny; ky++ {
				for kx := 0; kx < nx; kx++ {
					s += p[ky*nx+kx] * math.Cos(2*math.Pi*(float64(kx)*dx/float64(nx)+float64(ky)*dy/float64(ny)))
				}
			}
			c.SetSym(i, j, s/float64(n))
		}
	}
	return c
}

func TestGRFScoreMatchesDense(t *testing.T) {
	nx, ny := 8, 6 // non-square catches transposed axes
	p := powerLaw(nx, ny, 2, 1.5)
	g, err := NewGRF(nx, ny, 0.3, p, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	want := denseGRFCov(nx, ny, p)
	if !mat.EqualApprox(g.Cov(), want, 1e-12) {
		t.Fatal("GRF.Cov differs from the direct cosine sum")
	}
	n := nx * ny
	// L Lᵀ = Σ₀ for ApplySqrt.
	l := mat.NewDense(n, n, nil)
	e, col := make([]float64, n), make([]float64, n)
	for j := 0; j < n; j++ {
		e[j] = 1
		g.ApplySqrt(col, e)
		e[j] = 0
		l.SetCol(j, col)
	}
	var llt mat.Dense
	llt.Mul(l, l.T())
	if !mat.EqualApprox(&llt, want, 1e-12) {
		t.Fatal("ApplySqrt is not a square root of Σ₀")
	}
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, 2*n)
	for i := range x {
		x[i] = r.NormFloat64() * 2
	}
	got := make([]float64, 2*n)
	for _, tt := range []float64{0.05, 0.4, 0.9} {
		if err := g.Score(got, x, 2, tt); err != nil {
			t.Fatal(err)
		}
		s2 := testVE.Sigma(tt) * testVE.Sigma(tt)
		a := mat.NewSymDense(n, nil)
		a.CopySym(want)
		for i := 0; i < n; i++ {
			a.SetSym(i, i, a.At(i, i)+s2)
		}
		for k := 0; k < 2; k++ {
			d := mat.NewVecDense(n, nil)
			for i := 0; i < n; i++ {
				d.SetVec(i, x[k*n+i]-0.3)
			}
			var ref mat.VecDense
			if err := ref.SolveVec(a, d); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				if diff := math.Abs(got[k*n+i] + ref.AtVec(i)); diff > 1e-9*(1+math.Abs(ref.AtVec(i))) {
					t.Fatalf("t=%g image %d pixel %d: FFT score %g, dense %g", tt, k, i, got[k*n+i], -ref.AtVec(i))
				}
			}
		}
	}
	if a := testing.AllocsPerRun(10, func() { g.Score(got, x, 2, 0.5) }); a != 0 {
		t.Errorf("GRF.Score allocates %v times per call", a)
	}
}

func TestGRFValidation(t *testing.T) {
	if _, err := NewGRF(4, 4, 0, make([]float64, 16), testVE.Sigma); err == nil {
		t.Error("zero spectrum accepted")
	}
	if _, err := NewGRF(4, 4, 0, make([]float64, 15), testVE.Sigma); err == nil {
		t.Error("wrong spectrum length accepted")
	}
	if _, err := FitGRF([][]float64{make([]float64, 16)}, 4, 4, FitOptions{}, testVE.Sigma); err == nil {
		t.Error("constant training images accepted")
	}
}

// FitGRF on K synthetic fields: each periodogram ordinate is P(k)·χ²₂/2
// (χ²₁ for self-conjugate k), so the average of K has relative standard
// deviation ≤ √(2/K). We require every mode within 5 of those deviations,
// and the mean ratio over modes within 5 standard errors, and the radially
// averaged fit to be closer still.
func TestFitGRFRecoversSpectrum(t *testing.T) {
	nx, ny, k := 16, 16, 400
	p := powerLaw(nx, ny, 3, 2)
	g, _ := NewGRF(nx, ny, 1.5, p, testVE.Sigma)
	r := rand.New(rand.NewPCG(5, 6))
	imgs := make([][]float64, k)
	for i := range imgs {
		imgs[i] = make([]float64, nx*ny)
		Draw(imgs[i], g, r)
	}
	for _, radial := range []bool{false, true} {
		f, err := FitGRF(imgs, nx, ny, FitOptions{Radial: radial}, testVE.Sigma)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(f.mu-1.5) > 5*math.Sqrt(p[0]/float64(nx*ny*k)) {
			t.Errorf("radial=%v: mean %g, want 1.5", radial, f.mu)
		}
		var mean, worst float64
		for i, v := range f.Spectrum() {
			q := v/p[i] - 1
			mean += q / float64(len(p))
			worst = math.Max(worst, math.Abs(q))
		}
		t.Logf("radial=%v: mean ratio−1 %.4f, worst mode %.3f", radial, mean, worst)
		if worst > 5*math.Sqrt(2/float64(k)) {
			t.Errorf("radial=%v: worst mode off by %.3f", radial, worst)
		}
		if math.Abs(mean) > 5*math.Sqrt(2/float64(k*len(p))) {
			t.Errorf("radial=%v: mean ratio off by %.4f", radial, mean)
		}
	}
}
