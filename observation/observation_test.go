package observation

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
)

func full(t *testing.T) *Observation {
	t.Helper()
	n, sn := 6, 4
	o := &Observation{NPix: n, Image: make([]float64, n*n), PixelScale: 0.05, SrcNPix: sn, SrcScale: 0.04, Supersample: 3,
		NoiseMap: make([]float64, n*n), NoiseScale: 0.72, Keep: make([]bool, n*n), PSFFWHM: 0, SourceNorm: 2.5,
		Unit: "electron/s", Seed: 1<<63 + 5, HasSeed: true, LensFile: "lens.json",
		WCS: []fits.Card{{Key: "CTYPE1", Value: "RA---TAN"}, {Key: "CTYPE2", Value: "DEC--TAN"}, {Key: "CRPIX1", Value: 3.5}, {Key: "CRPIX2", Value: 2.0},
			{Key: "CRVAL1", Value: 150.1}, {Key: "CRVAL2", Value: 2.2}, {Key: "CD1_1", Value: -0.05 / 3600}, {Key: "CD1_2", Value: 0.0},
			{Key: "CD2_1", Value: 0.0}, {Key: "CD2_2", Value: 0.05 / 3600}},
		History: []string{"imported from a.fits", "rebinned 2x2"},
		Extra:   []fits.Card{{Key: "CENTERX", Value: 0.01, Comment: "x"}, {Key: "IMPX0", Value: int64(3), Comment: ""}, {Key: "COMMENT", Value: nil, Comment: "a note"}},
		Truth:   make([]float64, sn*sn), NoiseFree: make([]float64, n*n), LensLight: make([]float64, n*n)}
	for i := range o.Image {
		o.Image[i] = math.Sin(float64(i)) * 3
		o.NoiseMap[i] = 0.1 + float64(i)/100
		o.Keep[i] = i%5 != 0
		o.NoiseFree[i] = float64(i)
		o.LensLight[i] = 1 / float64(i+1)
	}
	for i := range o.Truth {
		o.Truth[i] = float64(i) / 7
	}
	var err error
	if o.PSF, err = lens.NewPSF([][]float64{{0, 1, 0}, {1, 4, 1}, {0, 1, 0}}); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRoundTrip writes an observation with every field set and reads it
// back unchanged.
func TestRoundTrip(t *testing.T) {
	o := full(t)
	p := filepath.Join(t.TempDir(), "o.fits")
	if err := o.Write(p); err != nil {
		t.Fatal(err)
	}
	r, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, r) {
		t.Errorf("round trip differs:\nwrote %+v\nread  %+v", o, r)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// A uniform-noise observation without mask keeps NOISESIG and no extensions.
	u := &Observation{NPix: 3, Image: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, PixelScale: 0.1, SrcNPix: 2, SrcScale: 0.1, Supersample: 1, NoiseSigma: 0.3}
	if err := u.Write(p); err != nil {
		t.Fatal(err)
	}
	r, err = Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u, r) {
		t.Errorf("uniform round trip: wrote %+v, read %+v", u, r)
	}
	if s := r.Sigma(); len(s) != 1 || s[0] != 0.3 {
		t.Errorf("Sigma() = %v", s)
	}
}

