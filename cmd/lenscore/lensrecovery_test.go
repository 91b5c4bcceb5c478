package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLensRecoveryBadFlags: the calibration flags of experiment
// lens-recovery are checked before any data is read or written.
func TestLensRecoveryBadFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(filepath.Join(dir, "lens_recovery_parts"), 0o755); err != nil { // --from-parts dir: a run's folder
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"reversed probe range", []string{"--probe", "5-3"}, []string{"--probe", "5-3"}},
		{"probe beyond the lenses", []string{"--lenses", "4", "--probe", "2,4"}, []string{"--probe", "within [0, 4)"}},
		{"probe not a list", []string{"--probe", "a"}, []string{"--probe", `"a"`}},
		{"unknown prior shape", []string{"--probe", "0", "--prior-shape", "steep"}, []string{"--prior-shape", "steep"}},
		{"prior shape without the probe", []string{"--prior-shape", "tilt"}, []string{"--prior-shape", "--probe"}},
		{"prior shape with the gaussian prior", []string{"--probe", "0", "--prior", "gaussian", "--prior-shape", "white"}, []string{"--prior-shape", "--prior grf"}},
		{"negative pixel scale", []string{"--fit-source-pixel-scale", "-0.1"}, []string{"--fit-source-pixel-scale", "-0.1"}},
		{"grid too large", []string{"--fit-source-npix", "65"}, []string{"--fit-source-npix", "65"}},
		{"correction without --debias", []string{"--from-parts", dir}, []string{"--from-parts", "needs --debias"}},
		{"correction of a missing run", []string{"--from-parts", filepath.Join(dir, "none"), "--debias", "truth"}, []string{"--from-parts", "not a folder of finished lenses"}},
		{"correction into its input", []string{"--from-parts", dir, "--debias", "truth"}, []string{"--from-parts", "inside it"}},
		{"noise seed of a full run", []string{"--noise-seed", "3"}, []string{"--noise-seed", "--probe"}},
		{"correction of a probe", []string{"--from-parts", dir, "--debias", "truth", "--probe", "0"}, []string{"--from-parts", "--probe"}},
	} {
		args := append([]string{"experiment", "lens-recovery", "--out", out}, c.args...)
		checkFails(t, errCase{name: c.name, code: 1, args: args, want: c.want}, out)
	}
}

func TestParseLensList(t *testing.T) {
	got, err := parseLensList("0-2,5,7-7", 8)
	if err != nil || !slices.Equal(got, []int{0, 1, 2, 5, 7}) {
		t.Errorf("0-2,5,7-7: %v, %v", got, err)
	}
	for _, s := range []string{"", "1-", "-1", "3-2", "8", "1,,2", "1.5"} {
		if v, err := parseLensList(s, 8); err == nil {
			t.Errorf("%q accepted as %v", s, v)
		}
	}
	if _, err := parseLensList("3-2", 8); err == nil || !strings.Contains(err.Error(), "backwards") {
		t.Errorf("3-2: error %v, want one saying the range runs backwards", err)
	}
}
