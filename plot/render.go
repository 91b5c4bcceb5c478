package plot

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/lenscore/lenscore/atomicfile"
)

// DPI is the resolution of every PNG written by the package.
const DPI = 100

// Font sizes (points) and geometry shared by all figures.
const (
	titleSize = 11
	labelSize = 9
	tickSize  = 8
	supSize   = 14
	barWidth  = 0.12 * vg.Inch
	barGap    = 0.08 * vg.Inch
	barSpace  = 0.78 * vg.Inch // gap + bar + tick labels + rotated label
	titlePad  = 4
)

func sansFont(size vg.Length) font.Font {
	f := font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, size)
	return f
}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    sansFont(size),
		Handler: gplot.DefaultTextHandler,
	}
}

// panel is one image with its colour bar, or a note in an empty frame.
type panel struct {
	title string
	data  []float64
	nx    int
	ny    int
	// scale is the pixel size in arcsec; 0 hides the ticks and notes the
	// size in pixels instead.
	scale    float64
	cmap     ColorMap
	min, max float64
	label    string // colour-bar label
	note     string // shown instead of the image when data is nil
}

// autoRange sets min, max to the finite range of the data (symmetric about
// zero for Diverging) and widens an empty or degenerate range.
func (p *panel) autoRange() {
	p.min, p.max = finiteRange(p.data)
	if p.cmap == Diverging {
		a := math.Max(math.Abs(p.min), math.Abs(p.max))
		p.min, p.max = -a, a
	}
	p.fixRange()
}

func (p *panel) fixRange() {
	if math.IsNaN(p.min) || math.IsNaN(p.max) || math.IsInf(p.min, 0) || math.IsInf(p.max, 0) {
		p.min, p.max = 0, 1
	}
	if p.max <= p.min {
		d := math.Max(math.Abs(p.min)*0.1, 1e-12)
		if p.min == 0 {
			d = 1
		}
		p.min, p.max = p.min-d, p.max+d
	}
}

func finiteRange(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	if lo > hi {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

func (p *panel) check(name string) error {
	if p.data == nil {
		return nil
	}
	if p.nx <= 0 || p.ny <= 0 {
		return fmt.Errorf("plot: %s: image size %d×%d, want positive", name, p.nx, p.ny)
	}
	if len(p.data) != p.nx*p.ny {
		return fmt.Errorf("plot: %s: %d pixels, want %d×%d = %d", name, len(p.data), p.nx, p.ny, p.nx*p.ny)
	}
	return nil
}

// extent returns the data-coordinate box of the image: centred on the
// optical axis in arcsec, or [0, nx] × [0, ny] in pixels.
func (p *panel) extent() (x0, x1, y0, y1 float64) {
	if p.scale > 0 {
		hx, hy := 0.5*float64(p.nx)*p.scale, 0.5*float64(p.ny)*p.scale
		return -hx, hx, -hy, hy
	}
	return 0, float64(p.nx), 0, float64(p.ny)
}

// raster is a gonum plot.Plotter drawing the panel's pixels with nearest-
// neighbour up-sampling (so the PNG shows crisp pixels) and row 0 at the
// bottom.
type raster struct{ p *panel }

func (r raster) DataRange() (xmin, xmax, ymin, ymax float64) { return r.p.extent() }

func (r raster) Plot(c draw.Canvas, plt *gplot.Plot) {
	p := r.p
	trX, trY := plt.Transforms(&c)
	x0, x1, y0, y1 := p.extent()
	rect := vg.Rectangle{Min: vg.Point{X: trX(x0), Y: trY(y0)}, Max: vg.Point{X: trX(x1), Y: trY(y1)}}
	dots := float64(rect.Size().X) / 72 * DPI
	up := max(1, int(math.Ceil(dots/float64(p.nx))))
	c.DrawImage(rect, p.image(up))
}

// image renders the panel at up×up device pixels per data pixel; image row
// 0 (top) holds data row ny−1.
func (p *panel) image(up int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, p.nx*up, p.ny*up))
	span := p.max - p.min
	for row := range p.ny {
		for col := range p.nx {
			v := p.data[row*p.nx+col]
			var c color.NRGBA
			if math.IsNaN(v) {
				c = NaNColor()
			} else {
				c = p.cmap.At((v - p.min) / span)
			}
			top := (p.ny - 1 - row) * up
			for dy := range up {
				off := img.PixOffset(col*up, top+dy)
				for dx := range up {
					o := off + 4*dx
					img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = c.R, c.G, c.B, c.A
				}
			}
		}
	}
	return img
}

