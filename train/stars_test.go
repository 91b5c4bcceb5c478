package train

import (
	"math"
	"testing"
)

// galaxyWithStars draws an elliptical exponential disc with two compact
// knots on it (peak 1 before any star) and, if stars, three point sources
// in the sky and one on the disc.
func galaxyWithStars(n int, stars bool) []float32 {
	pix := make([]float32, n*n)
	put := func(r, c float64, amp, s float64) {
		for y := range n {
			for x := range n {
				dy, dx := float64(y)-r, float64(x)-c
				pix[y*n+x] += float32(amp * math.Exp(-(dx*dx+dy*dy)/(2*s*s)))
			}
		}
	}
	c := float64(n-1) / 2
	for y := range n {
		for x := range n {
			dy, dx := float64(y)-c, float64(x)-c
			pix[y*n+x] = float32(0.8 * math.Exp(-math.Sqrt(dx*dx/36+dy*dy/9)))
		}
	}
	put(c+1, c+3, 0.2, 0.6) // knots of the galaxy
	put(c-1, c-4, 0.15, 0.6)
	if stars {
		put(5, 7, 0.6, 0.6) // sky stars, one brighter than the galaxy
		put(50, 12, 0.3, 0.7)
		put(40, 55, 1.5, 0.6)
		put(c, c+6, 0.3, 0.6) // on the disc
	}
	var peak float32
	for _, v := range pix {
		peak = max(peak, v)
	}
	for i := range pix {
		pix[i] /= peak
	}
	return pix
}

// TestRemoveStars: sky stars are replaced by the smooth light (≈ 0 there)
// and the image is rescaled to the galaxy's own peak; the galaxy, its
// knots and a star on its body are untouched; a star-free galaxy is left
// exactly as it was.
func TestRemoveStars(t *testing.T) {
	const n = 64
	clean := galaxyWithStars(n, false)
	got := append([]float32(nil), clean...)
	if k, p := RemoveStars(got, n, StarOptions{}); k != 0 || p != 1 {
		t.Fatalf("star-free galaxy: %d pixels replaced, peak %g", k, p)
	}
	for i := range got {
		if got[i] != clean[i] {
			t.Fatalf("star-free galaxy changed at pixel %d: %g → %g", i, clean[i], got[i])
		}
	}

	img := galaxyWithStars(n, true)
	core := 0 // the galaxy's brightest pixel
	for i, v := range clean {
		if v > clean[core] {
			core = i
		}
	}
	want := img[core]
	k, left := RemoveStars(img, n, StarOptions{})
	if k < 3*9 || k > 3*25 {
		t.Errorf("%d pixels replaced, want those of three stars (27–75)", k)
	}
	// The brightest star held the peak: the galaxy's core is what is left.
	if want > 0.6 || left != want {
		t.Errorf("peak left %.3f, want ≈ %.3f", left, want)
	}
	// The galaxy is the peak again: its core should match the clean image
	// up to the disc star's light, so compare far from all stars.
	var peak float32
	for _, v := range img {
		peak = max(peak, v)
	}
	if peak != 1 {
		t.Errorf("peak %g after removal, want 1", peak)
	}
	c := (n - 1) / 2
	for _, p := range [][2]int{{5, 7}, {50, 12}, {40, 55}} {
		for dr := -1; dr <= 1; dr++ {
			for dc := -1; dc <= 1; dc++ {
				if v := img[(p[0]+dr)*n+p[1]+dc]; v > 0.02 {
					t.Errorf("star at %v: pixel (%d,%d) still %.3f", p, p[0]+dr, p[1]+dc, v)
				}
			}
		}
	}
	// The star on the disc and the knots survive.
	if v := img[c*n+c+6]; v < 0.3 {
		t.Errorf("star on the galaxy's body removed: %.3f", v)
	}
	// Away from the stars the image equals the star-free one (the disc
	// star adds a little light around its position only).
	worst := 0.0
	for r := 20; r < 44; r++ {
		for col := 16; col < 40; col++ {
			if d := math.Abs(float64(img[r*n+col] - clean[r*n+col])); col < c+3 && d > worst {
				worst = d
			}
		}
	}
	if worst > 0.02 {
		t.Errorf("galaxy body changed by up to %.3f", worst)
	}
	if k, _ := RemoveStars(img, n, StarOptions{}); k != 0 {
		t.Errorf("second pass replaced %d pixels", k)
	}
	// A stricter threshold keeps the faint star.
	img = galaxyWithStars(n, true)
	if k2, _ := RemoveStars(img, n, StarOptions{Threshold: 0.5}); k2 >= k || k2 == 0 {
		t.Errorf("threshold 0.5: %d pixels replaced, default %d", k2, k)
	}
}

// TestRemoveStarsKeepsCompactCentre: a galaxy as compact as a star is kept
// when it is at the centre and removed off it.
func TestRemoveStarsKeepsCompactCentre(t *testing.T) {
	const n = 64
	blob := func(r, c float64) []float32 {
		pix := make([]float32, n*n)
		for y := range n {
			for x := range n {
				dy, dx := float64(y)-r, float64(x)-c
				pix[y*n+x] = float32(math.Exp(-(dx*dx + dy*dy) / (2 * 0.7 * 0.7)))
			}
		}
		return pix
	}
	if k, left := RemoveStars(blob(33, 30), n, StarOptions{}); k != 0 || left != 1 {
		t.Errorf("compact galaxy near the centre: %d pixels replaced, peak left %g", k, left)
	}
	if k, left := RemoveStars(blob(10, 50), n, StarOptions{}); k == 0 || left > 0.01 {
		t.Errorf("compact source off centre: %d pixels replaced, peak left %g", k, left)
	}
}
