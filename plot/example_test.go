package plot

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/diag"
)

// sis is a toy forward model for the examples: a singular isothermal
// sphere of Einstein radius thetaE (arcsec) ray-traced from an m×m image
// grid to an n×n source grid with bilinear interpolation.
type sis struct {
	m, n       int
	pixI, pixS float64
	thetaE     float64
}

func (s sis) Dims() (int, int) { return s.m * s.m, s.n * s.n }
func (s sis) Apply(dst, x []float64) {
	for r := range s.m {
		for c := range s.m {
			tx := (float64(c) - float64(s.m-1)/2) * s.pixI
			ty := (float64(r) - float64(s.m-1)/2) * s.pixI
			d := math.Hypot(tx, ty) + 1e-9
			bx, by := tx-s.thetaE*tx/d, ty-s.thetaE*ty/d
			u := bx/s.pixS + float64(s.n-1)/2
			v := by/s.pixS + float64(s.n-1)/2
			dst[r*s.m+c] = bilinear(x, s.n, u, v)
		}
	}
}

func bilinear(x []float64, n int, u, v float64) float64 {
	i, j := int(math.Floor(u)), int(math.Floor(v))
	if i < 0 || j < 0 || i+1 >= n || j+1 >= n {
		return 0
	}
	fu, fv := u-float64(i), v-float64(j)
	return (1-fu)*(1-fv)*x[j*n+i] + fu*(1-fv)*x[j*n+i+1] + (1-fu)*fv*x[(j+1)*n+i] + fu*fv*x[(j+1)*n+i+1]
}

// galaxy draws a toy galaxy: an elliptical exponential disc plus a clump.
func galaxy(n int, pix, q, phi, cx float64) []float64 {
	g := make([]float64, n*n)
	c, s := math.Cos(phi), math.Sin(phi)
	for r := range n {
		for col := range n {
			x := (float64(col)-float64(n-1)/2)*pix - cx
			y := (float64(r)-float64(n-1)/2)*pix - 0.05
			u, v := c*x+s*y, -s*x+c*y
			d := math.Hypot(u, v/q)
			g[r*n+col] = math.Exp(-d/0.12) + 0.6*math.Exp(-(math.Pow(x-0.15, 2)+math.Pow(y+0.12, 2))/(2*0.03*0.03))
		}
	}
	return g
}

type exampleData struct {
	A           sis
	truth       []float64
	samples     [][]float64
	recon       [][]float64
	y           []float64
	sigma       float64
	mean, std   []float64
	amean, astd []float64
}

func makeExample(K int, sigma float64, seed uint64) exampleData {
	const n, m = 64, 64
	A := sis{m: m, n: n, pixI: 0.05, pixS: 0.025, thetaE: 1.0}
	rng := rand.New(rand.NewPCG(seed, 1))
	truth := galaxy(n, A.pixS, 0.6, 0.5, 0.02)
	y := make([]float64, m*m)
	A.Apply(y, truth)
	for i := range y {
		y[i] += sigma * rng.NormFloat64()
	}
	e := exampleData{A: A, truth: truth, y: y, sigma: sigma}
	accS, accA := diag.NewAccumulator(n*n), diag.NewAccumulator(m*m)
	for k := range K {
		s := galaxy(n, A.pixS, 0.6+0.05*rng.NormFloat64(), 0.5+0.1*rng.NormFloat64(), 0.02+0.01*rng.NormFloat64())
		for i := range s {
			s[i] += 0.03 * rng.NormFloat64()
		}
		_ = k
		ax := make([]float64, m*m)
		A.Apply(ax, s)
		e.samples = append(e.samples, s)
		e.recon = append(e.recon, ax)
		accS.Add(s)
		accA.Add(ax)
	}
	e.mean, e.std = accS.Mean(nil), accS.Std(nil)
	e.amean, e.astd = make([]float64, m*m), accA.Std(nil)
	A.Apply(e.amean, e.mean)
	return e
}