// TestReadErrors checks that invalid files are refused with the keyword or
// extension at fault named.
func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		edit func(h []*fits.HDU) []*fits.HDU
		want string
	}{
		{"negative scale", func(h []*fits.HDU) []*fits.HDU { h[0].Header.Set(KeyPixScale, -1.0, ""); return h }, "PIXSCALE"},
		{"string scale", func(h []*fits.HDU) []*fits.HDU { h[0].Header.Set(KeySrcScale, "x", ""); return h }, "SRCSCALE"},
		{"fractional npix", func(h []*fits.HDU) []*fits.HDU { h[0].Header.Set(KeySrcNPix, 3.5, ""); return h }, "SRCNPIX"},
		{"non-square", func(h []*fits.HDU) []*fits.HDU { h[0].Shape = []int{6, 3}; h[0].Data = h[0].Data[:18]; return h }, "6×3"},
		{"NaN pixel", func(h []*fits.HDU) []*fits.HDU { h[0].Data[7] = math.NaN(); return h }, "row 1, col 1"},
		{"noise shape", func(h []*fits.HDU) []*fits.HDU {
			e, _ := fits.ByName(h, ExtNoiseMap)
			e.Shape = []int{3, 3}
			e.Data = e.Data[:9]
			return h
		}, "NOISEMAP extension is 3×3"},
		{"zero noise kept", func(h []*fits.HDU) []*fits.HDU {
			e, _ := fits.ByName(h, ExtNoiseMap)
			e.Data[1] = 0
			return h
		}, "row 0, col 1"},
		{"mask all", func(h []*fits.HDU) []*fits.HDU {
			e, _ := fits.ByName(h, ExtMask)
			clear(e.Data)
			return h
		}, "excludes every pixel"},
		{"even PSF", func(h []*fits.HDU) []*fits.HDU {
			e, _ := fits.ByName(h, ExtPSF)
			e.Shape = []int{2, 2}
			e.Data = []float64{1, 1, 1, 1}
			return h
		}, "PSF extension"},
	}
	for _, c := range cases {
		hd := c.edit(full(t).HDUs())
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".fits")
		if err := fits.WriteFile(p, hd); err != nil {
			t.Fatal(err)
		}
		_, err := Read(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s and %q", c.name, err, p, c.want)
		}
	}
	// Zero noise where the pixel is masked is allowed.
	hd := full(t).HDUs()
	e, _ := fits.ByName(hd, ExtNoiseMap)
	e.Data[0] = 0 // pixel 0 is masked (0 % 5 == 0)
	p := filepath.Join(dir, "masked-zero.fits")
	if err := fits.WriteFile(p, hd); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(p); err != nil {
		t.Errorf("zero noise at a masked pixel: %v", err)
	}
}

// TestWriteRefuses checks that an inconsistent observation writes nothing.
func TestWriteRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, edit := range map[string]func(o *Observation){
		"NaN image":   func(o *Observation) { o.Image[3] = math.Inf(1) },
		"mask length": func(o *Observation) { o.Keep = o.Keep[:5] },
		"neg noise":   func(o *Observation) { o.NoiseMap[2] = -1 },
		"neg norm":    func(o *Observation) { o.SourceNorm = -2 },
		"truth size":  func(o *Observation) { o.Truth = o.Truth[:3] },
	} {
		o := full(t)
		edit(o)
		p := filepath.Join(dir, "x.fits")
		if err := o.Write(p); err == nil {
			t.Errorf("%s: written", name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%s: left %v", name, ents)
		}
	}
}

