package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDemoOneSample: with --n-samples 1 there is no spread, so no std map
// (it used to be all zeros) and the mean is the sample itself.
func TestDemoOneSample(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "one")
	mustRun(t, "demo", "--prior", "grf", "--n-samples", "1", "--steps", "2", "--out", dir)
	if _, err := os.Stat(filepath.Join(dir, "std.fits")); !os.IsNotExist(err) {
		t.Errorf("std.fits written for one sample (stat error %v)", err)
	}
	for _, f := range []string{"fig1.png", "fig3.png", "summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
	s := readHDUs(t, filepath.Join(dir, "samples.fits"))[0].Data
	m := readHDUs(t, filepath.Join(dir, "mean.fits"))[0].Data
	if len(s) != len(m) {
		t.Fatalf("samples %d pixels, mean %d", len(s), len(m))
	}
	for i := range s {
		if s[i] != m[i] {
			t.Fatalf("mean differs from the only sample at %d: %g vs %g", i, m[i], s[i])
		}
	}
}

// TestTrainZeroSteps: --steps 0 is refused before anything is written (it
// used to write an untrained model and log a NaN loss).
func TestTrainZeroSteps(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	checkFails(t, errCase{name: "steps 0", args: []string{"train", "--data", dir, "--steps", "0", "--out", out}, code: 1,
		want: []string{"--steps must be ≥ 1"}}, out)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s created: %v", out, err)
	}
}
