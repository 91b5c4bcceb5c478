package plot

import (
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
)

// insideTicks places major ticks at a round step strictly inside the axis
// range (so that labels never collide at the corners of a panel), with
// four minor ticks per step.
type insideTicks struct{}

func (insideTicks) Ticks(min, max float64) []gplot.Tick {
	span := max - min
	if !(span > 0) {
		return nil
	}
	// Aim for about three labelled ticks.
	raw := span / 3
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw*0.75 {
			step = m * mag
			break
		}
	}
	minor := step / 5
	if step/mag == 2.5 {
		minor = step / 5
	}
	var ticks []gplot.Tick
	eps := 1e-9 * span
	edge := 0.04 * span // keep labels off the corners
	first := math.Ceil((min+eps)/minor) * minor
	for v := first; v < max-eps; v += minor {
		r := math.Round(v/minor) * minor
		if math.Abs(r) < eps {
			r = 0
		}
		t := gplot.Tick{Value: r}
		k := r / step
		if math.Abs(k-math.Round(k)) < 1e-6 && r > min+edge && r < max-edge {
			t.Label = strconv.FormatFloat(r, 'g', 12, 64) // 12 digits: no 0.35000000000000003
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// logTicks marks 1…9 × 10^k on a logarithmic axis, labelling 1, 2 and 5 ×
// 10^k when the range covers fewer than three decades and only powers of
// ten otherwise. A range too narrow for two such labels (a loss curve
// between 0.26 and 0.34, say) gets insideTicks' round linear steps instead,
// which a logarithmic axis places just as well.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []gplot.Tick {
	if !(min > 0) || !(max > min) {
		return nil
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	dense := math.Log10(max/min) < 3
	var ticks []gplot.Tick
	labels := 0
	for k := lo; k <= hi; k++ {
		p := math.Pow(10, float64(k))
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			t := gplot.Tick{Value: v}
			if m == 1 || (dense && (m == 2 || m == 5)) {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
				labels++
			}
			ticks = append(ticks, t)
		}
	}
	if labels < 2 {
		return insideTicks{}.Ticks(min, max)
	}
	return ticks
}
