package obsimport

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/observation"
)

// frame is a synthetic telescope frame written to files.
type frame struct {
	nx, ny     int
	img, noise []float64
	psf        []float64
	pnx, pny   int
	imgH       fits.Header
	dir        string
	iP, nP, pP string
}

func newFrame(t *testing.T, nx, ny int, seed uint64) *frame {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	f := &frame{nx: nx, ny: ny, img: make([]float64, nx*ny), noise: make([]float64, nx*ny), dir: t.TempDir()}
	for i := range f.img {
		f.noise[i] = 0.01 * (1 + r.Float64())
		f.img[i] = f.noise[i] * r.NormFloat64()
	}
	// A Gaussian PSF of σ 1.2 px peaked at (row 9, col 8) of a 16×18 array.
	f.pnx, f.pny = 16, 18
	f.psf = make([]float64, f.pnx*f.pny)
	for rr := 0; rr < f.pny; rr++ {
		for c := 0; c < f.pnx; c++ {
			dx, dy := float64(c-8), float64(rr-9)
			f.psf[rr*f.pnx+c] = 3 * math.Exp(-(dx*dx+dy*dy)/(2*1.2*1.2))
		}
	}
	return f
}

func (f *frame) write(t *testing.T) Options {
	t.Helper()
	w := func(name string, nx, ny int, d []float64, h fits.Header) string {
		p := filepath.Join(f.dir, name)
		hd := fits.NewImage(nx, ny, d)
		hd.Header = h
		if err := fits.WriteFile(p, []*fits.HDU{hd}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.iP = w("image.fits", f.nx, f.ny, f.img, f.imgH)
	f.nP = w("noise.fits", f.nx, f.ny, f.noise, fits.Header{})
	f.pP = w("psf.fits", f.pnx, f.pny, f.psf, fits.Header{})
	return Options{Image: f.iP, HDU: -1, NoiseMap: f.nP, PSF: f.pP, PixelScale: 0.05, SkyScatter: "none"}
}

// TestCutoutRoundTrip checks that the cut-out's pixels and noise are the
// input's, at the documented offset, through a written and re-read file.
func TestCutoutRoundTrip(t *testing.T) {
	f := newFrame(t, 41, 37, 1)
	opt := f.write(t)
	opt.NPix = 16
	opt.Center = &[2]float64{20.3, 15.6}
	ob, rep, err := Import(opt)
	if err != nil {
		t.Fatal(err)
	}
	// x0 = round(20.3 − 7.5) = 13, y0 = round(15.6 − 7.5) = 8.
	if rep.X0 != 13 || rep.Y0 != 8 {
		t.Fatalf("cut-out origin (%d, %d), want (13, 8)", rep.X0, rep.Y0)
	}
	if math.Abs(rep.CenterX-(20.3-20.5)*0.05) > 1e-12 || math.Abs(rep.CenterY-(15.6-15.5)*0.05) > 1e-12 {
		t.Errorf("centre on the grid (%g, %g)", rep.CenterX, rep.CenterY)
	}
	p := filepath.Join(f.dir, "obs.fits")
	if err := ob.Write(p); err != nil {
		t.Fatal(err)
	}
	back, err := observation.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 16; r++ {
		for c := 0; c < 16; c++ {
			i := (r+8)*41 + c + 13
			if back.Image[r*16+c] != f.img[i] || back.NoiseMap[r*16+c] != f.noise[i] || !back.Keep[r*16+c] {
				t.Fatalf("pixel (%d, %d): %g ± %g, want %g ± %g", r, c, back.Image[r*16+c], back.NoiseMap[r*16+c], f.img[i], f.noise[i])
			}
		}
	}
	if back.PixelScale != 0.05 || back.Unit != DefaultUnit || back.SrcNPix != DefaultSrcNPix || back.NoiseScale != 1 {
		t.Errorf("header: scale %g unit %q srcnpix %d noise scale %g", back.PixelScale, back.Unit, back.SrcNPix, back.NoiseScale)
	}
	if c, ok := back.Card("IMPX0"); !ok || c.Value != int64(13) {
		t.Errorf("IMPX0 card %v %v", c, ok)
	}
}

// TestRebinNoise checks σ_out = sqrt(Σσ²)/k² pixel by pixel, the mean
// image, and by simulation that independent noise drawn from the input map
// has the propagated σ after rebinning.
func TestRebinNoise(t *testing.T) {
	f := newFrame(t, 60, 60, 2)
	opt := f.write(t)
	opt.NPix, opt.Rebin = 15, 3
	ob, rep, err := Import(opt)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rep.Scale-0.15) > 1e-15 || ob.PixelScale != rep.Scale {
		t.Errorf("output scale %g", rep.Scale)
	}
	x0, y0 := rep.X0, rep.Y0
	for r := 0; r < 15; r++ {
		for c := 0; c < 15; c++ {
			var s, v float64
			for a := 0; a < 3; a++ {
				for b := 0; b < 3; b++ {
					i := (y0+3*r+a)*60 + x0 + 3*c + b
					s += f.img[i]
					v += f.noise[i] * f.noise[i]
				}
			}
			if o := r*15 + c; math.Abs(ob.Image[o]-s/9) > 1e-15 || math.Abs(ob.NoiseMap[o]-math.Sqrt(v)/9) > 1e-15 {
				t.Fatalf("pixel (%d, %d): %g ± %g, want %g ± %g", r, c, ob.Image[o], ob.NoiseMap[o], s/9, math.Sqrt(v)/9)
			}
		}
	}
	// Monte Carlo: z = rebinned noise / propagated σ has unit variance.
	rng := rand.New(rand.NewPCG(3, 4))
	n := 240
	sig := make([]float64, n*n)
	for i := range sig {
		sig[i] = 0.5 + 2*rng.Float64()
	}
	var sum2 float64
	cnt := 0
	for rep := 0; rep < 4; rep++ {
		img := make([]float64, n*n)
		for i := range img {
			img[i] = sig[i] * rng.NormFloat64()
		}
		ri, rs, _ := Rebin(img, sig, nil, n, n, 2)
		for i := range ri {
			sum2 += ri[i] * ri[i] / (rs[i] * rs[i])
			cnt++
		}
	}
	if v := sum2 / float64(cnt); math.Abs(v-1) > 0.02 { // 57,600 draws: sd 0.006
		t.Errorf("variance of rebinned noise / propagated σ² = %.4f, want 1", v)
	}
}

// TestSkyScatter measures the scatter of correlated noise whose per-pixel
// std is 0.7 of the map (a 2×2 moving sum of white noise, as drizzling
// makes) on top of a smooth gradient: f ≈ 0.7; white noise gives 1.
func TestSkyScatter(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 200
	white := make([]float64, (n+1)*(n+1))
	for i := range white {
		white[i] = rng.NormFloat64()
	}
	sig := make([]float64, n*n)
	img := make([]float64, n*n)
	use := make([]bool, n*n)
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			i := r*n + c
			sig[i] = 0.01 * (1 + float64(c)/float64(n))
			g := (white[r*(n+1)+c] + white[r*(n+1)+c+1] + white[(r+1)*(n+1)+c] + white[(r+1)*(n+1)+c+1]) / 2
			img[i] = 0.7*sig[i]*g + 0.05*float64(r+c)/float64(n) + 0.01*float64(r*r)/float64(n*n) // linear light cancels in the second differences, row-wise curvature too
			use[i] = true
		}
	}
	f, pairs, err := SkyScatter(img, sig, use, n, n, SkyLag)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(f-0.7) > 0.02 || pairs != n*(n-2*SkyLag) {
		t.Errorf("correlated noise: f = %.4f from %d triples, want 0.70 from %d", f, pairs, n*(n-2*SkyLag))
	}
	for i := range img {
		img[i] = sig[i] * rng.NormFloat64()
	}
	if f, _, _ := SkyScatter(img, sig, use, n, n, SkyLag); math.Abs(f-1) > 0.02 {
		t.Errorf("white noise: f = %.4f, want 1", f)
	}
	if _, _, err := SkyScatter(img[:100], sig[:100], use[:100], 10, 10, SkyLag); err == nil {
		t.Error("10×10 frame: no error for too few pairs")
	}
	// Through Import: the cut-out's noise map is scaled by the frame's f.
	fr := newFrame(t, n, n, 9)
	copy(fr.noise, sig)
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			i := r*n + c
			g := (white[r*(n+1)+c] + white[r*(n+1)+c+1] + white[(r+1)*(n+1)+c] + white[(r+1)*(n+1)+c+1]) / 2
			fr.img[i] = 0.7 * sig[i] * g
		}
	}
	opt := fr.write(t)
	opt.NPix, opt.SkyScatter = 64, "measure"
	ob, rep, err := Import(opt)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rep.NoiseScale-0.7) > 0.03 || ob.NoiseScale != rep.NoiseScale {
		t.Errorf("Import: noise scale %.4f, want 0.70", rep.NoiseScale)
	}
	if i := 5*64 + 7; math.Abs(ob.NoiseMap[i]-rep.NoiseScale*fr.noise[(rep.Y0+5)*n+rep.X0+7]) > 1e-15 {
		t.Errorf("noise map not scaled: %g", ob.NoiseMap[i])
	}
}

