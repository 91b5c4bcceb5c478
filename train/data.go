package train

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lenscore/lenscore/diag"
)

// DefaultValFraction is the share of images held out for validation when
// LoadOptions.ValFraction is zero.
const DefaultValFraction = 0.1

// Image is one training image: Size×Size float32 pixels, row-major with
// row 0 at the bottom (most negative y), normalised as described in the
// package documentation.
type Image struct {
	Name string // stable identifier: file base name, plus "[hdu,plane]" for FITS
	Pix  []float32
	// Source is the folder the image was read from (LoadDir); it labels
	// the image's data set in experiments and is not part of the data
	// fingerprint.
	Source string
}

// Dataset is a normalised, resized image collection split into training and
// validation parts.
type Dataset struct {
	Size    int      // images are Size×Size
	Train   []Image  // sorted by name
	Val     []Image  // sorted by name
	Skipped []string // "name: reason" for inputs that were not usable
}

// LoadOptions control LoadDir.
type LoadOptions struct {
	Size        int     // output side length in pixels (required)
	ValFraction float64 // held-out share; 0 means DefaultValFraction, negative means none
	MinSide     int     // skip images whose square crop is smaller than this (0: keep all)
	BorderWidth int     // width of the border used for the background; 0 means max(1, Size/16)
	// Stars, when not nil, removes foreground stars from every prepared
	// image (RemoveStars); an image whose brightest pixel was a star and
	// whose galaxy peaks below MinGalaxyPeak of it is skipped as dominated
	// by stars.
	Stars *StarOptions
	// KeepSky keeps the negative half of the sky noise: pixels are
	// x ← (x − b)/max(x − b) without the clip at zero (see PrepareWith).
	KeepSky bool
	// DenoiseSky removes the noise (Denoise) before the sky is subtracted,
	// without the clip at zero (see PrepareWith).
	DenoiseSky bool
	// MinPeakSNR is the least peak signal-to-noise of an HST stamp in a
	// RealGalaxy folder (LoadRealGalaxies; 0: DefaultMinPeakSNR).
	MinPeakSNR float64
}

// MinGalaxyPeak is the share of an image's peak that its galaxy must reach
// once the stars are removed (LoadOptions.Stars).
const MinGalaxyPeak = 0.2

// LoadDir reads every *.png and FITS (.fits, .fit, .fts) image directly in
// dir (a folder in GalSim's RealGalaxy layout is read by LoadRealGalaxies), converts it to a Size×Size luminance image (see Prepare) and splits
// the set into training and validation parts by name hash. A file that
// cannot be read or decoded (corrupt, over MaxPNGSide, no usable image HDU)
// is listed in Dataset.Skipped as "name: reason" and the rest are loaded;
// only a folder with no usable image at all is an error.
func LoadDir(dir string, opt LoadOptions) (*Dataset, error) {
	if opt.Size < 1 {
		return nil, fmt.Errorf("train: image size must be positive, got %d", opt.Size)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train: read image folder: %w", err)
	}
	if isRealGalaxyDir(entries) {
		return loadRealGalaxies(dir, entries, opt)
	}
	var imgs []Image
	var skipped []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		path := filepath.Join(dir, name)
		var raws []rawImage
		switch strings.ToLower(filepath.Ext(name)) {
		case ".png":
			pix, w, h, err := ReadPNG(path)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			raws = []rawImage{{name, pix, w, h}}
		case ".fits", ".fit", ".fts":
			raws, err = readFITSImages(path)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: %v", name, err))
				continue
			}
		default:
			continue
		}
		for _, r := range raws {
			side := min(r.w, r.h)
			if side < opt.MinSide {
				skipped = append(skipped, fmt.Sprintf("%s: %d×%d smaller than MinSide %d", r.name, r.w, r.h, opt.MinSide))
				continue
			}
			pix, err := PrepareWith(r.pix, r.w, r.h, PrepareOptions{Size: opt.Size, Border: opt.BorderWidth, KeepSky: opt.KeepSky, DenoiseSky: opt.DenoiseSky})
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: %v", r.name, err))
				continue
			}
			if opt.Stars != nil {
				if _, left := RemoveStars(pix, opt.Size, *opt.Stars); left < MinGalaxyPeak {
					skipped = append(skipped, fmt.Sprintf("%s: dominated by stars (the galaxy peaks at %.2f of the brightest star)", r.name, left))
					continue
				}
			}
			imgs = append(imgs, Image{Name: r.name, Pix: pix, Source: dir})
		}
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("train: no usable images in %s (%d skipped)", dir, len(skipped))
	}
	ds := NewDataset(imgs, opt.Size, opt.ValFraction)
	ds.Skipped = skipped
	return ds, nil
}

