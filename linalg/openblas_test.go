//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package linalg

import (
	"math/rand/v2"
	"testing"
)

// Every OpenBLAS call sets the process-wide thread count and restores it.
func TestThreadsRestored(t *testing.T) {
	libs := backends(t)
	if len(libs) < 2 {
		t.Skip("OpenBLAS not loadable")
	}
	l := libs[1]
	set, get := l.ob.shared.SetThreads, l.ob.shared.Threads
	prev := get()
	defer set(prev)
	set(1)
	l.SetThreads(2)
	a := randSPD(80, rand.New(rand.NewPCG(1, 1)))
	w := make([]float64, 80)
	if err := l.EigenSym(80, append([]float64(nil), a...), w); err != nil {
		t.Fatal(err)
	}
	if err := l.Cholesky(80, a); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != 1 {
		t.Errorf("thread count %d after linalg calls, want the previous value 1", got)
	}
}
