package observation

import (
	"fmt"
	"math"
	"strings"

	"github.com/lenscore/lenscore/fits"
)

// IsWCSKey reports whether a header keyword belongs to the world-coordinate
// system of a 2-D image (FITS WCS papers I and II, linear and celestial
// parts; distortion polynomials are not carried).
func IsWCSKey(key string) bool {
	k := strings.ToUpper(strings.TrimSpace(key))
	switch k {
	case "WCSAXES", "RADESYS", "RADECSYS", "EQUINOX", "EPOCH", "LONPOLE", "LATPOLE", "CROTA1", "CROTA2", "WCSNAME", "MJDREF":
		return true
	}
	for _, p := range []string{"CTYPE", "CRPIX", "CRVAL", "CDELT", "CUNIT"} {
		if strings.HasPrefix(k, p) && (k == p+"1" || k == p+"2") {
			return true
		}
	}
	for _, p := range []string{"CD", "PC"} {
		switch strings.TrimPrefix(k, p) {
		case "1_1", "1_2", "2_1", "2_2":
			if strings.HasPrefix(k, p) {
				return true
			}
		}
	}
	return false
}

func wcsFloat(cards []fits.Card, key string) (float64, bool, error) {
	h := fits.Header{Cards: cards}
	v, ok, err := h.Float(key)
	if err != nil {
		return 0, false, fmt.Errorf("WCS keyword %s: %w", key, err)
	}
	return v, ok, nil
}

// WCSPixelScale returns the pixel scale in arcsec of a celestial WCS: the
// square root of the absolute determinant of the CD matrix (or of
// CDELT·PC), converted from CUNIT (degrees unless it says arcsec). ok is false when the cards
// hold no celestial linear transform. Pixels more than 1 % from square are
// an error: lenscore's grids have square pixels.
func WCSPixelScale(cards []fits.Card) (scale float64, ok bool, err error) {
	h := fits.Header{Cards: cards}
	ct, _, _ := h.String("CTYPE1")
	ct = strings.ToUpper(ct)
	if !(strings.HasPrefix(ct, "RA") || strings.HasPrefix(ct, "DEC") || strings.Contains(ct, "LON") || strings.Contains(ct, "LAT")) {
		return 0, false, nil
	}
	var m [4]float64
	have := false
	for i, k := range []string{"CD1_1", "CD1_2", "CD2_1", "CD2_2"} {
		v, ok, err := wcsFloat(cards, k)
		if err != nil {
			return 0, false, err
		}
		if ok {
			have = true
		}
		m[i] = v
	}
	if !have {
		c1, ok1, err := wcsFloat(cards, "CDELT1")
		if err != nil {
			return 0, false, err
		}
		c2, ok2, err := wcsFloat(cards, "CDELT2")
		if err != nil {
			return 0, false, err
		}
		if !ok1 || !ok2 {
			return 0, false, nil
		}
		pc := [4]float64{1, 0, 0, 1}
		for i, k := range []string{"PC1_1", "PC1_2", "PC2_1", "PC2_2"} {
			v, ok, err := wcsFloat(cards, k)
			if err != nil {
				return 0, false, err
			}
			if ok {
				pc[i] = v
			}
		}
		m = [4]float64{c1 * pc[0], c1 * pc[1], c2 * pc[2], c2 * pc[3]}
	}
	sx := math.Hypot(m[0], m[2])
	sy := math.Hypot(m[1], m[3])
	det := math.Abs(m[0]*m[3] - m[1]*m[2])
	if !(det > 0) || math.IsInf(det, 0) {
		return 0, false, fmt.Errorf("WCS: the pixel-to-sky matrix is singular or not finite (det %g)", det)
	}
	if math.Abs(sx/sy-1) > 0.01 {
		return 0, false, fmt.Errorf("WCS: pixels are not square (%g × %g per pixel); resample the image first", sx, sy)
	}
	u, _, _ := h.String("CUNIT1")
	f := 3600.0
	switch strings.ToLower(strings.TrimSpace(u)) {
	case "", "deg":
	case "arcsec":
		f = 1
	case "arcmin":
		f = 60
	case "rad":
		f = 180 / math.Pi * 3600
	default:
		return 0, false, fmt.Errorf("WCS: unknown CUNIT1 %q", u)
	}
	return math.Sqrt(det) * f, true, nil
}

// ShiftWCS returns the cards for a cut-out whose pixel (0, 0) (0-based) is
// pixel (col0, row0) of the original: CRPIXi decreases by the offset.
func ShiftWCS(cards []fits.Card, col0, row0 int) []fits.Card {
	out := append([]fits.Card(nil), cards...)
	for i := range out {
		switch strings.ToUpper(out[i].Key) {
		case "CRPIX1":
			out[i].Value = toFloat(out[i].Value) - float64(col0)
		case "CRPIX2":
			out[i].Value = toFloat(out[i].Value) - float64(row0)
		}
	}
	return out
}

// RebinWCS returns the cards for an image rebinned by k×k blocks starting at
// pixel 1: CRPIX' = (CRPIX − ½)/k + ½, and the CD matrix (or CDELT) is
// multiplied by k.
func RebinWCS(cards []fits.Card, k int) []fits.Card {
	out := append([]fits.Card(nil), cards...)
	fk := float64(k)
	for i := range out {
		switch strings.ToUpper(out[i].Key) {
		case "CRPIX1", "CRPIX2":
			out[i].Value = (toFloat(out[i].Value)-0.5)/fk + 0.5
		case "CD1_1", "CD1_2", "CD2_1", "CD2_2", "CDELT1", "CDELT2":
			out[i].Value = toFloat(out[i].Value) * fk
		}
	}
	return out
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return math.NaN()
}
