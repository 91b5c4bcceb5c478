package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/weights"
)

const smFixtures = "../../score/testdata/ncsnpp"

func readF32File(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

type smCase struct {
	Shape []int       `json:"shape"`
	T     [][]float32 `json:"t"`
}

func readSMCase(t *testing.T, dir string) smCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c smCase
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// import-model, then score --t on the fixture's input, gives score_models'
// own scores (computed by PyTorch) to 1e-5 relative; the NCSNpp runs at the
// input's size, not the recorded one.
func TestImportModelScoreMatchesScoreModels(t *testing.T) {
	src := filepath.Join(smFixtures, "nf16_1222_64")
	c := readSMCase(t, src)
	dir := t.TempDir()
	model := filepath.Join(dir, "m")
	mustRun(t, "import-model", "--checkpoint-dir", src, "--image-size", "32", "--out", model)
	x := readF32File(t, filepath.Join(src, "x.f32"))
	ref := readF32File(t, filepath.Join(src, "score.f32"))
	side := c.Shape[2]
	data := make([]float64, len(x))
	for i, v := range x {
		data[i] = float64(v)
	}
	xp := filepath.Join(dir, "x.fits")
	if err := fits.WriteFile(xp, []*fits.HDU{fits.NewImage(side, side, data)}); err != nil {
		t.Fatal(err)
	}
	for k, ts := range c.T {
		out := filepath.Join(dir, fmt.Sprintf("s%d.fits", k))
		mustRun(t, "score", "--model", model, "--x", xp, "--t", formatF32(ts[0]), "--out", out)
		got := readHDUs(t, out)[0].Data
		want := ref[k*len(x) : (k+1)*len(x)]
		var d, m float64
		for i := range want {
			d = math.Max(d, math.Abs(got[i]-float64(want[i])))
			m = math.Max(m, math.Abs(float64(want[i])))
		}
		if d/m > 1e-5 {
			t.Errorf("t=%v: relative error %.3g", ts[0], d/m)
		}
	}
	// The model is refused where it cannot run: an odd size.
	odd := filepath.Join(dir, "odd.fits")
	fits.WriteFile(odd, []*fits.HDU{fits.NewImage(12, 12, make([]float64, 144))})
	if code, _, errs := runCLI(t, "score", "--model", model, "--x", odd, "--sigma", "1", "--out", filepath.Join(dir, "o.fits")); code == 0 || !strings.Contains(errs, "12×12") {
		t.Errorf("12×12 input with 4 levels: exit %d, %s", code, errs)
	}
}

// formatF32 prints a float32 so that parsing it back gives the same float32.
func formatF32(v float32) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// lenscore → score_models → lenscore is exact: exporting an imported model
// and importing the export gives the same weights bit for bit and the same
// configuration; a second export into the same directory is refused, and
// lenscore's own architecture cannot be exported.
func TestExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"nf16_122_attn", "nf8_12_noattn_c2"} {
		a := filepath.Join(dir, name, "a")
		e := filepath.Join(dir, name, "export")
		b := filepath.Join(dir, name, "b")
		mustRun(t, "import-model", "--checkpoint-dir", filepath.Join(smFixtures, name), "--image-size", "16", "--out", a)
		mustRun(t, "export-model", "--format", "score_models", "--model", a, "--out", e)
		mustRun(t, "import-model", "--checkpoint-dir", e, "--image-size", "16", "--out", b)
		ma, ta := readSafetensors(t, filepath.Join(a, "model.safetensors"))
		mb, tb := readSafetensors(t, filepath.Join(b, "model.safetensors"))
		if ma["config"] != mb["config"] || ma["sigma_min"] != mb["sigma_min"] || ma["sigma_max"] != mb["sigma_max"] {
			t.Errorf("%s: metadata differs:\n%v\n%v", name, ma, mb)
		}
		if len(ta) != len(tb) || len(ta) == 0 {
			t.Fatalf("%s: %d and %d bytes of tensors", name, len(ta), len(tb))
		}
		if string(ta) != string(tb) {
			t.Errorf("%s: weights differ after the round trip", name)
		}
		if code, _, errs := runCLI(t, "export-model", "--format", "score_models", "--model", a, "--out", e); code == 0 || !strings.Contains(errs, "already holds") {
			t.Errorf("second export into %s: exit %d, %s", e, code, errs)
		}
	}
	own := "../../models/prior64/model.safetensors"
	if _, err := os.Stat(own); err == nil {
		code, _, errs := runCLI(t, "export-model", "--format", "score_models", "--model", own, "--out", filepath.Join(dir, "own"))
		if code == 0 || !strings.Contains(errs, "only NCSNpp") {
			t.Errorf("exporting lenscore's architecture: exit %d, %s", code, errs)
		}
	}
}

