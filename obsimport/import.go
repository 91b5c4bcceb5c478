package obsimport

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/observation"
)

// Defaults of Options for HST ACS/WFC frames (0.05″ pixels).
const (
	DefaultNPix           = 128
	DefaultNoiseMaxFactor = 100
	DefaultPSFFlux        = 0.99
	DefaultUnit           = "electron/s"
	DefaultSrcNPix        = 64
	DefaultSrcScale       = 0.04 // arcsec: 2.56″ of source plane, finer than the 0.05″ data
	DefaultSupersample    = 2
)

// Circle is a region excluded from the likelihood: centre (X, Y) and radius
// R in arcsec on the output grid.
type Circle struct{ X, Y, R float64 }

// Options says what to import and how. Zero values select the defaults.
type Options struct {
	Image    string // image FITS file
	HDU      int    // HDU index of the image in Image (−1: the first image HDU)
	NoiseMap string // 1σ noise map, same shape as the image
	PSF      string // PSF kernel on the image's pixel grid
	MaskFile string // optional: 0 = exclude, same shape as the image

	PixelScale float64     // input pixel scale, arcsec (0: from the WCS)
	Center     *[2]float64 // (x, y) = (column, row), 0-based input pixels; nil: image centre
	NPix       int         // output side in output pixels (default 128)
	Rebin      int         // input pixels per output pixel side (default 1)

	Annulus        *[2]float64 // keep only Rin ≤ r ≤ Rout arcsec from the centre
	Circles        []Circle    // exclude these
	NoiseMaxFactor float64     // mask σ > factor·median σ (default 100)

	PSFFlux float64 // crop the PSF to this flux fraction (default 0.99; 1: whole)

	// SkyScatter: "measure" (default), "none", or a number: the factor
	// applied to the propagated noise map.
	SkyScatter string

	Unit        string  // BUNIT when the image has none (default electron/s)
	SrcNPix     int     // source grid side written to the file (default 64)
	SrcScale    float64 // source pixel scale (default 0.04″)
	Supersample int     // ray-tracing supersampling (default 2)
}

// Report says what Import did, for the user and for tests.
type Report struct {
	X0, Y0           int     // input pixel of the cut-out's first column and row
	CenterX, CenterY float64 // the requested centre on the output grid, arcsec
	InputScale       float64 // arcsec
	ScaleFrom        string  // "WCS" or "option"
	Scale            float64 // output pixel scale, arcsec
	Masked           map[string]int
	Kept             int
	NoiseScale       float64 // factor applied to the noise map
	SkyPairs         int     // pixel triples of the sky measurement (0: not measured)
	PSF              PSFInfo
	Unit             string
}

type inputImage struct {
	path   string
	data   []float64
	nx, ny int
	header fits.Header
}

func readImage(path string, hdu int, what string) (*inputImage, error) {
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var h *fits.HDU
	if hdu >= 0 {
		if hdu >= len(hdus) {
			return nil, fmt.Errorf("%s: no HDU %d (the file has %d)", path, hdu, len(hdus))
		}
		h = hdus[hdu]
		if h.Skipped || len(h.Shape) == 0 {
			return nil, fmt.Errorf("%s: HDU %d holds no image", path, hdu)
		}
	} else {
		for _, c := range hdus {
			if !c.Skipped && len(c.Shape) > 0 {
				h = c
				break
			}
		}
		if h == nil {
			return nil, fmt.Errorf("%s: no image HDU", path)
		}
	}
	if len(h.Shape) != 2 {
		return nil, fmt.Errorf("%s: the %s must be a 2-D image, got NAXIS=%d", path, what, len(h.Shape))
	}
	return &inputImage{path: path, data: h.Data, nx: h.Shape[0], ny: h.Shape[1], header: h.Header}, nil
}

