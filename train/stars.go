package train

import "github.com/lenscore/lenscore/diag"

// StarOptions configures RemoveStars. Zero values select the defaults.
type StarOptions struct {
	// Threshold is how far above the median of its surrounding ring (the
	// 16 pixels at Chebyshev distance 2) a pixel must be to count as part
	// of a compact source, in units of the image peak (0.1).
	Threshold float64
	// Body is the level of the galaxy's smooth light (the median of the
	// 9×9 window) below which a compact source counts as a foreground star
	// rather than a knot of the galaxy, in units of the peak (0.05).
	Body float64
}

func (o *StarOptions) defaults() {
	if o.Threshold == 0 {
		o.Threshold = 0.1
	}
	if o.Body == 0 {
		o.Body = 0.05
	}
}

// RemoveStars replaces compact sources outside a galaxy's body — foreground
// stars and small neighbours — with the galaxy's smooth light, in place, and
// rescales the n×n image (peak 1, background 0, as Prepare leaves it) to
// peak 1 again. It returns the number of pixels replaced and the peak that
// remained before the rescaling (1 if the brightest pixel was not a star; a
// small value means the image was dominated by stars).
//
// A pixel i is a star pixel when x_i − m₂(i) > Threshold and m₄(i) < Body,
// where m₂ is the median of the ring at Chebyshev distance 2 (a local
// background that a source of up to 3×3 pixels does not reach) and m₄ the
// median of the 9×9 window (the smooth light, which no such source moves
// by much). Every star pixel and its 8 neighbours are set to m₄ of the
// original image; windows are clamped at the edges. Compact peaks on the
// galaxy's body (H II regions, a bright core) are kept: there a star cannot
// be told from the galaxy's own structure. So is anything within n/8 of the
// image centre, where every training image has its galaxy: a small or
// distant galaxy is as compact as a star.
//
// A lensed source galaxy lies far behind the Milky Way, so stars in the
// training photographs are contamination, not source structure: a prior
// that learned them would place stars in reconstructed sources.
func RemoveStars(pix []float32, n int, o StarOptions) (removed int, peak float32) {
	o.defaults()
	if len(pix) != n*n || n < 5 {
		return 0, 1
	}
	at := func(r, c int) float64 {
		return float64(pix[min(max(r, 0), n-1)*n+min(max(c, 0), n-1)])
	}
	ring := make([]float64, 0, 16)
	win := make([]float64, 0, 81)
	smooth := func(r, c int) float64 {
		win = win[:0]
		for dr := -4; dr <= 4; dr++ {
			for dc := -4; dc <= 4; dc++ {
				win = append(win, at(r+dr, c+dc))
			}
		}
		return diag.Median(win)
	}
	ctr, rc := float64(n-1)/2, float64(n)/8
	central := func(r, c int) bool {
		dr, dc := float64(r)-ctr, float64(c)-ctr
		return dr*dr+dc*dc <= rc*rc
	}
	mask := make([]bool, n*n)
	found := false
	for r := range n {
		for c := range n {
			x := float64(pix[r*n+c])
			if x <= o.Threshold { // the ring median is ≥ 0
				continue
			}
			ring = ring[:0]
			for d := -2; d <= 2; d++ {
				ring = append(ring, at(r-2, c+d), at(r+2, c+d))
				if d > -2 && d < 2 {
					ring = append(ring, at(r+d, c-2), at(r+d, c+2))
				}
			}
			if central(r, c) {
				continue // the centred galaxy itself, however compact
			}
			if x-diag.Median(ring) <= o.Threshold || smooth(r, c) >= o.Body {
				continue
			}
			found = true
			for dr := -1; dr <= 1; dr++ {
				for dc := -1; dc <= 1; dc++ {
					if rr, cc := r+dr, c+dc; rr >= 0 && rr < n && cc >= 0 && cc < n && !central(rr, cc) {
						mask[rr*n+cc] = true
					}
				}
			}
		}
	}
	if !found {
		return 0, 1
	}
	fill := make([]float32, 0, 64)
	var idx []int
	for i, m := range mask {
		if m {
			idx = append(idx, i)
			fill = append(fill, float32(smooth(i/n, i%n)))
		}
	}
	for k, i := range idx {
		pix[i] = fill[k]
	}
	for _, v := range pix {
		peak = max(peak, v)
	}
	if peak > 0 {
		for i := range pix {
			pix[i] /= peak
		}
	}
	return len(idx), peak
}
