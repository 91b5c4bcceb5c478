package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/weights"
)

// errCase is a command line expected to fail.
type errCase struct {
	name string
	args []string
	code int      // expected exit code
	want []string // substrings of stderr (file name, problem)
}

// checkFails runs c and checks the exit code, the message and that nothing
// was written to the output path (a file, or a directory left empty).
func checkFails(t *testing.T, c errCase, out string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, c.args...)
	short := stderr
	if len(short) > 600 {
		short = short[:600] + "…"
	}
	if code != c.code {
		t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", c.name, code, c.code, stdout, short)
	}
	for _, w := range c.want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr does not mention %q:\n%s", c.name, w, short)
		}
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("%s: panic:\n%s", c.name, stderr)
	}
	if out == "" {
		return
	}
	if st, err := os.Stat(out); err == nil && !st.IsDir() {
		t.Errorf("%s: output %s written despite the error", c.name, out)
	} else if err == nil {
		if fs := filesIn(t, out); len(fs) > 0 {
			t.Errorf("%s: output directory %s holds %v after the error", c.name, out, fs)
		}
	}
	// No temporaries beside the output either.
	for _, f := range filesIn(t, filepath.Dir(out)) {
		if strings.HasPrefix(f, ".") || strings.Contains(f, ".tmp") {
			t.Errorf("%s: temporary file %s left in %s", c.name, f, filepath.Dir(out))
		}
	}
}

// smallObs simulates an 16×16 observation of an 8×8 source (the problem the
// error tests start from) and returns the lens and observation paths.
func smallObs(t *testing.T, dir string) (lensPath, obsPath string) {
	t.Helper()
	lensPath = writeText(t, dir, "lens.json", simLens)
	obsPath = filepath.Join(dir, "obs.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--npix", "16", "--pixel-scale", "0.1", "--source-npix", "8",
		"--source-pixel-scale", "0.1", "--noise-sigma", "0.05", "--seed", "1", "--out", obsPath)
	return lensPath, obsPath
}

// TestBadObservation feeds malformed observations to sample and invert.
func TestBadObservation(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	good, err := os.ReadFile(obsPath)
	if err != nil {
		t.Fatal(err)
	}
	hdus := readHDUs(t, obsPath)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeFITS := func(name string, h ...*fits.HDU) string {
		p := filepath.Join(dir, name)
		if err := fits.WriteFile(p, h); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := make([]byte, 5000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.IntN(256))
	}
	nanData := append([]float64(nil), hdus[0].Data...)
	nanData[3*16+5] = math.NaN()
	nanHDU := fits.NewImage(16, 16, nanData)
	nanHDU.Header = hdus[0].Header
	rect := fits.NewImage(16, 12, make([]float64, 16*12))
	rect.Header = hdus[0].Header
	noGeo := fits.NewImage(16, 16, hdus[0].Data) // no PIXSCALE etc.
	cases := []struct {
		name, path string
		want       []string
	}{
		{"truncated data", write("trunc.fits", good[:2880+1000]), []string{"trunc.fits", "truncated"}},
		{"truncated header", write("trunch.fits", good[:1000]), []string{"trunch.fits"}},
		{"garbage", write("garbage.fits", garbage), []string{"garbage.fits"}},
		{"empty", write("empty.fits", nil), []string{"empty.fits"}},
		{"NaN pixel", writeFITS("nan.fits", nanHDU), []string{"nan.fits", "row 3, col 5", "NaN"}},
		{"non-square", writeFITS("rect.fits", rect), []string{"rect.fits", "square", "16×12"}},
		{"no geometry", writeFITS("nogeo.fits", noGeo), []string{"nogeo.fits", "PIXSCALE"}},
		{"missing file", filepath.Join(dir, "nonexistent.fits"), []string{"nonexistent.fits"}},
	}
	for _, c := range cases {
		for _, cmd := range []string{"sample", "invert"} {
			out := filepath.Join(dir, "out-"+cmd+"-"+strings.ReplaceAll(c.name, " ", "_"))
			args := []string{cmd, "--obs", c.path, "--lens", lensPath, "--prior-sigma", "0.3", "--out", out}
			if cmd == "sample" {
				args = append(args, "--steps", "3")
			}
			checkFails(t, errCase{name: cmd + " " + c.name, code: 1, want: append([]string{"lenscore " + cmd + ":"}, c.want...), args: args}, out)
		}
	}

	// Bad noise maps and masks.
	zero := writeFITS("zero.fits", fits.NewImage(16, 16, nil))
	small := writeFITS("small.fits", fits.NewImage(8, 8, nil))
	for _, c := range []struct {
		name string
		flag []string
		want []string
	}{
		{"zero noise map", []string{"--noise-map", zero}, []string{"zero.fits", "noise σ must be > 0"}},
		{"noise map shape", []string{"--noise-map", small}, []string{"small.fits", "8×8"}},
		{"mask excludes all", []string{"--mask", zero}, []string{"zero.fits", "excludes every pixel"}},
		{"mask shape", []string{"--mask", small}, []string{"small.fits", "8×8"}},
		{"negative noise", []string{"--noise-sigma", "-1"}, []string{"--noise-sigma", "> 0, got -1"}},
	} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "_"))
		args := append([]string{"sample", "--obs", obsPath, "--lens", lensPath, "--steps", "3", "--out", out}, c.flag...)
		checkFails(t, errCase{name: c.name, code: 1, want: c.want, args: args}, out)
	}
}