// NewDataset splits prepared images into training and validation parts: an
// image is held out when the first 8 bytes of the SHA-256 of its name, read
// as a big-endian integer and divided by 2⁶⁴,
// is below valFraction (0 means DefaultValFraction, negative means none).
// The split of a name never depends on the other names.
func NewDataset(imgs []Image, size int, valFraction float64) *Dataset {
	if valFraction == 0 {
		valFraction = DefaultValFraction
	}
	ds := &Dataset{Size: size}
	for _, im := range imgs {
		if IsValidation(im.Name, valFraction) {
			ds.Val = append(ds.Val, im)
		} else {
			ds.Train = append(ds.Train, im)
		}
	}
	byName := func(a, b Image) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(ds.Train, byName)
	slices.SortFunc(ds.Val, byName)
	return ds
}

// IsValidation reports whether name belongs to the validation part for the
// given fraction.
func IsValidation(name string, fraction float64) bool {
	if fraction <= 0 {
		return false
	}
	sum := sha256.Sum256([]byte(name))
	return float64(binary.BigEndian.Uint64(sum[:8]))/math.Exp2(64) < fraction
}

// Fingerprint returns a hash of the training and validation images (names
// and pixel bits), recorded in checkpoints so that a resume on different
// data is detected.
func (d *Dataset) Fingerprint() uint64 {
	h := fnv.New64a()
	var b [4]byte
	for _, part := range [][]Image{d.Train, {{Name: "|val|"}}, d.Val} {
		for _, im := range part {
			h.Write([]byte(im.Name))
			h.Write([]byte{0})
			for _, v := range im.Pix {
				u := math.Float32bits(v)
				b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
				h.Write(b[:])
			}
		}
	}
	return h.Sum64()
}

type rawImage struct {
	name string
	pix  []float64 // w×h, row 0 = bottom
	w, h int
}

// MaxPNGSide bounds the width and height of a PNG that ReadPNG decodes.
const MaxPNGSide = 16384

// ReadPNG decodes an 8- or 16-bit grey, grey+alpha, paletted or RGB(A) PNG
// into luminance in [0, 1] (Rec. 709 weights 0.2126 R + 0.7152 G + 0.0722 B
// on the stored values; alpha-premultiplied colours, i.e. composited on
// black). The rows are flipped so that row 0 of the result is the bottom
// row of the picture. Images wider or taller than MaxPNGSide are refused
// before decoding.
func ReadPNG(path string) (pix []float64, w, h int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	// Read the declared size first so that a small file cannot make the
	// decoder allocate a huge image.
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("train: decode PNG %s: %w", path, err)
	}
	if cfg.Width > MaxPNGSide || cfg.Height > MaxPNGSide {
		return nil, 0, 0, fmt.Errorf("train: PNG %s is %d×%d, larger than the %d×%d limit", path, cfg.Width, cfg.Height, MaxPNGSide, MaxPNGSide)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, 0, fmt.Errorf("train: %w", err)
	}
	img, err := png.Decode(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("train: decode PNG %s: %w", path, err)
	}
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return nil, 0, 0, fmt.Errorf("train: PNG %s is empty", path)
	}
	pix = make([]float64, w*h)
	switch g := img.(type) {
	case *image.Gray: // fast path for the common 8-bit grey case
		for y := 0; y < h; y++ {
			src := g.Pix[y*g.Stride : y*g.Stride+w]
			dst := pix[(h-1-y)*w:]
			for x, v := range src {
				dst[x] = float64(v) / 255
			}
		}
		return pix, w, h, nil
	}
	for y := 0; y < h; y++ {
		row := (h - 1 - y) * w // flip: top row of the PNG becomes the last row
		for x := 0; x < w; x++ {
			c := img.At(b.Min.X+x, b.Min.Y+y)
			switch c := c.(type) {
			case color.Gray:
				pix[row+x] = float64(c.Y) / 255
			case color.Gray16:
				pix[row+x] = float64(c.Y) / 65535
			default:
				r, g, bl, _ := c.RGBA()
				pix[row+x] = (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(bl)) / 65535
			}
		}
	}
	return pix, w, h, nil
}

