package main

import (
	"fmt"
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

// TestShardLockExcludesUnsharded: while a shard of a run holds the folder's
// shared lock, an unsharded run into it is refused; while an unsharded run
// holds it, a shard is refused.
func TestShardLockExcludesUnsharded(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	out := filepath.Join(dir, "run")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	lockFile := dirlock.FileName(dirlock.DefaultName)
	base := []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "2", "--steps", "3", "--out", out}
	shardHeld, err := dirlock.AcquireShared(out, dirlock.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	checkFailsExcept(t, errCase{name: "unsharded beside a shard", args: base, code: 1,
		want: []string{out, lockFile, "in use by another lenscore run"}}, out, lockFile)
	shardHeld.Release()
	held, err := dirlock.Acquire(out, dirlock.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	checkFailsExcept(t, errCase{name: "shard beside an unsharded run", args: append(append([]string{}, base...), "--shard", "0/2"), code: 1,
		want: []string{out, lockFile, "in use by another lenscore run"}}, out, lockFile)
	held.Release()
}

// TestEarlierRunKept: one policy for every command. A folder that holds a
// finished run (its summary.json) and an existing output file are refused
// with an error naming them and --force, leaving them untouched and writing
// nothing else; --force replaces them.
func TestEarlierRunKept(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	const earlier = "an earlier run's file\n"
	dirCases := []errCase{
		{name: "sample", args: []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "1", "--steps", "3"}},
		{name: "sample --resume", args: []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "1", "--steps", "3", "--resume"}},
		{name: "sample --shard", args: []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "2", "--steps", "3", "--shard", "0/2"}},
		{name: "invert", args: []string{"invert", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3"}},
		{name: "demo", args: []string{"demo", "--prior", "grf", "--n-samples", "2", "--steps", "2"}},
	}
	for i, c := range dirCases {
		out := filepath.Join(dir, fmt.Sprintf("run%d", i))
		sum := writeText(t, mkdir(t, out), "summary.json", earlier)
		c.args = append(c.args, "--out", out)
		c.code = 1
		c.want = []string{sum, "--force"}
		checkFailsExcept(t, c, out, "summary.json")
		if b, _ := os.ReadFile(sum); string(b) != earlier {
			t.Errorf("%s: summary.json changed to %q", c.name, b)
		}
	}
	fileCases := []errCase{
		{name: "simulate", args: []string{"simulate", "--lens", lensPath, "--npix", "16", "--pixel-scale", "0.1", "--source-npix", "8", "--source-pixel-scale", "0.1"}},
		{name: "deflect", args: []string{"deflect", "--lens", lensPath, "--npix", "8"}},
		{name: "prepare", args: []string{"prepare", "--in", obsPath, "--size", "8"}},
		{name: "subtract-light", args: []string{"subtract-light", "--obs", obsPath}},
		{name: "score", args: []string{"score", "--model", "builtin", "--x", obsPath, "--sigma", "0.1"}},
		{name: "fit-grf", args: []string{"fit-grf", "--data", dir}},
	}
	for i, c := range fileCases {
		sub := mkdir(t, filepath.Join(dir, fmt.Sprintf("file%d", i)))
		out := writeText(t, sub, "out.fits", earlier)
		c.args = append(c.args, "--out", out)
		c.code = 1
		c.want = []string{out, "exists", "--force"}
		checkFailsExcept(t, c, sub, "out.fits")
		if b, _ := os.ReadFile(out); string(b) != earlier {
			t.Errorf("%s: %s changed to %q", c.name, out, b)
		}
	}
	// prior-sample writes NAME.png and NAME.fits: either one existing is refused.
	sub := mkdir(t, filepath.Join(dir, "grid"))
	writeText(t, sub, "g.fits", earlier)
	checkFailsExcept(t, errCase{name: "prior-sample", args: []string{"prior-sample", "--model", "builtin", "--n", "1", "--out", filepath.Join(sub, "g.png")},
		code: 1, want: []string{filepath.Join(sub, "g.fits"), "--force"}}, sub, "g.fits")
	// --force replaces a finished run; a second run without it is refused.
	out := filepath.Join(dir, "forced")
	sum := writeText(t, mkdir(t, out), "summary.json", earlier)
	mustRun(t, "invert", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--out", out, "--force")
	if b, _ := os.ReadFile(sum); string(b) == earlier || !strings.Contains(string(b), "{") {
		t.Errorf("--force did not replace summary.json: %q", b)
	}
	code, _, stderr := runCLI(t, "invert", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--out", out)
	if code != 1 || !strings.Contains(stderr, "already holds a finished run") {
		t.Errorf("second invert into %s: exit %d, stderr %s", out, code, stderr)
	}
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
