//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package nn

import (
	"os"
	"strings"
	"testing"
)

// TestOpenBLASMatchesNaive tests both entry points: sgemm_ (the default)
// and cblas_sgemm.
func TestOpenBLASMatchesNaive(t *testing.T) {
	o := openBLASOrSkip(t)
	if o.lib.sgemmF == 0 {
		t.Error("sgemm_ not found; OpenBLAS.Sgemm falls back to the allocating cblas_sgemm path")
	}
	testAgainstNaive(t, o)
	testAgainstNaive(t, &OpenBLAS{lib: o.lib, cblas: true})
}

// TestOpenBLASCoretypeAndThreads checks that the OPENBLAS_CORETYPE chosen
// (or inherited) before loading is the one OpenBLAS reports using, that the
// library runs with one thread, and that SetThreads round-trips.
func TestOpenBLASCoretypeAndThreads(t *testing.T) {
	o := openBLASOrSkip(t)
	t.Logf("loaded %s: %s", o.Path(), o.Name())
	if env := os.Getenv("OPENBLAS_CORETYPE"); env != o.lib.coretype {
		t.Errorf("OPENBLAS_CORETYPE=%q in the environment, loader recorded %q", env, o.lib.coretype)
	}
	if o.lib.corename != "" && o.lib.coretype != "" && !strings.EqualFold(o.lib.corename, o.lib.coretype) {
		t.Errorf("OpenBLAS reports core %q, but OPENBLAS_CORETYPE=%q was set before loading", o.lib.corename, o.lib.coretype)
	}
	if !strings.HasPrefix(o.Name(), "openblas") || !strings.Contains(o.Name(), o.Coretype()) {
		t.Errorf("Name() = %q, want openblas and the core type %q", o.Name(), o.Coretype())
	}
	if o.Threads() == 0 {
		t.Skip("openblas_get_num_threads not exported")
	}
	if got := o.Threads(); got != 1 {
		t.Fatalf("Threads() = %d after load, want 1", got)
	}
	defer o.SetThreads(1)
	o.SetThreads(2)
	if got := o.Threads(); got != 2 {
		t.Errorf("Threads() = %d after SetThreads(2)", got)
	}
	o.SetThreads(1)
	if got := o.Threads(); got != 1 || !strings.Contains(o.Name(), "1 thread") {
		t.Errorf("after SetThreads(1): Threads() = %d, Name() = %q", got, o.Name())
	}
}
