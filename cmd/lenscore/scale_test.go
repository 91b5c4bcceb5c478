package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/weights"
)

// modelConfig reads the network configuration of a model file.
func modelConfig(t *testing.T, path string) score.Config {
	t.Helper()
	meta, err := weights.ReadMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	var c score.Config
	if err := json.Unmarshal([]byte(meta[score.MetaConfig]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// train's architecture flags: the size's default layout, a --config file
// with flags overriding its fields, and impossible combinations refused
// (before any output) with the values that would work.
func TestTrainArchitectureFlags(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gals")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBlobs(t, data, 6)

	// 128×128: the default layout reaches 4×4 with attention at 16.
	run := filepath.Join(dir, "r128")
	mustRun(t, "train", "--out", run, "--data", data, "--size", "128", "--nf", "4", "--steps", "1", "--batch", "2", "--val-fraction", "0.2")
	c := modelConfig(t, filepath.Join(run, "ema.safetensors"))
	if c.ImageSize != 128 || c.NF != 4 || !slices.Equal(c.ChMult, []int{1, 1, 2, 2, 2, 2}) || !slices.Equal(c.AttnResolutions, []int{16}) || c.NumResBlocks != 2 {
		t.Errorf("--size 128 --nf 4 trained %+v", c)
	}

	// A config file, with --ch-mult and --num-res-blocks overriding it.
	cfgPath := writeText(t, dir, "net.json", `{"image_size": 32, "nf": 8, "ch_mult": [1, 2], "num_res_blocks": 2, "attn_resolutions": [16]}`)
	run = filepath.Join(dir, "rcfg")
	mustRun(t, "train", "--out", run, "--data", data, "--config", cfgPath, "--ch-mult", "1,2,2", "--num-res-blocks", "1",
		"--steps", "1", "--batch", "2", "--val-fraction", "0.2")
	c = modelConfig(t, filepath.Join(run, "ema.safetensors"))
	if c.ImageSize != 32 || c.NF != 8 || !slices.Equal(c.ChMult, []int{1, 2, 2}) || !slices.Equal(c.AttnResolutions, []int{16}) || c.NumResBlocks != 1 || c.Channels != 1 || c.FourierScale != 16 {
		t.Errorf("--config with overrides trained %+v", c)
	}

	out := filepath.Join(dir, "bad")
	for _, e := range []errCase{
		{name: "issue 23's case", code: 1, want: []string{"attn_resolutions has 8", "128, 64, 32, 16", "give ch_mult 5 levels"},
			args: []string{"train", "--out", out, "--data", data, "--size", "128", "--ch-mult", "1,2,2,2", "--attn-resolutions", "16,8"}},
		{name: "size not divisible", code: 1, want: []string{"image_size 100", "use image_size 96, 104", "at most 3 levels"},
			args: []string{"train", "--out", out, "--data", data, "--size", "100", "--ch-mult", "1,2,2,2", "--attn-resolutions", "none"}},
		{name: "group norm", code: 1, want: []string{"nf 18", "nf values that work with this ch_mult: 4, 8, 12"},
			args: []string{"train", "--out", out, "--data", data, "--nf", "18"}},
		{name: "bad list", code: 1, want: []string{"--ch-mult", "1;2"},
			args: []string{"train", "--out", out, "--data", data, "--ch-mult", "1;2"}},
		{name: "unknown config key", code: 1, want: []string{"--config", "nff"},
			args: []string{"train", "--out", out, "--data", data, "--config", writeText(t, dir, "typo.json", `{"image_size": 32, "nff": 8}`)}},
		{name: "config missing", code: 1, want: []string{"--config", "none.json"},
			args: []string{"train", "--out", out, "--data", data, "--config", filepath.Join(dir, "none.json")}},
	} {
		checkFails(t, e, out)
	}
}
