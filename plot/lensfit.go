package plot

import (
	"fmt"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// LensFit writes the data, the model and the normalised residual
// (data − model)/σ of a lens fit side by side (each n×n, row 0 at the
// bottom, pixel size scale arcsec); masked pixels should be NaN in resid.
func LensFit(path, title string, n int, scale float64, data, model, resid []float64) error {
	rng := func(v []float64) (float64, float64) { return finiteRange(v) }
	lo, hi := rng(data)
	cells := [][]*panel{{
		{title: "data", data: data, nx: n, ny: n, scale: scale, label: "brightness", min: lo, max: hi},
		{title: "model (MAP lens, posterior-mean source)", data: model, nx: n, ny: n, scale: scale, label: "brightness", min: lo, max: hi},
		{title: "normalised residual", data: resid, nx: n, ny: n, scale: scale, cmap: Diverging, label: "(data − model)/σ"},
	}}
	cells[0][0].fixRange()
	cells[0][1].fixRange()
	cells[0][2].min, cells[0][2].max = -5, 5
	fig := &figure{title: title, cells: cells, cellW: 3.4 * vg.Inch, cellH: 3 * vg.Inch}
	return fig.write(path)
}

// Corner writes a corner plot of samples[i][param]: histograms of each
// parameter on the diagonal and scatter plots of every pair below it, with
// the values of mark (e.g. the MAP; nil for none) as lines and points.
func Corner(path, title string, names []string, samples [][]float64, mark []float64) (err error) {
	d := len(names)
	if d == 0 || len(samples) < 2 {
		return fmt.Errorf("plot: Corner %s: %d parameters and %d samples, need ≥ 1 and ≥ 2", path, d, len(samples))
	}
	for i, s := range samples {
		if len(s) != d {
			return fmt.Errorf("plot: Corner %s: sample %d has %d values, want %d", path, i, len(s), d)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: Corner %s: drawing failed: %v", path, r)
		}
	}()
	col := func(k int) []float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = s[k]
		}
		return v
	}
	markCol := color.NRGBA{0xd6, 0x27, 0x28, 0xff}
	plots := make([][]*gplot.Plot, d)
	for i := 0; i < d; i++ {
		plots[i] = make([]*gplot.Plot, d)
		for j := 0; j <= i; j++ {
			p := gplot.New()
			for _, ax := range []*gplot.Axis{&p.X, &p.Y} {
				ax.Tick.Label.Font = sansFont(labelSize - 2)
				ax.Label.TextStyle.Font = sansFont(labelSize)
				ax.Tick.Marker = insideTicks{} // round values with the digits they need (a narrow θ_E range)
			}
			if i == d-1 {
				p.X.Label.Text = names[j]
			}
			if j == 0 && i > 0 {
				p.Y.Label.Text = names[i]
			}
			if i == j {
				vals := col(i)
				lo, hi := finiteRange(vals)
				bins := 20
				if !(hi > lo) {
					lo, hi, bins = lo-0.5, hi+0.5, 1
				}
				h, err := plotter.NewHist(plotter.Values(vals), bins)
				if err != nil {
					return fmt.Errorf("plot: Corner %s: %w", path, err)
				}
				h.FillColor = color.NRGBA{0x1f, 0x77, 0xb4, 0x90}
				h.LineStyle.Width = 0.5
				p.Add(h)
				if mark != nil {
					_, ymax := 0.0, 0.0
					for _, b := range h.Bins {
						ymax = math.Max(ymax, b.Weight)
					}
					l, _ := plotter.NewLine(plotter.XYs{{X: mark[i], Y: 0}, {X: mark[i], Y: ymax}})
					l.Color, l.Width = markCol, 1.2
					p.Add(l)
				}
			} else {
				xy := make(plotter.XYs, len(samples))
				for k, s := range samples {
					xy[k] = plotter.XY{X: s[j], Y: s[i]}
				}
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return fmt.Errorf("plot: Corner %s: %w", path, err)
				}
				sc.GlyphStyle.Radius = 1
				sc.GlyphStyle.Color = color.NRGBA{0x1f, 0x77, 0xb4, 0x80}
				p.Add(sc)
				if mark != nil {
					m, _ := plotter.NewScatter(plotter.XYs{{X: mark[j], Y: mark[i]}})
					m.GlyphStyle.Radius, m.GlyphStyle.Color, m.GlyphStyle.Shape = 3, markCol, draw.CrossGlyph{}
					p.Add(m)
				}
			}
			plots[i][j] = p
		}
	}
	side := vg.Length(math.Max(1.7, math.Min(2.4, 14/float64(d)))) * vg.Inch
	top := vg.Length(0)
	if title != "" {
		top = supTitleH
	}
	W, H := side*vg.Length(d), side*vg.Length(d)+top
	c := vgimg.NewWith(vgimg.UseWH(W, H), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	if title != "" {
		sty := textStyle(supSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
		dc.FillText(sty, vg.Point{X: W / 2, Y: H - top/2}, title)
	}
	body := draw.Canvas{Canvas: c, Rectangle: vg.Rectangle{Min: vg.Point{}, Max: vg.Point{X: W, Y: H - top}}}
	tiles := draw.Tiles{Rows: d, Cols: d, PadX: 4, PadY: 4, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 4}
	canv := gplot.Align(plots, tiles, body)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(canv[i][j])
			}
		}
	}
	return writePNG(path, c.Image())
}

