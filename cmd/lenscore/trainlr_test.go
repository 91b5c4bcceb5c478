package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/train"
	"github.com/lenscore/lenscore/weights"
)

// tensorBytes returns the data section of a safetensors file (what follows
// the header), so two models can be compared without their metadata.
func tensorBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 {
		t.Fatalf("%s: %d bytes", path, len(b))
	}
	return b[8+binary.LittleEndian.Uint64(b):]
}

// TestTrainLRSchedule: `lenscore train --lr-decay cosine` stops at step 3
// and resumes without flags to the model file of an uninterrupted run;
// a constant-rate run resumed at step 3 with `--lr-decay cosine` (start:
// the checkpoint's step, end: the total) reaches the weights of a run that
// had that decay from the start, prints the change and records it in
// ckpt.json and the model; bad schedules are refused before anything is
// written.
func TestTrainLRSchedule(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gals")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeNoisyBlobs(t, data, 8)
	base := func(out string, steps int, extra ...string) []string {
		return append([]string{"train", "--out", out, "--data", data, "--size", "16", "--nf", "8", "--steps", fmt.Sprint(steps), "--batch", "2",
			"--val-every", "3", "--val-fraction", "0.25", "--warmup", "1", "--lr", "1e-3"}, extra...)
	}
	cosine := []string{"--lr-decay", "cosine", "--lr-decay-start", "3", "--lr-min", "1e-4"}
	runA, runB, runC := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	mustRun(t, base(runA, 6, cosine...)...)
	mustRun(t, base(runB, 3, append(cosine, "--lr-decay-end", "6")...)...)
	_, _, errs := runCLI(t, "train", "--out", runB, "--data", data, "--val-fraction", "0.25", "--resume", "--steps", "6")
	if !strings.Contains(errs, "learning-rate schedule: cosine 0.001 → 0.0001 over steps 3–6, warm-up 1 step") || strings.Contains(errs, "changed") {
		t.Errorf("resume without schedule flags printed:\n%s", errs)
	}
	a, _ := os.ReadFile(filepath.Join(runA, train.EMAFile))
	b, _ := os.ReadFile(filepath.Join(runB, train.EMAFile))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("cosine run stopped at 3 and resumed to 6: the model file differs from the uninterrupted run's")
	}

	mustRun(t, base(runC, 3)...)
	code, _, errs := runCLI(t, "train", "--out", runC, "--data", data, "--val-fraction", "0.25", "--resume", "--steps", "6", "--lr-decay", "cosine", "--lr-min", "1e-4")
	if code != 0 {
		t.Fatalf("resume with a new schedule: exit %d\n%s", code, errs)
	}
	for _, w := range []string{"learning-rate schedule changed after step 3", "was constant 0.001, warm-up 1 step", "now cosine 0.001 → 0.0001 over steps 3–6", "lr of step 4: 0.000775 (was 0.001)"} {
		if !strings.Contains(errs, w) {
			t.Errorf("resume with a new schedule: stderr lacks %q:\n%s", w, errs)
		}
	}
	if !bytes.Equal(tensorBytes(t, filepath.Join(runA, train.EMAFile)), tensorBytes(t, filepath.Join(runC, train.EMAFile))) {
		t.Error("constant to 3 then cosine from 3: weights differ from the run with that cosine from the start")
	}
	man, err := train.ReadManifest(runC)
	if err != nil || len(man.LRChanges) != 1 || man.LRChanges[0].Step != 3 || man.Config.LRDecay != "cosine" || man.Config.LRDecayEnd != 6 {
		t.Errorf("ckpt.json: changes %+v, config %+v (%v)", man.LRChanges, man.Config, err)
	}
	meta, _ := weights.ReadMeta(filepath.Join(runC, train.EMAFile))
	if !strings.Contains(meta[train.MetaLRChanges], `"step":3`) || meta[train.MetaLRSchedule] != "cosine 0.001 → 0.0001 over steps 3–6, warm-up 1 step" {
		t.Errorf("model metadata: %q, %q", meta[train.MetaLRSchedule], meta[train.MetaLRChanges])
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lr-min", "1e-5"}, "--lr-min needs --lr-decay cosine or linear"},
		{[]string{"--lr-decay", "exp"}, `--lr-decay must be cosine, linear or none, got "exp"`},
		{[]string{"--lr-decay", "linear", "--lr-min", "0.1"}, "--lr-min must be in [0, --lr = 0.001], got 0.1"},
		{[]string{"--lr-decay", "linear", "--lr-decay-start", "5", "--lr-decay-end", "4"}, "--lr-decay-end (4) must come after --lr-decay-start (5)"},
		{[]string{"--lr-decay", "linear", "--lr-decay-start", "6"}, "--lr-decay-end (6) must come after --lr-decay-start (6)"},
	} {
		out := filepath.Join(dir, "bad"+strings.Join(c.args, ""))
		checkFails(t, errCase{name: strings.Join(c.args, " "), args: base(out, 6, c.args...), code: 1, want: []string{c.want}}, out)
	}
	// On resume a bad change is refused and the run is left as it was.
	before, _ := os.ReadFile(filepath.Join(runC, train.ManifestFile))
	checkFails(t, errCase{name: "resume --lr-decay-start -2", code: 1, want: []string{"--lr-decay-start must be a step ≥ 0"},
		args: []string{"train", "--out", runC, "--data", data, "--val-fraction", "0.25", "--resume", "--steps", "9", "--lr-decay-start", "-2"}}, "")
	if after, _ := os.ReadFile(filepath.Join(runC, train.ManifestFile)); !bytes.Equal(before, after) {
		t.Error("a refused resume changed ckpt.json")
	}
}
