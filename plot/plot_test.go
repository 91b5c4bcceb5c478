package plot

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/diag"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

func decode(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", path, err)
	}
	return img
}

// checkPNG asserts that the figure was written and has the size implied by
// its grid of cols×rows cells.
func checkPNG(t *testing.T, path string, err error, cols, rows int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, path)
	cw, ch, left, top := cellW, cellH, rowLabelW, supTitleH
	if strings.HasSuffix(path, "notitle.png") {
		top = 0
	}
	if strings.HasSuffix(path, "grid.png") {
		cw, ch, left, top = 2.6*72, 2.4*72, 0, 0
	}
	wantW := int(math.Ceil(float64(left+cw*vgLen(cols)) / 72 * DPI))
	wantH := int(math.Ceil(float64(top+ch*vgLen(rows)) / 72 * DPI))
	b := img.Bounds()
	if abs(b.Dx()-wantW) > 1 || abs(b.Dy()-wantH) > 1 {
		t.Errorf("%s: size %d×%d, want %d×%d", filepath.Base(path), b.Dx(), b.Dy(), wantW, wantH)
	}
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}

func near(a, b color.Color, tol int) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	d := func(x, y uint32) int { return abs(int(x>>8) - int(y>>8)) }
	return d(r1, r2) <= tol && d(g1, g2) <= tol && d(b1, b2) <= tol
}

// findColor returns the bounding box and count of the pixels of img within
// tol of c whose neighbours two pixels away match too (solid areas, not
// anti-aliased text or lines).
func findColor(img image.Image, c color.Color, tol int) (image.Rectangle, int) {
	var box image.Rectangle
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), c, tol) && near(img.At(x-2, y), c, tol) && near(img.At(x+2, y), c, tol) &&
				near(img.At(x, y-2), c, tol) && near(img.At(x, y+2), c, tol) {
				r := image.Rect(x, y, x+1, y+1)
				if n == 0 {
					box = r
				} else {
					box = box.Union(r)
				}
				n++
			}
		}
	}
	return box, n
}

func TestColorMapEnds(t *testing.T) {
	if c := Sequential.At(0); c != viridisStops[0] {
		t.Errorf("viridis(0) = %v", c)
	}
	if c := Sequential.At(1.5); c != viridisStops[len(viridisStops)-1] {
		t.Errorf("viridis(1.5) = %v, want clamped to the top", c)
	}
	if c := Diverging.At(0.5); c != (color.NRGBA{0xdd, 0xdd, 0xdd, 0xff}) {
		t.Errorf("diverging centre = %v, want light grey", c)
	}
	if c := Sequential.At(math.NaN()); c != NaNColor() {
		t.Errorf("NaN colour = %v", c)
	}
	// Halfway between two stops is their mean.
	a, b := viridisStops[0], viridisStops[1]
	if c := Sequential.At(0.5 / 9); abs(int(c.G)-(int(a.G)+int(b.G))/2) > 1 {
		t.Errorf("interpolated viridis G = %d, want ≈ %d", c.G, (int(a.G)+int(b.G))/2)
	}
	// Viridis luminance increases monotonically.
	prev := -1.0
	for i := 0; i <= 20; i++ {
		c := Sequential.At(float64(i) / 20)
		l := 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
		if l <= prev {
			t.Errorf("viridis luminance not increasing at %d/20", i)
		}
		prev = l
	}
}

