package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/experiment"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/weights"
)

// TestExportModel trains a tiny network for a few steps with `lenscore
// train`, exports it, and checks the exported files against the run: the
// weights are the run's EMA file byte for byte and load as a network, and
// model.json carries the step, σ range, sizes and the logged losses.
func TestExportModel(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gals")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBlobs(t, data, 8)
	run := filepath.Join(dir, "run")
	mustRun(t, "train", "--out", run, "--data", data, "--size", "16", "--nf", "8", "--steps", "6", "--batch", "2",
		"--val-every", "3", "--val-fraction", "0.25", "--warmup", "2")
	out := filepath.Join(dir, "model")
	mustRun(t, "export-model", "--run", run, "--out", out)

	a, err := os.ReadFile(filepath.Join(run, "ema.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("model.safetensors differs from the run's ema.safetensors")
	}
	g, err := nn.DefaultGemm()
	if err != nil {
		t.Fatal(err)
	}
	net, err := score.Load(filepath.Join(out, "model.safetensors"), g)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	var card modelCard
	cb, err := os.ReadFile(filepath.Join(out, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cb, &card); err != nil {
		t.Fatal(err)
	}
	if card.Step != 6 || card.Network.ImageSize != 16 || card.Network.NF != 8 || card.SigmaMin != 1e-4 ||
		!(card.SigmaMax > 0) || card.TrainImages+card.ValImages != 8 || card.ValStep != 6 || !(card.TrainLoss > 0) ||
		card.Training.BatchSize != 2 || int64(card.Parameters) != net.Config().NumParams() {
		t.Errorf("model.json: %+v", card)
	}
	if fi, err := os.Stat(filepath.Join(out, "loss.png")); err != nil || fi.Size() < 1000 {
		t.Errorf("loss.png: %v", err)
	}
	log, err := os.ReadFile(filepath.Join(out, "train.jsonl"))
	if err != nil || strings.Count(string(log), "\n") < 1 {
		t.Errorf("train.jsonl: %v, %d bytes", err, len(log))
	}

	// Fine-tuning: --init starts from the model's weights and σ range and
	// records where it came from; stars are removed by default and recorded.
	run2 := filepath.Join(dir, "run2")
	mf16 := filepath.Join(out, "model.safetensors")
	mustRun(t, "train", "--out", run2, "--data", data, "--init", mf16, "--steps", "1", "--batch", "2", "--lr", "1e-12",
		"--val-every", "1", "--val-fraction", "0.25", "--warmup", "1")
	m0, err := weights.ReadMeta(mf16)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := weights.ReadMeta(filepath.Join(run2, "ema.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, "export-model", "--run", run2, "--out", filepath.Join(dir, "model2"))
	var card2 modelCard
	if cb, err = os.ReadFile(filepath.Join(dir, "model2", "model.json")); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cb, &card2); err != nil {
		t.Fatal(err)
	}
	if card.Stars != "removed" || card.Init != "" || card2.Stars != "removed" || !strings.Contains(card2.Init, mf16) || card2.Step != 1 {
		t.Errorf("model cards: stars %q init %q; fine-tuned: stars %q init %q step %d", card.Stars, card.Init, card2.Stars, card2.Init, card2.Step)
	}
	if m1["sigma_max"] != m0["sigma_max"] || !strings.Contains(m1["init"], mf16) || m1["stars"] != "removed" || m0["stars"] != "removed" {
		t.Errorf("fine-tuned metadata %v (initial %v)", m1, m0)
	}
	ft, err := score.Load(filepath.Join(run2, "ema.safetensors"), g)
	if err != nil {
		t.Fatal(err)
	}
	for k, p := range ft.Params() {
		for i, v := range p.Data {
			if d := math.Abs(float64(v - net.Params()[k].Data[i])); d > 1e-6 {
				t.Fatalf("fine-tuned %s[%d] = %g, initial %g", p.Name, i, v, net.Params()[k].Data[i])
			}
		}
	}
	ft.Close()
	checkFails(t, errCase{name: "init with nf", code: 1, want: []string{"--init", "--nf"},
		args: []string{"train", "--out", filepath.Join(dir, "run3"), "--data", data, "--init", mf16, "--nf", "16"}}, filepath.Join(dir, "run3"))
	checkFails(t, errCase{name: "init with resume", code: 1, want: []string{"--init", "--resume"},
		args: []string{"train", "--out", run2, "--data", data, "--init", mf16, "--resume"}}, "")
	checkFails(t, errCase{name: "init missing", code: 1, want: []string{"--init", "nope.safetensors"},
		args: []string{"train", "--out", filepath.Join(dir, "run4"), "--data", data, "--init", filepath.Join(dir, "nope.safetensors")}}, filepath.Join(dir, "run4"))

	// Compare checkpoints by DSM loss: the same network twice gives a zero
	// paired difference, overall and per data set.
	if testing.Short() {
		return
	}
	run64 := filepath.Join(dir, "run64")
	data64 := filepath.Join(dir, "gals64")
	if err := os.Mkdir(data64, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBlobs(t, data64, 40)
	mustRun(t, "train", "--out", run64, "--data", data64, "--size", "64", "--nf", "8", "--steps", "2", "--batch", "2",
		"--val-every", "2", "--val-fraction", "0.25", "--warmup", "1")
	m64 := filepath.Join(dir, "m64")
	mustRun(t, "export-model", "--run", run64, "--out", m64)
	mf := filepath.Join(m64, "model.safetensors")
	dout := filepath.Join(dir, "dsm-out")
	mustRun(t, "experiment", "dsm", "--model", mf, "--compare", mf, "--data", data64, "--out", dout, "--batch", "4")
	var dr experiment.DSMResult
	jb, err := os.ReadFile(filepath.Join(dout, "dsm", "dsm.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(jb, &dr); err != nil {
		t.Fatal(err)
	}
	if len(dr.Priors) != 3 || !strings.Contains(dr.Priors[2].Name, mf) || len(dr.Priors[2].BySet) != 1 ||
		dr.Priors[2].BySet[0].Galaxies != dr.Galaxies {
		t.Fatalf("dsm.json priors: %+v", dr.Priors)
	}
	for k, d := range dr.Priors[2].Diff {
		if d != 0 || dr.Priors[1].Diff[k] == 0 {
			t.Errorf("level %d: the compared copy differs by %g, the GRF by %g", k, d, dr.Priors[1].Diff[k])
		}
	}
	missing := filepath.Join(dir, "nope.safetensors")
	checkFails(t, errCase{name: "compare missing", code: 1, want: []string{"--compare", "nope.safetensors"},
		args: []string{"experiment", "dsm", "--model", mf, "--compare", missing, "--data", data64, "--out", filepath.Join(dir, "dsm-bad")}}, "")
	checkFails(t, errCase{name: "compare with coverage", code: 1, want: []string{"--compare", "dsm"},
		args: []string{"experiment", "coverage", "--compare", mf, "--out", filepath.Join(dir, "cov-bad")}}, "")

	// A directory that holds no run: an error naming it, no output.
	bad := filepath.Join(dir, "bad-out")
	checkFails(t, errCase{name: "no run", code: 1, want: []string{"ckpt.json"}, args: []string{"export-model", "--run", data, "--out", bad}}, bad)
}

// writeBlobs writes n 32×32 grey PNGs of Gaussian blobs into dir.
func writeBlobs(t *testing.T, dir string, n int) {
	t.Helper()
	for k := range n {
		img := image.NewGray(image.Rect(0, 0, 32, 32))
		for y := range 32 {
			for x := range 32 {
				dx, dy := float64(x)-15.5-float64(k%3), float64(y)-15.5+float64(k%2)
				img.SetGray(x, y, color.Gray{Y: uint8(200 * math.Exp(-(dx*dx+dy*dy)/(2*float64(9+k))))})
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("g%02d.png", k)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
