package observation

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
)

// Header keywords of the primary HDU.
const (
	KeyPixScale   = "PIXSCALE"
	KeySrcScale   = "SRCSCALE"
	KeySrcNPix    = "SRCNPIX"
	KeySuper      = "SUPERSMP"
	KeyNoise      = "NOISESIG"
	KeySeed       = "NOISSEED"
	KeyPSFFWHM    = "PSFFWHM"
	KeySourceNorm = "SRCNORM"
	KeyNoiseScale = "NOISESCL"
	KeyLens       = "LENSFILE"
	KeyUnit       = "BUNIT"
)

// Extension names.
const (
	ExtNoiseMap  = "NOISEMAP"
	ExtMask      = "MASK"
	ExtPSF       = "PSF"
	ExtSource    = "SOURCE"
	ExtNoiseFree = "NOISEFREE"
	ExtLensLight = "LENSLIGHT"
)

// Defaults of the keywords that have one.
const (
	DefaultSrcNPix = 64
	DefaultSuper   = 2
)

// Observation is the content of an observation file. Zero numeric fields
// mean "absent from the file"; a command fills them from its flags or
// defaults before it calls Config.
type Observation struct {
	NPix  int       // image side
	Image []float64 // NPix², row-major, row 0 at the most negative y

	PixelScale  float64 // arcsec
	SrcNPix     int     // source grid side
	SrcScale    float64 // source pixel scale, arcsec
	Supersample int     // ray-tracing supersampling

	NoiseSigma float64   // uniform σ; used when NoiseMap is nil
	NoiseMap   []float64 // per-pixel σ (NPix²) or nil
	NoiseScale float64   // factor the importer applied to the input noise map (0: not recorded)
	Keep       []bool    // true where the pixel enters the likelihood; nil: all

	PSF     *lens.PSF // nil: no PSF
	PSFFWHM float64   // FWHM of a Gaussian PSF, arcsec (0: none or a kernel)

	SourceNorm float64 // s: the sampler works on source/s (0: not chosen)
	Unit       string  // BUNIT
	Seed       uint64  // NOISSEED, when HasSeed
	HasSeed    bool
	LensFile   string // LENSFILE

	WCS     []fits.Card // world-coordinate cards of the primary header
	History []string    // HISTORY cards
	Extra   []fits.Card // other cards of the primary header, kept in order

	Truth     []float64 // SOURCE extension, SrcNPix² (simulations)
	NoiseFree []float64 // NOISEFREE extension, NPix² (simulations)
	LensLight []float64 // LENSLIGHT extension: the lens-light model subtracted from Image, NPix²
}