// TestBadLensFile feeds invalid lens files to simulate, deflect and sample.
func TestBadLensFile(t *testing.T) {
	dir := t.TempDir()
	_, obsPath := smallObs(t, dir)
	sersic := `, "source_light": [{"type": "SERSIC", "amp": 1, "R_sersic": 0.2, "n_sersic": 1, "center_x": 0, "center_y": 0}]}`
	cases := []struct {
		name, body string
		want       []string
	}{
		{"negative theta_e", `{"components": [{"type": "SIS", "theta_e": -1, "center_x": 0, "center_y": 0}]` + sersic, []string{"theta_e", "-1"}},
		{"unknown type", `{"components": [{"type": "NFW", "theta_e": 1, "center_x": 0, "center_y": 0}]` + sersic, []string{"components[0]", "NFW"}},
		{"unknown key", `{"components": [{"type": "SIS", "theta_e": 1, "center_x": 0, "center_y": 0, "colour": 3}]` + sersic, []string{"colour"}},
		{"unknown top key", `{"components": [{"type": "SIS", "theta_e": 1, "center_x": 0, "center_y": 0}], "redshift": 0.5}`, []string{"redshift"}},
		{"missing field", `{"components": [{"type": "SIS", "theta_e": 1, "center_x": 0}]` + sersic, []string{"center_y", "required"}},
		{"invalid JSON", `{"components": [{"type": "SIS", "theta_e": 1,, }]}`, []string{"invalid JSON"}},
		{"truncated JSON", `{"components": [{"type": "SIS", "theta_e": 1`, []string{"JSON"}},
		{"NaN", `{"components": [{"type": "SIS", "theta_e": NaN, "center_x": 0, "center_y": 0}]}`, []string{"NaN"}},
		{"empty components", `{"components": []}`, []string{"components"}},
	}
	for i, c := range cases {
		lp := writeText(t, dir, "lens"+string(rune('a'+i))+".json", c.body)
		base := filepath.Base(lp)
		for _, cmd := range []string{"simulate", "deflect", "sample"} {
			var args []string
			var out string
			switch cmd {
			case "simulate":
				out = filepath.Join(dir, "sim-"+base+".fits")
				args = simArgs(lp, out)
			case "deflect":
				out = filepath.Join(dir, "defl-"+base+".fits")
				args = []string{"deflect", "--lens", lp, "--npix", "8", "--out", out}
			case "sample":
				out = filepath.Join(dir, "smp-"+base)
				args = []string{"sample", "--obs", obsPath, "--lens", lp, "--steps", "3", "--out", out}
			}
			checkFails(t, errCase{name: cmd + " " + c.name, code: 1, args: args, want: append([]string{base}, c.want...)}, out)
		}
	}
	// A lens without source_light and no --source cannot be simulated.
	lp := writeText(t, dir, "nolight.json", `{"components": [{"type": "SIS", "theta_e": 1, "center_x": 0, "center_y": 0}]}`)
	out := filepath.Join(dir, "nolight.fits")
	checkFails(t, errCase{name: "no source light", code: 1, args: simArgs(lp, out), want: []string{"nolight.json", "source_light"}}, out)
}

