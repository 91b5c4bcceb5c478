package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/dirlock"
)

// TestOutLocked: while another run holds an output folder, every command
// that writes one refuses it with an error naming the folder and the lock,
// and writes nothing into it.
func TestOutLocked(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	out := filepath.Join(dir, "busy")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := dirlock.Acquire(out, dirlock.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	lockFile := dirlock.FileName(dirlock.DefaultName)
	for _, c := range []errCase{
		{name: "sample", args: []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "1", "--steps", "3", "--out", out}},
		{name: "invert", args: []string{"invert", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--out", out}},
		{name: "demo", args: []string{"demo", "--prior", "grf", "--n-samples", "2", "--steps", "2", "--out", out}},
		{name: "train", args: []string{"train", "--data", dir, "--steps", "1", "--out", out}},
	} {
		c.code = 1
		c.want = []string{out, lockFile, "in use by another lenscore run"}
		checkFailsExcept(t, c, out, lockFile)
	}
	held.Release()
	// experiment locks each experiment's folder: a run of fig1 is refused
	// while another holds DIR/fig1, a run of fig2 into the same DIR is not
	// (checked by its lock being free).
	exp := filepath.Join(dir, "exp")
	if err := os.MkdirAll(filepath.Join(exp, "fig1"), 0o755); err != nil {
		t.Fatal(err)
	}
	fig1, err := dirlock.Acquire(filepath.Join(exp, "fig1"), dirlock.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	checkFailsExcept(t, errCase{name: "experiment fig1", args: []string{"experiment", "fig1", "--prior", "grf", "--out", exp}, code: 1,
		want: []string{filepath.Join(exp, "fig1"), lockFile, "in use by another lenscore run"}}, filepath.Join(exp, "fig1"), lockFile)
	checkFailsExcept(t, errCase{name: "experiment all", args: []string{"experiment", "all", "--prior", "grf", "--out", exp}, code: 1,
		want: []string{filepath.Join(exp, "fig1"), "in use by another lenscore run"}}, filepath.Join(exp, "fig1"), lockFile)
	fig1.Release()
	// Released, the folder is usable again, and a finished run leaves no
	// lock file behind.
	mustRun(t, "invert", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--out", out)
	if _, err := os.Stat(filepath.Join(out, lockFile)); !os.IsNotExist(err) {
		t.Errorf("lock file left after a finished run: %v", err)
	}
}

// checkFailsExcept is checkFails for an output folder that holds the file
// keep (another run's lock) and must hold nothing else afterwards.
func checkFailsExcept(t *testing.T, c errCase, out, keep string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, c.args...)
	if code != c.code {
		t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", c.name, code, c.code, stdout, stderr)
	}
	for _, w := range c.want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr does not mention %q:\n%s", c.name, w, stderr)
		}
	}
	if fs := filesIn(t, out); len(fs) != 1 || fs[0] != keep {
		t.Errorf("%s: %s holds %v, want only %s", c.name, out, fs, keep)
	}
}
