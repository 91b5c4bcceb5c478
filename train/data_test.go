package train

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestReadPNGOrientationAndLuminance: the top row of the picture becomes the
// last row (row 0 = bottom), and colour and 16-bit PNGs give the expected
// luminance.
func TestReadPNGOrientationAndLuminance(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	for x := range 3 {
		g.SetGray(x, 0, color.Gray{Y: 200}) // top row
		g.SetGray(x, 1, color.Gray{Y: 10})  // bottom row
	}
	g.SetGray(2, 1, color.Gray{Y: 51})
	writePNG(t, filepath.Join(dir, "g.png"), g)
	pix, w, h, err := ReadPNG(filepath.Join(dir, "g.png"))
	if err != nil || w != 3 || h != 2 {
		t.Fatal(w, h, err)
	}
	want := []float64{10. / 255, 10. / 255, 51. / 255, 200. / 255, 200. / 255, 200. / 255}
	for i := range want {
		if math.Abs(pix[i]-want[i]) > 1e-12 {
			t.Fatalf("grey pixels %v, want %v", pix, want)
		}
	}
	rgb := image.NewRGBA(image.Rect(0, 0, 1, 2))
	rgb.Set(0, 0, color.RGBA{255, 0, 0, 255})
	rgb.Set(0, 1, color.RGBA{0, 0, 255, 255})
	writePNG(t, filepath.Join(dir, "c.png"), rgb)
	pix, _, _, err = ReadPNG(filepath.Join(dir, "c.png"))
	if err != nil || math.Abs(pix[0]-0.0722) > 1e-9 || math.Abs(pix[1]-0.2126) > 1e-9 {
		t.Fatalf("colour luminance %v (%v), want [0.0722 0.2126]", pix, err)
	}
	g16 := image.NewGray16(image.Rect(0, 0, 1, 2))
	g16.SetGray16(0, 0, color.Gray16{Y: 65535})
	g16.SetGray16(0, 1, color.Gray16{Y: 257})
	writePNG(t, filepath.Join(dir, "g16.png"), g16)
	pix, _, _, err = ReadPNG(filepath.Join(dir, "g16.png"))
	if err != nil || pix[0] != 257.0/65535 || pix[1] != 1 {
		t.Fatalf("16-bit pixels %v (%v)", pix, err)
	}
	os.WriteFile(filepath.Join(dir, "bad.png"), []byte("not a png"), 0o644)
	if _, _, _, err := ReadPNG(filepath.Join(dir, "bad.png")); err == nil {
		t.Fatal("corrupt PNG accepted")
	}
}

// TestPrepareNormalisation: a narrow Gaussian blob of amplitude 5 on a
// constant background of 10 becomes the blob divided by its peak.
func TestPrepareNormalisation(t *testing.T) {
	const n = 32
	blob := func(x, y int) float64 {
		dx, dy := float64(x)-15, float64(y)-17
		return 5 * math.Exp(-(dx*dx+dy*dy)/(2*2*2))
	}
	// 40 wide, 32 high: the centre crop drops 4 columns on each side.
	pix := make([]float64, 40*n)
	for y := range n {
		for x := range 40 {
			pix[y*40+x] = 10
			if x >= 4 && x < 36 {
				pix[y*40+x] += blob(x-4, y)
			}
		}
	}
	out, err := Prepare(pix, 40, n, n, 2)
	if err != nil {
		t.Fatal(err)
	}
	for y := range n {
		for x := range n {
			want := blob(x, y) / 5
			if want < 1e-9 {
				want = 0
			}
			if math.Abs(float64(out[y*n+x])-want) > 1e-6 {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, out[y*n+x], want)
			}
		}
	}
	if _, err := Prepare(make([]float64, 64), 8, 8, 4, 1); err == nil {
		t.Fatal("blank image accepted")
	}
	bad := make([]float64, 64)
	bad[3] = math.NaN()
	if _, err := Prepare(bad, 8, 8, 4, 1); err == nil {
		t.Fatal("NaN image accepted")
	}
}

