package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/sde"
	"github.com/lenscore/lenscore/train"
	"github.com/lenscore/lenscore/weights"
)

// defaultObsNPix is the observed image side used with an n×n source when
// none is given: 64 for sources up to 64², else n/2 — the geometry of Adam
// et al. (2022), a 256² source seen in a 128² image with 2×2 rays per
// observed pixel.
func defaultObsNPix(n int) int {
	if n <= 64 {
		return 64
	}
	return n / 2
}

// builtinGRF returns the built-in Gaussian random field (fitted to the
// training galaxies at 64², assets/grf64.fits) for n×n sources of the same
// field of view: resampled with posterior.GRF.Resampled when n ≠ 64. Its
// σ_max is sigmaMax, or (0) the file's scaled by n/64: the distance between
// two peak-normalised images of the same field grows with the side.
func builtinGRF(n int, sigmaMax float64) (*loadedPrior, error) {
	p, pn, h, err := readAssetImage("assets/grf64.fits")
	if err != nil {
		return nil, err
	}
	if n == pn {
		return grfFromHDU("built-in grf64.fits", p, pn, h, n, sigmaMax)
	}
	base, err := grfFromHDU("built-in grf64.fits", p, pn, h, pn, 0)
	if err != nil {
		return nil, err
	}
	if sigmaMax == 0 {
		sigmaMax = base.VE.SigmaMax * float64(n) / float64(pn)
	}
	ve, err := sde.NewVE(sde.DefaultSigmaMin, sigmaMax)
	if err != nil {
		return nil, err
	}
	g, err := base.Prior.(*posterior.GRF).Resampled(n, ve.Sigma)
	if err != nil {
		return nil, fmt.Errorf("built-in grf64.fits at %d×%d: %w", n, n, err)
	}
	return &loadedPrior{Prior: g, Gaussian: g, VE: ve, Name: fmt.Sprintf("grf(built-in grf64.fits resampled to %d×%d)", n, n)}, nil
}

// demoSource returns the demo galaxy (NGC 7742) on an n×n grid: the
// built-in 64² or 256² preparation when n is one of those, else the 256²
// one resampled (area average when shrinking, bilinear when enlarging) and
// scaled back to peak 1.
func demoSource(n int) ([]float64, error) {
	if n == 64 {
		src, _, _, err := readAssetImage("assets/ngc7742.fits")
		return src, err
	}
	src, sn, _, err := readAssetImage("assets/ngc7742_256.fits")
	if err != nil || n == sn {
		return src, err
	}
	out := train.Resample(src, sn, n)
	var mx float64
	for _, v := range out {
		mx = max(mx, v)
	}
	if !(mx > 0) {
		return nil, fmt.Errorf("demo galaxy resampled to %d×%d is blank", n, n)
	}
	for i := range out {
		out[i] /= mx
	}
	return out, nil
}

// modelSide returns the image side of the score network in a model file
// (its "config" metadata), or 0 when it cannot be read.
func modelSide(path string) int {
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	meta, err := weights.ReadMeta(path)
	if err != nil {
		return 0
	}
	var c score.Config
	if json.Unmarshal([]byte(meta[score.MetaConfig]), &c) != nil {
		return 0
	}
	return c.ImageSize
}

// paperGeometry returns the demo's and experiments' observing geometry
// for an n×n source seen in an npix×npix image: the fields of view of
// package experiment's defaults (1.92″ source, 5″ image), 2×2 rays per
// observed pixel and a 0.12″ Gaussian PSF.
func paperGeometry(n, npix int) geometry {
	return geometry{NPix: npix, Scale: experiment.DefaultObsField / float64(npix), SrcNPix: n,
		SrcScale: experiment.DefaultSrcField / float64(n), Super: experiment.DefaultSupersample, PSFFWHM: experiment.DefaultPSFFWHM}
}

// denseBytes is the memory of posterior.NewEvidence's dense set-up for N
// source and M observed pixels: B̃ (N×N), its bordered copy ((N+1)²) and,
// for a non-isotropic prior, the N×M matrix W^½AL, in float64.
func denseBytes(n, m int, iso bool) float64 {
	b := 8 * (float64(n)*float64(n) + float64(n+1)*float64(n+1))
	if !iso {
		b += 8 * float64(n) * float64(m)
	}
	return b
}

// availableBytes returns MemAvailable from /proc/meminfo, or 16 GiB when
// it cannot be read.
func availableBytes() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
				var kb float64
				if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil && kb > 0 {
					return kb * 1024
				}
			}
		}
	}
	return 16 << 30
}

// checkDense refuses an exact (dense) inversion of an n×n source seen in
// m pixels that would not fit in the memory available, before anything is
// allocated, naming the largest source side that would and the given
// (matrix-free) alternative.
func checkDense(what, alternative string, n, m int, iso bool) error {
	return checkDenseWith(what, alternative, n, m, iso, 0.9*availableBytes())
}

func checkDenseWith(what, alternative string, n, m int, iso bool, have float64) error {
	need := denseBytes(n*n, m, iso)
	if need <= have {
		return nil
	}
	side := n
	for side > 2 && denseBytes(side*side, m, iso) > have {
		side--
	}
	return fmt.Errorf("%s is exact and dense: a %d×%d source (N = %d pixels) needs %.1f GiB for its N×N matrices and ≈ %.0f TFLOP, more than the %.1f GiB of memory available; use %s at this size, or a source grid of at most %d×%d (≈ %.0f TFLOP; 128×128 takes ≈ 6)",
		what, n, n, n*n, need/(1<<30), 4.0/3*math.Pow(float64(n*n), 3)/1e12, have/(1<<30), alternative, side, side, 4.0/3*math.Pow(float64(side*side), 3)/1e12)
}
