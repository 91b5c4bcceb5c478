package plot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/diag"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one curve of a Curve figure.
type Series struct {
	Label string
	X, Y  []float64
	// Lo and Hi, when both set (same length as X), draw a shaded band.
	Lo, Hi []float64
	Dashed bool
	// Color of the line and band; nil picks from a fixed cycle.
	Color color.Color
}

// CurveOptions adjusts a Curve figure.
type CurveOptions struct {
	LogY bool // logarithmic y axis (non-positive values are dropped)
	LogX bool // logarithmic x axis (non-positive values are dropped)
	// Square draws a square data area with equal ranges, as for ECP curves.
	Square bool
	// LegendLeft puts the legend at the top left (for rising curves such as
	// quantile–quantile plots, whose top left is empty).
	LegendLeft bool
}

var cycle = [...]color.NRGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x17, 0xbe, 0xcf, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
}

// Curve writes a line plot of the series (loss curves, ECP curves).
func Curve(path, title, xlabel, ylabel string, series ...Series) error {
	return CurveWith(path, title, xlabel, ylabel, CurveOptions{}, series...)
}

// CurveWith is Curve with options.
func CurveWith(path, title, xlabel, ylabel string, opt CurveOptions, series ...Series) (err error) {
	if len(series) == 0 {
		return fmt.Errorf("plot: Curve %s: no series", path)
	}
	for i, s := range series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return fmt.Errorf("plot: Curve %s: series %d (%q): %d x and %d y values", path, i, s.Label, len(s.X), len(s.Y))
		}
		if (s.Lo != nil || s.Hi != nil) && (len(s.Lo) != len(s.X) || len(s.Hi) != len(s.X)) {
			return fmt.Errorf("plot: Curve %s: series %d (%q): band Lo/Hi lengths %d, %d, want %d", path, i, s.Label, len(s.Lo), len(s.Hi), len(s.X))
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: Curve %s: drawing failed: %v", path, r)
		}
	}()
	p := gplot.New()
	p.Title.Text = wrapTitle(title)
	p.Title.TextStyle.Font = sansFont(supSize - 1)
	p.Title.Padding = 8
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, ax := range []*gplot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = sansFont(titleSize)
		ax.Tick.Label.Font = sansFont(labelSize)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	keepY := func(v float64) bool { return finite(v) && (!opt.LogY || v > 0) }
	keepX := func(v float64) bool { return finite(v) && (!opt.LogX || v > 0) }
	if opt.LogY {
		p.Y.Scale = gplot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	if opt.LogX {
		p.X.Scale = gplot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	p.Add(plotter.NewGrid())
	p.Legend.TextStyle.Font = sansFont(labelSize)
	p.Legend.Top = true
	p.Legend.Left = opt.Square || opt.LegendLeft
	p.Legend.XOffs, p.Legend.YOffs = 8, -8
	if !p.Legend.Left {
		p.Legend.XOffs = -8
	}
	if opt.Square {
		ticks := gplot.ConstantTicks(unitTicks())
		p.X.Tick.Marker, p.Y.Tick.Marker = ticks, ticks
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}
	var lines []*plotter.Line
	for i, s := range series {
		col := s.Color
		if col == nil {
			col = cycle[i%len(cycle)]
		}
		if s.Lo != nil {
			var poly plotter.XYs
			for k := range s.X {
				if keepX(s.X[k]) && keepY(s.Lo[k]) {
					poly = append(poly, plotter.XY{X: s.X[k], Y: s.Lo[k]})
				}
			}
			for k := len(s.X) - 1; k >= 0; k-- {
				if keepX(s.X[k]) && keepY(s.Hi[k]) {
					poly = append(poly, plotter.XY{X: s.X[k], Y: s.Hi[k]})
				}
			}
			if len(poly) >= 3 {
				pg, err := plotter.NewPolygon(poly)
				if err != nil {
					return fmt.Errorf("plot: Curve %s: band of %q: %w", path, s.Label, err)
				}
				r, g, b, _ := col.RGBA()
				pg.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0x40}
				pg.LineStyle.Width = 0
				p.Add(pg)
			}
		}
		var xy plotter.XYs
		for k := range s.X {
			if keepX(s.X[k]) && keepY(s.Y[k]) {
				xy = append(xy, plotter.XY{X: s.X[k], Y: s.Y[k]})
			}
		}
		if len(xy) == 0 {
			return fmt.Errorf("plot: Curve %s: series %d (%q) has no finite point", path, i, s.Label)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("plot: Curve %s: series %q: %w", path, s.Label, err)
		}
		l.Color = col
		l.Width = 1.6
		if s.Dashed {
			l.Dashes = []vg.Length{5, 3}
			l.Width = 1.1
		}
		lines = append(lines, l)
		if s.Label != "" {
			p.Legend.Add(s.Label, l)
		}
	}
	for _, l := range lines {
		p.Add(l)
	}
	w, h := 6.4*vg.Inch, 4.6*vg.Inch
	if opt.Square {
		w, h = 5.6*vg.Inch, 5.6*vg.Inch
	}
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.Crop(draw.New(c), 8, -14, 8, -10)
	p.Draw(dc)
	return writePNG(path, c.Image())
}

