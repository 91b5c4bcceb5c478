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

// TestProcNowCountsAllThreads: two goroutines busy for 30 ms of wall time
// each on their own threads add up to more process CPU time than one
// thread's share of it, and a sleep adds almost none.
func TestProcNowCountsAllThreads(t *testing.T) {
	c0, ok := ProcNow()
	if !ok {
		t.Skip("no process CPU clock on this platform")
	}
	time.Sleep(30 * time.Millisecond)
	c1, _ := ProcNow()
	if slept := c1 - c0; slept > 15*time.Millisecond {
		t.Errorf("sleeping 30 ms cost %v of process CPU", slept)
	}
	done := make(chan float64)
	for k := 0; k < 2; k++ {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			w0, x := time.Now(), 1.0
			for time.Since(w0) < 30*time.Millisecond {
				x = x*1.0000001 + 1e-9
			}
			done <- x
		}()
	}
	x := <-done + <-done
	c2, _ := ProcNow()
	if busy := c2 - c1; busy < 5*time.Millisecond || busy > 200*time.Millisecond {
		t.Errorf("two threads busy for 30 ms gave %v of process CPU (%g)", busy, x)
	}
}
