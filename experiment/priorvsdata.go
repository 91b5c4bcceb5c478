package experiment

import (
	"context"
	"fmt"
	"image/color"
	"math"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/plot"
)

// PriorVsDataOptions configures PriorVsData. Zero values select the defaults.
type PriorVsDataOptions struct {
	Samples   int // unconditional prior samples (16); as many galaxies are shown (at most all)
	Steps     int // reverse-time steps (0: automatic)
	Sampler   string
	NoDenoise bool // skip the final Tweedie step (done by default)
	// NearZero is the |pixel| threshold of the "near zero" fraction (0.02,
	// in the peak-1 units of the galaxies).
	NearZero float64
	// Cols is the number of columns of the image grid (8).
	Cols int
}

// ImageSetStats summarises one set of images.
type ImageSetStats struct {
	Count int `json:"count"`
	// ProfileR (pixels) and Profile: mean radial profile about each image's
	// flux centroid, each profile divided by its image's maximum.
	ProfileR []float64 `json:"profile_r_pix"`
	Profile  []float64 `json:"profile"`
	// PowerK (cycles per pixel) and Power: mean radially averaged power
	// spectrum (package diag's normalisation).
	PowerK []float64 `json:"power_k"`
	Power  []float64 `json:"power"`
	// Shape statistics, mean and standard deviation over the images
	// (those with positive flux).
	Concentration MeanSD `json:"concentration"`
	Ellipticity   MeanSD `json:"ellipticity"`
	HalfLight     MeanSD `json:"r50_pix"`
	R20Pix        MeanSD `json:"r20_pix"`
	R80Pix        MeanSD `json:"r80_pix"`
	// Pixel-value histogram moments pooled over the images.
	PixelMean     float64 `json:"pixel_mean"`
	PixelStd      float64 `json:"pixel_std"`
	PixelSkew     float64 `json:"pixel_skewness"`
	PixelMin      float64 `json:"pixel_min"`
	PixelMax      float64 `json:"pixel_max"`
	FracNearZero  float64 `json:"frac_near_zero"`
	FracNegative  float64 `json:"frac_negative"`
	ShapesSkipped int     `json:"shapes_skipped"`
}

// MeanSD is a mean and a standard deviation.
type MeanSD struct {
	Mean float64 `json:"mean"`
	SD   float64 `json:"sd"`
}

// PriorVsDataResult holds the comparison (also prior_vs_data.json).
type PriorVsDataResult struct {
	Prior    string        `json:"prior"`
	NearZero float64       `json:"near_zero_threshold"`
	PriorSet ImageSetStats `json:"prior_samples"`
	DataSet  ImageSetStats `json:"galaxies"`
	Timing   Timing        `json:"timing"`
	Files    []string      `json:"files"`
}

