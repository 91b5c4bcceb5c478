package plot

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestLensFitFigures(t *testing.T) {
	dir := t.TempDir()
	n := 8
	img := make([]float64, n*n)
	res := make([]float64, n*n)
	for i := range img {
		img[i] = float64(i)
		res[i] = math.Sin(float64(i))
	}
	res[3] = math.NaN()
	samples := [][]float64{{1, 2, 3}, {1.1, 2.2, 2.9}, {0.9, 1.8, 3.1}, {1.05, 2.1, 3.05}}
	chain := [][][]float64{samples, samples, samples}
	for _, c := range []struct {
		name string
		run  func(string) error
		w, h int
	}{
		{"fit.png", func(p string) error { return LensFit(p, "fit", n, 0.1, img, img, res) }, 1020, 345},
		{"corner.png", func(p string) error { return Corner(p, "corner", []string{"a", "b", "c"}, samples, samples[0]) }, 720, 765},
		{"chains.png", func(p string) error { return Chains(p, "chains", []string{"a", "b", "c"}, chain, 1) }, 700, 435},
	} {
		p := filepath.Join(dir, c.name)
		if err := c.run(p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		im, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if b := im.Bounds(); b.Dx() != c.w || b.Dy() != c.h {
			t.Errorf("%s: %d×%d, want %d×%d", c.name, b.Dx(), b.Dy(), c.w, c.h)
		}
	}
	if err := Corner(filepath.Join(dir, "x.png"), "", []string{"a", "b"}, [][]float64{{1, 2}, {1}}, nil); err == nil {
		t.Error("ragged samples accepted")
	}
	if err := Chains(filepath.Join(dir, "y.png"), "", []string{"a"}, nil, 0); err == nil {
		t.Error("empty chain accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "x.png")); err == nil {
		t.Error("a failed figure left a file")
	}
}
