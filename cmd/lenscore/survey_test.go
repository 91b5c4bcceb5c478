package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/survey"
)

// TestSurveyShardsAndFailure runs a 3-lens survey (one lens's observation
// is not a FITS file) as two shards, indexes it with merge, and checks that
// the broken lens is recorded with its error, the others' results equal
// plain sample runs, and a re-run skips finished lenses.
func TestSurveyShardsAndFailure(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	broken := writeText(t, dir, "broken.fits", "this is not FITS")
	cat := writeText(t, dir, "cat.jsonl", `{"name": "one", "obs": "obs.fits", "lens": "lens.json"}
{"name": "broken", "obs": "broken.fits", "lens": "lens.json"}
{"name": "three", "obs": "obs.fits", "lens": "lens.json", "args": {"seed": 4, "n-samples": 3}}
`)
	out := filepath.Join(dir, "survey")
	common := []string{"--", "--prior-sigma", "0.3", "--steps", "15", "--n-samples", "2"}
	o0 := mustRun(t, append([]string{"survey", "--catalog", cat, "--out", out, "--shard", "0/2"}, common...)...) // lines 1 and 3
	if !strings.Contains(o0, "2 of 2 lenses done, 0 failed") {
		t.Errorf("shard 0/2: %q", o0)
	}
	code, o1, e1 := runCLI(t, append([]string{"survey", "--catalog", cat, "--out", out, "--shard", "1/2"}, common...)...)
	if code != 0 || !strings.Contains(o1, "0 of 1 lenses done, 1 failed") || !strings.Contains(e1, "broken.fits") {
		t.Errorf("shard 1/2 with the broken lens: exit %d\n%s\n%s", code, o1, e1)
	}
	if o := mustRun(t, "merge", out); !strings.Contains(o, "3 lenses: 2 done, 1 failed") {
		t.Errorf("merge of the survey: %q", o)
	}
	var idx survey.Index
	readJSONFile(t, filepath.Join(out, survey.IndexFile), &idx)
	if len(idx.Entries) != 3 || idx.Entries[1].Status != survey.Failed || !strings.Contains(idx.Entries[1].Error, broken) ||
		idx.Entries[2].Results["samples"] != 3.0 || idx.Entries[0].Results["samples"] != 2.0 {
		t.Fatalf("survey.json: %+v", idx.Entries)
	}
	for _, f := range []string{"survey.md", "survey.png", "catalog.jsonl", "one/samples.fits", "three/summary.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("survey output: %v", err)
		}
	}
	// Lens "three" is the plain sample run with its overrides.
	ref := filepath.Join(dir, "ref")
	mustRun(t, "sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--steps", "15", "--n-samples", "3", "--seed", "4", "--out", ref)
	a, _ := os.ReadFile(filepath.Join(ref, "samples.fits"))
	b, _ := os.ReadFile(filepath.Join(out, "three", "samples.fits"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("survey lens differs from the plain sample run (%d vs %d bytes)", len(b), len(a))
	}
	// A re-run does not redo finished lenses.
	o := mustRun(t, append([]string{"survey", "--catalog", cat, "--out", out, "--shard", "0/2"}, common...)...)
	if !strings.Contains(o, "2 of 2 lenses done") {
		t.Errorf("re-run: %q", o)
	}
	// A second copy of a running shard is refused.
	lk, err := lockOutDir(out, "survey-0001-of-0002")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, append([]string{"survey", "--catalog", cat, "--out", out, "--shard", "1/2"}, common...)...); code != 1 || !strings.Contains(errs, "survey-0001-of-0002") {
		t.Errorf("second copy of shard 1/2: exit %d, %q", code, errs)
	}
	lk.Release()
	// Other sampling flags into the same folder are refused.
	if code, _, errs := runCLI(t, "survey", "--catalog", cat, "--out", out, "--", "--steps", "16"); code != 1 || !strings.Contains(errs, "other sampling flags") {
		t.Errorf("survey with other flags into the same folder: exit %d, %q", code, errs)
	}
}