func (o *Options) defaults() {
	if o.NPix == 0 {
		o.NPix = DefaultNPix
	}
	if o.Rebin == 0 {
		o.Rebin = 1
	}
	if o.NoiseMaxFactor == 0 {
		o.NoiseMaxFactor = DefaultNoiseMaxFactor
	}
	if o.PSFFlux == 0 {
		o.PSFFlux = DefaultPSFFlux
	}
	if o.SkyScatter == "" {
		o.SkyScatter = "measure"
	}
	if o.SrcNPix == 0 {
		o.SrcNPix = DefaultSrcNPix
	}
	if o.SrcScale == 0 {
		o.SrcScale = DefaultSrcScale
	}
	if o.Supersample == 0 {
		o.Supersample = DefaultSupersample
	}
}

func (o *Options) check() error {
	switch {
	case o.Image == "" || o.NoiseMap == "" || o.PSF == "":
		return errors.New("the image, noise map and PSF files are all required")
	case o.NPix < 2:
		return fmt.Errorf("npix must be ≥ 2, got %d", o.NPix)
	case o.Rebin < 1 || o.Rebin > 16:
		return fmt.Errorf("rebin must be in 1…16, got %d", o.Rebin)
	case o.PixelScale < 0 || math.IsNaN(o.PixelScale) || math.IsInf(o.PixelScale, 0):
		return fmt.Errorf("pixel scale must be finite and > 0, got %g", o.PixelScale)
	case !(o.NoiseMaxFactor > 1) || math.IsInf(o.NoiseMaxFactor, 0):
		return fmt.Errorf("noise-max factor must be finite and > 1, got %g", o.NoiseMaxFactor)
	case !(o.PSFFlux > 0 && o.PSFFlux <= 1):
		return fmt.Errorf("PSF flux fraction must be in (0, 1], got %g", o.PSFFlux)
	case o.SrcNPix < 2 || !(o.SrcScale > 0) || math.IsInf(o.SrcScale, 0) || o.Supersample < 1 || o.Supersample > 16:
		return fmt.Errorf("source grid %d px at %g″ and supersampling %d are invalid", o.SrcNPix, o.SrcScale, o.Supersample)
	}
	if a := o.Annulus; a != nil && (!(a[0] >= 0) || !(a[1] > a[0]) || math.IsInf(a[1], 0)) {
		return fmt.Errorf("annulus needs 0 ≤ Rin < Rout (finite), got %g, %g", a[0], a[1])
	}
	for _, c := range o.Circles {
		if !(c.R > 0) || math.IsInf(c.R, 0) || math.IsNaN(c.X+c.Y) || math.IsInf(c.X+c.Y, 0) {
			return fmt.Errorf("circle (%g, %g, %g): centre must be finite and radius > 0", c.X, c.Y, c.R)
		}
	}
	return nil
}