// Read reads an observation file. Absent keywords leave zero fields;
// present ones must be valid. Errors name path.
func Read(path string) (*Observation, error) {
	hdus, err := fits.ReadFile(path)
	if err != nil {
		return nil, err
	}
	o, err := FromHDUs(hdus)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

// FromHDUs decodes the HDUs of an observation file: the first image HDU is
// the observation.
func FromHDUs(hdus []*fits.HDU) (*Observation, error) {
	var prim *fits.HDU
	for _, h := range hdus {
		if !h.Skipped && len(h.Shape) > 0 {
			prim = h
			break
		}
	}
	if prim == nil {
		return nil, errors.New("no image HDU")
	}
	if err := checkSquare(prim, "image"); err != nil {
		return nil, err
	}
	o := &Observation{NPix: prim.Shape[0], Image: prim.Data}
	if err := checkFinite(o.Image, o.NPix, "image", "images must be finite"); err != nil {
		return nil, err
	}
	h := &prim.Header
	var err error
	pos := func(key string, p *float64) {
		if err != nil {
			return
		}
		v, ok, e := h.Float(key)
		switch {
		case e != nil:
			err = fmt.Errorf("header keyword %s: %w", key, e)
		case ok && (!(v >= 0) || math.IsInf(v, 0)):
			err = fmt.Errorf("header keyword %s must be finite and ≥ 0, got %g", key, v)
		case ok:
			*p = v
		}
	}
	var srcN, super float64
	pos(KeyPixScale, &o.PixelScale)
	pos(KeySrcScale, &o.SrcScale)
	pos(KeySrcNPix, &srcN)
	pos(KeySuper, &super)
	pos(KeyNoise, &o.NoiseSigma)
	pos(KeyPSFFWHM, &o.PSFFWHM)
	pos(KeySourceNorm, &o.SourceNorm)
	pos(KeyNoiseScale, &o.NoiseScale)
	if err != nil {
		return nil, err
	}
	if srcN != math.Trunc(srcN) || super != math.Trunc(super) || srcN > 1<<15 || super > 1<<10 {
		return nil, fmt.Errorf("header keywords %s=%g and %s=%g must be small integers", KeySrcNPix, srcN, KeySuper, super)
	}
	o.SrcNPix, o.Supersample = int(srcN), int(super)
	if c, ok := h.Get(KeySeed); ok {
		switch v := c.Value.(type) {
		case int64:
			o.Seed, o.HasSeed = uint64(v), true
		case string:
			s, e := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if e != nil {
				return nil, fmt.Errorf("header keyword %s: %q is not a seed", KeySeed, v)
			}
			o.Seed, o.HasSeed = s, true
		}
	}
	if s, ok, _ := h.String(KeyUnit); ok {
		o.Unit = s
	}
	if s, ok, _ := h.String(KeyLens); ok {
		o.LensFile = s
	}
	for _, c := range h.Cards {
		switch {
		case c.Key == "HISTORY":
			o.History = append(o.History, c.Comment)
		case IsWCSKey(c.Key):
			o.WCS = append(o.WCS, c)
		case !reserved(c.Key):
			o.Extra = append(o.Extra, c)
		}
	}
	if e, ok := fits.ByName(hdus, ExtNoiseMap); ok {
		if err := o.sameShape(e, ExtNoiseMap); err != nil {
			return nil, err
		}
		o.NoiseMap = e.Data
	}
	if e, ok := fits.ByName(hdus, ExtMask); ok {
		if err := o.sameShape(e, ExtMask); err != nil {
			return nil, err
		}
		o.Keep = make([]bool, len(e.Data))
		for i, v := range e.Data {
			o.Keep[i] = v != 0 && !math.IsNaN(v)
		}
	}
	if e, ok := fits.ByName(hdus, ExtPSF); ok {
		if len(e.Shape) != 2 {
			return nil, fmt.Errorf("%s extension: expected a 2-D kernel, got NAXIS=%d", ExtPSF, len(e.Shape))
		}
		if o.PSF, err = PSFFromImage(e.Data, e.Shape[0], e.Shape[1]); err != nil {
			return nil, fmt.Errorf("%s extension: %w", ExtPSF, err)
		}
	}
	if e, ok := fits.ByName(hdus, ExtSource); ok && len(e.Shape) == 2 && e.Shape[0] == e.Shape[1] {
		if o.SrcNPix == 0 || o.SrcNPix == e.Shape[0] {
			o.Truth = e.Data
		}
	}
	if e, ok := fits.ByName(hdus, ExtNoiseFree); ok && len(e.Shape) == 2 && e.Shape[0] == o.NPix && e.Shape[1] == o.NPix {
		o.NoiseFree = e.Data
	}
	if e, ok := fits.ByName(hdus, ExtLensLight); ok {
		if err := o.sameShape(e, ExtLensLight); err != nil {
			return nil, err
		}
		o.LensLight = e.Data
	}
	if err := o.checkNoiseMask(); err != nil {
		return nil, err
	}
	return o, nil
}

// reserved reports whether a primary-header keyword is structural or one
// that Observation holds in a field.
func reserved(key string) bool {
	k := strings.ToUpper(strings.TrimSpace(key))
	switch k {
	case "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "EXTNAME", "BSCALE", "BZERO", "BLANK", "HISTORY",
		KeyPixScale, KeySrcScale, KeySrcNPix, KeySuper, KeyNoise, KeySeed, KeyPSFFWHM, KeySourceNorm, KeyNoiseScale, KeyLens, KeyUnit:
		return true
	}
	return strings.HasPrefix(k, "NAXIS")
}

// Card returns the first card of Extra with the key.
func (o *Observation) Card(key string) (fits.Card, bool) {
	return fits.Header{Cards: o.Extra}.Get(key)
}

// PSFFromImage builds a PSF from an nx×ny image in file order.
func PSFFromImage(data []float64, nx, ny int) (*lens.PSF, error) {
	if len(data) != nx*ny {
		return nil, fmt.Errorf("kernel holds %d values, want %d×%d", len(data), nx, ny)
	}
	k := make([][]float64, ny)
	for r := range k {
		k[r] = data[r*nx : (r+1)*nx]
	}
	return lens.NewPSF(k)
}

func checkSquare(h *fits.HDU, what string) error {
	if len(h.Shape) != 2 {
		return fmt.Errorf("%s: expected a 2-D image, got NAXIS=%d", what, len(h.Shape))
	}
	if h.Shape[0] != h.Shape[1] {
		return fmt.Errorf("%s: expected a square image, got %d×%d", what, h.Shape[0], h.Shape[1])
	}
	return nil
}

func checkFinite(d []float64, n int, what, why string) error {
	for i, v := range d {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: pixel (row %d, col %d) is %g; %s", what, i/n, i%n, v, why)
		}
	}
	return nil
}

