package diag

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"

	"gonum.org/v1/gonum/dsp/fourier"
)

func checkImage(fn string, img []float64, nx, ny int) error {
	if nx <= 0 || ny <= 0 {
		return fmt.Errorf("diag: %s: image size %d×%d, want positive", fn, nx, ny)
	}
	if len(img) != nx*ny {
		return fmt.Errorf("diag: %s: image has %d pixels, want nx·ny = %d", fn, len(img), nx*ny)
	}
	return nil
}

// RadialProfile returns the azimuthal average of img in annuli of width dr
// (pixels) about the centre (cx, cy), given in pixel-index coordinates
// (column, row; pixel centres at integers). Annulus k holds the pixels with
// k·dr ≤ ‖p − c‖ < (k+1)·dr, k < nbins. r[k] is the mean distance of its
// pixels and prof[k] their mean value; both are NaN for an empty annulus.
// NaN pixels are skipped.
func RadialProfile(img []float64, nx, ny int, cx, cy, dr float64, nbins int) (r, prof []float64, err error) {
	if err := checkImage("RadialProfile", img, nx, ny); err != nil {
		return nil, nil, err
	}
	if !(dr > 0) || nbins <= 0 {
		return nil, nil, fmt.Errorf("diag: RadialProfile: dr = %g, nbins = %d, want both positive", dr, nbins)
	}
	r = make([]float64, nbins)
	prof = make([]float64, nbins)
	cnt := make([]int, nbins)
	for row := range ny {
		for col := range nx {
			v := img[row*nx+col]
			if math.IsNaN(v) {
				continue
			}
			d := math.Hypot(float64(col)-cx, float64(row)-cy)
			k := int(d / dr)
			if k >= nbins {
				continue
			}
			r[k] += d
			prof[k] += v
			cnt[k]++
		}
	}
	for k, c := range cnt {
		if c == 0 {
			r[k], prof[k] = math.NaN(), math.NaN()
			continue
		}
		r[k] /= float64(c)
		prof[k] /= float64(c)
	}
	return r, prof, nil
}

// PowerSpectrum returns the radially averaged 2-D power spectrum of img,
//
//	P(k) = |Σ_{row,col} x e^{−2πi (u·col/nx + v·row/ny)}|² / (nx·ny),
//
// averaged over the frequencies in annuli of |k| = √((u/nx)² + (v/ny)²)
// (cycles per pixel) of width 0.5/nbins up to the Nyquist frequency 0.5.
// With this normalisation white noise of variance σ² has E P(k) = σ² at
// every k ≠ 0. The k = 0 term (the squared total) is left out. k[b] is the
// mean |k| of annulus b; empty annuli are NaN. NaN pixels are an error.
func PowerSpectrum(img []float64, nx, ny, nbins int) (k, p []float64, err error) {
	if err := checkImage("PowerSpectrum", img, nx, ny); err != nil {
		return nil, nil, err
	}
	if nbins <= 0 {
		return nil, nil, fmt.Errorf("diag: PowerSpectrum: nbins = %d, want positive", nbins)
	}
	buf := make([]complex128, nx*ny)
	for i, v := range img {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, nil, fmt.Errorf("diag: PowerSpectrum: pixel %d is %g", i, v)
		}
		buf[i] = complex(v, 0)
	}
	rowFFT := fourier.NewCmplxFFT(nx)
	line := make([]complex128, max(nx, ny))
	for row := range ny {
		s := buf[row*nx : (row+1)*nx]
		rowFFT.Coefficients(line[:nx], s)
		copy(s, line[:nx])
	}
	colFFT := fourier.NewCmplxFFT(ny)
	col := make([]complex128, ny)
	for c := range nx {
		for row := range ny {
			col[row] = buf[row*nx+c]
		}
		colFFT.Coefficients(line[:ny], col)
		for row := range ny {
			buf[row*nx+c] = line[row]
		}
	}
	k = make([]float64, nbins)
	p = make([]float64, nbins)
	cnt := make([]int, nbins)
	norm := 1 / float64(nx*ny)
	dk := 0.5 / float64(nbins)
	for v := range ny {
		fv := float64(v) / float64(ny)
		if v > ny/2 {
			fv -= 1
		}
		for u := range nx {
			if u == 0 && v == 0 {
				continue
			}
			fu := float64(u) / float64(nx)
			if u > nx/2 {
				fu -= 1
			}
			kk := math.Hypot(fu, fv)
			b := int(kk / dk)
			if b >= nbins {
				continue
			}
			a := cmplx.Abs(buf[v*nx+u])
			k[b] += kk
			p[b] += a * a * norm
			cnt[b]++
		}
	}
	for b, c := range cnt {
		if c == 0 {
			k[b], p[b] = math.NaN(), math.NaN()
			continue
		}
		k[b] /= float64(c)
		p[b] /= float64(c)
	}
	return k, p, nil
}