// TestValidate checks the completeness rules.
func TestValidate(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(o *Observation)
		want string
	}{
		"no scale":    {func(o *Observation) { o.PixelScale = 0 }, "PIXSCALE"},
		"no srcscale": {func(o *Observation) { o.SrcScale = 0 }, "SRCSCALE"},
		"super":       {func(o *Observation) { o.Supersample = 0 }, "SUPERSMP"},
		"no noise":    {func(o *Observation) { o.NoiseMap = nil }, "NOISESIG"},
	} {
		o := full(t)
		c.edit(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	o := full(t)
	cfg := o.Config()
	if cfg.Obs.N != 6 || cfg.Obs.Scale != 0.05 || cfg.Src.N != 4 || cfg.Src.Scale != 0.04 || cfg.Supersample != 3 || cfg.PSF != o.PSF {
		t.Errorf("Config() = %+v", cfg)
	}
}

// world is the linear WCS transform of 1-based pixel (i, j) in degrees.
func world(t *testing.T, cards []fits.Card, i, j float64) (float64, float64) {
	t.Helper()
	g := func(k string) float64 {
		v, _, err := wcsFloat(cards, k)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	dx, dy := i-g("CRPIX1"), j-g("CRPIX2")
	return g("CD1_1")*dx + g("CD1_2")*dy, g("CD2_1")*dx + g("CD2_2")*dy
}

// TestWCS checks the pixel scale of a rotated CD matrix and that cut-outs
// and rebinning keep every pixel at its sky position: a rebinned pixel's
// centre is the mean of its k×k parents' centres.
func TestWCS(t *testing.T) {
	th := 0.3
	s := 0.049 / 3600
	cards := []fits.Card{{Key: "CTYPE1", Value: "RA---TAN"}, {Key: "CTYPE2", Value: "DEC--TAN"}, {Key: "CRPIX1", Value: 100.5}, {Key: "CRPIX2", Value: 80.25},
		{Key: "CD1_1", Value: -s * math.Cos(th)}, {Key: "CD1_2", Value: s * math.Sin(th)}, {Key: "CD2_1", Value: s * math.Sin(th)}, {Key: "CD2_2", Value: s * math.Cos(th)}}
	sc, ok, err := WCSPixelScale(cards)
	if err != nil || !ok || math.Abs(sc-0.049) > 1e-12 {
		t.Errorf("WCSPixelScale = %g, %v, %v; want 0.049", sc, ok, err)
	}
	// CDELT + PC form.
	pc := []fits.Card{{Key: "CTYPE1", Value: "RA---TAN"}, {Key: "CDELT1", Value: -0.05}, {Key: "CDELT2", Value: 0.05}, {Key: "CUNIT1", Value: "arcsec"},
		{Key: "PC1_1", Value: math.Cos(th)}, {Key: "PC1_2", Value: -math.Sin(th)}, {Key: "PC2_1", Value: math.Sin(th)}, {Key: "PC2_2", Value: math.Cos(th)}}
	if sc, ok, err := WCSPixelScale(pc); err != nil || !ok || math.Abs(sc-0.05) > 1e-12 {
		t.Errorf("CDELT·PC scale = %g, %v, %v; want 0.05", sc, ok, err)
	}
	if _, ok, _ := WCSPixelScale([]fits.Card{{Key: "CTYPE1", Value: "PIXEL"}}); ok {
		t.Error("a non-celestial WCS gave a scale")
	}
	rect := []fits.Card{{Key: "CTYPE1", Value: "RA---TAN"}, {Key: "CDELT1", Value: -0.05}, {Key: "CDELT2", Value: 0.06}}
	if _, _, err := WCSPixelScale(rect); err == nil || !strings.Contains(err.Error(), "square") {
		t.Errorf("rectangular pixels: %v", err)
	}
	// Cut-out at (col0, row0) = (37, 12): new pixel (i, j) is old (i+37, j+12).
	cut := ShiftWCS(cards, 37, 12)
	for _, p := range [][2]float64{{1, 1}, {5, 9}, {64, 64}} {
		a1, d1 := world(t, cut, p[0], p[1])
		a0, d0 := world(t, cards, p[0]+37, p[1]+12)
		if math.Abs(a1-a0) > 1e-15 || math.Abs(d1-d0) > 1e-15 {
			t.Errorf("cut-out pixel %v: (%g,%g) want (%g,%g)", p, a1, d1, a0, d0)
		}
	}
	for _, k := range []int{2, 3} {
		rb := RebinWCS(cards, k)
		for _, p := range [][2]float64{{1, 1}, {4, 7}, {30, 2}} {
			a1, d1 := world(t, rb, p[0], p[1])
			var a0, d0 float64
			for u := 0; u < k; u++ {
				for v := 0; v < k; v++ {
					a, d := world(t, cards, (p[0]-1)*float64(k)+1+float64(u), (p[1]-1)*float64(k)+1+float64(v))
					a0 += a / float64(k*k)
					d0 += d / float64(k*k)
				}
			}
			if math.Abs(a1-a0) > 1e-13 || math.Abs(d1-d0) > 1e-13 {
				t.Errorf("rebin %d pixel %v: (%g,%g) want (%g,%g)", k, p, a1, d1, a0, d0)
			}
		}
		if sc, _, _ := WCSPixelScale(rb); math.Abs(sc-0.049*float64(k)) > 1e-12 {
			t.Errorf("rebin %d: scale %g", k, sc)
		}
	}
}