// Prepare turns a w×h image (row 0 = bottom) into a normalised size×size
// float32 image: centre crop to a square of side min(w, h), resample to
// size (area average when shrinking, bilinear when enlarging), subtract the
// median of a border of the given width (0: max(1, size/16)), clip at 0 and
// divide by the maximum. Images with a non-finite pixel or nothing above
// the background are errors. It is PrepareWith without KeepSky.
func Prepare(pix []float64, w, h, size, border int) ([]float32, error) {
	return PrepareWith(pix, w, h, PrepareOptions{Size: size, Border: border})
}

// PrepareOptions control PrepareWith.
type PrepareOptions struct {
	Size   int // output side length in pixels
	Border int // width of the border whose median is the sky (0: max(1, Size/16))
	// KeepSky keeps pixels below the sky level: x ← (x − b)/max(x − b),
	// so the sky noise stays centred on 0 with its negative half, instead
	// of x ← max(x − b, 0)/max(x − b).
	KeepSky bool
	// DenoiseSky first removes white noise from the resampled image
	// (Denoise: starlet hard thresholding at DenoiseK σ), then subtracts b
	// without clipping: the galaxy without its photograph's sky noise.
	DenoiseSky bool
}

// PrepareWith is Prepare with options: crop, resample, denoise if
// o.DenoiseSky, subtract the border median b, clip at 0 unless o.KeepSky or
// o.DenoiseSky, and divide by the peak max(x − b).
func PrepareWith(pix []float64, w, h int, o PrepareOptions) ([]float32, error) {
	size, border := o.Size, o.Border
	if len(pix) != w*h || w < 1 || h < 1 {
		return nil, fmt.Errorf("image data has %d values for %d×%d", len(pix), w, h)
	}
	if size < 1 {
		return nil, fmt.Errorf("output size must be positive, got %d", size)
	}
	for _, v := range pix {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("non-finite pixel")
		}
	}
	side := min(w, h)
	x0, y0 := (w-side)/2, (h-side)/2
	sq := make([]float64, side*side)
	for y := 0; y < side; y++ {
		copy(sq[y*side:(y+1)*side], pix[(y0+y)*w+x0:])
	}
	out := Resample(sq, side, size)
	if o.DenoiseSky {
		var err error
		if out, _, err = Denoise(out, size, 0); err != nil {
			return nil, err
		}
	}
	if border <= 0 {
		border = max(1, size/16)
	}
	bg := borderMedian(out, size, border)
	peak := 0.0
	for i, v := range out {
		v -= bg
		if v < 0 && !o.KeepSky && !o.DenoiseSky {
			v = 0
		}
		out[i] = v
		peak = max(peak, v)
	}
	if !(peak > 0) {
		return nil, errors.New("no pixel above the border background")
	}
	res := make([]float32, len(out))
	for i, v := range out {
		res[i] = float32(v / peak)
	}
	return res, nil
}