// Shape holds flux-weighted moments and light-profile radii of an image.
// Lengths are in pixels, positions in pixel-index coordinates (column x,
// row y; row 0 at the most negative y, so angles are counter-clockwise from
// +x as on the sky with x to the right).
type Shape struct {
	Flux   float64 // Σ w
	CX, CY float64 // centroid
	// Second central moments Q_ab = Σ w (a−ā)(b−b̄) / Σ w.
	Qxx, Qyy, Qxy float64
	// E1, E2 are the distortion components (Qxx−Qyy)/(Qxx+Qyy) and
	// 2Qxy/(Qxx+Qyy); Ellipticity = √(E1²+E2²) = (1−q²)/(1+q²).
	E1, E2, Ellipticity float64
	// AxisRatio q = b/a, the square root of the ratio of the eigenvalues
	// of Q.
	AxisRatio float64
	// Angle of the major axis in radians, in (−π/2, π/2].
	Angle float64
	// R20, R50 (half-light radius), R80: radii of circles about the
	// centroid that enclose 20, 50 and 80 % of the flux.
	R20, R50, R80 float64
	// Concentration C = 5 log₁₀(R80/R20).
	Concentration float64
}

// Moments measures the Shape of img. Weights are w = max(pixel, 0): negative
// (noise) pixels are clipped, NaN pixels ignored. It is an error if no pixel
// is positive.
func Moments(img []float64, nx, ny int) (Shape, error) {
	var s Shape
	if err := checkImage("Moments", img, nx, ny); err != nil {
		return s, err
	}
	w := func(i int) float64 {
		v := img[i]
		if !(v > 0) || math.IsInf(v, 1) {
			return 0
		}
		return v
	}
	var sx, sy float64
	for row := range ny {
		for col := range nx {
			wi := w(row*nx + col)
			s.Flux += wi
			sx += wi * float64(col)
			sy += wi * float64(row)
		}
	}
	if !(s.Flux > 0) {
		return s, fmt.Errorf("diag: Moments: image has no positive pixel")
	}
	s.CX, s.CY = sx/s.Flux, sy/s.Flux
	type pd struct{ d, w float64 }
	pix := make([]pd, 0, nx*ny)
	for row := range ny {
		for col := range nx {
			wi := w(row*nx + col)
			if wi == 0 {
				continue
			}
			dx, dy := float64(col)-s.CX, float64(row)-s.CY
			s.Qxx += wi * dx * dx
			s.Qyy += wi * dy * dy
			s.Qxy += wi * dx * dy
			pix = append(pix, pd{math.Hypot(dx, dy), wi})
		}
	}
	s.Qxx /= s.Flux
	s.Qyy /= s.Flux
	s.Qxy /= s.Flux
	tr := s.Qxx + s.Qyy
	if tr > 0 {
		s.E1 = (s.Qxx - s.Qyy) / tr
		s.E2 = 2 * s.Qxy / tr
	}
	s.Ellipticity = math.Hypot(s.E1, s.E2)
	s.Angle = 0.5 * math.Atan2(2*s.Qxy, s.Qxx-s.Qyy)
	if s.Angle <= -math.Pi/2 {
		s.Angle += math.Pi
	}
	disc := math.Hypot((s.Qxx-s.Qyy)/2, s.Qxy)
	l1, l2 := tr/2+disc, tr/2-disc
	if l1 > 0 {
		s.AxisRatio = math.Sqrt(math.Max(l2, 0) / l1)
	}

	sort.Slice(pix, func(i, j int) bool { return pix[i].d < pix[j].d })
	// The enclosed flux is interpolated linearly between the sorted pixel
	// distances; each pixel contributes half its flux at its own distance
	// (its area straddles that radius).
	radius := func(frac float64) float64 {
		target := frac * s.Flux
		var prevD, prevE, cum float64
		for _, p := range pix {
			e := cum + p.w/2
			cum += p.w
			if e >= target {
				if e == prevE {
					return p.d
				}
				return prevD + (p.d-prevD)*(target-prevE)/(e-prevE)
			}
			prevD, prevE = p.d, e
		}
		return pix[len(pix)-1].d
	}
	s.R20, s.R50, s.R80 = radius(0.2), radius(0.5), radius(0.8)
	if s.R20 > 0 {
		s.Concentration = 5 * math.Log10(s.R80/s.R20)
	}
	return s, nil
}
