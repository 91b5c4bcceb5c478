package plot

import (
	"path/filepath"
	"testing"
)

// TestFig1OneSample: with a single sample the second-sample panels and the
// std-based ones are empty frames saying why, instead of a copy of sample 1
// and a zero std map; a half-given second sample is an error.
func TestFig1OneSample(t *testing.T) {
	n := 8
	v := func(x float64) []float64 {
		d := make([]float64, n*n)
		for i := range d {
			d[i] = x + float64(i%n)
		}
		return d
	}
	f := Fig1Data{NX: n, NY: n, Truth: v(0), Sample1: v(1), Mean: v(1), MX: n, MY: n, Observation: v(0),
		ASample1: v(1), AMean: v(1), Noise: noise1()}
	fig, err := fig1Figure(f)
	if err != nil {
		t.Fatal(err)
	}
	top, bottom := fig.cells[0], fig.cells[1]
	for _, p := range []*panel{top[2], top[4], top[5], bottom[2]} {
		if p.data != nil || p.note != oneSample {
			t.Errorf("panel %q: data %v, note %q; want an empty frame noting %q", p.title, p.data != nil, p.note, oneSample)
		}
	}
	if top[1].data == nil || top[3].data == nil || bottom[1].data == nil {
		t.Error("sample 1 or the mean lost")
	}
	path := filepath.Join(t.TempDir(), "one_notitle.png")
	checkPNG(t, path, Fig1(path, f), 6, 2)

	f.Sample2 = v(2) // without ASample2 and Std
	if _, err := fig1Figure(f); err == nil {
		t.Error("Sample2 without ASample2 and Std accepted")
	}
	// Two samples: every panel has data.
	f.ASample2, f.Std = v(2), v(0.5)
	if fig, err = fig1Figure(f); err != nil {
		t.Fatal(err)
	}
	for r, row := range fig.cells {
		for c, p := range row {
			if p.data == nil {
				t.Errorf("two samples: panel [%d][%d] %q has no data (note %q)", r, c, p.title, p.note)
			}
		}
	}
}