// Import reads the files of opt and returns the observation (not yet
// written) and a report. Every error names the file or option at fault.
func Import(opt Options) (*observation.Observation, *Report, error) {
	opt.defaults()
	if err := opt.check(); err != nil {
		return nil, nil, err
	}
	img, err := readImage(opt.Image, opt.HDU, "image")
	if err != nil {
		return nil, nil, err
	}
	nm, err := readImage(opt.NoiseMap, -1, "noise map")
	if err != nil {
		return nil, nil, err
	}
	if nm.nx != img.nx || nm.ny != img.ny {
		return nil, nil, fmt.Errorf("%s: the noise map is %d×%d but the image %s is %d×%d", opt.NoiseMap, nm.nx, nm.ny, opt.Image, img.nx, img.ny)
	}
	var maskIn []bool
	if opt.MaskFile != "" {
		mk, err := readImage(opt.MaskFile, -1, "mask")
		if err != nil {
			return nil, nil, err
		}
		if mk.nx != img.nx || mk.ny != img.ny {
			return nil, nil, fmt.Errorf("%s: the mask is %d×%d but the image %s is %d×%d", opt.MaskFile, mk.nx, mk.ny, opt.Image, img.nx, img.ny)
		}
		maskIn = make([]bool, len(mk.data))
		for i, v := range mk.data {
			maskIn[i] = v != 0 && !math.IsNaN(v)
		}
	}
	ps, err := readImage(opt.PSF, -1, "PSF")
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Masked: map[string]int{}}

	// Pixel scale.
	var wcs []fits.Card
	for _, c := range img.header.Cards {
		if observation.IsWCSKey(c.Key) {
			wcs = append(wcs, c)
		}
	}
	ws, hasWCS, err := observation.WCSPixelScale(wcs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", opt.Image, err)
	}
	switch {
	case hasWCS && opt.PixelScale > 0 && math.Abs(ws/opt.PixelScale-1) > 1e-3:
		return nil, nil, fmt.Errorf("%s: the WCS says %.6g″ per pixel but the pixel scale given is %g″", opt.Image, ws, opt.PixelScale)
	case hasWCS:
		rep.InputScale, rep.ScaleFrom = ws, "WCS"
	case opt.PixelScale > 0:
		rep.InputScale, rep.ScaleFrom = opt.PixelScale, "option"
	default:
		return nil, nil, fmt.Errorf("%s: no celestial WCS; give the pixel scale (0.05″ for HST ACS/WFC drizzled frames)", opt.Image)
	}
	k := opt.Rebin
	rep.Scale = rep.InputScale * float64(k)

	// Cut-out.
	s := opt.NPix * k
	cx, cy := float64(img.nx-1)/2, float64(img.ny-1)/2
	if opt.Center != nil {
		cx, cy = opt.Center[0], opt.Center[1]
		if !(cx >= -0.5 && cx <= float64(img.nx)-0.5 && cy >= -0.5 && cy <= float64(img.ny)-0.5) {
			return nil, nil, fmt.Errorf("%s: the centre (%g, %g) is outside the %d×%d image", opt.Image, cx, cy, img.nx, img.ny)
		}
	}
	if s > img.nx || s > img.ny {
		return nil, nil, fmt.Errorf("%s: the cut-out of %d×%d input pixels (npix %d × rebin %d) is larger than the %d×%d image",
			opt.Image, s, s, opt.NPix, k, img.nx, img.ny)
	}
	half := float64(s-1) / 2
	x0, y0 := int(math.Round(cx-half)), int(math.Round(cy-half))
	if x0 < 0 || y0 < 0 || x0+s > img.nx || y0+s > img.ny {
		return nil, nil, fmt.Errorf("%s: a %d×%d cut-out about (%g, %g) spans columns %d…%d and rows %d…%d, beyond the %d×%d image; move the centre or reduce npix",
			opt.Image, s, s, cx, cy, x0, x0+s-1, y0, y0+s-1, img.nx, img.ny)
	}
	rep.X0, rep.Y0 = x0, y0
	rep.CenterX, rep.CenterY = (cx-(float64(x0)+half))*rep.InputScale, (cy-(float64(y0)+half))*rep.InputScale

	// Per-pixel validity on the whole frame (for the sky) and the cut-out.
	valid := make([]bool, len(img.data))
	var goodNoise []float64
	for r := y0; r < y0+s; r++ {
		for c := x0; c < x0+s; c++ {
			v := nm.data[r*img.nx+c]
			if !math.IsNaN(v) && v <= 0 {
				return nil, nil, fmt.Errorf("%s: noise σ must be > 0, pixel (row %d, col %d) is %g (a 1σ map has no zeros)", opt.NoiseMap, r, c, v)
			}
			if v > 0 && !math.IsInf(v, 0) {
				goodNoise = append(goodNoise, v)
			}
		}
	}
	if len(goodNoise) == 0 {
		return nil, nil, fmt.Errorf("%s: no finite noise value in the cut-out", opt.NoiseMap)
	}
	maxNoise := opt.NoiseMaxFactor * median(goodNoise)
	for i := range valid {
		v, y := nm.data[i], img.data[i]
		switch {
		case math.IsNaN(y) || math.IsInf(y, 0):
			valid[i] = false
		case !(v > 0) || math.IsInf(v, 0) || v > maxNoise:
			valid[i] = false
		default:
			valid[i] = maskIn == nil || maskIn[i]
		}
	}
	// Cut out (invalid pixels: image 0, noise the largest allowed value).
	cimg, cnoise, ckeep := make([]float64, s*s), make([]float64, s*s), make([]bool, s*s)
	for r := 0; r < s; r++ {
		for c := 0; c < s; c++ {
			i, o := (y0+r)*img.nx+x0+c, r*s+c
			y, v := img.data[i], nm.data[i]
			switch {
			case math.IsNaN(y) || math.IsInf(y, 0):
				rep.Masked["non-finite image"]++
			case !(v > 0) || math.IsInf(v, 0):
				rep.Masked["non-finite noise"]++
			case v > maxNoise:
				rep.Masked[fmt.Sprintf("noise > %g × median", opt.NoiseMaxFactor)]++
			case maskIn != nil && !maskIn[i]:
				rep.Masked["mask file"]++
			}
			ckeep[o] = valid[i]
			if valid[i] {
				cimg[o], cnoise[o] = y, v
			} else {
				cimg[o], cnoise[o] = 0, maxNoise
			}
		}
	}
	n := opt.NPix
	oimg, onoise, okeep := cimg, cnoise, ckeep
	if k > 1 {
		oimg, onoise, okeep = Rebin(cimg, cnoise, ckeep, s, s, k)
	}
	// Geometric masks on the output grid.
	coord := func(j int) float64 { return (float64(j) - float64(n-1)/2) * rep.Scale }
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			x, y := coord(c), coord(r)
			i := r*n + c
			if a := opt.Annulus; a != nil {
				d := math.Hypot(x-rep.CenterX, y-rep.CenterY)
				if d < a[0] || d > a[1] {
					if okeep[i] {
						rep.Masked["annulus"]++
					}
					okeep[i] = false
				}
			}
			for _, cc := range opt.Circles {
				if math.Hypot(x-cc.X, y-cc.Y) <= cc.R {
					if okeep[i] {
						rep.Masked["circle"]++
					}
					okeep[i] = false
				}
			}
		}
	}
	for _, kp := range okeep {
		if kp {
			rep.Kept++
		}
	}
	if rep.Kept == 0 {
		return nil, nil, fmt.Errorf("the masks exclude every pixel of the %d×%d observation", n, n)
	}

	// Noise scatter.
	rep.NoiseScale = 1
	switch strings.ToLower(strings.TrimSpace(opt.SkyScatter)) {
	case "none":
	case "measure":
		f, pairs, err := measureSky(img, nm, valid, x0, y0, s, k)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", opt.Image, err)
		}
		rep.NoiseScale, rep.SkyPairs = f, pairs
	default:
		var f float64
		if _, err := fmt.Sscan(opt.SkyScatter, &f); err != nil || !(f > 0) || math.IsInf(f, 0) {
			return nil, nil, fmt.Errorf("sky scatter must be measure, none or a factor > 0, got %q", opt.SkyScatter)
		}
		rep.NoiseScale = f
	}
	for i := range onoise {
		onoise[i] *= rep.NoiseScale
	}

	// PSF.
	psf, pinfo, err := PreparePSF(ps.data, ps.nx, ps.ny, k, opt.PSFFlux)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", opt.PSF, err)
	}
	rep.PSF = pinfo

	unit := opt.Unit
	if u, ok, _ := img.header.String("BUNIT"); ok && strings.TrimSpace(u) != "" {
		unit = strings.TrimSpace(u)
	}
	if unit == "" {
		unit = DefaultUnit
	}
	rep.Unit = unit
	if len(wcs) > 0 {
		wcs = observation.ShiftWCS(wcs, x0, y0)
		if k > 1 {
			wcs = observation.RebinWCS(wcs, k)
		}
	}
	ob := &observation.Observation{NPix: n, Image: oimg, PixelScale: rep.Scale, SrcNPix: opt.SrcNPix, SrcScale: opt.SrcScale,
		Supersample: opt.Supersample, NoiseMap: onoise, NoiseScale: rep.NoiseScale, Keep: okeep, PSF: psf, Unit: unit, WCS: wcs}
	ob.Extra = []fits.Card{
		{Key: "CENTERX", Value: rep.CenterX, Comment: "import centre on the grid, x [arcsec]"},
		{Key: "CENTERY", Value: rep.CenterY, Comment: "import centre on the grid, y [arcsec]"},
		{Key: "IMPX0", Value: int64(x0), Comment: "input column of the cut-out's first pixel (0-based)"},
		{Key: "IMPY0", Value: int64(y0), Comment: "input row of the cut-out's first pixel (0-based)"},
		{Key: "IMPREBIN", Value: int64(k), Comment: "input pixels per output pixel side"},
	}
	ob.History = append(ob.History,
		cardHist("image %s, noise map %s, PSF %s", opt.Image, opt.NoiseMap, opt.PSF),
		cardHist("cut-out %dx%d at input (%d, %d), rebinned %dx%d to %dx%d at %g arcsec (scale from %s)", s, s, x0, y0, k, k, n, n, rep.Scale, rep.ScaleFrom),
		cardHist("image: mean of each block; noise: sqrt(sum sigma^2)/k^2, then x %.4g", rep.NoiseScale),
		cardHist("PSF: peak (%d, %d), crop half-width %d (%.4f of flux), %dx%d", pinfo.PeakRow, pinfo.PeakCol, pinfo.CropHalf, pinfo.FluxKept, pinfo.Rows, pinfo.Cols),
	)
	if rep.SkyPairs > 0 {
		ob.History = append(ob.History, cardHist("noise x %.4f: 1.4826 MAD of lag-%d second differences on sky, %d triples", rep.NoiseScale, SkyLagFor(k), rep.SkyPairs))
	}
	for _, key := range sortedKeys(rep.Masked) {
		ob.History = append(ob.History, cardHist("masked %d input/output pixels: %s", rep.Masked[key], key))
	}
	return ob, rep, nil
}