// Chains writes one trace panel per parameter: chain[step][walker][param]
// for every walker, with a dashed line at the end of the burn-in.
func Chains(path, title string, names []string, chain [][][]float64, burn int) (err error) {
	d := len(names)
	if d == 0 || len(chain) == 0 || len(chain[0]) == 0 {
		return fmt.Errorf("plot: Chains %s: empty chain", path)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: Chains %s: drawing failed: %v", path, r)
		}
	}()
	plots := make([][]*gplot.Plot, d)
	for k := 0; k < d; k++ {
		p := gplot.New()
		p.Y.Label.Text = names[k]
		if k == d-1 {
			p.X.Label.Text = "step"
		}
		for _, ax := range []*gplot.Axis{&p.X, &p.Y} {
			ax.Tick.Label.Font = sansFont(labelSize - 1)
			ax.Label.TextStyle.Font = sansFont(labelSize)
			ax.Tick.Marker = insideTicks{}
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for w := range chain[0] {
			xy := make(plotter.XYs, len(chain))
			for s, st := range chain {
				if len(st) != len(chain[0]) || len(st[w]) != d {
					return fmt.Errorf("plot: Chains %s: step %d has a different shape", path, s)
				}
				xy[s] = plotter.XY{X: float64(s + 1), Y: st[w][k]}
				lo, hi = math.Min(lo, st[w][k]), math.Max(hi, st[w][k])
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fmt.Errorf("plot: Chains %s: %w", path, err)
			}
			c := cycle[w%len(cycle)]
			l.Color, l.Width = color.NRGBA{c.R, c.G, c.B, 0x70}, 0.6
			p.Add(l)
		}
		if burn > 0 && hi >= lo {
			l, _ := plotter.NewLine(plotter.XYs{{X: float64(burn) + 0.5, Y: lo}, {X: float64(burn) + 0.5, Y: hi}})
			l.Dashes, l.Color = []vg.Length{4, 3}, color.Black
			p.Add(l)
		}
		plots[k] = []*gplot.Plot{p}
	}
	top := supTitleH
	W, H := 7*vg.Inch, vg.Length(d)*1.3*vg.Inch+top
	c := vgimg.NewWith(vgimg.UseWH(W, H), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	sty := textStyle(supSize)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	dc.FillText(sty, vg.Point{X: W / 2, Y: H - top/2}, title)
	body := draw.Canvas{Canvas: c, Rectangle: vg.Rectangle{Min: vg.Point{}, Max: vg.Point{X: W, Y: H - top}}}
	canv := gplot.Align(plots, draw.Tiles{Rows: d, Cols: 1, PadX: 4, PadY: 4, PadLeft: 6, PadRight: 10, PadBottom: 4}, body)
	for k := range plots {
		plots[k][0].Draw(canv[k][0])
	}
	return writePNG(path, c.Image())
}
