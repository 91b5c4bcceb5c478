package lensfit

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/lenscore/lenscore/progress"
)

// ScanOptions configures Scan.
type ScanOptions struct {
	// Params are indices into the free-parameter vector to scan (default:
	// every free lens parameter, not log10 a).
	Params []int
	// Half is the half-width of the scan per free parameter (all Dim()
	// entries). By default each line spans ±HalfSigma (default 5)
	// conditional standard deviations σ_k = h/√(2Δ), from the drop Δ of the
	// log posterior between the point and the mean of its two neighbours
	// at ±h = Probe × Objective.Steps() (Probe default 0.1: wide enough
	// that the ripples hardly bias it); ±h when Δ ≤ 0.
	Half      []float64
	HalfSigma float64
	Probe     float64
	// Points per scan line, odd so that the centre is one (default 61).
	Points int
	// Progress, when set, receives progress lines (points, rate, ETA).
	Progress io.Writer
}

// ScanLine is one 1-D scan of the log posterior through a point.
type ScanLine struct {
	Name    string    `json:"name"`
	Center  float64   `json:"center"`
	Half    float64   `json:"half_width"`
	Offset  []float64 `json:"offset"`   // parameter − Center
	LogPost []float64 `json:"log_post"` // log posterior (−Inf outside the prior's support)
	Smooth  []float64 `json:"smooth"`   // the least-squares quartic in Offset
	// RMS and Max are the root mean square and the largest absolute value
	// of LogPost − Smooth: the ripples.
	RMS float64 `json:"ripple_rms"`
	Max float64 `json:"ripple_max"`
	// Sigma is 1/√(−2c₂), c₂ the quartic's quadratic coefficient: the
	// width of the smooth part (NaN when it is not concave); the scan
	// spans ±Half/Sigma of those widths.
	Sigma float64 `json:"sigma_smooth"`
}

// ScanResult is the output of Scan.
type ScanResult struct {
	Lines          []ScanLine `json:"lines"`
	Evaluations    int        `json:"evaluations"`
	Seconds        float64    `json:"seconds"`
	SecondsPerEval float64    `json:"seconds_per_evaluation"`
	// RMS is the root mean square of the lines' ripple RMS values and Max
	// the largest of their maxima.
	RMS float64 `json:"ripple_rms"`
	Max float64 `json:"ripple_max"`
}

