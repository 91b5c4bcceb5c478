package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/nn"
)

// runCLI runs the command line in-process and returns its exit code and
// streams.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), &cliEnv{stdout: &o, stderr: &e}, args)
	return code, o.String(), e.String()
}

// mustRun runs the command line and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("lenscore %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func writeText(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readHDUs(t *testing.T, path string) []*fits.HDU {
	t.Helper()
	hdus, err := fits.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return hdus
}

func extNamed(t *testing.T, hdus []*fits.HDU, name string) *fits.HDU {
	t.Helper()
	h, ok := fits.ByName(hdus, name)
	if !ok {
		t.Fatalf("no %s extension", name)
	}
	return h
}

// filesIn lists every entry of dir (hidden temporaries included), sorted;
// a missing dir gives nil.
func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func headerFloatT(t *testing.T, h *fits.HDU, key string) float64 {
	t.Helper()
	v, ok, err := h.Header.Float(key)
	if err != nil || !ok {
		t.Fatalf("header keyword %s: ok=%v err=%v", key, ok, err)
	}
	return v
}

// TestDeflectSIS checks the deflection and convergence of an SIS against the
// analytic α = θ_E (x−x₀, y−y₀)/r and κ = θ_E/(2r), and the pixel-centre
// convention (j − (n−1)/2)·scale with row 0 at the most negative y.
func TestDeflectSIS(t *testing.T) {
	const n, scale = 16, 0.1
	for _, c := range []struct{ te, cx, cy float64 }{{1.2, 0, 0}, {0.7, 0.33, -0.21}} {
		dir := t.TempDir()
		lensPath := writeText(t, dir, "sis.json",
			`{"components": [{"type": "SIS", "theta_e": `+ftoa(c.te)+`, "center_x": `+ftoa(c.cx)+`, "center_y": `+ftoa(c.cy)+`}]}`)
		out := filepath.Join(dir, "d.fits")
		mustRun(t, "deflect", "--lens", lensPath, "--npix", "16", "--pixel-scale", "0.1", "--out", out)
		hdus := readHDUs(t, out)
		ax, ay, kap := extNamed(t, hdus, "ALPHA_X"), extNamed(t, hdus, "ALPHA_Y"), extNamed(t, hdus, "KAPPA")
		for _, h := range []*fits.HDU{ax, ay, kap} {
			if len(h.Shape) != 2 || h.Shape[0] != n || h.Shape[1] != n {
				t.Fatalf("%s shape %v, want [%d %d]", h.Name, h.Shape, n, n)
			}
			if s := headerFloatT(t, h, "PIXSCALE"); s != scale {
				t.Errorf("%s PIXSCALE %g, want %g", h.Name, s, scale)
			}
		}
		for r := 0; r < n; r++ {
			y := (float64(r) - float64(n-1)/2) * scale
			for col := 0; col < n; col++ {
				x := (float64(col) - float64(n-1)/2) * scale
				i := r*n + col
				dx, dy := x-c.cx, y-c.cy
				rr := math.Hypot(dx, dy)
				if m := math.Hypot(ax.Data[i], ay.Data[i]); math.Abs(m-c.te) > 1e-12 {
					t.Fatalf("θ_E=%g centre (%g,%g): |α| at (row %d, col %d) = %.15g, want %g", c.te, c.cx, c.cy, r, col, m, c.te)
				}
				if math.Abs(ax.Data[i]-c.te*dx/rr) > 1e-12 || math.Abs(ay.Data[i]-c.te*dy/rr) > 1e-12 {
					t.Fatalf("α at (row %d, col %d) = (%g, %g), want (%g, %g)", r, col, ax.Data[i], ay.Data[i], c.te*dx/rr, c.te*dy/rr)
				}
				if want := c.te / (2 * rr); math.Abs(kap.Data[i]-want) > 1e-12*want {
					t.Fatalf("κ at (row %d, col %d) = %.15g, want %.15g", r, col, kap.Data[i], want)
				}
			}
		}
		if c.cx == 0 && c.cy == 0 {
			// Row 0 is the most negative y: the deflection points down there,
			// and column 0 (most negative x) points left.
			for col := 0; col < n; col++ {
				if ay.Data[col] >= 0 || ay.Data[(n-1)*n+col] <= 0 {
					t.Fatalf("column %d: α_y(row 0)=%g, α_y(row %d)=%g; want negative then positive", col, ay.Data[col], n-1, ay.Data[(n-1)*n+col])
				}
			}
			for r := 0; r < n; r++ {
				if ax.Data[r*n] >= 0 || ax.Data[r*n+n-1] <= 0 {
					t.Fatalf("row %d: α_x(col 0)=%g, α_x(col %d)=%g; want negative then positive", r, ax.Data[r*n], n-1, ax.Data[r*n+n-1])
				}
			}
		}
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// simLens is an SIE + shear lens with an analytic Sérsic source.
const simLens = `{"components": [{"type": "SIE", "theta_e": 0.6, "q": 0.8, "phi": 0.3, "center_x": 0.02, "center_y": -0.01},
                {"type": "SHEAR", "gamma1": 0.03, "gamma2": -0.02}],
 "source_light": [{"type": "SERSIC_ELLIPSE", "amp": 1, "R_sersic": 0.2, "n_sersic": 1.5, "q": 0.8, "phi": 0.4,
                   "center_x": 0.03, "center_y": 0.02}]}`

// simArgs are the geometry flags of the small simulated observations.
func simArgs(lensPath, out string, extra ...string) []string {
	a := []string{"simulate", "--lens", lensPath, "--npix", "24", "--pixel-scale", "0.08", "--source-npix", "16",
		"--source-pixel-scale", "0.06", "--supersample", "2", "--out", out}
	return append(a, extra...)
}

// TestSimulate checks the noise-free/noisy observations, the noise statistics
// and reproducibility, the header keywords and the PSF extension.
func TestSimulate(t *testing.T) {
	dir := t.TempDir()
	lensPath := writeText(t, dir, "lens.json", simLens)

	// Noise-free: primary == NOISEFREE, and the lensed source is visible.
	clean := filepath.Join(dir, "clean.fits")
	mustRun(t, simArgs(lensPath, clean)...)
	hc := readHDUs(t, clean)
	nf := extNamed(t, hc, "NOISEFREE")
	if len(hc[0].Data) != 24*24 || len(nf.Data) != 24*24 {
		t.Fatalf("primary %v, NOISEFREE %v: want 24×24", hc[0].Shape, nf.Shape)
	}
	peak := 0.0
	for i, v := range hc[0].Data {
		if v != nf.Data[i] {
			t.Fatalf("noise-free primary pixel %d = %g, NOISEFREE %g", i, v, nf.Data[i])
		}
		peak = math.Max(peak, v)
	}
	if !(peak > 0.05) {
		t.Fatalf("noise-free observation peak %g: the source is not lensed into the image", peak)
	}
	src := extNamed(t, hc, "SOURCE")
	if src.Shape[0] != 16 || src.Shape[1] != 16 {
		t.Fatalf("SOURCE shape %v, want 16×16", src.Shape)
	}
	if v := headerFloatT(t, hc[0], "NOISESIG"); v != 0 {
		t.Errorf("noise-free NOISESIG = %g", v)
	}
	if _, ok := fits.ByName(hc, "PSF"); ok {
		t.Errorf("PSF extension written without a PSF")
	}

	// Noisy: residual std ≈ σ, header keywords, same seed bit-identical.
	const sigma = 0.05
	noisy := func(name, seed string, extra ...string) string {
		p := filepath.Join(dir, name)
		mustRun(t, simArgs(lensPath, p, append([]string{"--noise-sigma", "0.05", "--seed", seed}, extra...)...)...)
		return p
	}
	a, a2, b := noisy("a.fits", "7"), noisy("a2.fits", "7"), noisy("b.fits", "8")
	ha := readHDUs(t, a)
	prim, nfa := ha[0], extNamed(t, ha, "NOISEFREE")
	for i := range nfa.Data {
		if nfa.Data[i] != nf.Data[i] {
			t.Fatalf("NOISEFREE depends on the noise: pixel %d %g vs %g", i, nfa.Data[i], nf.Data[i])
		}
	}
	var s1, s2 float64
	m := float64(len(prim.Data))
	for i, v := range prim.Data {
		d := v - nfa.Data[i]
		s1 += d
		s2 += d * d
	}
	mean := s1 / m
	std := math.Sqrt((s2 - m*mean*mean) / (m - 1))
	if tol := 5 * sigma / math.Sqrt(2*m); math.Abs(std-sigma) > tol {
		t.Errorf("noise std %g, want %g ± %g", std, sigma, tol)
	}
	if tol := 5 * sigma / math.Sqrt(m); math.Abs(mean) > tol {
		t.Errorf("noise mean %g, want 0 ± %g", mean, tol)
	}
	for key, want := range map[string]float64{"PIXSCALE": 0.08, "SRCSCALE": 0.06, "SRCNPIX": 16, "SUPERSMP": 2, "NOISESIG": sigma, "NOISSEED": 7} {
		if v := headerFloatT(t, prim, key); v != want {
			t.Errorf("header %s = %g, want %g", key, v, want)
		}
	}
	ba, _ := os.ReadFile(a)
	ba2, _ := os.ReadFile(a2)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, ba2) {
		t.Errorf("same seed gave different files")
	}
	hb := readHDUs(t, b)
	same := 0
	for i := range hb[0].Data {
		if hb[0].Data[i] == prim.Data[i] {
			same++
		}
	}
	if bytes.Equal(ba, bb) || same > 0 {
		t.Errorf("seeds 7 and 8 share %d of %d noisy pixels", same, len(prim.Data))
	}
	if s := headerFloatT(t, hb[0], "NOISSEED"); s != 8 {
		t.Errorf("NOISSEED %g, want 8", s)
	}

	// PSF: a normalised kernel is stored, its FWHM recorded, and the
	// convolved image keeps the flux away from the border.
	pp := noisy("psf.fits", "7", "--psf-fwhm", "0.2")
	hp := readHDUs(t, pp)
	psf := extNamed(t, hp, "PSF")
	if len(psf.Shape) != 2 || psf.Shape[0]%2 != 1 || psf.Shape[1]%2 != 1 {
		t.Fatalf("PSF shape %v, want odd 2-D", psf.Shape)
	}
	sum, kmax, imax := 0.0, 0.0, -1
	for i, v := range psf.Data {
		sum += v
		if v > kmax {
			kmax, imax = v, i
		}
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("PSF sums to %.15g, want 1", sum)
	}
	if want := (psf.Shape[1]/2)*psf.Shape[0] + psf.Shape[0]/2; imax != want {
		t.Errorf("PSF peak at %d, want the centre %d", imax, want)
	}
	if v := headerFloatT(t, hp[0], "PSFFWHM"); v != 0.2 {
		t.Errorf("PSFFWHM %g, want 0.2", v)
	}
	// The PSF blurs: the convolved noise-free peak is lower than without PSF.
	if pk := maxOf(extNamed(t, hp, "NOISEFREE").Data); !(pk < peak) {
		t.Errorf("PSF-convolved peak %g not below the unconvolved %g", pk, peak)
	}
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// TestVersionAndHelp checks that version names the GEMM back-end, that help
// lists every command, and that every command's --help exits 0 with its
// flags.
func TestVersionAndHelp(t *testing.T) {
	out := mustRun(t, "version")
	g, err := nn.DefaultGemm()
	if err != nil {
		t.Fatal(err)
	}
	if name := nn.EngineGemm(g).Name(); !strings.Contains(out, "gemm back-end: "+name) || !strings.HasPrefix(out, "lenscore ") {
		t.Errorf("version output %q does not name the back-end %q", out, name)
	}
	for _, h := range []string{"help", "--help", "-h"} {
		out := mustRun(t, h)
		for _, c := range commands() {
			if !strings.Contains(out, "\n  "+c.name+" ") {
				t.Errorf("%s does not list %s:\n%s", h, c.name, out)
			}
		}
	}
	if code, out, _ := runCLI(t); code != 2 || !strings.Contains(out, "Commands:") {
		t.Errorf("no arguments: exit %d, output %q; want 2 and the usage", code, out)
	}
	flagsOf := map[string][]string{
		"version":  nil,
		"deflect":  {"lens", "npix", "pixel-scale", "out"},
		"simulate": {"lens", "source", "source-pixel-scale", "source-npix", "npix", "pixel-scale", "supersample", "psf", "psf-fwhm", "noise-sigma", "seed", "out"},
		"sample": {"obs", "lens", "noise-map", "mask", "psf", "prior", "prior-sigma", "prior-data", "model", "n-samples", "steps",
			"likelihood", "sampler", "seed", "resume", "denoise", "out", "shard"},
		"invert":       {"obs", "lens", "prior", "prior-sigma", "optimise", "out"},
		"train":        {"out", "data", "steps", "batch", "lr", "resume", "seed"},
		"prepare":      {"in", "size", "out"},
		"fit-grf":      {"data", "size", "out"},
		"demo":         {"out", "model", "prior", "n-samples", "steps", "seed"},
		"experiment":   {},
		"merge":        {"remove-parts"},
		"survey":       {"catalog", "out", "shard"},
		"slurm-script": {"name", "tasks", "max-parallel", "cpus", "time", "dir", "signal-seconds"},
	}
	for _, c := range commands() {
		code, out, errs := runCLI(t, c.name, "--help")
		all := out + errs
		if code != 0 || !strings.Contains(all, "Usage: lenscore "+c.name) {
			t.Errorf("%s --help: exit %d, output %q", c.name, code, all)
			continue
		}
		for _, f := range flagsOf[c.name] {
			if !strings.Contains(all, "  -"+f+"\n") && !strings.Contains(all, "  -"+f+" ") {
				t.Errorf("%s --help does not list -%s:\n%s", c.name, f, all)
			}
		}
		if _, ok := flagsOf[c.name]; !ok && c.name != "version" && !strings.Contains(all, "  -") {
			t.Errorf("%s --help lists no flags:\n%s", c.name, all)
		}
	}
}

// TestPrepareOrientation writes a PNG with a Gaussian blob on a constant
// background in the top-right quadrant and checks the prepared FITS: size,
// peak 1, background 0 and the blob in high rows (row 0 = bottom) and high
// columns.
func TestPrepareOrientation(t *testing.T) {
	dir := t.TempDir()
	const w, size = 64, 16
	img := image.NewGray16(image.Rect(0, 0, w, w))
	const bx, by, bs = 44.5, 16.5, 3.0 // blob centre in picture pixels, y down
	for py := 0; py < w; py++ {
		for px := 0; px < w; px++ {
			r2 := (float64(px)+0.5-bx)*(float64(px)+0.5-bx) + (float64(py)+0.5-by)*(float64(py)+0.5-by)
			v := 0.2 + 0.7*math.Exp(-r2/(2*bs*bs))
			img.SetGray16(px, py, color.Gray16{Y: uint16(math.Round(v * 65535))})
		}
	}
	in := filepath.Join(dir, "galaxy.png")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "src.fits")
	mustRun(t, "prepare", "--in", in, "--size", "16", "--out", out, "--credit", "test blob")
	h := readHDUs(t, out)[0]
	if len(h.Shape) != 2 || h.Shape[0] != size || h.Shape[1] != size {
		t.Fatalf("shape %v, want %d×%d", h.Shape, size, size)
	}
	peak, ip := -1.0, -1
	for i, v := range h.Data {
		if v > peak {
			peak, ip = v, i
		}
		if v < 0 {
			t.Fatalf("pixel %d = %g < 0 after background removal", i, v)
		}
	}
	if math.Abs(peak-1) > 1e-6 {
		t.Errorf("peak %g, want 1", peak)
	}
	// Background: the corners are far from the blob and must be ≈ 0.
	for _, i := range []int{0, size - 1, (size - 1) * size, size*size - 1} {
		if h.Data[i] > 1e-3 {
			t.Errorf("corner pixel %d = %g, want ≈ 0 (background removed)", i, h.Data[i])
		}
	}
	// Expected position: picture (x, y_down) → output (col, row) with
	// col = x·size/w − ½, row = (w − y_down)·size/w − ½.
	wantCol := bx*size/w - 0.5
	wantRow := (w-by)*size/w - 0.5
	row, col := ip/size, ip%size
	if math.Abs(float64(row)-wantRow) > 1 || math.Abs(float64(col)-wantCol) > 1 {
		t.Errorf("blob peak at (row %d, col %d), want ≈ (%.2f, %.2f): orientation not preserved", row, col, wantRow, wantCol)
	}
	// Intensity-weighted centroid, a finer check than the argmax.
	var sw, sr, sc float64
	for i, v := range h.Data {
		sw += v
		sr += v * float64(i/size)
		sc += v * float64(i%size)
	}
	if math.Abs(sr/sw-wantRow) > 0.3 || math.Abs(sc/sw-wantCol) > 0.3 {
		t.Errorf("blob centroid (row %.2f, col %.2f), want (%.2f, %.2f)", sr/sw, sc/sw, wantRow, wantCol)
	}
	if s, ok, _ := h.Header.String("CREDIT"); !ok || s != "test blob" {
		t.Errorf("CREDIT = %q, %v", s, ok)
	}
}

// TestSimulateLinearSource lenses a pixelated source that is linear in the
// source-plane coordinates, S(u, v) = a + b·u + c·v, through an external
// shear. Bilinear interpolation reproduces a linear surface exactly and the
// shear's β = θ − α(θ) = ((1−γ1)x − γ2 y, −γ2 x + (1+γ1) y) is linear too,
// so every noise-free pixel must equal a + b·β_x + c·β_y at its centre: a
// check of the lens-equation sign, the shear convention, the pixel centres
// and the row order of both the --source file and the output.
func TestSimulateLinearSource(t *testing.T) {
	dir := t.TempDir()
	const ns, ss, n, s = 32, 0.05, 12, 0.05
	const a, b, c, g1, g2 = 1.0, 2.0, -3.0, 0.3, 0.1
	src := make([]float64, ns*ns)
	for r := 0; r < ns; r++ {
		for col := 0; col < ns; col++ {
			u := (float64(col) - (ns-1)/2.0) * ss
			v := (float64(r) - (ns-1)/2.0) * ss
			src[r*ns+col] = a + b*u + c*v
		}
	}
	srcPath := filepath.Join(dir, "src.fits")
	if err := fits.WriteFile(srcPath, []*fits.HDU{fits.NewImage(ns, ns, src)}); err != nil {
		t.Fatal(err)
	}
	lensPath := writeText(t, dir, "shear.json", `{"components": [{"type": "SHEAR", "gamma1": 0.3, "gamma2": 0.1}]}`)
	out := filepath.Join(dir, "o.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--source", srcPath, "--source-pixel-scale", "0.05",
		"--npix", "12", "--pixel-scale", "0.05", "--supersample", "3", "--out", out)
	hdus := readHDUs(t, out)
	obs := hdus[0]
	if len(obs.Data) != n*n {
		t.Fatalf("observation shape %v", obs.Shape)
	}
	for r := 0; r < n; r++ {
		y := (float64(r) - (n-1)/2.0) * s
		for col := 0; col < n; col++ {
			x := (float64(col) - (n-1)/2.0) * s
			bx, by := (1-g1)*x-g2*y, -g2*x+(1+g1)*y
			want := a + b*bx + c*by
			if got := obs.Data[r*n+col]; math.Abs(got-want) > 1e-12 {
				t.Fatalf("pixel (row %d, col %d) at (%g, %g) = %.15g, want %.15g", r, col, x, y, got, want)
			}
		}
	}
	sh := extNamed(t, hdus, "SOURCE")
	for i, v := range sh.Data {
		if v != src[i] {
			t.Fatalf("SOURCE pixel %d = %g, input %g", i, v, src[i])
		}
	}
	if v := headerFloatT(t, obs, "SRCNPIX"); v != ns {
		t.Errorf("SRCNPIX %g, want %d (from the --source file)", v, ns)
	}
}
