package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/diag"
)

// noisyBlob returns a w×h image: sky pedestal 10, Gaussian sky noise of
// standard deviation s and a Gaussian galaxy of amplitude 5 at the centre.
func noisyBlob(w, h int, s float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	pix := make([]float64, w*h)
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-float64(w-1)/2, float64(y)-float64(h-1)/2
			pix[y*w+x] = 10 + 5*math.Exp(-(dx*dx+dy*dy)/(2*3*3)) + s*r.NormFloat64()
		}
	}
	return pix
}

// TestPrepareKeepSky: with KeepSky every pixel is (x − b)/(max x − b) with
// b the border median, computed here directly; clipping that at zero gives
// the default Prepare bit for bit.
func TestPrepareKeepSky(t *testing.T) {
	const n = 32
	pix := noisyBlob(n, n, 0.2, 3)
	keep, err := PrepareWith(pix, n, n, PrepareOptions{Size: n, Border: 2, KeepSky: true})
	if err != nil {
		t.Fatal(err)
	}
	var border []float64
	for y := range n {
		for x := range n {
			if x < 2 || y < 2 || x >= n-2 || y >= n-2 {
				border = append(border, pix[y*n+x])
			}
		}
	}
	b := diag.Median(border)
	peak := math.Inf(-1)
	for _, v := range pix {
		peak = math.Max(peak, v-b)
	}
	neg := 0
	for i, v := range pix {
		want := float32((v - b) / peak)
		if keep[i] != want {
			t.Fatalf("pixel %d: %v, want (x−b)/peak = %v", i, keep[i], want)
		}
		if keep[i] < 0 {
			neg++
		}
	}
	if neg < n*n/4 {
		t.Fatalf("only %d of %d pixels negative: the sky noise was not kept", neg, n*n)
	}
	clip, err := Prepare(pix, n, n, n, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range clip {
		if want := max(keep[i], 0); clip[i] != want {
			t.Fatalf("pixel %d: clipped %v, want max(kept, 0) = %v", i, clip[i], want)
		}
	}
}

// TestSkyStats: on pure Gaussian noise the negative fraction is ≈ 1/2 and
// the MAD estimate recovers the standard deviation; clipping removes every
// negative pixel.
func TestSkyStats(t *testing.T) {
	const n, s = 64, 0.05
	r := rand.New(rand.NewPCG(5, 6))
	pix := make([]float32, n*n)
	for i := range pix {
		pix[i] = float32(s * r.NormFloat64())
	}
	neg, sig := SkyStats(pix, n, 0)
	// 4096 pixels: the fraction's standard error is 0.008; the border has
	// 960 pixels, the MAD estimate's relative standard error ≈ 1.65/√960 ≈ 5 %.
	if math.Abs(neg-0.5) > 0.03 || math.Abs(sig/s-1) > 0.16 {
		t.Fatalf("negative fraction %.3f (want 0.5), σ_sky %.4f (want %.4f)", neg, sig, s)
	}
	for i := range pix {
		pix[i] = max(pix[i], 0)
	}
	if neg, sig2 := SkyStats(pix, n, 0); neg != 0 || !(sig2 < sig) {
		t.Fatalf("clipped: negative fraction %v (want 0), σ_sky %v (want below the unclipped %v)", neg, sig2, sig)
	}
}

// TestRealSkyStats measures, on every 8th image of the shared galaxy
// folders, the fraction of negative pixels and the sky noise of the
// prepared 64² images with the sky clipped (the default) and kept; -v
// prints the numbers (models/README.md quotes them for all images).
// Clipping must leave no negative pixel; keeping the sky must leave the
// border median at zero and a non-zero noise.
func TestRealSkyStats(t *testing.T) {
	for _, set := range []string{"gz_decals/r_crop256", "stellarium/gray"} {
		dir := filepath.Join("..", "..", "shared", "data", "galaxies", set)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Skipf("%s not found (shared data absent): %v", dir, err)
		}
		var raws []rawImage
		for i, e := range entries {
			if i%8 != 0 || filepath.Ext(e.Name()) != ".png" {
				continue
			}
			pix, w, h, err := ReadPNG(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, rawImage{e.Name(), pix, w, h})
		}
		for _, keep := range []bool{false, true} {
			var negs, sigs, meds []float64
			for _, r := range raws {
				pix, err := PrepareWith(r.pix, r.w, r.h, PrepareOptions{Size: 64, KeepSky: keep})
				if err != nil {
					continue
				}
				neg, sig := SkyStats(pix, 64, 0)
				negs, sigs = append(negs, neg), append(sigs, sig)
				b := make([]float64, len(pix))
				for i, v := range pix {
					b[i] = float64(v)
				}
				meds = append(meds, borderMedian(b, 64, 4))
			}
			negMean := 0.0
			for _, v := range negs {
				negMean += v
			}
			negMean /= float64(len(negs))
			sigMed, medMax := diag.Median(sigs), 0.0
			for _, m := range meds {
				medMax = max(medMax, math.Abs(m))
			}
			t.Logf("%-20s sky %-7s: %d images, negative pixels %.1f %% (mean), σ_sky median %.4f of the peak, largest |border median| %.2g",
				set, map[bool]string{false: "clipped", true: "kept"}[keep], len(negs), 100*negMean, sigMed, medMax)
			switch {
			case !keep && negMean != 0:
				t.Errorf("%s: clipped sky has %.3g negative pixels", set, negMean)
			case keep && medMax > 1e-6:
				t.Errorf("%s: a kept sky's border median is %.3g, want 0", set, medMax)
			case keep && !(negMean > 0.05 && sigMed > 0):
				t.Errorf("%s: kept sky has %.3g negative pixels and σ_sky %.3g; the noise was lost", set, negMean, sigMed)
			}
		}
	}
}