func TestResample(t *testing.T) {
	in := make([]float64, 16)
	for i := range in {
		in[i] = float64(i * i)
	}
	out := Resample(in, 4, 2)
	for oy := range 2 {
		for ox := range 2 {
			var s float64
			for y := 2 * oy; y < 2*oy+2; y++ {
				for x := 2 * ox; x < 2*ox+2; x++ {
					s += in[y*4+x]
				}
			}
			if math.Abs(out[oy*2+ox]-s/4) > 1e-12 {
				t.Fatalf("block mean %v, want %v", out[oy*2+ox], s/4)
			}
		}
	}
	// Non-integer factor: the box filter preserves the mean exactly.
	r := rand.New(rand.NewPCG(3, 4))
	in = make([]float64, 7*7)
	var mean float64
	for i := range in {
		in[i] = r.Float64()
		mean += in[i] / 49
	}
	var m2 float64
	for _, v := range Resample(in, 7, 3) {
		m2 += v / 9
	}
	if math.Abs(mean-m2) > 1e-12 {
		t.Fatalf("mean %v after resampling, want %v", m2, mean)
	}
	// Upsampling by 2: linear ramp stays linear inside, constants stay constant.
	ramp := []float64{0, 1, 0, 1}
	up := Resample(ramp, 2, 4)
	wantRow := []float64{0, 0.25, 0.75, 1}
	for y := range 4 {
		for x := range 4 {
			if math.Abs(up[y*4+x]-wantRow[x]) > 1e-12 {
				t.Fatalf("bilinear row %d = %v, want %v", y, up[y*4:y*4+4], wantRow)
			}
		}
	}
}

// TestDihedral: each element permutes pixels, the eight images are
// distinct, R is a quarter turn anticlockwise with row 0 at the bottom, and
// ComposeDihedral is the group's multiplication table.
func TestDihedral(t *testing.T) {
	const n = 5
	src := make([]float32, n*n)
	for i := range src {
		src[i] = float32(i)
	}
	apply := func(img []float32, k int) []float32 {
		out := make([]float32, len(img))
		Dihedral(out, img, n, k)
		return out
	}
	sorted := func(v []float32) []float32 { c := slices.Clone(v); slices.Sort(c); return c }
	seen := map[string]int{}
	for k := range 8 {
		out := apply(src, k)
		if !slices.Equal(sorted(out), src) {
			t.Fatalf("op %d is not a permutation", k)
		}
		key := fmt.Sprint(out)
		if j, dup := seen[key]; dup {
			t.Fatalf("ops %d and %d coincide", j, k)
		}
		seen[key] = k
	}
	if !slices.Equal(apply(src, 0), src) {
		t.Fatal("op 0 is not the identity")
	}
	// 2×2 picture, rows bottom-up [a b; c d] (c d on top). A quarter turn
	// anticlockwise puts d top-left, b top-right, c bottom-left, a bottom-right.
	a, b, c, d := float32(1), float32(2), float32(3), float32(4)
	q := make([]float32, 4)
	Dihedral(q, []float32{a, b, c, d}, 2, 1)
	if !slices.Equal(q, []float32{c, a, d, b}) {
		t.Fatalf("quarter turn gave %v", q)
	}
	Dihedral(q, []float32{a, b, c, d}, 2, 4)
	if !slices.Equal(q, []float32{b, a, d, c}) {
		t.Fatalf("flip gave %v", q)
	}
	for x := range 8 {
		row := map[int]bool{}
		for y := range 8 {
			xy := ComposeDihedral(x, y)
			row[xy] = true
			if !slices.Equal(apply(apply(src, y), x), apply(src, xy)) {
				t.Fatalf("op %d after op %d is not op %d", x, y, xy)
			}
		}
		if len(row) != 8 {
			t.Fatalf("row %d of the table is not a permutation", x)
		}
	}
}

// TestSplit: the split is by name alone, disjoint, close to the requested
// fraction and unchanged by adding images.
func TestSplit(t *testing.T) {
	mk := func(lo, hi int) []Image {
		var ims []Image
		for i := lo; i < hi; i++ {
			ims = append(ims, Image{Name: fmt.Sprintf("gal%05d.png", i), Pix: []float32{1}})
		}
		return ims
	}
	base := NewDataset(mk(0, 3000), 1, 0)
	frac := float64(len(base.Val)) / 3000
	if math.Abs(frac-DefaultValFraction) > 0.02 {
		t.Fatalf("validation fraction %v, want about %v", frac, DefaultValFraction)
	}
	in := map[string]bool{}
	for _, im := range base.Train {
		in[im.Name] = true
	}
	for _, im := range base.Val {
		if in[im.Name] {
			t.Fatalf("%s in both parts", im.Name)
		}
		in[im.Name] = true
	}
	if len(in) != 3000 {
		t.Fatalf("%d distinct images in the parts, want 3000", len(in))
	}
	more := NewDataset(append(mk(3000, 4000), mk(0, 3000)...), 1, 0)
	val := map[string]bool{}
	for _, im := range more.Val {
		val[im.Name] = true
	}
	for _, im := range base.Val {
		if !val[im.Name] {
			t.Fatalf("%s left the validation set when images were added", im.Name)
		}
	}
	if len(more.Val)-len(base.Val) != countVal(mk(3000, 4000), DefaultValFraction) {
		t.Fatal("an old training image moved to validation")
	}
	if len(NewDataset(mk(0, 100), 1, -1).Val) != 0 {
		t.Fatal("negative fraction should disable validation")
	}
	if f := float64(len(NewDataset(mk(0, 3000), 1, 0.5).Val)) / 3000; math.Abs(f-0.5) > 0.03 {
		t.Fatalf("fraction 0.5 gave %v", f)
	}
}

