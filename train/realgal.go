package train

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/lenscore/lenscore/diag"
)

// Real HST galaxies in GalSim's RealGalaxy layout (the COSMOS training
// sample and its relatives; ../shared/data/galaxies/cosmos_hst): a folder
// holding galaxy files *images*.fits, one postage stamp per image HDU in
// linear flux (HST ACS, 0.03″ pixels), next to *PSF_images*.fits files
// with their PSFs, a BinTable catalogue and noise correlation functions.
//
// LoadDir recognises the layout (a file whose name contains
// "PSF_images") and reads it with LoadRealGalaxies, so `lenscore train
// --data` can mix such a folder with the others.

// RealGalaxyPixelScale is the pixel scale of the HST stamps in arcsec;
// it equals the experiments' default source pixel (1.92″ / 64), so the
// stamps are used at their native scale, without resampling.
const RealGalaxyPixelScale = 0.03

// RealGalaxyBand is the band kept when a folder holds stamps of the same
// galaxies in several HST filters (file names with F606W, F814W, …): F814W,
// the band of the COSMOS sample.
const RealGalaxyBand = "F814W"

// DefaultMinPeakSNR is LoadOptions.MinPeakSNR's default.
const DefaultMinPeakSNR = 30

// bandRE finds an HST filter name in a file name.
var bandRE = regexp.MustCompile(`(?i)F[0-9]{3}[WLMN]`)

// isRealGalaxyDir reports whether a folder listing looks like GalSim's
// RealGalaxy layout.
func isRealGalaxyDir(entries []os.DirEntry) bool {
	for _, e := range entries {
		if !e.IsDir() && strings.Contains(strings.ToUpper(e.Name()), "PSF_IMAGES") && isFITSName(e.Name()) {
			return true
		}
	}
	return false
}

func isFITSName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".fits", ".fit", ".fts":
		return true
	}
	return false
}

// realGalaxyFiles returns the galaxy files of a RealGalaxy folder: FITS
// files with "images" in their name that are not PSF files, and whose
// name names no HST band or RealGalaxyBand.
func realGalaxyFiles(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		n := e.Name()
		up := strings.ToUpper(n)
		if e.IsDir() || !isFITSName(n) || !strings.Contains(up, "IMAGES") || strings.Contains(up, "PSF") {
			continue
		}
		if b := bandRE.FindString(n); b != "" && !strings.EqualFold(b, RealGalaxyBand) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// LoadRealGalaxies reads the HST stamps of a folder in GalSim's RealGalaxy
// layout (see isRealGalaxyDir) and turns each into a Size×Size training
// image consistent with the other data sets:
//
//  1. the sky level s₀ and noise σ of the stamp are the median and
//     1.4826 × the median absolute deviation of its 2-pixel border;
//  2. a stamp whose peak signal-to-noise, max(3×3 box mean − s₀)/(σ/3),
//     is below MinPeakSNR (0: DefaultMinPeakSNR) is skipped: most COSMOS
//     galaxies are faint, and peak-normalised they would be mostly noise;
//  3. the stamp is placed at the centre of a Size×Size canvas at its
//     native 0.03″ pixels (the experiments' source pixel): larger stamps
//     are cropped, smaller ones padded with sky, s₀ + σ·N(0, 1) drawn
//     from a PCG seeded by the FNV-1a hash of the image's name (the same
//     every time), so that the padding looks like the stamp's own sky;
//  4. the canvas is normalised as every image is (PrepareWith: the median
//     of the border is subtracted, the sky clipped at 0 unless KeepSky,
//     and the peak set to 1).
//
// LoadOptions.Stars, MinSide and BorderWidth do not apply (HST stamps
// have their neighbours masked). Names are "<file>[<hdu>]" as for other
// FITS files; skipped stamps are
// listed in Dataset.Skipped with the reason. The noise of HST stamps is
// correlated between neighbouring pixels (the catalogue's noise
// correlation function); the padding is white, a small difference at the
// noise levels kept.
func LoadRealGalaxies(dir string, opt LoadOptions) (*Dataset, error) {
	if opt.Size < 1 {
		return nil, fmt.Errorf("train: image size must be positive, got %d", opt.Size)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train: read image folder: %w", err)
	}
	return loadRealGalaxies(dir, entries, opt)
}

func loadRealGalaxies(dir string, entries []os.DirEntry, opt LoadOptions) (*Dataset, error) {
	files := realGalaxyFiles(entries)
	if len(files) == 0 {
		return nil, fmt.Errorf("train: %s has PSF files but no galaxy image file (*images*.fits of band %s)", dir, RealGalaxyBand)
	}
	minSNR := opt.MinPeakSNR
	if minSNR == 0 {
		minSNR = DefaultMinPeakSNR
	}
	var imgs []Image
	var skipped []string
	for _, name := range files {
		raws, err := readFITSImages(filepath.Join(dir, name))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		for _, r := range raws {
			pix, err := realGalaxyImage(r, opt.Size, minSNR, opt.KeepSky, opt.DenoiseSky)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: %v", r.name, err))
				continue
			}
			imgs = append(imgs, Image{Name: r.name, Pix: pix, Source: dir})
		}
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("train: no usable galaxy stamps in %s (%d skipped)", dir, len(skipped))
	}
	ds := NewDataset(imgs, opt.Size, opt.ValFraction)
	ds.Skipped = skipped
	return ds, nil
}

// realGalaxyImage turns one stamp into a normalised size×size image (see
// LoadRealGalaxies).
func realGalaxyImage(r rawImage, size int, minSNR float64, keepSky, denoise bool) ([]float32, error) {
	w, h := r.w, r.h
	for _, v := range r.pix {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("non-finite pixel")
		}
	}
	if w < 5 || h < 5 {
		return nil, fmt.Errorf("stamp %d×%d is too small to measure its sky", w, h)
	}
	var border []float64
	for y := range h {
		for x := range w {
			if x < 2 || y < 2 || x >= w-2 || y >= h-2 {
				border = append(border, r.pix[y*w+x])
			}
		}
	}
	sky := diag.Median(border)
	for i, v := range border {
		border[i] = math.Abs(v - sky)
	}
	sigma := madScale * diag.Median(border)
	peak := math.Inf(-1)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			s := 0.0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					s += r.pix[(y+dy)*w+x+dx]
				}
			}
			peak = math.Max(peak, s/9-sky)
		}
	}
	if !(sigma > 0) {
		return nil, fmt.Errorf("the stamp's border has no noise (σ = %g); not an HST stamp?", sigma)
	}
	if snr := peak / (sigma / 3); !(snr >= minSNR) {
		return nil, fmt.Errorf("peak S/N %.1f below %g", snr, minSNR)
	}
	hs := fnv.New64a()
	hs.Write([]byte(r.name))
	rng := rand.New(rand.NewPCG(hs.Sum64(), 0x5eed))
	canvas := make([]float64, size*size)
	ox, oy := (w-size)/2, (h-size)/2 // canvas (X, Y) ↔ stamp (X+ox, Y+oy)
	for Y := range size {
		for X := range size {
			x, y := X+ox, Y+oy
			if x >= 0 && x < w && y >= 0 && y < h {
				canvas[Y*size+X] = r.pix[y*w+x]
			} else {
				canvas[Y*size+X] = sky + sigma*rng.NormFloat64()
			}
		}
	}
	return PrepareWith(canvas, size, size, PrepareOptions{Size: size, KeepSky: keepSky, DenoiseSky: denoise})
}
