//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package openblas

import (
	"os"
	"testing"
)

// Load must return one shared library whose recorded core type is what the
// environment holds after loading, and a second call must return the same
// value (OpenBLAS reads OPENBLAS_CORETYPE only when first mapped).
func TestLoadOnce(t *testing.T) {
	a, err := Load()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("OpenBLAS must be installed in CI: %v", err)
		}
		t.Skipf("OpenBLAS not installed: %v", err)
	}
	b, _ := Load()
	if a != b || a.Handle == 0 {
		t.Fatalf("Load returned %p then %p (handle %#x)", a, b, a.Handle)
	}
	if got := os.Getenv("OPENBLAS_CORETYPE"); a.Coretype != "" && got != a.Coretype {
		t.Errorf("OPENBLAS_CORETYPE=%q in the environment, library recorded %q", got, a.Coretype)
	}
}

func TestEnvPathIsOnlyCandidate(t *testing.T) {
	t.Setenv(EnvPath, "/some/where/libopenblas.so.0")
	c := Candidates()
	if len(c) != 1 || c[0] != "/some/where/libopenblas.so.0" {
		t.Fatalf("Candidates() = %v with %s set", c, EnvPath)
	}
}

// The thread count is 1 after Load and follows SetThreads, clamped below
// at 1.
func TestThreads(t *testing.T) {
	l, err := Load()
	if err != nil {
		t.Skipf("OpenBLAS not installed: %v", err)
	}
	if l.getThreads == 0 {
		t.Skip("openblas_get_num_threads not exported")
	}
	prev := l.Threads()
	defer l.SetThreads(prev)
	for _, c := range []struct{ set, want int }{{2, 2}, {0, 1}, {-5, 1}, {1, 1}} {
		l.SetThreads(c.set)
		if got := l.Threads(); got != c.want {
			t.Errorf("SetThreads(%d): Threads() = %d, want %d", c.set, got, c.want)
		}
	}
}