// TestPanelColorsAndOrientation draws an image that is 0 in the left half,
// 1 in the right half, except the bottom-left quadrant which is NaN and a
// single bright top row, then finds each colour in the PNG.
func TestPanelColorsAndOrientation(t *testing.T) {
	const n = 32
	img := make([]float64, n*n)
	for r := range n {
		for c := range n {
			switch {
			case r < n/2 && c < n/2:
				img[r*n+c] = math.NaN()
			case c >= n/2:
				img[r*n+c] = 1
			}
		}
	}
	// Row 0 is at the most negative y: the NaN block must appear at the
	// bottom left of the drawn image.
	dir := t.TempDir()
	path := filepath.Join(dir, "g.png")
	if err := Grid(path, [][]float64{img}, n, n, 1, []string{"halves"}); err != nil {
		t.Fatal(err)
	}
	png := decode(t, path)
	lowBox, nLow := findColor(png, Sequential.At(0), 2)
	highBox, nHigh := findColor(png, Sequential.At(1), 2)
	nanBox, nNaN := findColor(png, NaNColor(), 2)
	t.Logf("low %v (%d px), high %v (%d px), NaN %v (%d px)", lowBox, nLow, highBox, nHigh, nanBox, nNaN)
	if nLow == 0 || nHigh == 0 || nNaN == 0 {
		t.Fatalf("colours missing: low %d, high %d, NaN %d pixels", nLow, nHigh, nNaN)
	}
	// The colour bar also contains both end colours, in thin strips; the
	// heat map blocks dominate the counts. Compare block centres using the
	// NaN block (which only the heat map has) as reference.
	if !(nanBox.Min.Y > lowBox.Min.Y) {
		t.Errorf("NaN block (rows 0..15) starts at y=%d, not below the zero block starting at y=%d", nanBox.Min.Y, lowBox.Min.Y)
	}
	// Zero block sits directly above the NaN block with the same columns.
	if abs(lowBox.Min.X-nanBox.Min.X) > 3 {
		t.Errorf("zero block x %d vs NaN block x %d", lowBox.Min.X, nanBox.Min.X)
	}
	if abs(lowBox.Max.Y-nanBox.Min.Y) > 5 {
		t.Errorf("zero block ends at y=%d, NaN block starts at y=%d", lowBox.Max.Y, nanBox.Min.Y)
	}
	// The value-1 block is right of the zero block and spans both halves
	// in height.
	if !(highBox.Min.X >= lowBox.Max.X-3) {
		t.Errorf("one-block x=%d is not right of zero block ending at x=%d", highBox.Min.X, lowBox.Max.X)
	}
	if abs(highBox.Min.Y-lowBox.Min.Y) > 3 || abs(highBox.Max.Y-nanBox.Max.Y) > 3 {
		t.Errorf("one-block rows %d..%d, want %d..%d", highBox.Min.Y, highBox.Max.Y, lowBox.Min.Y, nanBox.Max.Y)
	}
	// Blocks are (nearly) square: square pixels are kept.
	if w, h := nanBox.Dx(), nanBox.Dy(); abs(w-h) > 2 {
		t.Errorf("NaN block %d×%d, want square", w, h)
	}
}

func TestFig1DivergingResidual(t *testing.T) {
	// Residual (y − A·mean)/σ = +3 on the right half (top of the range:
	// red end) and −3 on the left (blue end).
	const n = 16
	y := make([]float64, n*n)
	am := make([]float64, n*n)
	src := make([]float64, n*n)
	for i := range y {
		if i%n >= n/2 {
			y[i] = 3
		} else {
			y[i] = -3
		}
	}
	path := filepath.Join(t.TempDir(), "f1_notitle.png")
	err := Fig1(path, Fig1Data{NX: n, NY: n, Sample1: src, Sample2: src, Mean: src, Std: src,
		MX: n, MY: n, Observation: y, ASample1: am, ASample2: am, AMean: am, Noise: noise1()})
	checkPNG(t, path, err, 6, 2)
	png := decode(t, path)
	red, nr := findColor(png, Diverging.At(1), 2)
	blue, nb := findColor(png, Diverging.At(0), 2)
	if nr == 0 || nb == 0 {
		t.Fatalf("diverging ends missing: red %d, blue %d", nr, nb)
	}
	if !(red.Min.X > blue.Min.X) {
		t.Errorf("red (positive) block at x=%d not right of blue at x=%d", red.Min.X, blue.Min.X)
	}
}

