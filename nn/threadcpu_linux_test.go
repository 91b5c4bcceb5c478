package nn

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time of the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID), which other processes on a busy machine do
// not inflate as they do wall-clock time.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// benchThreadCPU runs f b.N times on one locked OS thread and reports its
// thread CPU time per call ("cpu-µs/op"); f must not hand work to other
// goroutines (one-worker engines run every task on the caller).
func benchThreadCPU(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	b.ResetTimer()
	c0 := threadCPU()
	for i := 0; i < b.N; i++ {
		f()
	}
	b.ReportMetric(float64((threadCPU()-c0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}
