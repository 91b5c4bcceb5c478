package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/fits"
)

// TestLoadFITS writes a 2-D image and a 3-plane cube, one plane of which is
// blank, and checks names, orientation (FITS row 0 stays row 0) and skips.
func TestLoadFITS(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	img := make([]float64, n*n)
	img[0*n+3] = 7 // row 0 (bottom), column 3
	cube := make([]float64, 3*n*n)
	for k := range 3 {
		if k != 1 { // plane 1 stays blank
			cube[k*n*n+(n-1)*n+k] = float64(k + 1) // top row, column k
		}
	}
	for name, hdus := range map[string][]*fits.HDU{
		"img.fits":  {fits.NewImage(n, n, img)},
		"cube.fits": {fits.NewCube(n, n, 3, cube)},
	} {
		if err := fits.WriteFile(filepath.Join(dir, name), hdus); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := LoadDir(dir, LoadOptions{Size: n, ValFraction: -1, BorderWidth: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train) != 3 || len(ds.Skipped) != 1 {
		t.Fatalf("images %d, skipped %v", len(ds.Train), ds.Skipped)
	}
	want := map[string]int{"cube.fits[0,0]": (n-1)*n + 0, "cube.fits[0,2]": (n-1)*n + 2, "img.fits[0]": 3}
	for _, im := range ds.Train {
		idx, ok := want[im.Name]
		if !ok {
			t.Fatalf("unexpected image %q", im.Name)
		}
		for i, v := range im.Pix {
			w := 0.0
			if i == idx {
				w = 1
			}
			if math.Abs(float64(v)-w) > 0 {
				t.Fatalf("%s pixel %d = %v, want %v", im.Name, i, v, w)
			}
		}
	}
}
