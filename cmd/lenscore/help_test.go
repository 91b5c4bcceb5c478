package main

import (
	"strings"
	"testing"
)

// helpOf returns the --help output of a command line (stdout and stderr)
// after checking that it exits 0.
func helpOf(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, append(args, "--help")...)
	if code != 0 {
		t.Fatalf("%s --help: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out + errs
}

// TestHelpTexts: the defects a new user found in the help texts.
func TestHelpTexts(t *testing.T) {
	top := mustRun(t, "--help")
	for _, n := range append(experimentNames, "all") {
		if !strings.Contains(top, n) {
			t.Errorf("lenscore --help does not name experiment %s:\n%s", n, top)
		}
	}
	exp := helpOf(t, "experiment")
	for _, f := range []string{"  -lenses", "  -model", "  -likelihood", "  -out"} {
		if !strings.Contains(exp, f) {
			t.Errorf("experiment --help lacks %s:\n%s", f, exp)
		}
	}
	cov := helpOf(t, "experiment", "coverage")
	if usage, _, _ := strings.Cut(cov, "\n"); !strings.HasPrefix(usage, "Usage: lenscore experiment coverage") || strings.Contains(usage, "fig2") {
		t.Errorf("experiment coverage --help usage line %q: want it for coverage alone", usage)
	}
	if !strings.Contains(cov, "  -truth-from-prior") {
		t.Errorf("experiment coverage --help lacks its flags")
	}
	if p := helpOf(t, "prepare"); strings.Contains(p, "-remove-stars lenscore") || !strings.Contains(p, "  -remove-stars\n") {
		t.Errorf("prepare --help shows -remove-stars with an argument name:\n%s", p)
	}
	inv := helpOf(t, "invert")
	for _, f := range []string{"  -model", "  -batch", "  -sigma-max"} {
		if strings.Contains(inv, f) {
			t.Errorf("invert --help lists %s, which invert rejects or ignores", f)
		}
	}
	demo := helpOf(t, "demo")
	for _, want := range []string{"number of independent posterior samples (chains) (default 8)", `(default "auto/4")`, "--prior grf they are\n--steps auto --n-samples 16"} {
		if !strings.Contains(demo, want) {
			t.Errorf("demo --help lacks %q:\n%s", want, demo)
		}
	}
	if s := helpOf(t, "sample"); !strings.Contains(s, "spectrum file written by lenscore fit-grf") {
		t.Errorf("sample --help does not say --prior-data takes a fit-grf file")
	}
	// Errors of a bare "experiment": exit 2 with the usage and its flags.
	code, _, errs := runCLI(t, "experiment")
	if code != 2 || !strings.Contains(errs, "name one of") || !strings.Contains(errs, "  -lenses") {
		t.Errorf("bare experiment: exit %d\n%s", code, errs)
	}
}