func countVal(ims []Image, f float64) int {
	c := 0
	for _, im := range ims {
		if IsValidation(im.Name, f) {
			c++
		}
	}
	return c
}

// TestLoadDir builds a folder of PNGs and checks the loaded dataset.
func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		g := image.NewGray(image.Rect(0, 0, 24, 20))
		for y := range 20 {
			for x := range 24 {
				dx, dy := float64(x)-12, float64(y)-10
				g.SetGray(x, y, color.Gray{Y: uint8(20 + float64(100+i)*math.Exp(-(dx*dx+dy*dy)/8))})
			}
		}
		writePNG(t, filepath.Join(dir, fmt.Sprintf("g%02d.png", i)), g)
	}
	writePNG(t, filepath.Join(dir, "blank.png"), image.NewGray(image.Rect(0, 0, 8, 8)))
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	ds, err := LoadDir(dir, LoadOptions{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train)+len(ds.Val) != 30 || len(ds.Skipped) != 1 || ds.Size != 10 {
		t.Fatalf("%d+%d images, skipped %v", len(ds.Train), len(ds.Val), ds.Skipped)
	}
	for _, im := range append(ds.Train, ds.Val...) {
		if len(im.Pix) != 100 || slices.Max(im.Pix) != 1 || slices.Min(im.Pix) != 0 {
			t.Fatalf("%s: %d pixels, range [%v, %v]", im.Name, len(im.Pix), slices.Min(im.Pix), slices.Max(im.Pix))
		}
		if im.Source != dir {
			t.Fatalf("%s: Source %q, want the folder %q", im.Name, im.Source, dir)
		}
	}
	if _, err := LoadDir(filepath.Join(dir, "missing"), LoadOptions{Size: 10}); err == nil {
		t.Fatal("missing folder accepted")
	}
}

// hugePNGHeader returns the signature and a valid IHDR chunk of a w×h 8-bit
// grey PNG with no image data: a few dozen bytes declaring a huge image.
func hugePNGHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // depth 8, grey, deflate, filter 0, no interlace
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, uint32(len(ihdr)-4))
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

// TestLoadDirSkipsBadFiles checks that a corrupt PNG, a PNG declaring
// 20000×20000 pixels and a FITS file with garbage are listed in Skipped
// with a reason, and the good images beside them are still loaded.
func TestLoadDirSkipsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		g := image.NewGray(image.Rect(0, 0, 12, 12))
		for y := range 12 {
			for x := range 12 {
				dx, dy := float64(x)-6, float64(y)-6
				g.SetGray(x, y, color.Gray{Y: uint8(10 + float64(80+i)*math.Exp(-(dx*dx+dy*dy)/6))})
			}
		}
		writePNG(t, filepath.Join(dir, fmt.Sprintf("good%d.png", i)), g)
	}
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 12, 12)))
	files := map[string][]byte{
		"corrupt.png": buf.Bytes()[:buf.Len()/2],
		"huge.png":    hugePNGHeader(20000, 20000),
		"junk.fits":   []byte("this is not a FITS file"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := LoadDir(dir, LoadOptions{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ds.Train) + len(ds.Val); n != 4 {
		t.Errorf("loaded %d images, want the 4 good ones", n)
	}
	if len(ds.Skipped) != len(files) {
		t.Fatalf("skipped %q, want the %d bad files", ds.Skipped, len(files))
	}
	for name := range files {
		found := false
		for _, s := range ds.Skipped {
			found = found || strings.HasPrefix(s, name+": ")
		}
		if !found {
			t.Errorf("%s not in Skipped %q", name, ds.Skipped)
		}
	}
	if !slices.ContainsFunc(ds.Skipped, func(s string) bool {
		return strings.HasPrefix(s, "huge.png: ") && strings.Contains(s, "limit")
	}) {
		t.Errorf("huge.png not refused by the size limit: %q", ds.Skipped)
	}
}