// TestMaskRules checks each rule on chosen pixels.
func TestMaskRules(t *testing.T) {
	f := newFrame(t, 40, 40, 3)
	// Cut-out of 20×20 about the centre (19.5, 19.5): x0 = y0 = 10.
	f.img[(10+2)*40+10+3] = math.NaN()    // output (2, 3)
	f.noise[(10+4)*40+10+5] = math.Inf(1) // (4, 5)
	f.noise[(10+6)*40+10+7] = 1e8         // (6, 7): the star rule
	f.noise[(10+8)*40+10+9] = 0.5         // (8, 9): 25–50× the median: kept at the default factor 100
	opt := f.write(t)
	mask := make([]float64, 40*40)
	for i := range mask {
		mask[i] = 1
	}
	mask[(10+1)*40+10+1] = 0 // (1, 1)
	mp := filepath.Join(f.dir, "mask.fits")
	if err := fits.WriteFile(mp, []*fits.HDU{fits.NewImage(40, 40, mask)}); err != nil {
		t.Fatal(err)
	}
	opt.MaskFile, opt.NPix = mp, 20
	opt.Annulus = &[2]float64{0.1, 0.45}               // arcsec; scale 0.05: 2–9 px
	opt.Circles = []Circle{{X: 0.3, Y: -0.2, R: 0.06}} // about output (5.5, 15.5)
	ob, rep, err := Import(opt)
	if err != nil {
		t.Fatal(err)
	}
	// (row, col) → expected keep.
	coord := func(j int) float64 { return (float64(j) - 9.5) * 0.05 }
	for r := 0; r < 20; r++ {
		for c := 0; c < 20; c++ {
			x, y := coord(c), coord(r)
			d := math.Hypot(x, y)
			want := d >= 0.1 && d <= 0.45 && math.Hypot(x-0.3, y+0.2) > 0.06
			switch [2]int{r, c} {
			case [2]int{2, 3}, [2]int{4, 5}, [2]int{6, 7}, [2]int{1, 1}:
				want = false
			}
			if ob.Keep[r*20+c] != want {
				t.Errorf("pixel (%d, %d) at r = %.3f″: keep %v, want %v", r, c, d, ob.Keep[r*20+c], want)
			}
		}
	}
	for _, key := range []string{"non-finite image", "non-finite noise", "noise > 100 × median", "mask file", "annulus", "circle"} {
		if rep.Masked[key] == 0 {
			t.Errorf("report counts no %q pixels: %v", key, rep.Masked)
		}
	}
	if ob.Image[2*20+3] != 0 || !(ob.NoiseMap[6*20+7] < 1e8) {
		t.Errorf("masked pixels keep bad values: image %g, noise %g", ob.Image[2*20+3], ob.NoiseMap[6*20+7])
	}
	if err := ob.Validate(); err == nil {
		// SRCSCALE etc. are set, so the observation must validate.
	} else {
		t.Errorf("Validate: %v", err)
	}
	// Rebinning masks an output pixel when any of its inputs is masked.
	opt.Annulus, opt.Circles, opt.Rebin, opt.NPix = nil, nil, 2, 10
	ob, _, err = Import(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range [][2]int{{1, 1}, {2, 2}, {3, 3}, {0, 0}} { // inputs (2,3) (4,5) (6,7) (1,1)
		if ob.Keep[rc[0]*10+rc[1]] {
			t.Errorf("rebinned pixel %v kept", rc)
		}
	}
	if !ob.Keep[4*10+4] {
		t.Error("rebinned pixel (4, 4) masked")
	}
}

// TestPreparePSF checks that an off-centre, even-sized PSF comes out odd,
// centred on its peak, of unit sum, and that rebinning gives the exact
// kernel between block means for block-uniform light.
func TestPreparePSF(t *testing.T) {
	f := newFrame(t, 4, 4, 1)
	for _, k := range []int{1, 2, 3} {
		p, info, err := PreparePSF(f.psf, f.pnx, f.pny, k, 1)
		if err != nil {
			t.Fatal(err)
		}
		if info.PeakRow != 9 || info.PeakCol != 8 || info.CropHalf != 7 {
			t.Errorf("k=%d: peak (%d, %d), half-width %d; want (9, 8), 7", k, info.PeakRow, info.PeakCol, info.CropHalf)
		}
		var s, mx, my float64
		for r := 0; r < p.Rows; r++ {
			for c := 0; c < p.Cols; c++ {
				v := p.Kernel[r*p.Cols+c]
				s += v
				mx += v * float64(c-p.Cols/2)
				my += v * float64(r-p.Rows/2)
			}
		}
		if p.Rows%2 != 1 || p.Cols%2 != 1 || math.Abs(s-1) > 1e-12 || math.Abs(mx) > 1e-12 || math.Abs(my) > 1e-12 {
			t.Errorf("k=%d: %d×%d, sum %g, centroid (%g, %g)", k, p.Rows, p.Cols, s, mx, my)
		}
		// Exactness: rebin(K ⊛ sky) = K' ⊛ rebin(sky) for block-constant sky.
		m := 8
		n := m * k
		rng := rand.New(rand.NewPCG(uint64(k), 1))
		coarse := make([]float64, m*m)
		for i := range coarse {
			coarse[i] = rng.Float64()
		}
		fine := make([]float64, n*n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				fine[r*n+c] = coarse[(r/k)*m+c/k]
			}
		}
		whole, _, _ := PreparePSF(f.psf, f.pnx, f.pny, 1, 1)
		fineImg := make([]float64, n*n)
		whole.Convolve(fineImg, fine, n)
		got, _, _ := Rebin(fineImg, make([]float64, n*n), nil, n, n, k)
		want := make([]float64, m*m)
		p.Convolve(want, coarse, m)
		// Compare away from the zero-padded edges.
		for r := 3; r < m-3; r++ {
			for c := 3; c < m-3; c++ {
				if d := math.Abs(got[r*m+c] - want[r*m+c]); d > 1e-12 {
					t.Errorf("k=%d: pixel (%d, %d): %g vs %g", k, r, c, got[r*m+c], want[r*m+c])
				}
			}
		}
	}
	// Crop to a flux fraction.
	p, info, err := PreparePSF(f.psf, f.pnx, f.pny, 1, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	box := func(h int) float64 { // flux within ±h of the peak (row 9, col 8)
		var s, tot float64
		for r := 0; r < f.pny; r++ {
			for c := 0; c < f.pnx; c++ {
				v := f.psf[r*f.pnx+c]
				tot += v
				if r >= 9-h && r <= 9+h && c >= 8-h && c <= 8+h {
					s += v
				}
			}
		}
		return s / tot
	}
	if b1, b2 := box(1), box(2); !(b1 < 0.9 && b2 >= 0.9) || info.CropHalf != 2 || p.Rows != 5 || math.Abs(info.FluxKept-b2) > 1e-12 {
		t.Errorf("crop at 0.9: half-width %d (%d rows), flux %.4f; want 2, 5, %.4f (3×3 holds %.4f)", info.CropHalf, p.Rows, info.FluxKept, b2, b1)
	}
	if _, _, err := PreparePSF(make([]float64, 25), 5, 5, 1, 1); err == nil || !strings.Contains(err.Error(), "no positive flux") {
		t.Errorf("zero PSF: %v", err)
	}
	_ = lens.PSF{}
}

// TestImportErrors checks the bad-input errors, each naming the file and
// the problem.
func TestImportErrors(t *testing.T) {
	f := newFrame(t, 30, 30, 4)
	base := f.write(t)
	base.NPix = 20
	wr := func(name string, nx, ny int, d []float64) string {
		p := filepath.Join(f.dir, name)
		if err := fits.WriteFile(p, []*fits.HDU{fits.NewImage(nx, ny, d)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zeroNoise := append([]float64(nil), f.noise...)
	zeroNoise[15*30+15] = 0
	negNoise := append([]float64(nil), f.noise...)
	negNoise[14*30+16] = -0.1
	cases := []struct {
		name string
		edit func(o *Options)
		want []string
	}{
		{"shape mismatch", func(o *Options) { o.NoiseMap = wr("small.fits", 20, 30, make([]float64, 600)) }, []string{"small.fits", "20×30", "30×30"}},
		{"zero noise", func(o *Options) { o.NoiseMap = wr("zero.fits", 30, 30, zeroNoise) }, []string{"zero.fits", "row 15, col 15", "> 0"}},
		{"negative noise", func(o *Options) { o.NoiseMap = wr("neg.fits", 30, 30, negNoise) }, []string{"neg.fits", "row 14, col 16", "-0.1"}},
		{"zero PSF", func(o *Options) { o.PSF = wr("zpsf.fits", 5, 5, make([]float64, 25)) }, []string{"zpsf.fits", "no positive flux"}},
		{"centre outside", func(o *Options) { o.NPix = 8; o.Center = &[2]float64{35, 10} }, []string{"image.fits", "outside", "30×30"}},
		{"cut-out too large", func(o *Options) { o.NPix = 16; o.Rebin = 2 }, []string{"image.fits", "32×32", "larger"}},
		{"cut-out off the edge", func(o *Options) { o.NPix = 10; o.Center = &[2]float64{2, 15} }, []string{"image.fits", "beyond"}},
		{"no scale", func(o *Options) { o.PixelScale = 0 }, []string{"image.fits", "pixel scale"}},
		{"missing file", func(o *Options) { o.PSF = filepath.Join(f.dir, "nope.fits") }, []string{"nope.fits"}},
		{"mask all", func(o *Options) { o.NPix = 10; o.Annulus = &[2]float64{5, 6} }, []string{"exclude every pixel"}},
	}
	for _, c := range cases {
		o := base
		c.edit(&o)
		_, _, err := Import(o)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", c.name, err, w)
			}
		}
	}
}

// TestImportWCS checks that the scale comes from the WCS, which is carried
// over with CRPIX moved, and that a conflicting scale is refused.
func TestImportWCS(t *testing.T) {
	f := newFrame(t, 40, 40, 5)
	f.imgH.Set("CTYPE1", "RA---TAN", "")
	f.imgH.Set("CTYPE2", "DEC--TAN", "")
	f.imgH.Set("CRPIX1", 20.0, "")
	f.imgH.Set("CRPIX2", 21.0, "")
	f.imgH.Set("CRVAL1", 345.0, "")
	f.imgH.Set("CRVAL2", 14.0, "")
	f.imgH.Set("CD1_1", -0.04/3600, "")
	f.imgH.Set("CD2_2", 0.04/3600, "")
	f.imgH.Set("BUNIT", "ELECTRONS/S", "")
	opt := f.write(t)
	opt.PixelScale = 0
	opt.NPix, opt.Rebin = 10, 2 // x0 = y0 = round(19.5 − 9.5) = 10
	ob, rep, err := Import(opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ScaleFrom != "WCS" || math.Abs(ob.PixelScale-0.08) > 1e-12 || ob.Unit != "ELECTRONS/S" {
		t.Errorf("scale %g from %s, unit %q", ob.PixelScale, rep.ScaleFrom, ob.Unit)
	}
	h := fits.Header{Cards: ob.WCS}
	c1, _, _ := h.Float("CRPIX1")
	c2, _, _ := h.Float("CRPIX2")
	if math.Abs(c1-((20-10)-0.5)/2-0.5) > 1e-12 || math.Abs(c2-((21-10)-0.5)/2-0.5) > 1e-12 {
		t.Errorf("CRPIX (%g, %g)", c1, c2)
	}
	opt.PixelScale = 0.05
	if _, _, err := Import(opt); err == nil || !strings.Contains(err.Error(), "WCS says") {
		t.Errorf("conflicting scale: %v", err)
	}
}
