package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// logLines returns train.jsonl's entries without their wall-clock fields.
func logLines(t *testing.T, dir string) []logEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		e.Time, e.Elapsed = "", 0
		out = append(out, e)
	}
	return out
}

func sameLog(t *testing.T, what string, got, want []logEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d log lines, uninterrupted run %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Step != w.Step || g.Loss != w.Loss || g.GradNorm != w.GradNorm || g.LR != w.LR ||
			(g.ValLoss == nil) != (w.ValLoss == nil) || (g.ValLoss != nil && *g.ValLoss != *w.ValLoss) {
			t.Errorf("%s: line %d: step %d loss %v grad %v; uninterrupted: step %d loss %v grad %v",
				what, i, g.Step, g.Loss, g.GradNorm, w.Step, w.Loss, w.GradNorm)
		}
	}
}

// TestResumeLogIdentical: train.jsonl after an interruption and --resume
// holds the same losses as an uninterrupted run's, whether the run was
// cancelled (checkpoint at the step it stopped, between two log lines) or
// killed (the last checkpoint several steps back, log lines past it).
func TestResumeLogIdentical(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	dirA := t.TempDir()
	if err := Run(context.Background(), testConfig(dirA), newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	want := logLines(t, dirA)

	// Cancelled after step 13 (log lines every 3 steps: 13 is inside a window).
	dirB := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := New(testConfig(dirB), newLinModel(n, 4), data)
	b.onStep = func(s int) {
		if s == 13 {
			cancel()
		}
	}
	if err := b.Run(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if err := Resume(context.Background(), dirB, 0, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	sameLog(t, "cancel at 13 + resume", logLines(t, dirB), want)

	// Killed at step 14 without a final checkpoint: the last one is at
	// step 10 (CheckpointEvery), the log has lines for 12 and 14.
	dirC := t.TempDir()
	c, _ := New(testConfig(dirC), newLinModel(n, 4), data)
	c.onStep = func(s int) {
		if s == 14 {
			panic("killed")
		}
	}
	func() {
		defer func() { recover() }()
		c.Run(context.Background(), nil)
	}()
	if man, err := ReadManifest(dirC); err != nil || man.Step != 10 {
		t.Fatalf("manifest after the kill: %+v, %v", man, err)
	}
	if err := Resume(context.Background(), dirC, 0, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	sameLog(t, "kill at 14 + resume from 10", logLines(t, dirC), want)
}

// TestNoEmptyRun: a run of zero updates is refused (it would write an
// untrained model), as is resuming a run that has reached its total.
func TestNoEmptyRun(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Steps = 0
	if err := Run(context.Background(), cfg, newLinModel(n, 4), data, nil); err == nil || !strings.Contains(err.Error(), "Steps") {
		t.Fatalf("zero steps: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("zero-step run wrote %v", ents)
	}
	cfg.Steps = 5
	if err := Run(context.Background(), cfg, newLinModel(n, 4), data, nil); err != nil {
		t.Fatal(err)
	}
	for _, steps := range []int{0, 3, 5} {
		if err := Resume(context.Background(), dir, steps, newLinModel(n, 4), data, nil); err == nil || !strings.Contains(err.Error(), "already at step 5") {
			t.Errorf("resume of a finished run to %d steps: %v", steps, err)
		}
	}
	if err := Resume(context.Background(), dir, 6, newLinModel(n, 4), data, nil); err != nil {
		t.Fatalf("extending the run: %v", err)
	}
}

// TestWorkerCountMessage: the refusal tells a user what to do, without
// naming internal configuration fields.
func TestWorkerCountMessage(t *testing.T) {
	data := blobData(12, 6)
	n := data.Size * data.Size
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Steps = 2
	if err := Run(context.Background(), cfg, workerModel{newLinModel(n, 4), 2}, data, nil); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, workerModel{newLinModel(n, 4), 3}, data)
	if err == nil || !strings.Contains(err.Error(), "GOMAXPROCS=2") || strings.Contains(err.Error(), "score.Config") {
		t.Errorf("resume with 3 workers: %v", err)
	}
}
