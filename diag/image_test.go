package diag

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRadialProfileLinear(t *testing.T) {
	const nx, ny = 40, 30
	cx, cy := 17.3, 12.8
	img := make([]float64, nx*ny)
	for row := range ny {
		for col := range nx {
			img[row*nx+col] = 3 - 0.25*math.Hypot(float64(col)-cx, float64(row)-cy)
		}
	}
	img[5] = math.NaN()
	r, p, err := RadialProfile(img, nx, ny, cx, cy, 1.5, 10)
	if err != nil {
		t.Fatal(err)
	}
	for k := range r {
		// The profile of a linear function of radius is exact at the mean radius.
		if want := 3 - 0.25*r[k]; math.Abs(p[k]-want) > 1e-12 {
			t.Errorf("bin %d: profile %g at r=%g, want %g", k, p[k], r[k], want)
		}
		if r[k] < 1.5*float64(k) || r[k] >= 1.5*float64(k+1) {
			t.Errorf("bin %d: mean radius %g outside its annulus", k, r[k])
		}
	}
	// Gaussian: thin annuli sample exp(−r²/2σ²) closely.
	for i := range img {
		row, col := i/nx, i%nx
		d := math.Hypot(float64(col)-cx, float64(row)-cy)
		img[i] = math.Exp(-d * d / 50)
	}
	r, p, _ = RadialProfile(img, nx, ny, cx, cy, 0.5, 20)
	for k := range r {
		if math.IsNaN(r[k]) {
			continue
		}
		if want := math.Exp(-r[k] * r[k] / 50); math.Abs(p[k]-want) > 0.01 {
			t.Errorf("Gaussian bin %d: %g, want %g", k, p[k], want)
		}
	}
	if _, _, err := RadialProfile(img[:10], nx, ny, 0, 0, 1, 3); err == nil {
		t.Error("wrong length accepted")
	}
}

func TestPowerSpectrumWhiteNoise(t *testing.T) {
	const nx, ny, nb, reps = 64, 48, 8, 6
	const sigma = 2.0
	rng := rand.New(rand.NewPCG(11, 12))
	img := make([]float64, nx*ny)
	mean := make([]float64, nb)
	var kk []float64
	for range reps {
		for i := range img {
			img[i] = 5 + sigma*rng.NormFloat64()
		}
		k, p, err := PowerSpectrum(img, nx, ny, nb)
		if err != nil {
			t.Fatal(err)
		}
		kk = k
		for b := range p {
			mean[b] += p[b] / reps
		}
	}
	for b, p := range mean {
		// Each bin averages ≥ ~50 independent |F|² (exponential, relative
		// sd 1 each) over 6 realisations: relative error ≲ 6 %.
		if math.Abs(p-sigma*sigma) > 0.2*sigma*sigma {
			t.Errorf("bin %d (k=%.3f): P = %.3f, want %g", b, kk[b], p, sigma*sigma)
		}
	}
	// A pure cosine at 8 cycles across 64 columns puts its power at k = 1/8.
	for i := range img {
		img[i] = math.Cos(2 * math.Pi * 8 * float64(i%nx) / nx)
	}
	k, p, _ := PowerSpectrum(img, nx, ny, 16)
	best := 0
	for b := range p {
		if p[b] > p[best] {
			best = b
		}
	}
	if math.Abs(k[best]-0.125) > 0.5/16 {
		t.Errorf("cosine peak at k = %.3f, want 0.125", k[best])
	}
}

func gaussImage(nx, ny int, cx, cy, sa, sb, phi float64) []float64 {
	img := make([]float64, nx*ny)
	c, s := math.Cos(phi), math.Sin(phi)
	for row := range ny {
		for col := range nx {
			dx, dy := float64(col)-cx, float64(row)-cy
			u := c*dx + s*dy
			v := -s*dx + c*dy
			img[row*nx+col] = math.Exp(-0.5 * (u*u/(sa*sa) + v*v/(sb*sb)))
		}
	}
	return img
}

func TestMomentsEllipticalGaussian(t *testing.T) {
	const nx, ny = 64, 64
	phi := math.Pi / 6
	img := gaussImage(nx, ny, 31.2, 29.7, 6, 3, phi)
	s, err := Moments(img, nx, ny)
	if err != nil {
		t.Fatal(err)
	}
	c, sn := math.Cos(phi), math.Sin(phi)
	wantXX := 36*c*c + 9*sn*sn
	wantYY := 36*sn*sn + 9*c*c
	wantXY := (36 - 9) * c * sn
	check := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	check("CX", s.CX, 31.2, 1e-6)
	check("CY", s.CY, 29.7, 1e-6)
	check("Qxx", s.Qxx, wantXX, 1e-4)
	check("Qyy", s.Qyy, wantYY, 1e-4)
	check("Qxy", s.Qxy, wantXY, 1e-4)
	check("Ellipticity", s.Ellipticity, 27.0/45, 1e-5)
	check("AxisRatio", s.AxisRatio, 0.5, 1e-5)
	check("Angle", s.Angle, phi, 1e-5)
	check("Flux", s.Flux, 2*math.Pi*18, 1e-3)

	// Angle −60° stays in (−π/2, π/2].
	s2, _ := Moments(gaussImage(nx, ny, 32, 32, 6, 3, -math.Pi/3), nx, ny)
	check("Angle(−60°)", s2.Angle, -math.Pi/3, 1e-5)

	// Circular Gaussian σ = 5: R_f = σ √(−2 ln(1−f)).
	circ, _ := Moments(gaussImage(nx, ny, 32.4, 31.1, 5, 5, 0), nx, ny)
	for _, c := range []struct {
		name string
		got  float64
		f    float64
	}{{"R20", circ.R20, 0.2}, {"R50", circ.R50, 0.5}, {"R80", circ.R80, 0.8}} {
		want := 5 * math.Sqrt(-2*math.Log(1-c.f))
		if math.Abs(c.got-want) > 0.02*want {
			t.Errorf("%s = %.4f, want %.4f", c.name, c.got, want)
		}
	}
	wantC := 5 * math.Log10(math.Sqrt(math.Log(5)/-math.Log(0.8)))
	check("Concentration", circ.Concentration, wantC, 0.03)
	check("round Ellipticity", circ.Ellipticity, 0, 1e-6)
	if _, err := Moments(make([]float64, 16), 4, 4); err == nil {
		t.Error("zero image accepted")
	}
}