// PriorVsData draws unconditional samples of the prior (no likelihood,
// Tweedie-denoised) and compares them with validation galaxies: an image
// grid (prior_vs_data.png, prior samples first), the mean radial profiles
// (prior_vs_data_profile.png), the mean power spectra
// (prior_vs_data_power.png), shape statistics (concentration, ellipticity,
// R20/R50/R80) and pixel-value moments (prior_vs_data.json).
func PriorVsData(ctx context.Context, s Setup, o PriorVsDataOptions, dir string) (*PriorVsDataResult, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	if err := s.needGalaxies("prior-vs-data"); err != nil {
		return nil, err
	}
	if o.Samples == 0 {
		o.Samples = 16
	}
	if o.Samples < 1 {
		return nil, fmt.Errorf("experiment: prior-vs-data: Samples must be ≥ 1, got %d", o.Samples)
	}
	if o.Sampler == "" {
		o.Sampler = "em"
	}
	if o.NearZero == 0 {
		o.NearZero = 0.02
	}
	if o.Cols == 0 {
		o.Cols = 8
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	s.logf("prior-vs-data: %d prior samples", o.Samples)
	res, wall, err := s.sample(ctx, nil, sampleOpts{Steps: o.Steps, Sampler: o.Sampler, Denoise: !o.NoDenoise,
		Chains: o.Samples, Seed: seedFor(s.Seed, tagPrior, tagSampler)})
	if err != nil {
		return nil, fmt.Errorf("experiment: prior-vs-data: %w", err)
	}
	if err := checkCtx(ctx, "prior-vs-data"); err != nil {
		return nil, err
	}
	gal := s.Galaxies[:min(o.Samples, len(s.Galaxies))]
	n := s.Side
	ps, err := setStats(res.Samples, n, o.NearZero)
	if err != nil {
		return nil, fmt.Errorf("experiment: prior-vs-data: prior samples: %w", err)
	}
	ds, err := setStats(gal, n, o.NearZero)
	if err != nil {
		return nil, fmt.Errorf("experiment: prior-vs-data: galaxies: %w", err)
	}

	// Image grid: prior samples, then galaxies, each block filling whole rows.
	var imgs [][]float64
	var titles []string
	for k, x := range res.Samples {
		imgs = append(imgs, x)
		titles = append(titles, fmt.Sprintf("prior %d", k+1))
	}
	for len(imgs)%o.Cols != 0 {
		imgs = append(imgs, make([]float64, n*n))
		titles = append(titles, "")
	}
	for i, g := range gal {
		imgs = append(imgs, g)
		titles = append(titles, "galaxy: "+s.name(i))
	}
	if err := plot.Grid(join(dir, "prior_vs_data.png"), imgs, n, n, o.Cols, titles); err != nil {
		return nil, err
	}
	blue, orange := color.NRGBA{31, 119, 180, 255}, color.NRGBA{255, 127, 14, 255}
	if err := plot.CurveWith(join(dir, "prior_vs_data_power.png"),
		fmt.Sprintf("mean power spectrum — %s vs validation galaxies", s.PriorName), "k (cycles per pixel)", "P(k)",
		plot.CurveOptions{LogY: true},
		plot.Series{Label: fmt.Sprintf("prior samples (%d)", ps.Count), X: ps.PowerK, Y: ps.Power, Color: blue},
		plot.Series{Label: fmt.Sprintf("galaxies (%d)", ds.Count), X: ds.PowerK, Y: ds.Power, Color: orange, Dashed: true},
	); err != nil {
		return nil, err
	}
	if err := plot.CurveWith(join(dir, "prior_vs_data_profile.png"),
		fmt.Sprintf("mean radial profile — %s vs validation galaxies", s.PriorName), "radius (source pixels)", "brightness / image maximum",
		plot.CurveOptions{},
		plot.Series{Label: "prior samples", X: ps.ProfileR, Y: ps.Profile, Color: blue},
		plot.Series{Label: "galaxies", X: ds.ProfileR, Y: ds.Profile, Color: orange, Dashed: true},
	); err != nil {
		return nil, err
	}
	out := &PriorVsDataResult{Prior: s.PriorName, NearZero: o.NearZero, PriorSet: *ps, DataSet: *ds,
		Timing: timingOf(res, wall),
		Files:  []string{"prior_vs_data.png", "prior_vs_data_power.png", "prior_vs_data_profile.png", "prior_vs_data.json"}}
	if err := WriteJSON(join(dir, "prior_vs_data.json"), out); err != nil {
		return nil, err
	}
	s.logf("prior-vs-data: concentration %.2f vs %.2f, ellipticity %.2f vs %.2f, near-zero fraction %.2f vs %.2f",
		ps.Concentration.Mean, ds.Concentration.Mean, ps.Ellipticity.Mean, ds.Ellipticity.Mean, ps.FracNearZero, ds.FracNearZero)
	return out, nil
}

// setStats computes ImageSetStats for n×n images.
func setStats(imgs [][]float64, n int, nearZero float64) (*ImageSetStats, error) {
	st := &ImageSetStats{Count: len(imgs)}
	nb := n / 2
	var profR, prof, powK, pow [][]float64
	var conc, ell, r20, r50, r80 []float64
	var sum, sum2, cnt, near, neg float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range imgs {
		for _, v := range x {
			sum += v
			sum2 += v * v
			cnt++
			if math.Abs(v) < nearZero {
				near++
			}
			if v < 0 {
				neg++
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		k, p, err := diag.PowerSpectrum(x, n, n, nb)
		if err != nil {
			return nil, err
		}
		powK, pow = append(powK, k), append(pow, p)
		sh, err := diag.Moments(x, n, n)
		if err != nil { // no positive pixel: no shape
			st.ShapesSkipped++
			continue
		}
		conc, ell = append(conc, sh.Concentration), append(ell, sh.Ellipticity)
		r20, r50, r80 = append(r20, sh.R20), append(r50, sh.R50), append(r80, sh.R80)
		r, pr, err := diag.RadialProfile(x, n, n, sh.CX, sh.CY, 1, nb)
		if err != nil {
			return nil, err
		}
		if m := maxOf(x); m > 0 {
			for i := range pr {
				pr[i] /= m
			}
		}
		profR, prof = append(profR, r), append(prof, pr)
	}
	st.PowerK, st.Power = meanCurves(powK), meanCurves(pow)
	st.ProfileR, st.Profile = meanCurves(profR), meanCurves(prof)
	st.Concentration, st.Ellipticity = meanSD(conc), meanSD(ell)
	st.R20Pix, st.HalfLight, st.R80Pix = meanSD(r20), meanSD(r50), meanSD(r80)
	mu := sum / cnt
	st.PixelMean, st.PixelStd = mu, math.Sqrt(math.Max(0, sum2/cnt-mu*mu))
	var m3 float64
	for _, x := range imgs {
		for _, v := range x {
			d := v - mu
			m3 += d * d * d
		}
	}
	st.PixelSkew = m3 / cnt / math.Pow(st.PixelStd, 3)
	st.PixelMin, st.PixelMax = lo, hi
	st.FracNearZero, st.FracNegative = near/cnt, neg/cnt
	return st, nil
}

// meanCurves averages curves of equal length pointwise over their non-NaN
// values (NaN where none).
func meanCurves(cs [][]float64) []float64 {
	if len(cs) == 0 {
		return nil
	}
	out := make([]float64, len(cs[0]))
	for i := range out {
		s, k := 0.0, 0
		for _, c := range cs {
			if !math.IsNaN(c[i]) {
				s += c[i]
				k++
			}
		}
		out[i] = math.NaN()
		if k > 0 {
			out[i] = s / float64(k)
		}
	}
	return out
}

func meanSD(v []float64) MeanSD {
	if len(v) == 0 {
		return MeanSD{math.NaN(), math.NaN()}
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	mu := s / float64(len(v))
	s2 := 0.0
	for _, x := range v {
		s2 += (x - mu) * (x - mu)
	}
	sd := 0.0
	if len(v) > 1 {
		sd = math.Sqrt(s2 / float64(len(v)-1))
	}
	return MeanSD{mu, sd}
}
