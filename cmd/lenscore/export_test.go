package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
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
	for k := range 8 {
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
		if err := os.WriteFile(filepath.Join(data, "g"+string(rune('a'+k))+".png"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
	net.Close()
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

	// A directory that holds no run: an error naming it, no output.
	bad := filepath.Join(dir, "bad-out")
	checkFails(t, errCase{name: "no run", code: 1, want: []string{"ckpt.json"}, args: []string{"export-model", "--run", data, "--out", bad}}, bad)
}
