package dirlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecondAcquireFails(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, DefaultName)
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want ErrHeld", err)
	}
	for _, want := range []string{dir, FileName(DefaultName), "pid "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// Another name on the same folder is independent (shards of one run).
	s, err := Acquire(dir, "shard-1")
	if err != nil {
		t.Fatalf("a differently named lock: %v", err)
	}
	if _, err := Acquire(dir, "shard-1"); !errors.Is(err, ErrHeld) {
		t.Fatalf("second shard-1: %v, want ErrHeld", err)
	}
	s.Release()
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := Acquire(dir, DefaultName)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", "a/b", "../x", "sp ace"} {
		if _, err := Acquire(dir, name); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := Acquire(filepath.Join(dir, "missing"), "x"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing folder: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Acquire(f, "x"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file as folder: %v", err)
	}
}

// A process killed with SIGKILL while holding the lock does not block the
// next run.
func TestReleasedAfterKill(t *testing.T) {
	if dir := os.Getenv("DIRLOCK_HOLD"); dir != "" {
		if _, err := Acquire(dir, DefaultName); err != nil {
			os.Exit(3)
		}
		os.WriteFile(filepath.Join(dir, "held"), nil, 0o644)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReleasedAfterKill$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "held")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("helper never took the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := Acquire(dir, DefaultName); !errors.Is(err, ErrHeld) {
		cmd.Process.Kill()
		t.Fatalf("lock held by a live process: %v, want ErrHeld", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, DefaultName)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// Release removes the lock file, so a finished run leaves its output folder
// as it found it.
func TestReleaseRemovesFile(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.Path()); err != nil {
		t.Fatalf("lock file missing while held: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("folder holds %v after Release", ents)
	}
}
