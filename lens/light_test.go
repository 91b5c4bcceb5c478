package lens

import (
	"math"
	"testing"
)

func TestPixelSourceBilinear(t *testing.T) {
	g := Grid{N: 4, Scale: 0.5}
	data := make([]float64, 16)
	for i := range data {
		data[i] = float64(i*i%7) + 1
	}
	p := PixelSource{Grid: g, Data: data}
	// Exact at centres.
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			if v := p.Brightness(g.Coord(c), g.Coord(r)); v != data[r*4+c] {
				t.Fatalf("centre (%d,%d): %g want %g", r, c, v, data[r*4+c])
			}
		}
	}
	// Bilinear inside a cell: f = Σ w·corners.
	x := g.Coord(1) + 0.3*g.Scale
	y := g.Coord(2) + 0.8*g.Scale
	want := 0.7*0.2*data[2*4+1] + 0.3*0.2*data[2*4+2] + 0.7*0.8*data[3*4+1] + 0.3*0.8*data[3*4+2]
	if v := p.Brightness(x, y); math.Abs(v-want) > 1e-15 {
		t.Fatalf("interior %g want %g", v, want)
	}
	// Zero padding: half a pixel beyond the last centre gives half its value,
	// one pixel or more beyond gives 0.
	if v := p.Brightness(g.Coord(3)+0.5*g.Scale, g.Coord(1)); math.Abs(v-0.5*data[1*4+3]) > 1e-15 {
		t.Fatalf("half-pixel beyond edge %g want %g", v, 0.5*data[7])
	}
	if v := p.Brightness(g.Coord(0)-0.25*g.Scale, g.Coord(0)-0.25*g.Scale); math.Abs(v-0.75*0.75*data[0]) > 1e-15 {
		t.Fatalf("corner %g", v)
	}
	for _, pt := range [][2]float64{{g.Coord(3) + g.Scale, 0}, {0, g.Coord(0) - g.Scale}, {5, 5}, {math.NaN(), 0}} {
		if v := p.Brightness(pt[0], pt[1]); v != 0 {
			t.Fatalf("outside %v: %g", pt, v)
		}
	}
	// Flux: Render at high supersampling integrates the bilinear surface,
	// whose integral is Σ data·scale² (zero padding included).
	big := Grid{N: 12, Scale: 0.25}
	img := Render(p, big, 16)
	var f, fs float64
	for _, v := range img {
		f += v * big.Scale * big.Scale
	}
	for _, v := range data {
		fs += v * g.Scale * g.Scale
	}
	if relErr(f, fs) > 1e-12 {
		t.Fatalf("flux %g want %g", f, fs)
	}
}

func TestSersic(t *testing.T) {
	s := Sersic{Amp: 2, RSersic: 0.3, NSersic: 1.5, Q: 0.6, Phi: 0.4, CenterX: 0.1, CenterY: -0.2}
	bn := 1.9992*1.5 - 0.3271
	if v := s.Brightness(0.1, -0.2); relErr(v, 2*math.Exp(bn)) > 1e-14 {
		t.Fatalf("centre %g want %g", v, 2*math.Exp(bn))
	}
	sp, cp := math.Sincos(0.4)
	// Major axis: R = √q·x' = R_s at x' = R_s/√q; minor axis at y' = R_s√q.
	for _, pt := range [][2]float64{{0.3 / math.Sqrt(0.6), 0}, {0, 0.3 * math.Sqrt(0.6)}, {-0.3 / math.Sqrt(0.6), 0}} {
		x := 0.1 + cp*pt[0] - sp*pt[1]
		y := -0.2 + sp*pt[0] + cp*pt[1]
		if v := s.Brightness(x, y); relErr(v, 2) > 1e-14 {
			t.Fatalf("isophote point %v: %g want amp 2", pt, v)
		}
	}
	// At R = 2R_s: amp·exp(−b_n(2^{1/n} − 1)).
	x := 0.1 + cp*0.6/math.Sqrt(0.6)
	y := -0.2 + sp*0.6/math.Sqrt(0.6)
	if v, w := s.Brightness(x, y), 2*math.Exp(-bn*(math.Pow(2, 1/1.5)-1)); relErr(v, w) > 1e-14 {
		t.Fatalf("2R_s: %g want %g", v, w)
	}
	// Render with super = 1 samples pixel centres.
	g := Grid{N: 5, Scale: 0.1}
	img := Render(s, g, 1)
	if v := img[1*5+3]; v != s.Brightness(g.Coord(3), g.Coord(1)) {
		t.Fatal("Render(super=1) is not centre sampling")
	}
}

func TestLensedImageSIS(t *testing.T) {
	// Through a zero lens the lensed image is the source itself.
	s := Sersic{Amp: 1, RSersic: 0.2, NSersic: 1, Q: 0.8, Phi: 0.1}
	g := Grid{N: 9, Scale: 0.1}
	a := LensedImage(Shear{}, s, g, 2)
	b := Render(s, g, 2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("zero lens changed the image")
		}
	}
}
