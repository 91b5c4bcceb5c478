package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/fits"
)

// TestLoadTrainingDataStars: with stars removed, a point source in the sky
// of a galaxy image is gone and the galaxy is unchanged; without, it stays.
// A model's metadata decides which (models without the key kept stars).
func TestLoadTrainingDataStars(t *testing.T) {
	dir := t.TempDir()
	for k, name := range []string{"a.png", "b.png"} {
		img := image.NewGray(image.Rect(0, 0, 64, 64))
		for y := range 64 {
			for x := range 64 {
				dx, dy := float64(x)-31.5, float64(y)-31.5
				v := 200 * math.Exp(-(dx*dx+dy*dy)/(2*float64(36+k)))
				if x == 10 && y == 50 {
					v += 120 // a star, 1 px
				}
				img.SetGray(x, y, color.Gray{Y: uint8(v)})
			}
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	// PNG row 50 from the top is row 13 from the bottom.
	star := 13*64 + 10
	for _, remove := range []bool{false, true} {
		ds, err := loadTrainingData(dir, 64, -1, nil, remove)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range append(ds.Train, ds.Val...) {
			v := im.Pix[star]
			if remove && v > 0.01 || !remove && v < 0.5 {
				t.Errorf("remove %v: %s star pixel %.3f", remove, im.Name, v)
			}
			if c := im.Pix[32*64+32]; c < 0.95 {
				t.Errorf("remove %v: %s centre %.3f", remove, im.Name, c)
			}
		}
	}
	// prepare --remove-stars does the same to one picture.
	for _, remove := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "src.fits")
		args := []string{"prepare", "--in", filepath.Join(dir, "a.png"), "--out", out}
		if remove {
			args = append(args, "--remove-stars")
		}
		mustRun(t, args...)
		h, err := fits.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		v := h[0].Data[star]
		st, _, _ := h[0].Header.String("STARS")
		if remove && (v > 0.01 || st != "removed") || !remove && (v < 0.5 || st != "") {
			t.Errorf("prepare --remove-stars=%v: star pixel %.3f, STARS %q", remove, v, st)
		}
	}
	if !starsRemoved(map[string]string{"stars": "removed"}) || starsRemoved(map[string]string{}) {
		t.Error("starsRemoved misreads the metadata")
	}
}
