package plot

import (
	"fmt"
	"math"

	"github.com/lenscore/lenscore/diag"
	"gonum.org/v1/plot/vg"
)

const (
	cellW = 2.85 * vg.Inch
	cellH = 2.6 * vg.Inch
)

func unitsOr(u string) string {
	if u == "" {
		return "brightness [arb. units]"
	}
	return u
}

func snrRange(r float64) float64 {
	if r > 0 {
		return r
	}
	return 3
}

// Fig1Data holds the panels of Fig1. Source-plane images are NX×NY with
// SourceScale arcsec per pixel, image-plane images MX×MY with ImageScale
// (0: axes in pixels, ticks hidden).
type Fig1Data struct {
	Title string

	NX, NY      int
	SourceScale float64
	// Truth is the true source; nil when unknown.
	Truth []float64
	// Sample2 (and ASample2, Std) are nil for a single sample: their
	// panels then say why they are empty.
	Sample1, Sample2 []float64
	Mean, Std        []float64 // posterior mean and std of the samples

	MX, MY     int
	ImageScale float64
	// Observation is y; ASample1, ASample2, AMean are A applied to the
	// corresponding sources.
	Observation, ASample1, ASample2, AMean []float64
	// AStd is the per-pixel std of A·x over the samples; when nil the
	// noise level σ_n is drawn instead.
	AStd  []float64
	Noise diag.Noise

	// Units labels the brightness colour bars.
	Units string
	// SNRRange is the ± range of the residual maps (default 3).
	SNRRange float64
}

// Fig1 writes the layout of Adam et al. (2022), fig. 1. Top row (source
// plane): truth, two samples, posterior mean, posterior std and
// (x_true − mean)/std. Bottom row (image plane): y, A·sample₁, A·sample₂,
// A·mean, the std of A·x (or σ_n) and (y − A·mean)/σ_n. Brightness panels
// of a row share the colour range of the truth (top; the mean when the truth
// is unknown) or of the observation (bottom); values outside it take the
// end colours.
func Fig1(path string, f Fig1Data) error {
	fig, err := fig1Figure(f)
	if err != nil {
		return err
	}
	return fig.write(path)
}

// oneSample is the note of the panels that need two samples or more.
const oneSample = "needs ≥ 2 samples"

func fig1Figure(f Fig1Data) (*figure, error) {
	units := unitsOr(f.Units)
	R := snrRange(f.SNRRange)
	src := func(title string, d []float64) *panel {
		return &panel{title: title, data: d, nx: f.NX, ny: f.NY, scale: f.SourceScale, label: units}
	}
	img := func(title string, d []float64) *panel {
		return &panel{title: title, data: d, nx: f.MX, ny: f.MY, scale: f.ImageScale, label: units}
	}
	for name, v := range map[string][]float64{"Sample1": f.Sample1, "Mean": f.Mean,
		"Observation": f.Observation, "ASample1": f.ASample1, "AMean": f.AMean} {
		if v == nil {
			return nil, fmt.Errorf("plot: Fig1: %s is nil", name)
		}
	}
	if (f.Sample2 == nil) != (f.ASample2 == nil) || (f.Sample2 == nil) != (f.Std == nil) {
		return nil, fmt.Errorf("plot: Fig1: Sample2, ASample2 and Std must all be given (two samples or more) or all nil (one sample)")
	}
	top := []*panel{
		src("ground truth", f.Truth), src("posterior sample 1", f.Sample1), src("posterior sample 2", f.Sample2),
		src("posterior mean", f.Mean), src("posterior std", f.Std), nil,
	}
	ref := f.Truth
	if ref == nil {
		ref = f.Mean
		top[0].note = "ground truth unknown"
	}
	lo, hi := finiteRange(ref)
	for _, p := range top[:4] {
		p.min, p.max = lo, hi
		p.fixRange()
	}
	if f.Std != nil {
		top[4].autoRange()
		top[4].min = 0
		top[4].fixRange()
	} else {
		top[2].note, top[4].note = oneSample, oneSample
	}
	snr := src("(truth − mean) / std", nil)
	snr.cmap, snr.min, snr.max, snr.label = Diverging, -R, R, "residual SNR [σ]"
	if f.Truth != nil && f.Std != nil {
		if err := top[0].check("Fig1 Truth"); err != nil {
			return nil, err
		}
		if err := top[3].check("Fig1 Mean"); err != nil {
			return nil, err
		}
		if err := top[4].check("Fig1 Std"); err != nil {
			return nil, err
		}
		snr.data = make([]float64, len(f.Truth))
		if err := diag.SourceResidualSNR(snr.data, f.Truth, f.Mean, f.Std); err != nil {
			return nil, fmt.Errorf("plot: Fig1: %w", err)
		}
	} else if f.Truth == nil {
		snr.note = "needs the ground truth"
	} else {
		snr.note = oneSample
	}
	top[5] = snr

	bottom := []*panel{
		img("observation y", f.Observation), img("A · sample 1", f.ASample1), img("A · sample 2", f.ASample2),
		img("A · mean", f.AMean), nil, nil,
	}
	if f.ASample2 == nil {
		bottom[2].note = oneSample
	}
	lo, hi = finiteRange(f.Observation)
	for _, p := range bottom[:4] {
		p.min, p.max = lo, hi
		p.fixRange()
	}
	if f.AStd != nil {
		bottom[4] = img("std of A · samples", f.AStd)
		bottom[4].autoRange()
		bottom[4].min = 0
		bottom[4].fixRange()
	} else {
		m := f.MX * f.MY
		sig := make([]float64, m)
		for i := range sig {
			switch {
			case f.Noise.Mask != nil && i < len(f.Noise.Mask) && f.Noise.Mask[i]:
				sig[i] = math.NaN()
			case f.Noise.Map != nil && i < len(f.Noise.Map):
				sig[i] = f.Noise.Map[i]
			default:
				sig[i] = f.Noise.Sigma
			}
		}
		bottom[4] = img("noise level σ_n", sig)
		bottom[4].autoRange()
	}
	res := img("", make([]float64, f.MX*f.MY))
	res.cmap, res.min, res.max, res.label = Diverging, -R, R, "residual SNR [σ]"
	if err := bottom[3].check("Fig1 AMean"); err != nil {
		return nil, err
	}
	if err := bottom[0].check("Fig1 Observation"); err != nil {
		return nil, err
	}
	if _, err := diag.ResidualSNR(res.data, f.Observation, f.AMean, f.Noise); err != nil {
		return nil, fmt.Errorf("plot: Fig1: %w", err)
	}
	chi, _, _ := diag.ChiSquaredNuModel(f.Observation, f.AMean, f.Noise)
	res.title = fmt.Sprintf("(y − A·mean)/σ_n\nχ²/ν = %.2f", chi)
	bottom[5] = res

	fig := &figure{title: f.Title, cells: [][]*panel{top, bottom}, cellW: cellW, cellH: cellH,
		rowLabels: []string{"source plane", "image plane"}}
	return fig, nil
}