func (p *panel) newPlot() *gplot.Plot {
	plt := gplot.New()
	for _, ax := range []*gplot.Axis{&plt.X, &plt.Y} {
		ax.Label.TextStyle.Font = sansFont(labelSize)
		ax.Tick.Label.Font = sansFont(tickSize)
		ax.Tick.Length = 3
		ax.Padding = 0
		ax.Label.Padding = 1
		ax.Tick.Marker = insideTicks{}
	}
	x0, x1, y0, y1 := p.extent()
	plt.X.Min, plt.X.Max, plt.Y.Min, plt.Y.Max = x0, x1, y0, y1
	if p.data == nil {
		// Empty frame with the note.
		plt.X.Tick.Marker = gplot.ConstantTicks(nil)
		plt.Y.Tick.Marker = gplot.ConstantTicks(nil)
		return plt
	}
	if p.scale > 0 {
		plt.X.Label.Text = "x [arcsec]"
		plt.Y.Label.Text = "y [arcsec]"
	} else {
		plt.X.Tick.Marker = gplot.ConstantTicks(nil)
		plt.Y.Tick.Marker = gplot.ConstantTicks(nil)
		plt.X.Label.Text = fmt.Sprintf("%d×%d pixels", p.nx, p.ny)
	}
	plt.Add(raster{p})
	return plt
}

// draw draws the panel into cell, keeping square pixels, with its colour
// bar on the right.
func (p *panel) draw(cell draw.Canvas) {
	plt := p.newPlot()
	area := cell
	area.Max.X -= barSpace
	// Room for a two-line title above every panel, so that the images of
	// a row line up whatever their titles.
	ts := textStyle(titleSize)
	titleH := 2*ts.FontExtents().Height + titlePad
	area.Max.Y -= titleH
	dc := plt.DataCanvas(area)
	padW := area.Size().X - dc.Size().X
	padH := area.Size().Y - dc.Size().Y
	x0, x1, y0, y1 := p.extent()
	aspect := vg.Length((y1 - y0) / (x1 - x0))
	w := dc.Size().X
	h := w * aspect
	if h > dc.Size().Y {
		h = dc.Size().Y
		w = h / aspect
	}
	// Centre the shrunk plot in the cell (colour bar included).
	totW := w + padW + barSpace
	totH := h + padH + titleH
	left := cell.Min.X + (cell.Size().X-totW)/2
	bottom := cell.Min.Y + (cell.Size().Y-totH)/2
	pc := draw.Canvas{Canvas: cell.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: left, Y: bottom},
		Max: vg.Point{X: left + w + padW, Y: bottom + totH - titleH},
	}}
	plt.Draw(pc)
	dc = plt.DataCanvas(pc)
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YBottom
	cell.FillText(ts, vg.Point{X: dc.Center().X, Y: dc.Max.Y + titlePad}, p.title)
	dc.SetLineStyle(draw.LineStyle{Color: color.Black, Width: 0.5})
	dc.Stroke(dc.Rectangle.Path())
	if p.data == nil {
		sty := textStyle(labelSize)
		sty.Color = color.Gray{0x50}
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
		dc.FillText(sty, dc.Center(), p.note)
		return
	}
	p.drawBar(cell.Canvas, dc.Max.X+barGap, dc.Min.Y, dc.Max.Y)
}

