package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExperimentValidationSky: `experiment coverage --validation-sky kept`
// prepares the validation galaxies of a model trained on clipped skies
// with their sky kept (negative pixels in the stored truths, "sky kept" in
// coverage.json), and auto follows the model (no negative pixel).
func TestExperimentValidationSky(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gals")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNoisyBlobs(t, data, 30)
	run := filepath.Join(dir, "run")
	mustRun(t, "train", "--out", run, "--data", data, "--size", "16", "--nf", "8", "--steps", "1", "--batch", "2", "--warmup", "0")
	model := filepath.Join(run, "ema.safetensors")
	for _, sky := range []string{"auto", "kept"} {
		out := filepath.Join(dir, "exp-"+sky)
		mustRun(t, "experiment", "coverage", "--model", model, "--data", data, "--size", "16", "--npix", "16", "--lenses", "2", "--samples", "2",
			"--steps", "4", "--null-draws", "0", "--references", "0", "--save-samples", "--validation-sky", sky, "--out", out)
		b, err := os.ReadFile(filepath.Join(out, "coverage", "coverage.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Truth string }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.Truth, "sky kept") != (sky == "kept") {
			t.Errorf("--validation-sky %s: truth described as %q", sky, r.Truth)
		}
		truth := extNamed(t, readHDUs(t, filepath.Join(out, "coverage", "coverage_samples.fits")), "TRUTH")
		neg := 0
		for _, v := range truth.Data {
			if v < 0 {
				neg++
			}
		}
		if frac := float64(neg) / float64(len(truth.Data)); (sky == "kept") != (frac > 0.1) || sky == "auto" && neg != 0 {
			t.Errorf("--validation-sky %s: %.2f of the true source's pixels negative", sky, frac)
		}
	}
}