// Resample maps an n×n image to m×m. For m ≤ n each output pixel is the
// average of the input over its footprint (fractional pixels weighted by
// overlap: an exact box filter, which for n = k·m is the k×k block mean);
// for m > n it interpolates bilinearly between input pixel centres (clamped
// at the edges).
func Resample(in []float64, n, m int) []float64 {
	out := make([]float64, m*m)
	if m == n {
		copy(out, in)
		return out
	}
	if m < n {
		// Separable box filter: weights[i] lists (index, weight) per output.
		type wt struct {
			i int
			w float64
		}
		scale := float64(n) / float64(m)
		ws := make([][]wt, m)
		for o := range m {
			lo, hi := float64(o)*scale, float64(o+1)*scale
			for i := int(lo); i < n && float64(i) < hi; i++ {
				ov := min(hi, float64(i+1)) - max(lo, float64(i))
				if ov > 0 {
					ws[o] = append(ws[o], wt{i, ov / scale})
				}
			}
		}
		tmp := make([]float64, n*m) // rows n, cols m
		for y := range n {
			for o := range m {
				s := 0.0
				for _, e := range ws[o] {
					s += e.w * in[y*n+e.i]
				}
				tmp[y*m+o] = s
			}
		}
		for o := range m {
			for x := range m {
				s := 0.0
				for _, e := range ws[o] {
					s += e.w * tmp[e.i*m+x]
				}
				out[o*m+x] = s
			}
		}
		return out
	}
	scale := float64(n) / float64(m)
	coord := func(o int) (int, int, float64) {
		c := (float64(o)+0.5)*scale - 0.5
		c = math.Max(0, math.Min(float64(n-1), c))
		i := int(c)
		j := min(i+1, n-1)
		return i, j, c - float64(i)
	}
	for oy := range m {
		y0, y1, fy := coord(oy)
		for ox := range m {
			x0, x1, fx := coord(ox)
			a := in[y0*n+x0]*(1-fx) + in[y0*n+x1]*fx
			b := in[y1*n+x0]*(1-fx) + in[y1*n+x1]*fx
			out[oy*m+ox] = a*(1-fy) + b*fy
		}
	}
	return out
}

// borderMedian returns the median of the pixels within width of the edge.
func borderMedian(pix []float64, n, width int) float64 {
	return diag.Median(borderValues(pix, n, width))
}

// borderValues returns a new slice of the pixels within width of the edge.
func borderValues(pix []float64, n, width int) []float64 {
	width = min(width, (n+1)/2)
	var vals []float64
	for y := range n {
		for x := range n {
			if x < width || y < width || x >= n-width || y >= n-width {
				vals = append(vals, pix[y*n+x])
			}
		}
	}
	return vals
}

// Dihedral applies element k (0…7) of the symmetry group of the square to
// the n×n image src, writing dst (which must not alias src). With
// coordinates (x, y), x the column and y the row (row 0 at the bottom), the
// rotation R maps (x, y) → (n−1−y, x) (90° anticlockwise) and the flip F
// maps (x, y) → (n−1−x, y); element k is F^(k/4) R^(k%4), i.e. first rotate
// k%4 times, then flip if k ≥ 4. The pixel at p moves to k(p).
func Dihedral(dst, src []float32, n, k int) {
	r, f := k%4, k/4
	for y := range n {
		for x := range n {
			u, v := x, y
			for range r {
				u, v = n-1-v, u
			}
			if f == 1 {
				u = n - 1 - u
			}
			dst[v*n+u] = src[y*n+x]
		}
	}
}

// ComposeDihedral returns the element a∘b (apply b, then a), using
// R⁴ = F² = 1 and R F = F R⁻¹.
func ComposeDihedral(a, b int) int {
	ra, fa := a%4, a/4
	rb, fb := b%4, b/4
	// F^fa R^ra F^fb R^rb = F^(fa+fb) R^((−1)^fb ra + rb)
	if fb == 1 {
		ra = (4 - ra) % 4
	}
	return ((fa+fb)%2)*4 + (ra+rb)%4
}
