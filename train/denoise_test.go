package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestStarletReconstruction: the details and the coarse scale add up to
// the image; a constant image has no details.
func TestStarletReconstruction(t *testing.T) {
	const n = 37
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, n*n)
	for i := range x {
		x[i] = rng.NormFloat64() + float64(i%n)
	}
	w := Starlet(x, n, 4)
	for i := range x {
		var s float64
		for _, wj := range w {
			s += wj[i]
		}
		if math.Abs(s-x[i]) > 1e-12*(1+math.Abs(x[i])) {
			t.Fatalf("pixel %d: Σ scales %g, image %g", i, s, x[i])
		}
	}
	for i := range x {
		x[i] = 2.5
	}
	for j, wj := range Starlet(x, n, 4)[:4] {
		for _, v := range wj {
			if math.Abs(v) > 1e-14 {
				t.Fatalf("constant image: detail %d has %g", j+1, v)
			}
		}
	}
}

// TestStarletNoise: σ_j against the values tabulated for the 2-D B3-spline
// starlet (Starck, Murtagh & Fadili 2010: 0.890, 0.201, 0.086, 0.041) and
// against the spread of the transform of simulated white noise.
func TestStarletNoise(t *testing.T) {
	tab := []float64{0.890, 0.201, 0.086, 0.041}
	s := starletNoise()
	for j, v := range tab {
		if math.Abs(s[j]-v) > 0.0015 {
			t.Errorf("σ_%d = %.4f, tabulated %.3f", j+1, s[j], v)
		}
	}
	const n = 256
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, n*n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for j, wj := range Starlet(x, n, 3)[:3] {
		var ss float64
		for _, v := range wj {
			ss += v * v
		}
		if sd := math.Sqrt(ss / float64(len(wj))); math.Abs(sd/s[j]-1) > 0.03 {
			t.Errorf("white noise: scale %d sd %.4f, σ_j %.4f", j+1, sd, s[j])
		}
	}
}

// blobNoise is a 64² Gaussian galaxy of peak 1 (σ 4 px, off centre) and a
// knot, plus white noise of standard deviation sd.
func blobNoise(sd float64, seed uint64) (clean, noisy []float64) {
	const n = 64
	rng := rand.New(rand.NewPCG(seed, 9))
	clean, noisy = make([]float64, n*n), make([]float64, n*n)
	for r := range n {
		for c := range n {
			dx, dy := float64(c)-30.3, float64(r)-33.1
			v := math.Exp(-(dx*dx + dy*dy) / (2 * 16))
			kx, ky := float64(c)-38, float64(r)-28
			v += 0.4 * math.Exp(-(kx*kx+ky*ky)/(2*1.2*1.2))
			clean[r*n+c] = v
			noisy[r*n+c] = v + sd*rng.NormFloat64()
		}
	}
	return clean, noisy
}

// TestDenoise: the noise estimate recovers the simulated σ despite the
// galaxy; the denoised image is far closer to the clean one than the noisy
// image, keeps the galaxy's and the knot's peaks, and pure noise comes out
// nearly flat.
func TestDenoise(t *testing.T) {
	const n, sd = 64, 0.03
	clean, noisy := blobNoise(sd, 5)
	if s := NoiseSigma(noisy, n); math.Abs(s/sd-1) > 0.08 {
		t.Errorf("noise σ %.4f, simulated %.4f", s, sd)
	}
	den, used, err := Denoise(noisy, n, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(used/sd-1) > 0.08 {
		t.Errorf("σ used %.4f", used)
	}
	rms := func(a []float64) float64 {
		var s float64
		for i, v := range a {
			s += (v - clean[i]) * (v - clean[i])
		}
		return math.Sqrt(s / float64(len(a)))
	}
	if e := rms(den); e > 0.35*sd {
		t.Errorf("denoised RMS error %.4f, noise %.4f", e, sd)
	}
	galaxy, knot := 33*n+30, 28*n+38
	// Hard thresholding drops the sub-threshold fine-scale curvature of a
	// smooth peak: 5.5 % of this one (measured), 1.8 σ of the noise.
	if math.Abs(den[galaxy]-clean[galaxy]) > 0.08*clean[galaxy] || math.Abs(den[knot]-clean[knot]) > 0.1*clean[knot] {
		t.Errorf("peaks: galaxy %.3f (clean %.3f), knot %.3f (clean %.3f)", den[galaxy], clean[galaxy], den[knot], clean[knot])
	}
	pure := make([]float64, n*n)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range pure {
		pure[i] = sd * rng.NormFloat64()
	}
	out, _, _ := Denoise(pure, n, 0)
	var s float64
	for _, v := range out {
		s += v * v
	}
	// What remains is the noise of the coarse scale c_J (σ ≈ 0.1 of the
	// pixel noise at J = 4) and the rare 3σ coefficients.
	if r := math.Sqrt(s / float64(len(out))); r > 0.2*sd {
		t.Errorf("pure noise: RMS after denoising %.4f (noise %.4f)", r, sd)
	}
	if _, _, err := Denoise(pure[:10], n, 0); err == nil {
		t.Error("wrong length accepted")
	}
}