// Scan evaluates the log posterior on 1-D lines through at (a free-
// parameter vector) along each scanned parameter, fits a quartic to each
// line by least squares and reports what the quartic does not explain:
// the ripples that the pixelated source and bilinear interpolation put on
// the evidence (see the package documentation). The evaluation time is
// wall-clock time of the whole scan divided by its evaluations.
func Scan(ctx context.Context, o *Objective, at []float64, opt ScanOptions) (*ScanResult, error) {
	d := o.Dim()
	if len(at) != d {
		return nil, fmt.Errorf("lensfit: scan: the point has %d values, want %d", len(at), d)
	}
	if opt.Points == 0 {
		opt.Points = 61
	}
	if opt.Points < 7 || opt.Points%2 == 0 {
		return nil, fmt.Errorf("lensfit: scan: %d points per line, want an odd number ≥ 7", opt.Points)
	}
	if opt.HalfSigma == 0 {
		opt.HalfSigma = 5
	}
	if opt.Probe == 0 {
		opt.Probe = 0.1
	}
	if !(opt.HalfSigma > 0) || math.IsInf(opt.HalfSigma, 0) || !(opt.Probe > 0) || math.IsInf(opt.Probe, 0) {
		return nil, fmt.Errorf("lensfit: scan: half-width %g σ and probe %g steps, want both > 0", opt.HalfSigma, opt.Probe)
	}
	t0 := time.Now()
	e0 := o.Evals
	x := make([]float64, d)
	half := opt.Half
	var f0 float64
	if half == nil {
		f0 = o.LogPost(at)
		for k, s := range o.Steps() {
			h := opt.Probe * s
			copy(x, at)
			x[k] = at[k] + h
			fp := o.LogPost(x)
			x[k] = at[k] - h
			fm := o.LogPost(x)
			if dl := f0 - 0.5*(fp+fm); dl > 0 && !math.IsInf(dl, 0) {
				h = opt.HalfSigma * h / math.Sqrt(2*dl)
			}
			half = append(half, h)
		}
	}
	if len(half) != d {
		return nil, fmt.Errorf("lensfit: scan: %d half-widths, want %d", len(half), d)
	}
	params := opt.Params
	if params == nil {
		for k := 0; k < len(o.free); k++ {
			params = append(params, k)
		}
	}
	names := o.Names()
	res := &ScanResult{}
	var sum2 float64
	var bar *progress.Bar
	if opt.Progress != nil {
		bar = progress.New(opt.Progress, "scan", 0, len(params)*opt.Points)
	}
	for _, k := range params {
		if k < 0 || k >= d {
			return nil, fmt.Errorf("lensfit: scan: parameter index %d out of [0, %d)", k, d)
		}
		if !(half[k] > 0) {
			return nil, fmt.Errorf("lensfit: scan: half-width of %s is %g, want > 0", names[k], half[k])
		}
		ln := ScanLine{Name: names[k], Center: at[k], Half: half[k]}
		for i := 0; i < opt.Points; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			u := -1 + 2*float64(i)/float64(opt.Points-1)
			copy(x, at)
			x[k] = at[k] + u*half[k]
			ln.Offset = append(ln.Offset, u*half[k])
			ln.LogPost = append(ln.LogPost, o.LogPost(x))
			if bar != nil {
				bar.Update(len(res.Lines)*opt.Points+i+1, "line="+names[k])
			}
		}
		c, err := polyFit(ln.Offset, ln.LogPost, half[k], 4)
		if err != nil {
			return nil, fmt.Errorf("lensfit: scan of %s: %w", names[k], err)
		}
		for i, t := range ln.Offset {
			s := polyEval(c, t/half[k])
			ln.Smooth = append(ln.Smooth, s)
			r := ln.LogPost[i] - s
			ln.RMS += r * r
			ln.Max = math.Max(ln.Max, math.Abs(r))
		}
		ln.RMS = math.Sqrt(ln.RMS / float64(len(ln.Offset)))
		ln.Sigma = math.NaN()
		if c2 := c[2] / (half[k] * half[k]); c2 < 0 {
			ln.Sigma = 1 / math.Sqrt(-2*c2)
		}
		sum2 += ln.RMS * ln.RMS
		res.Max = math.Max(res.Max, ln.Max)
		res.Lines = append(res.Lines, ln)
	}
	res.RMS = math.Sqrt(sum2 / float64(max(1, len(res.Lines))))
	res.Evaluations = o.Evals - e0
	res.Seconds = time.Since(t0).Seconds()
	res.SecondsPerEval = res.Seconds / float64(max(1, res.Evaluations))
	return res, nil
}

// polyFit returns the coefficients c_0…c_deg of the least-squares
// polynomial Σ c_j (x/h)^j through (x, y), by the normal equations in the
// scaled variable x/h ∈ [−1, 1] (well conditioned at degree 4). Points
// with a non-finite y are an error.
func polyFit(x, y []float64, h float64, deg int) ([]float64, error) {
	n := deg + 1
	a := make([]float64, n*n)
	b := make([]float64, n)
	pw := make([]float64, 2*n)
	for i, xi := range x {
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("log posterior %g at offset %g (outside the prior's support or a failed evaluation): narrow the scan", y[i], xi)
		}
		u := xi / h
		pw[0] = 1
		for j := 1; j < 2*n; j++ {
			pw[j] = pw[j-1] * u
		}
		for r := 0; r < n; r++ {
			b[r] += pw[r] * y[i]
			for c := 0; c < n; c++ {
				a[r*n+c] += pw[r+c]
			}
		}
	}
	// Gaussian elimination with partial pivoting.
	for col := 0; col < n; col++ {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r*n+col]) > math.Abs(a[p*n+col]) {
				p = r
			}
		}
		if a[p*n+col] == 0 {
			return nil, fmt.Errorf("degenerate polynomial fit (%d points)", len(x))
		}
		if p != col {
			for c := 0; c < n; c++ {
				a[p*n+c], a[col*n+c] = a[col*n+c], a[p*n+c]
			}
			b[p], b[col] = b[col], b[p]
		}
		for r := col + 1; r < n; r++ {
			f := a[r*n+col] / a[col*n+col]
			for c := col; c < n; c++ {
				a[r*n+c] -= f * a[col*n+c]
			}
			b[r] -= f * b[col]
		}
	}
	c := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < n; k++ {
			s -= a[r*n+k] * c[k]
		}
		c[r] = s / a[r*n+r]
	}
	return c, nil
}

// polyEval evaluates Σ c_j u^j.
func polyEval(c []float64, u float64) float64 {
	var s float64
	for j := len(c) - 1; j >= 0; j-- {
		s = s*u + c[j]
	}
	return s
}