// drawBar draws a vertical colour bar from y0 to y1 starting at x.
func (p *panel) drawBar(c vg.Canvas, x, y0, y1 vg.Length) {
	const n = 256
	grad := image.NewNRGBA(image.Rect(0, 0, 1, n))
	for i := range n {
		grad.SetNRGBA(0, n-1-i, p.cmap.At((float64(i)+0.5)/n))
	}
	rect := vg.Rectangle{Min: vg.Point{X: x, Y: y0}, Max: vg.Point{X: x + barWidth, Y: y1}}
	dc := draw.Canvas{Canvas: c, Rectangle: rect}
	dc.DrawImage(rect, grad)
	dc.SetLineStyle(draw.LineStyle{Color: color.Black, Width: 0.5})
	dc.Stroke(rect.Path())

	ticks := gplot.DefaultTicks{}.Ticks(p.min, p.max)
	sty := textStyle(tickSize)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	maxW := vg.Length(0)
	for _, t := range ticks {
		if t.Value < p.min || t.Value > p.max {
			continue
		}
		y := y0 + (y1-y0)*vg.Length((t.Value-p.min)/(p.max-p.min))
		l := vg.Length(3)
		if t.IsMinor() {
			l = 1.5
		}
		dc.StrokeLine2(draw.LineStyle{Color: color.Black, Width: 0.5}, x+barWidth, y, x+barWidth+l, y)
		if !t.IsMinor() {
			dc.FillText(sty, vg.Point{X: x + barWidth + 4, Y: y}, t.Label)
			maxW = max(maxW, sty.Width(t.Label))
		}
	}
	if p.label != "" {
		ls := textStyle(labelSize)
		ls.Rotation = math.Pi / 2
		ls.XAlign, ls.YAlign = draw.XCenter, draw.YBottom
		// Rotated by +90°, the text's bottom faces right... its descent
		// side; place it just right of the tick labels.
		xl := x + barWidth + 6 + maxW + ls.FontExtents().Height
		dc.FillText(ls, vg.Point{X: xl, Y: (y0 + y1) / 2}, p.label)
	}
}

// figure is a grid of panels with an optional overall title.
type figure struct {
	title        string
	cells        [][]*panel // [row][col], row 0 at the top; nil cells stay blank
	cellW, cellH vg.Length
	rowLabels    []string
}

const (
	supTitleH = 0.45 * vg.Inch
	rowLabelW = 0.35 * vg.Inch
)

// render draws the figure. Any panic from the drawing library is returned
// as an error.
func (f *figure) render() (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot: drawing failed: %v", r)
		}
	}()
	rows := len(f.cells)
	cols := 0
	for _, r := range f.cells {
		cols = max(cols, len(r))
	}
	if rows == 0 || cols == 0 {
		return nil, fmt.Errorf("plot: figure has no panels")
	}
	left := vg.Length(0)
	if f.rowLabels != nil {
		left = rowLabelW
	}
	top := vg.Length(0)
	if f.title != "" {
		top = supTitleH
	}
	W := left + vg.Length(cols)*f.cellW
	H := top + vg.Length(rows)*f.cellH
	c := vgimg.NewWith(vgimg.UseWH(W, H), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	if f.title != "" {
		sty := textStyle(supSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
		dc.FillText(sty, vg.Point{X: W / 2, Y: H - top/2}, f.title)
	}
	for i, r := range f.cells {
		y1 := H - top - vg.Length(i)*f.cellH
		if i < len(f.rowLabels) && f.rowLabels[i] != "" {
			sty := textStyle(titleSize)
			sty.Rotation = math.Pi / 2
			sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
			dc.FillText(sty, vg.Point{X: left / 2, Y: y1 - f.cellH/2}, f.rowLabels[i])
		}
		for j, p := range r {
			if p == nil {
				continue
			}
			x0 := left + vg.Length(j)*f.cellW
			cell := draw.Canvas{Canvas: c, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x0 + 4, Y: y1 - f.cellH + 4},
				Max: vg.Point{X: x0 + f.cellW - 4, Y: y1 - 4},
			}}
			p.draw(cell)
		}
	}
	return c.Image(), nil
}

// write renders the figure and writes it atomically to path.
func (f *figure) write(path string) error {
	for i, r := range f.cells {
		for j, p := range r {
			if p == nil {
				continue
			}
			if err := p.check(fmt.Sprintf("panel (%d,%d) %q", i, j, p.title)); err != nil {
				return err
			}
		}
	}
	img, err := f.render()
	if err != nil {
		return err
	}
	return writePNG(path, img)
}

// writePNG encodes img and writes it to path through a temporary file in
// the same directory renamed into place, so a reader never sees a partial
// file and a failure leaves no file behind.
func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := encodePNG(&buf, img); err != nil {
		return fmt.Errorf("plot: encoding %s: %w", path, err)
	}
	return writeAtomic(path, buf.Bytes())
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}