// readSafetensors returns the metadata and the data section of a
// safetensors file (its tensors' bytes in name order).
func readSafetensors(t *testing.T, path string) (map[string]string, []byte) {
	t.Helper()
	meta, err := weights.ReadMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	return meta, b[8+n:]
}

// import-model reports bad checkpoint directories clearly and writes nothing.
func TestImportModelErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(smFixtures, "nf8_12_nofir")
	bad := func(name, hparams string, extra func(string)) string {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "model_hparams.json"), []byte(hparams), 0o644)
		ck, _ := filepath.Glob(filepath.Join(src, "checkpoint*.pt"))
		b, _ := os.ReadFile(ck[0])
		os.WriteFile(filepath.Join(d, "checkpoint_002.pt"), b, 0o644)
		if extra != nil {
			extra(d)
		}
		return d
	}
	hb, _ := os.ReadFile(filepath.Join(src, "model_hparams.json"))
	orig := string(hb)
	cases := []struct {
		name, hparams string
		extra         func(string)
		args          []string
		want          string
	}{
		{"vp", strings.Replace(orig, `"sde": "ve"`, `"sde": "vp"`, 1), nil, nil, `"sde" is "vp"`},
		{"ddpm", strings.Replace(orig, `"resblock_type": "biggan"`, `"resblock_type": "ddpm"`, 1), nil, nil, `"resblock_type" is "ddpm"`},
		{"cat", strings.Replace(orig, `"combine_method": "sum"`, `"combine_method": "cat"`, 1), nil, nil, `"combine_method"`},
		{"unknown", strings.Replace(orig, `"T": 1.0`, `"T": 1.0, "fourier_features": true`, 1), nil, nil, `"fourier_features" is not a hyper-parameter`},
		{"nf", strings.Replace(orig, `"nf": 8`, `"nf": 16`, 1), nil, nil, "has shape"},
		{"missing", orig, nil, []string{"--checkpoint", "7"}, "no checkpoint number 7"},
		{"corrupt", orig, func(d string) {
			os.WriteFile(filepath.Join(d, "checkpoint_002.pt"), []byte("PK\x03\x04garbage"), 0o644)
		}, nil, "checkpoint_002.pt"},
		{"nohparams", orig, func(d string) { os.Remove(filepath.Join(d, "model_hparams.json")) }, nil, "model_hparams.json"},
	}
	for _, c := range cases {
		d := bad(c.name, c.hparams, c.extra)
		out := filepath.Join(dir, "out-"+c.name)
		args := append([]string{"import-model", "--checkpoint-dir", d, "--out", out}, c.args...)
		code, _, errs := runCLI(t, args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want it to contain %q", c.name, code, errs, c.want)
		}
		if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
			t.Errorf("%s: wrote a model despite the error", c.name)
		}
	}
}