func TestSurveyErrors(t *testing.T) {
	dir := t.TempDir()
	smallObs(t, dir)
	out := filepath.Join(dir, "out")
	notJSON := writeText(t, dir, "bad.jsonl", "{\"obs\": \"obs.fits\", \"lens\": \"lens.json\"}\n{obs: obs.fits}\n")
	good := writeText(t, dir, "good.jsonl", "{\"obs\": \"obs.fits\", \"lens\": \"lens.json\"}\n")
	badArg := writeText(t, dir, "badarg.jsonl", "{\"obs\": \"obs.fits\", \"lens\": \"lens.json\", \"args\": {\"n-sample\": 3}}\n")
	for _, c := range []errCase{
		{name: "catalogue line not JSON", args: []string{"survey", "--catalog", notJSON, "--out", out}, code: 1, want: []string{"bad.jsonl:2", "not a JSON lens entry"}},
		{name: "unknown sample flag", args: []string{"survey", "--catalog", good, "--out", out, "--", "--stepz", "3"}, code: 1, want: []string{"flag provided but not defined", "stepz"}},
		{name: "per-lens unknown flag", args: []string{"survey", "--catalog", badArg, "--out", out}, code: 1, want: []string{"badarg.jsonl:1", "n-sample"}},
		{name: "obs among sample flags", args: []string{"survey", "--catalog", good, "--out", out, "--", "--obs", "x.fits"}, code: 1, want: []string{"--obs", "per lens"}},
		{name: "more shards than lenses", args: []string{"survey", "--catalog", good, "--out", out, "--shard", "1/2"}, code: 1, want: []string{"2 shards for 1 lenses"}},
		{name: "bad shard", args: []string{"survey", "--catalog", good, "--out", out, "--shard", "3/2"}, code: 1, want: []string{"--shard", "index 3"}},
	} {
		checkFails(t, c, out)
	}
}

func TestSlurmScriptCLI(t *testing.T) {
	dir := t.TempDir()
	jobs := filepath.Join(dir, "jobs")
	o := mustRun(t, "slurm-script", "--name", "j1", "--tasks", "4", "--max-parallel", "2", "--cpus", "2", "--time", "0:30:00", "--dir", jobs,
		"--exe", "/opt/lenscore", "--", "sample", "--obs", "o.fits", "--lens", "l.json", "--n-samples", "8", "--out", "runs/j1")
	if !strings.Contains(o, "submit with: sh "+filepath.Join(jobs, "j1-submit.sh")) {
		t.Errorf("stdout: %q", o)
	}
	arr, _ := os.ReadFile(filepath.Join(jobs, "j1-array.sbatch"))
	mrg, _ := os.ReadFile(filepath.Join(jobs, "j1-merge.sbatch"))
	for _, w := range []string{"--array=0-3%2", "--cpus-per-task=2", "--time=0:30:00", "/opt/lenscore sample --shard slurm --obs o.fits --lens l.json --n-samples 8 --out runs/j1 &"} {
		if !strings.Contains(string(arr), w) {
			t.Errorf("array script lacks %q", w)
		}
	}
	if !strings.Contains(string(mrg), "exec /opt/lenscore merge runs/j1") {
		t.Errorf("merge script:\n%s", mrg)
	}
	// A survey keeps its own "--": the shard goes before it.
	mustRun(t, "slurm-script", "--name", "s1", "--tasks", "3", "--dir", jobs, "--exe", "/opt/lenscore", "--", "survey", "--catalog", "c.jsonl", "--out", "srv", "--", "--steps", "3")
	if b, _ := os.ReadFile(filepath.Join(jobs, "s1-array.sbatch")); !strings.Contains(string(b), "/opt/lenscore survey --shard slurm --catalog c.jsonl --out srv -- --steps 3 &") {
		t.Errorf("survey array script:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(jobs, "s1-merge.sbatch")); !strings.Contains(string(b), "merge srv\n") {
		t.Errorf("survey merge script:\n%s", b)
	}
	bad := filepath.Join(dir, "bad")
	for _, c := range []errCase{
		{name: "no command", args: []string{"slurm-script", "--tasks", "2", "--dir", bad}, code: 2, want: []string{"after --"}},
		{name: "no --out", args: []string{"slurm-script", "--tasks", "2", "--dir", bad, "--", "sample", "--obs", "o"}, code: 1, want: []string{"no --out"}},
		{name: "tasks > samples", args: []string{"slurm-script", "--tasks", "9", "--dir", bad, "--", "sample", "--n-samples", "8", "--out", "r"}, code: 1, want: []string{"--tasks 9", "--n-samples 8"}},
		{name: "shard given", args: []string{"slurm-script", "--tasks", "2", "--dir", bad, "--", "sample", "--shard", "0/2", "--out", "r"}, code: 1, want: []string{"--shard"}},
	} {
		checkFails(t, c, bad)
	}
	// Existing scripts are not overwritten without --force.
	code, _, errs := runCLI(t, "slurm-script", "--name", "j1", "--tasks", "2", "--dir", jobs, "--", "sample", "--out", "x")
	if code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("second slurm-script: exit %d, %q", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(jobs, "j1-array.sbatch")); !bytes.Equal(b, arr) {
		t.Error("array script overwritten")
	}
}
