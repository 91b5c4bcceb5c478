package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"

	"github.com/lenscore/lenscore/diag"
)

// stamp returns a w×h HST-like stamp: sky 0.01, white noise of standard
// deviation 0.002 and a Gaussian galaxy of amplitude amp and width 2.5
// pixels at the stamp's centre.
func stamp(w, h int, amp float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 9))
	pix := make([]float64, w*h)
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-float64(w-1)/2, float64(y)-float64(h-1)/2
			pix[y*w+x] = 0.01 + amp*math.Exp(-(dx*dx+dy*dy)/(2*2.5*2.5)) + 0.002*r.NormFloat64()
		}
	}
	return pix
}

// TestLoadRealGalaxiesSynthetic writes a folder in GalSim's RealGalaxy
// layout: a galaxy file with a bright 40×40 stamp, a faint one and a
// 90×90 one, a PSF file and a file of the same galaxies in another band.
// LoadDir must read only the galaxy file's stamps of S/N above the cut,
// keep the stamp's pixels unresampled at the canvas centre (each output
// pixel is (stamp − b)/p for one b and p), pad with sky, and give the
// same images every time.
func TestLoadRealGalaxiesSynthetic(t *testing.T) {
	dir := t.TempDir()
	const n = 64
	bright, faint, big := stamp(40, 40, 0.5, 1), stamp(40, 40, 0.004, 2), stamp(90, 90, 0.3, 3)
	write := func(name string, hdus ...*fits.HDU) {
		if err := fits.WriteFile(filepath.Join(dir, name), hdus); err != nil {
			t.Fatal(err)
		}
	}
	write("real_galaxy_images.fits", fits.NewImage(40, 40, bright), fits.NewImage(40, 40, faint), fits.NewImage(90, 90, big))
	write("real_galaxy_PSF_images.fits", fits.NewImage(20, 20, stamp(20, 20, 1, 4)))
	write("X_F606w_images_01.fits", fits.NewImage(40, 40, stamp(40, 40, 0.5, 5)))
	for _, keep := range []bool{false, true} {
		ds, err := LoadDir(dir, LoadOptions{Size: n, ValFraction: -1, KeepSky: keep})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, im := range ds.Train {
			names = append(names, im.Name)
		}
		if !slices.Equal(names, []string{"real_galaxy_images.fits[0]", "real_galaxy_images.fits[2]"}) ||
			len(ds.Skipped) != 1 || !strings.Contains(ds.Skipped[0], "real_galaxy_images.fits[1]: peak S/N") {
			t.Fatalf("keep %v: images %v, skipped %v", keep, names, ds.Skipped)
		}
		for k, src := range [][]float64{bright, big} {
			pix := ds.Train[k].Pix
			w := int(math.Sqrt(float64(len(src))))
			o := (w - n) / 2
			at := func(X, Y int) float64 { return src[(Y+o)*w+X+o] }
			// Two pixels fix b and p; every stamp pixel must follow.
			X0, Y0, X1 := 31, 31, 34 // the centre and a pixel at about half its height
			p := (at(X0, Y0) - at(X1, Y0)) / float64(pix[Y0*n+X0]-pix[Y0*n+X1])
			b := at(X0, Y0) - p*float64(pix[Y0*n+X0])
			for Y := range n {
				for X := range n {
					if X+o < 0 || X+o >= w || Y+o < 0 || Y+o >= w {
						continue
					}
					want := (at(X, Y) - b) / p
					if !keep {
						want = max(want, 0)
					}
					if math.Abs(float64(pix[Y*n+X])-want) > 2e-5 {
						t.Fatalf("keep %v, stamp %d: canvas (%d,%d) = %v, want (stamp − b)/p = %v", keep, k, X, Y, pix[Y*n+X], want)
					}
				}
			}
			if mx := slices.Max(pix); mx != 1 || pix[31*n+31] < 0.9 && pix[32*n+32] < 0.9 {
				t.Fatalf("stamp %d: peak %v, centre %v: the galaxy is not at the centre with peak 1", k, mx, pix[31*n+31])
			}
			neg, sig := SkyStats(pix, n, 0)
			wantSig := 0.002 / p
			if keep && (math.Abs(sig/wantSig-1) > 0.15 || neg < 0.3) {
				t.Errorf("stamp %d: σ_sky %.4g (want %.4g, the stamp's noise), negative %.2f", k, sig, wantSig, neg)
			}
			if !keep && neg != 0 {
				t.Errorf("stamp %d: clipped sky has negative pixels", k)
			}
		}
		again, err := LoadRealGalaxies(dir, LoadOptions{Size: n, ValFraction: -1, KeepSky: keep})
		if err != nil || again.Fingerprint() != ds.Fingerprint() {
			t.Fatalf("a second load differs (%v)", err)
		}
	}
	if _, err := LoadDir(dir, LoadOptions{Size: n, MinPeakSNR: 1e6}); err == nil || !strings.Contains(err.Error(), "no usable galaxy stamps") {
		t.Fatalf("all stamps below the S/N cut: %v", err)
	}
}

// TestLoadRealGalaxiesReal loads the COSMOS and AEGIS HST stamps of the
// shared data (skipped when absent): 64² images of peak 1, a sky at 0, the
// AEGIS galaxies in F814W only.
func TestLoadRealGalaxiesReal(t *testing.T) {
	root := filepath.Join("..", "..", "shared", "data", "galaxies", "cosmos_hst")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("HST stamps not found at %s (shared data absent): %v", root, err)
	}
	for _, c := range []struct {
		dir      string
		min, max int
	}{{"cosmos26_btk", 15, 60}, {"aegis_galsim", 2, 5}} {
		ds, err := LoadDir(filepath.Join(root, c.dir), LoadOptions{Size: 64, ValFraction: -1, KeepSky: true})
		if err != nil {
			t.Fatal(err)
		}
		got := len(ds.Train)
		t.Logf("%s: %d stamps kept (peak S/N ≥ %d), %d skipped", c.dir, got, DefaultMinPeakSNR, len(ds.Skipped))
		if got < c.min || got > c.max {
			t.Errorf("%s: %d stamps kept, want %d–%d", c.dir, got, c.min, c.max)
		}
		var sig []float64
		for _, im := range ds.Train {
			if strings.Contains(strings.ToUpper(im.Name), "F606") || strings.Contains(strings.ToUpper(im.Name), "PSF") {
				t.Errorf("%s: %s is not an F814W galaxy stamp", c.dir, im.Name)
			}
			if mx := slices.Max(im.Pix); mx != 1 {
				t.Errorf("%s: peak %v", im.Name, mx)
			}
			b := make([]float64, len(im.Pix))
			for i, v := range im.Pix {
				b[i] = float64(v)
			}
			if m := borderMedian(b, 64, 4); math.Abs(m) > 1e-6 {
				t.Errorf("%s: border median %v, want 0", im.Name, m)
			}
			_, s := SkyStats(im.Pix, 64, 0)
			sig = append(sig, s)
		}
		t.Logf("%s: σ_sky median %.4f of the peak", c.dir, diag.Median(sig))
	}
}