// NoiseLevel is one column of Fig2.
type NoiseLevel struct {
	SigmaN float64
	// Observation is y (image plane); Sample one posterior sample and Mean
	// (optional) the posterior mean, both in the source plane.
	Observation, Sample, Mean []float64
}

// Fig2Data holds the noise ladder of Fig2.
type Fig2Data struct {
	Title       string
	NX, NY      int
	SourceScale float64
	MX, MY      int
	ImageScale  float64
	// Truth, when not nil, is drawn once at the left and correlated with
	// every sample and mean.
	Truth  []float64
	Levels []NoiseLevel // in order of increasing σ_n
	Units  string
}

// Fig2 writes the noise ladder: one column per noise level, rows
// observation, posterior sample and (when every level has one) posterior
// mean; the truth in the first column. Titles give σ_n and the Pearson
// correlation ρ with the truth. Source-plane panels share the truth's
// colour range; each observation has its own.
func Fig2(path string, f Fig2Data) error {
	if len(f.Levels) == 0 {
		return fmt.Errorf("plot: Fig2: no noise levels")
	}
	units := unitsOr(f.Units)
	withMean := true
	for _, l := range f.Levels {
		if l.Mean == nil {
			withMean = false
		}
	}
	nrows := 2
	if withMean {
		nrows = 3
	}
	off := 0
	if f.Truth != nil {
		off = 1
	}
	cells := make([][]*panel, nrows)
	for r := range cells {
		cells[r] = make([]*panel, off+len(f.Levels))
	}
	lo, hi := math.NaN(), math.NaN()
	if f.Truth != nil {
		lo, hi = finiteRange(f.Truth)
		t := &panel{title: "ground truth", data: f.Truth, nx: f.NX, ny: f.NY, scale: f.SourceScale, label: units, min: lo, max: hi}
		t.fixRange()
		cells[1][0] = t
	}
	corr := func(x []float64) string {
		if f.Truth == nil || len(x) != len(f.Truth) {
			return ""
		}
		r, err := diag.Pearson(f.Truth, x)
		if err != nil {
			return ""
		}
		return fmt.Sprintf(",  ρ = %.3f", r)
	}
	srcPanel := func(title string, d []float64) *panel {
		p := &panel{title: title, data: d, nx: f.NX, ny: f.NY, scale: f.SourceScale, label: units, min: lo, max: hi}
		if f.Truth == nil {
			p.autoRange()
		}
		p.fixRange()
		return p
	}
	for j, l := range f.Levels {
		if l.Observation == nil || l.Sample == nil {
			return fmt.Errorf("plot: Fig2: level %d: Observation and Sample are required", j)
		}
		o := &panel{title: fmt.Sprintf("observation,  σ_n = %.3g", l.SigmaN), data: l.Observation, nx: f.MX, ny: f.MY, scale: f.ImageScale, label: units}
		o.autoRange()
		cells[0][off+j] = o
		cells[1][off+j] = srcPanel("sample"+corr(l.Sample), l.Sample)
		if withMean {
			cells[2][off+j] = srcPanel("mean"+corr(l.Mean), l.Mean)
		}
	}
	labels := []string{"observation", "posterior sample", "posterior mean"}[:nrows]
	fig := &figure{title: f.Title, cells: cells, cellW: cellW, cellH: cellH, rowLabels: labels}
	return fig.write(path)
}