// score_models' ScoreModel(checkpoints_directory=DIR) loads lenscore's
// export and gives the scores of the original checkpoint. Needs
// /usr/bin/python3 with torch and LENSCORE_SCORE_MODELS naming a directory
// that holds the score_models package (see scripts/score_models_ref.py).
func TestScoreModelsLoadsExport(t *testing.T) {
	smPath := os.Getenv("LENSCORE_SCORE_MODELS")
	if smPath == "" {
		t.Skip("LENSCORE_SCORE_MODELS not set")
	}
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() != nil {
		t.Skip("no python3-torch")
	}
	dir := t.TempDir()
	for _, name := range []string{"nf16_122_attn", "nf8_12_noattn_c2"} {
		src := filepath.Join(smFixtures, name)
		c := readSMCase(t, src)
		a, e := filepath.Join(dir, name, "a"), filepath.Join(dir, name, "e")
		mustRun(t, "import-model", "--checkpoint-dir", src, "--out", a, "--image-size", "16")
		mustRun(t, "export-model", "--format", "score_models", "--model", a, "--out", e)
		xp := filepath.Join(src, "x.f32")
		js := filepath.Join(dir, name, "x.json")
		os.WriteFile(js, []byte(`{"shape": `+mustJSON(c.Shape)+`}`), 0o644)
		// the script reads X.json beside X: link x.f32 into dir
		xl := filepath.Join(dir, name, "x.f32")
		b, _ := os.ReadFile(xp)
		os.WriteFile(xl, b, 0o644)
		ref := readF32File(t, filepath.Join(src, "score.f32"))
		per := len(b) / 4
		for k, ts := range c.T {
			tp := filepath.Join(dir, name, "t.f32")
			tb := make([]byte, 4*len(ts))
			for i, v := range ts {
				binary.LittleEndian.PutUint32(tb[4*i:], math.Float32bits(v))
			}
			os.WriteFile(tp, tb, 0o644)
			cmd := exec.Command("/usr/bin/python3", "../../scripts/score_models_ref.py", "--score-models", smPath, "score", e, xl, tp)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("score_models on the export: %v", err)
			}
			got := make([]float32, len(out)/4)
			for i := range got {
				got[i] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
			}
			want := ref[k*per : (k+1)*per]
			if len(got) != len(want) {
				t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s t=%v: score_models on the export gives %v at %d, the original %v", name, ts, got[i], i, want[i])
				}
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// score with lenscore's own network: --sigma gives ε_θ(x, σ)/σ of the
// network evaluated directly, plane by plane of a cube, and --t the same
// at σ(t); bad flags are refused.
func TestScoreCommandOwnNetwork(t *testing.T) {
	model := "../../models/prior64/model.safetensors"
	if _, err := os.Stat(model); err != nil {
		t.Skip("no shipped model")
	}
	dir := t.TempDir()
	const n = 64
	data := make([]float64, 2*n*n)
	for i := range data {
		data[i] = 0.3 * math.Sin(float64(i)*0.37)
	}
	xp := filepath.Join(dir, "x.fits")
	if err := fits.WriteFile(xp, []*fits.HDU{fits.NewCube(n, n, 2, data)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s.fits")
	mustRun(t, "score", "--model", model, "--x", xp, "--sigma", "0.5", "--out", out)
	h := readHDUs(t, out)[0]
	if len(h.Shape) != 3 || h.Shape[2] != 2 {
		t.Fatalf("output shape %v", h.Shape)
	}
	m, err := openModel(model)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	net, ve := m.Net, m.VE()
	x := make([]float32, len(data))
	for i, v := range data {
		x[i] = float32(v)
	}
	eps := net.Forward(x, []float32{0.5, 0.5}, 2)
	for i := range eps {
		if want := float64(eps[i]) / 0.5; math.Abs(h.Data[i]-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("pixel %d: %v, want %v", i, h.Data[i], want)
		}
	}
	// --t 0.4 is --sigma σ(0.4)
	mustRun(t, "score", "--model", model, "--x", xp, "--t", "0.4", "--out", out, "--force")
	a := readHDUs(t, out)[0].Data
	mustRun(t, "score", "--model", model, "--x", xp, "--sigma", strconv.FormatFloat(ve.Sigma(0.4), 'g', -1, 64), "--out", out, "--force")
	b := readHDUs(t, out)[0].Data
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("--t 0.4 and --sigma σ(0.4) differ at %d: %v %v", i, a[i], b[i])
		}
	}
	for _, args := range [][]string{
		{"--t", "0.5", "--sigma", "1"},
		{},
		{"--t", "1.5"},
		{"--sigma", "-1"},
	} {
		full := append([]string{"score", "--model", model, "--x", xp, "--out", filepath.Join(dir, "bad.fits")}, args...)
		if code, _, _ := runCLI(t, full...); code == 0 {
			t.Errorf("score %v accepted", args)
		}
		if _, err := os.Stat(filepath.Join(dir, "bad.fits")); err == nil {
			t.Errorf("score %v wrote output", args)
		}
	}
	// lenscore's own network does not run at another size.
	small := filepath.Join(dir, "small.fits")
	fits.WriteFile(small, []*fits.HDU{fits.NewImage(32, 32, make([]float64, 32*32))})
	if code, _, errs := runCLI(t, "score", "--model", model, "--x", small, "--sigma", "1", "--out", out, "--force"); code == 0 || !strings.Contains(errs, "only NCSNpp") {
		t.Errorf("32×32 with the 64×64 lenscore network: exit %d, %s", code, errs)
	}
}
