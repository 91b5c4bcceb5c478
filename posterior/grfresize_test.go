package posterior

import (
	"math"
	"testing"
)

// gaussSpectrum returns the exact circulant eigenvalues of the periodic
// Gaussian covariance exp(−r²/2ℓ²) on an n×n grid of a unit field.
func gaussSpectrum(n int, ell float64) []float64 {
	d := 1 / float64(n)
	p1 := make([]float64, n)
	for k := range n {
		for j := range n {
			r := float64(min(j, n-j)) * d
			p1[k] += math.Exp(-r*r/(2*ell*ell)) * math.Cos(2*math.Pi*float64(k*j)/float64(n))
		}
	}
	p := make([]float64, n*n)
	for ky := range n {
		for kx := range n {
			p[ky*n+kx] = math.Max(p1[kx]*p1[ky], 1e-300)
		}
	}
	return p
}

// A field resampled from 32² to 64² (and 128²) has, at the frequencies
// both grids resolve, the eigenvalues computed directly on the finer grid;
// resampling to the same size is the identity; the tail is positive and
// below the power where the tail fit starts.
func TestGRFResampled(t *testing.T) {
	sig := func(t float64) float64 { return t }
	const ell = 0.08
	g32, err := NewGRF(32, 32, 0.1, gaussSpectrum(32, ell), sig)
	if err != nil {
		t.Fatal(err)
	}
	same, err := g32.Resampled(32, sig)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range same.Spectrum() {
		if v != g32.Spectrum()[i] {
			t.Fatalf("Resampled(32) changed P[%d]: %g → %g", i, g32.Spectrum()[i], v)
		}
	}
	for _, m := range []int{64, 128} {
		gm, err := g32.Resampled(m, sig)
		if err != nil {
			t.Fatal(err)
		}
		if gm.Mean()[0] != 0.1 || gm.Dim() != m*m {
			t.Fatalf("m=%d: mean %g, dim %d", m, gm.Mean()[0], gm.Dim())
		}
		want := gaussSpectrum(m, ell)
		pm := gm.Spectrum()
		mx := want[0]
		checked := 0
		for ky := range m {
			for kx := range m {
				fx, fy := kx, ky
				if fx > m/2 {
					fx -= m
				}
				if fy > m/2 {
					fy -= m
				}
				v, w := pm[ky*m+kx], want[ky*m+kx]
				if !(v > 0) {
					t.Fatalf("m=%d: P(%d,%d) = %g", m, fx, fy, v)
				}
				if abs(fx) <= 16 && abs(fy) <= 16 && w > 1e-6*mx {
					checked++
					if math.Abs(v-w) > 1e-3*w {
						t.Fatalf("m=%d: P(%d,%d) = %g, direct %g", m, fx, fy, v, w)
					}
				}
				if abs(fx) > 16 || abs(fy) > 16 {
					if v > pm[4] {
						t.Fatalf("m=%d: tail P(%d,%d) = %g above P(4,0) = %g, where the fit starts", m, fx, fy, v, pm[4])
					}
				}
			}
		}
		if checked < 50 {
			t.Fatalf("m=%d: only %d frequencies compared", m, checked)
		}
	}
	if _, err := g32.Resampled(1, sig); err == nil {
		t.Error("Resampled(1) accepted")
	}
}
