package obsimport

import (
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
)

// PSFInfo describes how a PSF was prepared.
type PSFInfo struct {
	InputRows, InputCols int     // size of the input kernel
	PeakRow, PeakCol     int     // its brightest pixel (0-based)
	CropHalf             int     // half-width kept on the input grid
	FluxKept             float64 // fraction of the input flux inside the crop
	Rows, Cols           int     // output size
}

// PreparePSF centres an nx×ny kernel (file order: data[row·nx + col]) on
// its brightest pixel, crops it to the smallest odd square holding the
// fraction flux of its total (flux ≥ 1: the largest centred square),
// rebins it by k (see the package documentation) and normalises it to unit
// sum.
func PreparePSF(data []float64, nx, ny, k int, flux float64) (*lens.PSF, PSFInfo, error) {
	info := PSFInfo{InputRows: ny, InputCols: nx}
	if nx < 1 || ny < 1 || len(data) != nx*ny {
		return nil, info, fmt.Errorf("PSF: %d values for %d×%d pixels", len(data), nx, ny)
	}
	if k < 1 {
		return nil, info, fmt.Errorf("PSF: rebin factor must be ≥ 1, got %d", k)
	}
	if !(flux > 0) || math.IsNaN(flux) {
		return nil, info, fmt.Errorf("PSF: flux fraction must be in (0, 1], got %g", flux)
	}
	var total, peak float64
	pi := -1
	for i, v := range data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, info, fmt.Errorf("PSF: pixel (row %d, col %d) is %g", i/nx, i%nx, v)
		}
		total += v
		if pi < 0 || v > peak {
			peak, pi = v, i
		}
	}
	if !(total > 0) || !(peak > 0) {
		return nil, info, errors.New("PSF: the kernel has no positive flux (all zeros?)")
	}
	r0, c0 := pi/nx, pi%nx
	info.PeakRow, info.PeakCol = r0, c0
	hmax := min(r0, c0, ny-1-r0, nx-1-c0)
	box := func(h int) float64 {
		var s float64
		for r := r0 - h; r <= r0+h; r++ {
			for c := c0 - h; c <= c0+h; c++ {
				s += data[r*nx+c]
			}
		}
		return s
	}
	whole := box(hmax)
	h := hmax
	if flux < 1 {
		for h = 0; h < hmax && box(h) < flux*whole; h++ {
		}
	}
	info.CropHalf, info.FluxKept = h, box(h)/total
	// Rebin: K'[A] = Σ_{|u|<k} (k−|u|) K[kA+u] per axis.
	H := (h + k - 1) / k
	n := 2*H + 1
	out := make([][]float64, n)
	for a := -H; a <= H; a++ {
		out[a+H] = make([]float64, n)
		for b := -H; b <= H; b++ {
			var s float64
			for u := -(k - 1); u <= k-1; u++ {
				dr := k*a + u
				if dr < -h || dr > h {
					continue
				}
				for v := -(k - 1); v <= k-1; v++ {
					dc := k*b + v
					if dc < -h || dc > h {
						continue
					}
					s += float64((k-abs(u))*(k-abs(v))) * data[(r0+dr)*nx+c0+dc]
				}
			}
			out[a+H][b+H] = s
		}
	}
	p, err := lens.NewPSF(out)
	if err != nil {
		return nil, info, fmt.Errorf("PSF: %w", err)
	}
	info.Rows, info.Cols = p.Rows, p.Cols
	return p, info, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