func (o *Observation) sameShape(h *fits.HDU, what string) error {
	if len(h.Shape) != 2 || h.Shape[0] != o.NPix || h.Shape[1] != o.NPix {
		return fmt.Errorf("%s extension is %s, the image %d×%d", what, shapeText(h.Shape), o.NPix, o.NPix)
	}
	return nil
}

func shapeText(s []int) string {
	p := make([]string, len(s))
	for i, v := range s {
		p[i] = strconv.Itoa(v)
	}
	return strings.Join(p, "×")
}

// checkNoiseMask checks the noise map where the mask keeps a pixel and that
// at least one pixel is kept.
func (o *Observation) checkNoiseMask() error {
	if o.Keep != nil {
		used := 0
		for _, k := range o.Keep {
			if k {
				used++
			}
		}
		if used == 0 {
			return fmt.Errorf("%s extension excludes every pixel", ExtMask)
		}
	}
	for i, v := range o.NoiseMap {
		if !(v > 0) || math.IsInf(v, 0) {
			if o.Keep != nil && !o.Keep[i] {
				continue
			}
			return fmt.Errorf("%s extension: noise σ must be finite and > 0, pixel (row %d, col %d) is %g", ExtNoiseMap, i/o.NPix, i%o.NPix, v)
		}
	}
	return nil
}

// Validate checks that o is complete and consistent: everything Config and
// a likelihood need.
func (o *Observation) Validate() error {
	switch {
	case o.NPix < 2 || len(o.Image) != o.NPix*o.NPix:
		return fmt.Errorf("observation: image must be NPix² with NPix ≥ 2, got NPix=%d and %d pixels", o.NPix, len(o.Image))
	case !(o.PixelScale > 0) || math.IsInf(o.PixelScale, 0):
		return fmt.Errorf("observation: pixel scale (%s) must be > 0, got %g", KeyPixScale, o.PixelScale)
	case o.SrcNPix < 2:
		return fmt.Errorf("observation: source grid side (%s) must be ≥ 2, got %d", KeySrcNPix, o.SrcNPix)
	case !(o.SrcScale > 0) || math.IsInf(o.SrcScale, 0):
		return fmt.Errorf("observation: source pixel scale (%s) must be > 0, got %g", KeySrcScale, o.SrcScale)
	case o.Supersample < 1 || o.Supersample > 16:
		return fmt.Errorf("observation: supersampling (%s) must be in 1…16, got %d", KeySuper, o.Supersample)
	case o.NoiseMap != nil && len(o.NoiseMap) != len(o.Image):
		return fmt.Errorf("observation: noise map holds %d pixels, the image %d", len(o.NoiseMap), len(o.Image))
	case o.Keep != nil && len(o.Keep) != len(o.Image):
		return fmt.Errorf("observation: mask holds %d pixels, the image %d", len(o.Keep), len(o.Image))
	case o.NoiseMap == nil && (!(o.NoiseSigma > 0) || math.IsInf(o.NoiseSigma, 0)):
		return fmt.Errorf("observation: no noise map and the noise σ (%s) is %g; it must be > 0", KeyNoise, o.NoiseSigma)
	case o.Truth != nil && len(o.Truth) != o.SrcNPix*o.SrcNPix:
		return fmt.Errorf("observation: the true source holds %d pixels, want %d²", len(o.Truth), o.SrcNPix)
	case o.SourceNorm < 0 || math.IsNaN(o.SourceNorm) || math.IsInf(o.SourceNorm, 0):
		return fmt.Errorf("observation: source normalisation (%s) must be finite and ≥ 0, got %g", KeySourceNorm, o.SourceNorm)
	}
	if err := checkFinite(o.Image, o.NPix, "observation image", "images must be finite"); err != nil {
		return err
	}
	return o.checkNoiseMask()
}