func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	img := []float64{0, 1, 2, 3}
	path := filepath.Join(dir, "a.png")
	if err := Grid(path, [][]float64{img}, 2, 2, 1, nil); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "a.png" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only a.png", names)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("a.png mode = %v (%v), want -rw-r--r--", st.Mode().Perm(), err)
	}
	// Unwritable destination: error, no file.
	bad := filepath.Join(dir, "missing", "b.png")
	if err := Grid(bad, [][]float64{img}, 2, 2, 1, nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("destination exists after failed write: %v", err)
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	if os.Getuid() != 0 {
		if err := Grid(filepath.Join(ro, "c.png"), [][]float64{img}, 2, 2, 1, nil); err == nil {
			t.Error("write into a read-only directory succeeded")
		}
		if ents, _ := os.ReadDir(ro); len(ents) != 0 {
			t.Errorf("read-only directory holds %d files", len(ents))
		}
	}
	// Bad input: clear error, nothing written.
	if err := Grid(filepath.Join(dir, "d.png"), [][]float64{{1, 2, 3}}, 2, 2, 1, nil); err == nil || !strings.Contains(err.Error(), "pixels") {
		t.Errorf("wrong-size image: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d.png")); !os.IsNotExist(err) {
		t.Error("file written for bad input")
	}
}

func TestDegenerateImages(t *testing.T) {
	// Constant and all-NaN images must draw without panicking.
	nan := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	path := filepath.Join(t.TempDir(), "deg.png")
	err := Grid(path, [][]float64{{5, 5, 5, 5}, nan, {0, 0, 0, 0}}, 2, 2, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, n := findColor(decode(t, path), NaNColor(), 0); n < 100 {
		t.Errorf("all-NaN panel: only %d NaN-coloured pixels", n)
	}
}

func TestCurveErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Curve(filepath.Join(dir, "c.png"), "t", "x", "y", Series{X: []float64{1, 2}, Y: []float64{1}}); err == nil {
		t.Error("mismatched series accepted")
	}
	p := filepath.Join(dir, "ok.png")
	if err := Curve(p, "t", "x", "y", Series{Label: "a", X: []float64{0, 1, 2}, Y: []float64{1, 0, 2}}); err != nil {
		t.Fatal(err)
	}
	if b := decode(t, p).Bounds(); b.Dx() != 640 || b.Dy() != 460 {
		t.Errorf("curve size %v, want 640×460", b)
	}
}

func vgLen(n int) vg.Length { return vg.Length(n) }

func noise1() diag.Noise { return diag.Noise{Sigma: 1} }

func TestTicks(t *testing.T) {
	labels := func(ticks []gplot.Tick) string {
		var l []string
		for _, tk := range ticks {
			if tk.Label != "" {
				l = append(l, tk.Label)
			}
		}
		return strings.Join(l, " ")
	}
	for _, c := range []struct {
		name  string
		ticks []gplot.Tick
		want  string
	}{
		// Inside ticks: labelled values strictly inside the range, round steps.
		{"inside ticks on ±0.8", insideTicks{}.Ticks(-0.8, 0.8), "-0.5 0 0.5"},
		{"log ticks on [0.05, 1]", logTicks{}.Ticks(0.05, 1), "0.05 0.1 0.2 0.5 1"},
		// A narrow logarithmic range (a fine-tuning loss curve) still gets
		// labelled round values inside it.
		{"log ticks on [0.26, 0.345]", logTicks{}.Ticks(0.26, 0.345), "0.275 0.3 0.325"},
		// Labels are the round values, not their floating-point sums.
		{"inside ticks on [0.23, 0.37]", insideTicks{}.Ticks(0.23, 0.37), "0.25 0.3 0.35"},
		// A posterior a few thousandths wide (θ_E of a real lens) keeps the
		// digits that tell its ticks apart.
		{"inside ticks on [1.4745, 1.4815]", insideTicks{}.Ticks(1.4745, 1.4815), "1.476 1.478 1.48"},
	} {
		if got := labels(c.ticks); got != c.want {
			t.Errorf("%s: labels %q, want %q", c.name, got, c.want)
		}
	}
}
