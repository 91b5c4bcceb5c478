package threadcpu

import (
	"runtime"
	"testing"
	"time"
)

// TestNowCountsOwnWorkOnly: a thread busy for 30 ms of wall time gains
// about that much CPU time; one asleep for 30 ms gains almost none.
func TestNowCountsOwnWorkOnly(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0, ok := Now()
	if !ok {
		t.Skip("no thread clock on this platform")
	}
	time.Sleep(30 * time.Millisecond)
	c1, _ := Now()
	if slept := c1 - c0; slept > 10*time.Millisecond {
		t.Errorf("sleeping 30 ms cost %v of thread CPU", slept)
	}
	w0 := time.Now()
	x := 1.0
	for time.Since(w0) < 30*time.Millisecond {
		x = x*1.0000001 + 1e-9
	}
	c2, _ := Now()
	if busy := c2 - c1; busy < 3*time.Millisecond || busy > 40*time.Millisecond {
		t.Errorf("30 ms of busy wall time gave %v of thread CPU (%g)", busy, x)
	}
}