// TestUsageErrors checks missing flags, unknown commands and bad flag
// values.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	out := filepath.Join(dir, "out")
	for _, c := range []errCase{
		{"deflect no --lens", []string{"deflect", "--out", out}, 2, []string{"missing required flag --lens", "Usage: lenscore deflect"}},
		{"deflect no --out", []string{"deflect", "--lens", lensPath}, 2, []string{"missing required flag --out", "Usage: lenscore deflect"}},
		{"simulate no --out", []string{"simulate", "--lens", lensPath}, 2, []string{"missing required flag --out", "Usage: lenscore simulate"}},
		{"sample no --obs", []string{"sample", "--lens", lensPath, "--out", out}, 2, []string{"missing required flag --obs", "Usage: lenscore sample"}},
		{"sample no --lens", []string{"sample", "--obs", obsPath, "--out", out}, 2, []string{"missing required flag --lens"}},
		{"sample no --out", []string{"sample", "--obs", obsPath, "--lens", lensPath}, 2, []string{"missing required flag --out"}},
		{"invert no --obs", []string{"invert", "--lens", lensPath, "--out", out}, 2, []string{"missing required flag --obs", "Usage: lenscore invert"}},
		{"prepare no --in", []string{"prepare", "--out", out}, 2, []string{"missing required flag --in", "Usage: lenscore prepare"}},
		{"fit-grf no --out", []string{"fit-grf"}, 2, []string{"missing required flag --out"}},
		{"train no --out", []string{"train"}, 2, []string{"missing required flag --out"}},
		{"unknown command", []string{"frobnicate", "--out", out}, 2, []string{`unknown command "frobnicate"`, "Commands:", "simulate"}},
		{"unknown flag", []string{"deflect", "--lens", lensPath, "--colour", "red", "--out", out}, 2, []string{"colour", "Usage: lenscore deflect"}},
		{"stray argument", []string{"deflect", "--lens", lensPath, "--out", out, "extra"}, 2, []string{"unexpected arguments: extra"}},
		{"npix abc", []string{"deflect", "--lens", lensPath, "--npix", "abc", "--out", out}, 2, []string{"npix", "abc"}},
		{"npix 0", []string{"deflect", "--lens", lensPath, "--npix", "0", "--out", out}, 1, []string{"--npix"}},
		{"steps 0", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--steps", "0", "--out", out}, 1, []string{"--steps", `"0"`}},
		{"steps abc", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--steps", "abc", "--out", out}, 1, []string{"--steps", `"abc"`}},
		{"n-samples 0", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--n-samples", "0", "--out", out}, 1, []string{"--n-samples"}},
		{"sampler xx", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--sampler", "xx", "--steps", "3", "--out", out}, 1, []string{"--sampler", "xx"}},
		{"likelihood xx", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--likelihood", "xx", "--steps", "3", "--out", out}, 1, []string{"--likelihood", "xx"}},
		{"prior xx", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior", "xx", "--steps", "3", "--out", out}, 1, []string{"--prior", "xx"}},
		{"prior-sigma 0", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0", "--steps", "3", "--out", out}, 1, []string{"--prior-sigma"}},
		{"network without model", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior", "network", "--steps", "3", "--out", out}, 1, []string{"--prior network needs --model"}},
		{"grf without data", []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior", "grf", "--steps", "3", "--out", out}, 1, []string{"--prior grf needs --prior-data"}},
		{"invert network", []string{"invert", "--obs", obsPath, "--lens", lensPath, "--prior", "network", "--out", out}, 1, []string{"Gaussian prior"}},
		{"psf and fwhm", []string{"simulate", "--lens", lensPath, "--psf", obsPath, "--psf-fwhm", "0.1", "--out", out + ".fits"}, 1, []string{"--psf", "--psf-fwhm"}},
		{"negative noise", []string{"simulate", "--lens", lensPath, "--noise-sigma", "-0.1", "--out", out + ".fits"}, 1, []string{"--noise-sigma"}},
		{"prepare size 2", []string{"prepare", "--in", obsPath, "--size", "2", "--out", out + ".fits"}, 1, []string{"--size"}},
	} {
		checkFails(t, c, out)
		if _, err := os.Stat(out + ".fits"); err == nil {
			t.Errorf("%s: wrote %s.fits", c.name, out)
		}
	}
	// A missing parent directory for a single output file.
	for _, cmd := range [][]string{
		simArgs(lensPath, filepath.Join(dir, "no", "such", "o.fits")),
		{"deflect", "--lens", lensPath, "--npix", "8", "--out", filepath.Join(dir, "no", "such", "d.fits")},
	} {
		checkFails(t, errCase{name: cmd[0] + " missing parent", args: cmd, code: 1, want: []string{filepath.Join(dir, "no", "such")}}, "")
		if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
			t.Errorf("%s created the missing parent directory (%v)", cmd[0], err)
		}
	}
	// An --out path whose parent is a file.
	checkFails(t, errCase{name: "parent is a file", args: simArgs(lensPath, filepath.Join(obsPath, "o.fits")), code: 1, want: []string{"obs.fits"}}, "")
	if _, err := os.Stat(obsPath); err != nil {
		t.Fatal(err)
	}
}

// tinyNet is a small score network for 8×8 images.
func tinyNet(t *testing.T) *score.Net {
	t.Helper()
	g, err := nn.DefaultGemm()
	if err != nil {
		t.Fatal(err)
	}
	cfg := score.Config{ImageSize: 8, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnResolutions: []int{4}, FourierScale: 16}
	net, err := score.New(cfg, g, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(net.Close)
	return net
}

func modelMeta(t *testing.T, net *score.Net) map[string]string {
	t.Helper()
	cj, err := json.Marshal(net.Config())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{score.MetaConfig: string(cj), "sigma_min": "0.001", "sigma_max": "5", "step": "10"}
}

// TestBadModel checks --model with corrupt, truncated, incomplete and
// mismatched network files, after checking that the intact file works.
func TestBadModel(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	net := tinyNet(t)
	meta := modelMeta(t, net)
	good := filepath.Join(dir, "good.safetensors")
	if err := weights.Save(good, net.Params(), meta); err != nil {
		t.Fatal(err)
	}
	sampleArgs := func(model, out string) []string {
		return []string{"sample", "--obs", obsPath, "--lens", lensPath, "--model", model, "--n-samples", "2", "--steps", "3", "--out", out}
	}
	// Control: the intact model samples (2 chains, 3 steps).
	okOut := filepath.Join(dir, "ok")
	mustRun(t, sampleArgs(good, okOut)...)
	if h := readHDUs(t, filepath.Join(okOut, "samples.fits"))[0]; len(h.Shape) != 3 || h.Shape[2] != 2 || h.Shape[0] != 8 {
		t.Fatalf("network samples shape %v, want [8 8 2]", h.Shape)
	}

	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := rand.New(rand.NewPCG(3, 4))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(r.IntN(256))
	}
	params := net.Params()
	missing := filepath.Join(dir, "missing.safetensors")
	if err := weights.Save(missing, params[:len(params)-1], meta); err != nil {
		t.Fatal(err)
	}
	noSigma := filepath.Join(dir, "nosigma.safetensors")
	if err := score.Save(noSigma, net); err != nil { // config only, no σ range
		t.Fatal(err)
	}
	// A network for 16×16 images given an 8×8 source grid.
	g, _ := nn.DefaultGemm()
	big, err := score.New(score.Config{ImageSize: 16, Channels: 1, NF: 8, ChMult: []int{1, 2}, NumResBlocks: 1, AttnResolutions: []int{8}, FourierScale: 16}, g, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	wrongSize := filepath.Join(dir, "wrongsize.safetensors")
	if err := weights.Save(wrongSize, big.Params(), modelMeta(t, big)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		want       []string
	}{
		{"random bytes", write("random.safetensors", garbage), []string{"random.safetensors"}},
		{"truncated", write("trunc.safetensors", b[:len(b)/2]), []string{"trunc.safetensors"}},
		{"header only", write("hdr.safetensors", b[:16]), []string{"hdr.safetensors"}},
		{"empty", write("empty.safetensors", nil), []string{"empty.safetensors"}},
		{"missing tensor", missing, []string{"missing.safetensors", params[len(params)-1].Name}},
		{"no sigma range", noSigma, []string{"nosigma.safetensors", "sigma_min"}},
		{"wrong image size", wrongSize, []string{"wrongsize.safetensors", "16×16", "8×8"}},
		{"missing file", filepath.Join(dir, "nothere.safetensors"), []string{"nothere.safetensors"}},
	} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "_"))
		checkFails(t, errCase{name: c.name, args: sampleArgs(c.path, out), code: 1, want: append([]string{"lenscore sample:"}, c.want...)}, out)
	}
}
