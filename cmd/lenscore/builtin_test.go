package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/models"
)

// TestDemoBuiltinPriorAnywhere runs demo from a folder that is not a
// checkout: it uses the network prior built into the binary, and its
// summary says so.
func TestDemoBuiltinPriorAnywhere(t *testing.T) {
	t.Chdir(t.TempDir())
	mustRun(t, "demo", "--n-samples", "2", "--steps", "2", "--batch", "2", "--out", "d")
	var sum sampleSummary
	readJSONFile(t, filepath.Join("d", "summary.json"), &sum)
	if want := "network(" + models.Prior64Name + ", step 3521)"; sum.Prior != want {
		t.Errorf("summary prior %q, want %q", sum.Prior, want)
	}
	if sum.SigmaMax < 18.7 || sum.SigmaMax > 18.73 || sum.Samples != 2 {
		t.Errorf("summary: σ_max %g, %d samples; want the shipped prior's 18.72 and 2", sum.SigmaMax, sum.Samples)
	}
	// --model builtin names the same prior explicitly, for sample too.
	code, _, stderr := runCLI(t, "sample", "--obs", filepath.Join("d", "obs.fits"), "--lens", filepath.Join("d", "lens.json"),
		"--model", builtinModel, "--n-samples", "1", "--steps", "1", "--out", "s")
	if code != 0 || !strings.Contains(stderr, models.Prior64Name) {
		t.Errorf("sample --model builtin: exit %d\n%s", code, stderr)
	}
}

// TestDemoMissingModel: a --model that does not exist is an error naming
// it, never a silent switch to the GRF prior.
func TestDemoMissingModel(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-model.safetensors")
	for _, args := range [][]string{
		{"demo", "--model", missing, "--n-samples", "1", "--steps", "1"},
		{"experiment", "fig1", "--model", missing},
		{"prior-sample", "--model", missing, "--n", "1", "--out", filepath.Join(dir, "p.png")},
	} {
		out := filepath.Join(dir, "out-"+args[0])
		if args[0] != "prior-sample" {
			args = append(args, "--out", out)
		}
		checkFails(t, errCase{name: args[0], args: args, code: 1, want: []string{missing}}, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.png")); err == nil {
		t.Error("prior-sample wrote its output")
	}
}