// TARPCurve draws the expected-coverage curve of a TARP result against the
// credibility level, with the diagonal of a calibrated estimator and the
// ±1σ and ±2σ binomial Monte Carlo bands about it (bootstrap σ when
// present), and, when avg is not nil, the curve averaged over several
// references per simulation (diag.TARPAveraged) with the ±2σ band of its
// exchangeability null.
func TARPCurve(path, title string, r *diag.TARPResult, avg *diag.TARPAvgResult) error {
	if r == nil || len(r.Alpha) == 0 {
		return fmt.Errorf("plot: TARPCurve %s: empty result", path)
	}
	sig := r.Sigma
	if r.BootSigma != nil {
		sig = r.BootSigma
	}
	n := len(r.Alpha)
	lo1, hi1, lo2, hi2 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, a := range r.Alpha {
		lo1[i], hi1[i] = a-sig[i], a+sig[i]
		lo2[i], hi2[i] = a-2*sig[i], a+2*sig[i]
	}
	grey := color.NRGBA{0x60, 0x60, 0x60, 0xff}
	series := []Series{
		{Label: "±2σ MC band", X: r.Alpha, Y: r.Alpha, Lo: lo2, Hi: hi2, Color: color.NRGBA{0x90, 0x90, 0x90, 0xff}, Dashed: true},
		{Label: fmt.Sprintf("calibrated, ±1σ (J = %d)", len(r.F)), X: r.Alpha, Y: r.Alpha, Lo: lo1, Hi: hi1, Color: grey, Dashed: true},
		{Label: fmt.Sprintf("TARP ECP, max|ECP−α| = %.3f", r.MaxDev), X: r.Alpha, Y: r.ECP, Color: cycle[0]},
	}
	if avg != nil && len(avg.Alpha) > 0 {
		s := Series{Label: fmt.Sprintf("%d references per lens, max = %.3f", avg.References, avg.MaxDev),
			X: avg.Alpha, Y: avg.ECP, Color: cycle[1]}
		if len(avg.NullSigma) == len(avg.Alpha) {
			s.Lo, s.Hi = make([]float64, len(avg.Alpha)), make([]float64, len(avg.Alpha))
			for i, a := range avg.Alpha {
				s.Lo[i], s.Hi[i] = a-2*avg.NullSigma[i], a+2*avg.NullSigma[i]
			}
			series = append(series, Series{Label: "its calibrated ±2σ (exchangeability)", X: avg.Alpha, Y: avg.Alpha,
				Lo: s.Lo, Hi: s.Hi, Color: cycle[1], Dashed: true})
			s.Lo, s.Hi = nil, nil
		}
		series = append(series, s)
	}
	return CurveWith(path, title, "credibility level α", "expected coverage ECP(α)", CurveOptions{Square: true}, series...)
}

// TARPSets draws the averaged TARP curves (diag.TARPAveraged) of several
// groups of simulations — e.g. the data sets of the true sources — each
// with the ±2σ band of its exchangeability null, against the diagonal.
func TARPSets(path, title string, labels []string, sets []*diag.TARPAvgResult) error {
	if len(sets) == 0 || len(labels) != len(sets) {
		return fmt.Errorf("plot: TARPSets %s: %d labels for %d curves", path, len(labels), len(sets))
	}
	var series []Series
	for i, a := range sets {
		if a == nil || len(a.Alpha) == 0 {
			return fmt.Errorf("plot: TARPSets %s: curve %d (%s) is empty", path, i, labels[i])
		}
		c := cycle[i%len(cycle)]
		if len(a.NullSigma) == len(a.Alpha) {
			lo, hi := make([]float64, len(a.Alpha)), make([]float64, len(a.Alpha))
			for k, al := range a.Alpha {
				lo[k], hi[k] = al-2*a.NullSigma[k], al+2*a.NullSigma[k]
			}
			series = append(series, Series{Label: "calibrated ±2σ, " + labels[i], X: a.Alpha, Y: a.Alpha, Lo: lo, Hi: hi, Color: c, Dashed: true})
		}
		series = append(series, Series{Label: fmt.Sprintf("%s: max|ECP−α| = %.3f", labels[i], a.MaxDev), X: a.Alpha, Y: a.ECP, Color: c})
	}
	return CurveWith(path, title, "credibility level α", "expected coverage ECP(α)", CurveOptions{Square: true}, series...)
}

// unitTicks labels [0, 1] every 0.2 with minor ticks every 0.05.
func unitTicks() []gplot.Tick {
	var t []gplot.Tick
	for i := 0; i <= 20; i++ {
		v := float64(i) / 20
		tk := gplot.Tick{Value: v}
		if i%4 == 0 {
			tk.Label = strconv.FormatFloat(v, 'f', 1, 64)
		}
		t = append(t, tk)
	}
	return t
}

// wrapTitle breaks a title longer than fits the 640-pixel-wide figure into
// two lines at its " — " separator (prior names with file paths are long).
func wrapTitle(t string) string {
	const maxRunes = 64
	if len([]rune(t)) <= maxRunes || strings.Contains(t, "\n") {
		return t
	}
	if a, b, ok := strings.Cut(t, " — "); ok {
		return a + "\n" + b
	}
	return t
}
