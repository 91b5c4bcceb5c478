package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/shard"
)

// TestShardMergeBitIdentical splits a run into 3 shards (of 2, 2 and 1
// samples), run out of order, one of them interrupted and re-run (it
// resumes its own checkpoint by itself), merges them and compares the
// files byte for byte with the unsharded run of the same seed.
func TestShardMergeBitIdentical(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	args := func(out string, extra ...string) []string {
		return append([]string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "5",
			"--steps", "25", "--seed", "7", "--out", out}, extra...)
	}
	ref := filepath.Join(dir, "ref")
	mustRun(t, args(ref)...)

	sh := filepath.Join(dir, "sharded")
	mustRun(t, args(sh, "--shard", "2/3")...)
	// Shard 1 is interrupted (as by Slurm's SIGTERM before a requeue) and
	// leaves its own checkpoint.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e bytes.Buffer
	if code := run(ctx, &cliEnv{stdout: &o, stderr: &e}, args(sh, "--shard", "1/3")); code != 130 {
		t.Fatalf("interrupted shard: exit %d, want 130\n%s", code, e.String())
	}
	if _, err := os.Stat(filepath.Join(sh, shard.CheckpointName(1, 3))); err != nil {
		t.Fatalf("interrupted shard left no checkpoint: %v", err)
	}
	mustRun(t, args(sh, "--shard", "0/3")...)
	// Merging now names the missing part.
	if code, _, errs := runCLI(t, "merge", sh); code != 1 || !strings.Contains(errs, shard.PartName(1, 3)) || !strings.Contains(errs, "missing") {
		t.Errorf("merge with a part missing: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(sh, "summary.json")); err == nil {
		t.Fatal("summary.json written by a failed merge")
	}
	out := mustRun(t, args(sh, "--shard", "1/3")...) // the same command again: resumes
	if !strings.Contains(out, "samples 2…3 of 5") {
		t.Errorf("shard 1/3 output: %q", out)
	}
	if _, err := os.Stat(filepath.Join(sh, shard.CheckpointName(1, 3))); !os.IsNotExist(err) {
		t.Errorf("checkpoint of a finished shard left behind (%v)", err)
	}
	if out := mustRun(t, args(sh, "--shard", "1/3")...); !strings.Contains(out, "already done") {
		t.Errorf("re-running a finished shard: %q", out)
	}
	for i := range 2 { // the second merge rewrites its own results
		if out := mustRun(t, "merge", sh); !strings.Contains(out, "merged 3 parts (5 samples") {
			t.Errorf("merge %d: %q", i, out)
		}
		for _, f := range []string{"samples.fits", "mean.fits", "std.fits", "summary.json", "fig1.png", "fig3.png"} {
			a, err1 := os.ReadFile(filepath.Join(ref, f))
			b, err2 := os.ReadFile(filepath.Join(sh, f))
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s of the merged run differs from the unsharded run's (%d vs %d bytes)", f, len(b), len(a))
			}
		}
	}
	var tm sampleTiming
	readJSONFile(t, filepath.Join(sh, "timing.json"), &tm)
	if len(tm.Shards) != 3 || !(tm.WallSeconds > 0) {
		t.Errorf("timing.json of the merge: %d shards, %g s", len(tm.Shards), tm.WallSeconds)
	}

	// A shard into the merged (finished) folder is refused; so is, with
	// --force past that, a shard of another run (a different seed), and the
	// unsharded results are not overwritten by a merge of other parts.
	if code, _, errs := runCLI(t, append(args(sh, "--shard", "1/3"), "--seed", "8")...); code != 1 || !strings.Contains(errs, "already holds a finished run") {
		t.Errorf("shard into a finished folder: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, append(args(sh, "--shard", "1/3"), "--seed", "8", "--force")...); code != 1 || !strings.Contains(errs, "another run") || !strings.Contains(errs, "flag:seed") {
		t.Errorf("shard of another run into a used folder: exit %d, %q", code, errs)
	}
	mustRun(t, append(args(ref, "--shard", "0/1"), "--seed", "8", "--force")...)
	before, _ := os.ReadFile(filepath.Join(ref, "summary.json"))
	if code, _, errs := runCLI(t, "merge", ref); code != 1 || !strings.Contains(errs, "another run") {
		t.Errorf("merge over an unsharded run's results: exit %d, %q", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(ref, "summary.json")); !bytes.Equal(before, after) {
		t.Error("summary.json overwritten by a refused merge")
	}
	// --remove-parts deletes them; merging again then has nothing to do.
	mustRun(t, "merge", "--remove-parts", sh)
	if fs := filesIn(t, sh); slices.ContainsFunc(fs, func(f string) bool { return strings.HasSuffix(f, ".lcpart") }) {
		t.Errorf("parts left after --remove-parts: %v", fs)
	}
	if out := mustRun(t, "merge", sh); !strings.Contains(out, "merged already") {
		t.Errorf("merge after --remove-parts: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(sh, "samples.fits")); !bytes.Equal(b, mustRead(t, filepath.Join(ref, "samples.fits"))) {
		t.Error("samples.fits changed by the last merges")
	}
}

// The exact likelihood scores all chains of a run in one batch: a shard's
// smaller batch must still give the same bits.
func TestShardMergeExactLikelihood(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	args := func(out string, extra ...string) []string {
		return append([]string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--likelihood", "exact",
			"--n-samples", "11", "--steps", "15", "--seed", "3", "--out", out}, extra...)
	}
	ref, sh := filepath.Join(dir, "ref"), filepath.Join(dir, "sh")
	mustRun(t, args(ref)...)
	for i := range 4 {
		mustRun(t, args(sh, "--shard", strconv.Itoa(i)+"/4")...)
	}
	mustRun(t, "merge", sh)
	for _, f := range []string{"samples.fits", "mean.fits", "std.fits", "summary.json"} {
		if !bytes.Equal(mustRead(t, filepath.Join(ref, f)), mustRead(t, filepath.Join(sh, f))) {
			t.Errorf("%s of the merged run (exact likelihood) differs from the unsharded run's", f)
		}
	}
}

// TestShardErrors: bad --shard values and parts of two different runs are
// clear errors with exit 1 and nothing written.
func TestShardErrors(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	args := func(out string, extra ...string) []string {
		return append([]string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "4",
			"--steps", "10", "--seed", "7", "--out", out}, extra...)
	}
	for _, c := range []struct {
		shard string
		want  []string
	}{
		{"3/2", []string{"--shard", `"3/2"`, "index 3"}},
		{"0/0", []string{"--shard", `"0/0"`, "N must be ≥ 1"}},
		{"0/5", []string{"--shard", "5 shards for 4 samples"}},
		{"slurm", []string{"--shard", shard.EnvTaskID, "not set"}},
	} {
		if c.shard == "slurm" && os.Getenv(shard.EnvTaskID) != "" {
			continue
		}
		out := filepath.Join(dir, "bad")
		checkFails(t, errCase{name: "--shard " + c.shard, args: args(out, "--shard", c.shard), code: 1, want: c.want}, out)
	}
	// Parts of two runs (seeds 7 and 8) in one folder.
	mix := filepath.Join(dir, "mix")
	mustRun(t, args(mix, "--shard", "0/2")...)
	other := filepath.Join(dir, "other")
	mustRun(t, append(args(other, "--shard", "1/2"), "--seed", "8")...)
	if err := os.Rename(filepath.Join(other, shard.PartName(1, 2)), filepath.Join(mix, shard.PartName(1, 2))); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, "merge", mix)
	if code != 1 || !strings.Contains(errs, "different runs") || !strings.Contains(errs, `flag:seed ("7" vs "8")`) || !strings.Contains(errs, shard.PartName(1, 2)) {
		t.Errorf("merging parts of two runs: exit %d, %q", code, errs)
	}
	for _, f := range filesIn(t, mix) {
		if !strings.HasSuffix(f, ".lcpart") {
			t.Errorf("failed merge wrote %s", f)
		}
	}
	// An observation changed between sampling and merging.
	same := filepath.Join(dir, "same")
	mustRun(t, args(same, "--shard", "0/1")...)
	b, _ := os.ReadFile(lensPath)
	os.WriteFile(lensPath, append(b, ' '), 0o644)
	if code, _, errs := runCLI(t, "merge", same); code != 1 || !strings.Contains(errs, "changed since") || !strings.Contains(errs, lensPath) {
		t.Errorf("merge after the lens file changed: exit %d, %q", code, errs)
	}
	if code, _, errs := runCLI(t, "merge", filepath.Join(dir, "nothing")); code != 1 || !strings.Contains(errs, "nothing") {
		t.Errorf("merge of a missing folder: exit %d, %q", code, errs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Inside a Slurm task, sample uses SLURM_CPUS_PER_TASK threads.
func TestSlurmThreads(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	want := 1
	if prev == 1 {
		want = 2
	}
	t.Setenv("GOMAXPROCS", "")
	t.Setenv(shard.EnvCPUs, strconv.Itoa(want))
	var e bytes.Buffer
	if err := applySlurmThreads(&cliEnv{stdout: &e, stderr: &e}); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != want || !strings.Contains(e.String(), "using "+strconv.Itoa(want)+" threads") {
		t.Errorf("GOMAXPROCS %d (want %d), message %q", got, want, e.String())
	}
	t.Setenv(shard.EnvCPUs, "zero")
	if err := applySlurmThreads(&cliEnv{stdout: &e, stderr: &e}); err == nil || !strings.Contains(err.Error(), shard.EnvCPUs) {
		t.Errorf("bad %s: %v", shard.EnvCPUs, err)
	}
}