// Config is the lens operator's configuration of o. Call Validate first.
func (o *Observation) Config() lens.Config {
	return lens.Config{Obs: lens.Grid{N: o.NPix, Scale: o.PixelScale}, Src: lens.Grid{N: o.SrcNPix, Scale: o.SrcScale},
		Supersample: o.Supersample, PSF: o.PSF}
}

// Sigma returns the noise as the likelihoods take it: the noise map, or a
// one-element slice holding the uniform σ.
func (o *Observation) Sigma() []float64 {
	if o.NoiseMap != nil {
		return o.NoiseMap
	}
	return []float64{o.NoiseSigma}
}

// KeptPixels returns how many pixels enter the likelihood.
func (o *Observation) KeptPixels() int {
	if o.Keep == nil {
		return len(o.Image)
	}
	n := 0
	for _, k := range o.Keep {
		if k {
			n++
		}
	}
	return n
}

// HDUs encodes o as the HDUs of an observation file.
func (o *Observation) HDUs() []*fits.HDU {
	prim := fits.NewImage(o.NPix, o.NPix, o.Image)
	h := &prim.Header
	h.Set(KeyPixScale, o.PixelScale, "observation pixel scale [arcsec]")
	if o.SrcNPix > 0 {
		h.Set(KeySrcNPix, int64(o.SrcNPix), "source grid side [pixels]")
	}
	if o.SrcScale > 0 {
		h.Set(KeySrcScale, o.SrcScale, "source pixel scale [arcsec]")
	}
	if o.Supersample > 0 {
		h.Set(KeySuper, int64(o.Supersample), "ray-tracing supersampling factor")
	}
	h.Set(KeyPSFFWHM, o.PSFFWHM, "Gaussian PSF FWHM [arcsec] (0: none or PSF ext)")
	if o.NoiseMap == nil || o.NoiseSigma > 0 {
		h.Set(KeyNoise, o.NoiseSigma, "Gaussian noise sigma per pixel")
	}
	if o.HasSeed {
		h.Set(KeySeed, seedCard(o.Seed), "seed of the noise")
	}
	if o.SourceNorm > 0 {
		h.Set(KeySourceNorm, o.SourceNorm, "source normalisation: prior sees source/SRCNORM")
	}
	if o.NoiseScale > 0 {
		h.Set(KeyNoiseScale, o.NoiseScale, "factor applied to the input noise map")
	}
	if o.Unit != "" {
		h.Set(KeyUnit, CardText(o.Unit), "unit of the image")
	}
	if o.LensFile != "" {
		h.Set(KeyLens, CardText(o.LensFile), "lens file")
	}
	for _, c := range o.WCS {
		h.Set(c.Key, c.Value, c.Comment)
	}
	for _, c := range o.Extra {
		if !reserved(c.Key) && !IsWCSKey(c.Key) {
			h.Add(c.Key, c.Value, c.Comment)
		}
	}
	for _, s := range o.History {
		h.AddHistory(s)
	}
	hdus := []*fits.HDU{prim}
	add := func(name string, nx int, d []float64) {
		e := fits.NewImage(nx, nx, d)
		e.Name = name
		hdus = append(hdus, e)
		if name == ExtSource {
			e.Header.Set(KeySrcScale, o.SrcScale, "source pixel scale [arcsec]")
		}
		if (name == ExtNoiseMap || name == ExtNoiseFree || name == ExtLensLight) && o.Unit != "" {
			e.Header.Set(KeyUnit, CardText(o.Unit), "")
		}
	}
	if o.NoiseFree != nil {
		add(ExtNoiseFree, o.NPix, o.NoiseFree)
	}
	if o.Truth != nil {
		add(ExtSource, o.SrcNPix, o.Truth)
	}
	if o.NoiseMap != nil {
		add(ExtNoiseMap, o.NPix, o.NoiseMap)
	}
	if o.LensLight != nil {
		add(ExtLensLight, o.NPix, o.LensLight)
	}
	if o.Keep != nil {
		m := make([]float64, len(o.Keep))
		for i, k := range o.Keep {
			if k {
				m[i] = 1
			}
		}
		e := fits.NewImage(o.NPix, o.NPix, m)
		e.Name = ExtMask
		e.Bitpix = 8
		e.Header.AddComment("1: pixel used in the likelihood, 0: excluded")
		hdus = append(hdus, e)
	}
	if o.PSF != nil {
		e := fits.NewImage(o.PSF.Cols, o.PSF.Rows, append([]float64(nil), o.PSF.Kernel...))
		e.Name = ExtPSF
		hdus = append(hdus, e)
	}
	return hdus
}