// Fig3Data holds the samples of Fig3.
type Fig3Data struct {
	Title       string
	NX, NY      int
	SourceScale float64
	MX, MY      int
	ImageScale  float64
	Samples     [][]float64 // K sources
	Recon       [][]float64 // A·x_k
	Observation []float64
	Noise       diag.Noise
	Units       string
	SNRRange    float64
}

// Fig3 writes K posterior samples (top row, sharing one colour range), their
// reconstructed observations A·x_k (middle, the observation's range) and the
// residuals (y − A·x_k)/σ_n (bottom, diverging ±SNRRange), the lower two
// titled with χ²/ν of the sample.
func Fig3(path string, f Fig3Data) error {
	K := len(f.Samples)
	if K == 0 || len(f.Recon) != K {
		return fmt.Errorf("plot: Fig3: %d samples and %d reconstructions, want equal and > 0", K, len(f.Recon))
	}
	units := unitsOr(f.Units)
	R := snrRange(f.SNRRange)
	slo, shi := math.Inf(1), math.Inf(-1)
	for _, s := range f.Samples {
		a, b := finiteRange(s)
		slo, shi = math.Min(slo, a), math.Max(shi, b)
	}
	ilo, ihi := finiteRange(f.Observation)
	cells := [][]*panel{make([]*panel, K), make([]*panel, K), make([]*panel, K)}
	for k := range K {
		s := &panel{title: fmt.Sprintf("sample %d", k+1), data: f.Samples[k], nx: f.NX, ny: f.NY, scale: f.SourceScale, label: units, min: slo, max: shi}
		s.fixRange()
		a := &panel{data: f.Recon[k], nx: f.MX, ny: f.MY, scale: f.ImageScale, label: units, min: ilo, max: ihi}
		a.fixRange()
		if err := a.check(fmt.Sprintf("Fig3 Recon[%d]", k)); err != nil {
			return err
		}
		res := &panel{data: make([]float64, len(f.Recon[k])), nx: f.MX, ny: f.MY, scale: f.ImageScale,
			cmap: Diverging, min: -R, max: R, label: "residual SNR [σ]"}
		if _, err := diag.ResidualSNR(res.data, f.Observation, f.Recon[k], f.Noise); err != nil {
			return fmt.Errorf("plot: Fig3: sample %d: %w", k, err)
		}
		chi, _, _ := diag.ChiSquaredNuModel(f.Observation, f.Recon[k], f.Noise)
		a.title = fmt.Sprintf("A·x%s,  χ²/ν = %.2f", sub(k+1), chi)
		res.title = fmt.Sprintf("(y − A·x%s)/σ_n\nχ²/ν = %.2f", sub(k+1), chi)
		cells[0][k], cells[1][k], cells[2][k] = s, a, res
	}
	fig := &figure{title: f.Title, cells: cells, cellW: cellW, cellH: cellH,
		rowLabels: []string{"source plane", "image plane", "residual"}}
	return fig.write(path)
}

// Grid writes images (each nx×ny, row 0 at the bottom) in a grid of cols
// columns, each with its own colour range and bar, ticks hidden. titles may
// be nil or shorter than images.
func Grid(path string, images [][]float64, nx, ny, cols int, titles []string) error {
	if len(images) == 0 {
		return fmt.Errorf("plot: Grid: no images")
	}
	if cols <= 0 {
		return fmt.Errorf("plot: Grid: cols = %d, want positive", cols)
	}
	rows := (len(images) + cols - 1) / cols
	cells := make([][]*panel, rows)
	for r := range cells {
		cells[r] = make([]*panel, cols)
	}
	for i, im := range images {
		p := &panel{data: im, nx: nx, ny: ny, label: "brightness [arb. units]"}
		if i < len(titles) {
			p.title = titles[i]
		} else {
			p.title = fmt.Sprintf("image %d", i+1)
		}
		if err := p.check(fmt.Sprintf("Grid image %d", i)); err != nil {
			return err
		}
		p.autoRange()
		cells[i/cols][i%cols] = p
	}
	fig := &figure{cells: cells, cellW: 2.6 * vg.Inch, cellH: 2.4 * vg.Inch}
	return fig.write(path)
}

// sub writes n with Unicode subscript digits.
func sub(n int) string {
	d := []rune("₀₁₂₃₄₅₆₇₈₉")
	var out []rune
	for _, c := range fmt.Sprint(n) {
		out = append(out, d[c-'0'])
	}
	return string(out)
}