// measureSky rebins the whole frame with the cut-out's block alignment and
// measures SkyScatter outside the circle inscribed in the cut-out.
func measureSky(img, nm *inputImage, valid []bool, x0, y0, s, k int) (float64, int, error) {
	ox, oy := x0%k, y0%k
	mx, my := (img.nx-ox)/k, (img.ny-oy)/k
	w, h := mx*k, my*k
	sub := func(d []float64) []float64 {
		o := make([]float64, w*h)
		for r := 0; r < h; r++ {
			copy(o[r*w:(r+1)*w], d[(r+oy)*img.nx+ox:(r+oy)*img.nx+ox+w])
		}
		return o
	}
	keep := make([]bool, w*h)
	si, sn := sub(img.data), sub(nm.data)
	for r := 0; r < h; r++ {
		for c := 0; c < w; c++ {
			i := (r+oy)*img.nx + ox + c
			keep[r*w+c] = valid[i]
			if !valid[i] {
				si[r*w+c], sn[r*w+c] = 0, 1
			}
		}
	}
	ri, rn, rk := si, sn, keep
	if k > 1 {
		ri, rn, rk = Rebin(si, sn, keep, w, h, k)
	}
	// Exclude the inscribed circle of the cut-out (output-pixel units).
	ccx := (float64(x0-ox)+float64(s-1)/2)/float64(k) - float64(k-1)/(2*float64(k))
	ccy := (float64(y0-oy)+float64(s-1)/2)/float64(k) - float64(k-1)/(2*float64(k))
	rad := float64(s) / float64(2*k)
	for r := 0; r < my; r++ {
		for c := 0; c < mx; c++ {
			if math.Hypot(float64(c)-ccx, float64(r)-ccy) <= rad {
				rk[r*mx+c] = false
			}
		}
	}
	return SkyScatter(ri, rn, rk, mx, my, SkyLagFor(k))
}

// cardHist formats a HISTORY text in printable ASCII (long texts are
// continued on further cards when written).
func cardHist(format string, a ...any) string {
	b := []byte(fmt.Sprintf(format, a...))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

func sortedKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }
