package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
)

// TestCoverageFlags checks the coverage flags of `lenscore experiment`:
// they are listed by --help, --null-draws maps 0 to "no null distribution"
// (experiment.CoverageOptions.NullDraws < 0) and passes positive counts
// through, and a negative or malformed count is rejected before any work.
func TestCoverageFlags(t *testing.T) {
	code, out, errs := runCLI(t, "experiment", "coverage", "--help")
	all := out + errs
	if code != 0 {
		t.Fatalf("experiment coverage --help: exit %d\n%s", code, all)
	}
	for _, f := range []string{"plain-ranks", "null-draws", "references", "resume"} {
		if !strings.Contains(all, "  -"+f+"\n") && !strings.Contains(all, "  -"+f+" ") {
			t.Errorf("experiment coverage --help does not list -%s:\n%s", f, all)
		}
	}
	if !strings.Contains(all, "(default 2000)") {
		t.Errorf("--null-draws default 2000 not shown:\n%s", all)
	}
	for _, c := range []struct{ in, want int }{{0, -1}, {1, 1}, {2000, 2000}} {
		if got, err := nullDrawsOption(c.in); err != nil || got != c.want {
			t.Errorf("nullDrawsOption(%d) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	if _, err := nullDrawsOption(-3); err == nil || !strings.Contains(err.Error(), "--null-draws") {
		t.Errorf("nullDrawsOption(-3): %v", err)
	}
	dir := filepath.Join(t.TempDir(), "exp")
	checkFails(t, errCase{"null-draws -1", []string{"experiment", "coverage", "--null-draws", "-1", "--out", dir}, 1, []string{"--null-draws", "-1"}}, "")
	checkFails(t, errCase{"null-draws abc", []string{"experiment", "coverage", "--null-draws", "abc", "--out", dir}, 2, []string{"null-draws", "abc"}}, "")
	checkFails(t, errCase{"likelihood nope", []string{"experiment", "coverage", "--likelihood", "nope", "--out", dir}, 1, []string{"--likelihood", "nope"}}, "")
	checkFails(t, errCase{"set with fig1", []string{"experiment", "fig1", "--set", "stellarium/gray", "--out", dir}, 1, []string{"--set", "fig1"}}, "")
	checkFails(t, errCase{"set from samples", []string{"experiment", "coverage", "--set", "x", "--from-samples", "s.fits", "--out", dir}, 1, []string{"--set", "--from-samples"}}, "")
	checkFails(t, errCase{"validation-stars", []string{"experiment", "coverage", "--validation-stars", "some", "--out", dir}, 1, []string{"--validation-stars", "some"}}, "")
	checkFails(t, errCase{"validation-sky", []string{"experiment", "coverage", "--validation-sky", "cut", "--out", dir}, 1, []string{"--validation-sky must be auto, clipped, kept or denoised", "cut"}}, "")
	checkFails(t, errCase{"references -2", []string{"experiment", "coverage", "--references", "-2", "--out", dir}, 1, []string{"--references", "-2"}}, "")
	checkFails(t, errCase{"plain-ranks value", []string{"experiment", "coverage", "--plain-ranks=maybe", "--out", dir}, 2, []string{"plain-ranks"}}, "")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("rejected flags created %s (%v)", dir, err)
	}
}

// TestCoverageFromSamplesCLI: `experiment coverage --from-samples F`
// recomputes the summaries from a samples file without a model, and a
// file that is not one is refused with its name and no output.
func TestCoverageFromSamplesCLI(t *testing.T) {
	tmp := t.TempDir()
	const side, J, K = 4, 6, 3
	n := side * side
	truth := make([]float64, J*n)
	samp := make([]float64, J*K*n)
	for i := range truth {
		truth[i] = float64(i%7) / 7
	}
	for i := range samp {
		samp[i] = truth[(i/(K*n))*n+i%n] + 0.1*float64((i*7919)%13-6)/6
	}
	h0 := fits.NewCube(side, side, J, truth)
	h0.Name = "TRUTH"
	h1 := fits.NewCube(side, side, J*K, samp)
	h1.Name = "SAMPLES"
	h1.Header.Set("NSAMPLE", K, "samples per lens")
	file := filepath.Join(tmp, "s.fits")
	if err := fits.WriteFile(file, []*fits.HDU{h0, h1}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "exp")
	code, stdout, stderr := runCLI(t, "experiment", "coverage", "--from-samples", file, "--out", out, "--null-draws", "100")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "6 lenses × 3 samples") || !strings.Contains(stdout, "spread–skill") ||
		!strings.Contains(stdout, "averaged over 64 references per lens") {
		t.Errorf("stdout: %s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "coverage", "coverage.json")); err != nil {
		t.Error(err)
	}
	bad := filepath.Join(tmp, "bad.fits")
	if err := fits.WriteFile(bad, []*fits.HDU{fits.NewImage(4, 4, nil)}); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(tmp, "exp2")
	checkFails(t, errCase{"from-samples without cubes", []string{"experiment", "coverage", "--from-samples", bad, "--out", out2}, 1, []string{"bad.fits", "TRUTH"}}, "")
	if _, err := os.Stat(filepath.Join(out2, "coverage", "coverage.json")); !os.IsNotExist(err) {
		t.Errorf("output written for a bad file: %v", err)
	}
}

// TestCoverageUnfinishedRefused: a coverage folder with stored lenses but no
// coverage.json is an interrupted run; without --resume the command refuses
// to start afresh over it (naming the folder and --resume) and leaves the
// stored lens untouched.
func TestCoverageUnfinishedRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "exp")
	parts := filepath.Join(out, "coverage", "coverage_parts")
	if err := os.MkdirAll(parts, 0o755); err != nil {
		t.Fatal(err)
	}
	lens0 := filepath.Join(parts, "lens-00000.fits")
	if err := fits.WriteFile(lens0, []*fits.HDU{fits.NewImage(4, 4, make([]float64, 16))}); err != nil {
		t.Fatal(err)
	}
	checkFails(t, errCase{"unfinished run", []string{"experiment", "coverage", "--prior", "grf", "--out", out}, 1,
		[]string{"unfinished coverage run", "--resume", "coverage_parts"}}, "")
	if _, err := os.Stat(lens0); err != nil {
		t.Errorf("stored lens removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "coverage", "coverage.json")); !os.IsNotExist(err) {
		t.Errorf("coverage.json written: %v", err)
	}
}