// exampleDir is $LENSCORE_PLOT_DIR when set (to look at the figures), else
// a test temporary directory.
func exampleDir(t *testing.T) string {
	if d := os.Getenv("LENSCORE_PLOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestExampleFigures(t *testing.T) {
	dir := exampleDir(t)
	e := makeExample(6, 0.05, 1)
	f1 := Fig1Data{
		Title: "Posterior samples of a lensed source (toy SIS example)",
		NX:    64, NY: 64, SourceScale: 0.025,
		Truth: e.truth, Sample1: e.samples[0], Sample2: e.samples[1], Mean: e.mean, Std: e.std,
		MX: 64, MY: 64, ImageScale: 0.05,
		Observation: e.y, ASample1: e.recon[0], ASample2: e.recon[1], AMean: e.amean, AStd: e.astd,
		Noise: diag.Noise{Sigma: e.sigma},
	}
	checkPNG(t, filepath.Join(dir, "fig1.png"), Fig1(filepath.Join(dir, "fig1.png"), f1), 6, 2)
	f1.Truth, f1.AStd = nil, nil
	f1.Title = "Truth unknown, noise-level panel"
	checkPNG(t, filepath.Join(dir, "fig1_notruth.png"), Fig1(filepath.Join(dir, "fig1_notruth.png"), f1), 6, 2)

	var levels []NoiseLevel
	for i, s := range []float64{0.01, 0.05, 0.2, 0.5} {
		ei := makeExample(4, s, uint64(10+i))
		levels = append(levels, NoiseLevel{SigmaN: s, Observation: ei.y, Sample: ei.samples[0], Mean: ei.mean})
	}
	f2 := Fig2Data{Title: "Noise ladder", NX: 64, NY: 64, SourceScale: 0.025, MX: 64, MY: 64, ImageScale: 0.05,
		Truth: e.truth, Levels: levels}
	checkPNG(t, filepath.Join(dir, "fig2.png"), Fig2(filepath.Join(dir, "fig2.png"), f2), 5, 3)

	f3 := Fig3Data{Title: "Posterior samples and their reconstructed observations", NX: 64, NY: 64, SourceScale: 0.025,
		MX: 64, MY: 64, ImageScale: 0.05, Samples: e.samples[:4], Recon: e.recon[:4], Observation: e.y,
		Noise: diag.Noise{Sigma: e.sigma}}
	checkPNG(t, filepath.Join(dir, "fig3.png"), Fig3(filepath.Join(dir, "fig3.png"), f3), 4, 3)

	titles := []string{"prior sample 1", "prior sample 2", "prior sample 3", "galaxy 1", "galaxy 2", "galaxy 3"}
	imgs := [][]float64{e.samples[0], e.samples[1], e.samples[2], e.truth, e.mean, e.std}
	checkPNG(t, filepath.Join(dir, "grid.png"), Grid(filepath.Join(dir, "grid.png"), imgs, 64, 64, 3, titles), 3, 2)

	// Loss curve on a log axis and a TARP curve.
	var it, loss, val []float64
	for i := 1; i <= 200; i++ {
		it = append(it, float64(i*100))
		loss = append(loss, 0.05+0.9*math.Exp(-float64(i)/30))
		val = append(val, 0.06+0.9*math.Exp(-float64(i)/28))
	}
	p := filepath.Join(dir, "loss.png")
	if err := CurveWith(p, "Denoising score-matching loss", "iteration", "loss per pixel", CurveOptions{LogY: true},
		Series{Label: "training", X: it, Y: loss}, Series{Label: "validation", X: it, Y: val, Dashed: true}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	var sm [][][]float64
	var th [][]float64
	for range 200 {
		tt := []float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		var ss [][]float64
		for range 100 {
			s := make([]float64, 4)
			for i := range s {
				s[i] = tt[i]/2 + 1.4*math.Sqrt(0.5)*rng.NormFloat64() + 0.35*rng.NormFloat64()
			}
			ss = append(ss, s)
		}
		sm = append(sm, ss)
		th = append(th, tt)
	}
	res, err := diag.TARP(sm, th, diag.TARPOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	avg, err := diag.TARPAveraged(sm, th, diag.TARPAvgOptions{References: 8, Permutations: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(dir, "tarp.png")
	if err := TARPCurve(p, "TARP coverage (over-dispersed toy posterior)", res, avg); err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(dir, "tarp_sets.png")
	if err := TARPSets(p, "TARP by group", []string{"all", "again"}, []*diag.TARPAvgResult{avg, avg}); err != nil {
		t.Fatal(err)
	}
	if err := TARPSets(filepath.Join(dir, "bad.png"), "x", []string{"one"}, []*diag.TARPAvgResult{avg, avg}); err == nil {
		t.Error("TARPSets with 1 label for 2 curves: no error")
	}
}