// Write validates the parts of o that are present and writes it atomically.
// Geometry keywords may be absent (zero); the image, noise and mask must be
// consistent.
func (o *Observation) Write(path string) error {
	if err := o.checkWritable(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return fits.WriteFile(path, o.HDUs())
}

func (o *Observation) checkWritable() error {
	if o.NPix < 1 || len(o.Image) != o.NPix*o.NPix {
		return fmt.Errorf("observation: image must be NPix² pixels, got NPix=%d and %d pixels", o.NPix, len(o.Image))
	}
	if err := checkFinite(o.Image, o.NPix, "observation image", "images must be finite"); err != nil {
		return err
	}
	for _, v := range []float64{o.PixelScale, o.SrcScale, o.NoiseSigma, o.PSFFWHM, o.SourceNorm, o.NoiseScale} {
		if !(v >= 0) || math.IsInf(v, 0) {
			return fmt.Errorf("observation: scales, noise σ and normalisations must be finite and ≥ 0, got %g", v)
		}
	}
	if o.NoiseMap != nil && len(o.NoiseMap) != len(o.Image) {
		return fmt.Errorf("observation: noise map holds %d pixels, the image %d", len(o.NoiseMap), len(o.Image))
	}
	if o.Keep != nil && len(o.Keep) != len(o.Image) {
		return fmt.Errorf("observation: mask holds %d pixels, the image %d", len(o.Keep), len(o.Image))
	}
	if o.Truth != nil && (o.SrcNPix < 1 || len(o.Truth) != o.SrcNPix*o.SrcNPix) {
		return fmt.Errorf("observation: the true source holds %d pixels, SRCNPIX is %d", len(o.Truth), o.SrcNPix)
	}
	if o.NoiseFree != nil && len(o.NoiseFree) != len(o.Image) {
		return fmt.Errorf("observation: the noise-free image holds %d pixels, the image %d", len(o.NoiseFree), len(o.Image))
	}
	if o.LensLight != nil && len(o.LensLight) != len(o.Image) {
		return fmt.Errorf("observation: the lens-light model holds %d pixels, the image %d", len(o.LensLight), len(o.Image))
	}
	return o.checkNoiseMask()
}

// seedCard is a seed as a FITS header value: an integer when it fits in
// int64 (FITS integers are signed), else its decimal string.
func seedCard(seed uint64) any {
	if seed <= math.MaxInt64 {
		return int64(seed)
	}
	return strconv.FormatUint(seed, 10)
}

// CardText makes s fit a FITS string card: printable ASCII only (other
// characters become '?') and at most 68 characters (longer text keeps its
// end, which for a path is the informative part, behind "...").
func CardText(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	if len(b) > 68 {
		b = append([]byte("..."), b[len(b)-65:]...)
	}
	return string(b)
}
