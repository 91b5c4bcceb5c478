// Package threadcpu measures the CPU time of the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID on Linux), which other processes on a busy
// machine do not inflate as they do wall-clock time. Benchmarks of the
// single-threaded kernels report it beside ns/op.
package threadcpu

import (
	"runtime"
	"testing"
)

// Bench runs f b.N times on one locked OS thread and reports its thread CPU
// time per call as "cpu-µs/op" where the platform has a thread clock; f
// must not hand work to other goroutines (one-worker engines run every task
// on the caller).
func Bench(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	b.ResetTimer()
	c0, ok := Now()
	for i := 0; i < b.N; i++ {
		f()
	}
	if c1, _ := Now(); ok {
		b.ReportMetric(float64((c1-c0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	}
}

// BenchProc runs f once, then b.N times, and reports the process CPU time
// (user + system over all threads) per call as "proc-cpu-µs/op" where the
// platform has it: unlike Bench it counts the work f hands to other
// goroutines, and what they burn waiting for each other.
func BenchProc(b *testing.B, f func()) {
	f()
	b.ResetTimer()
	c0, ok := ProcNow()
	for i := 0; i < b.N; i++ {
		f()
	}
	b.StopTimer()
	if c1, _ := ProcNow(); ok {
		b.ReportMetric(float64((c1-c0).Nanoseconds())/1e3/float64(b.N), "proc-cpu-µs/op")
	}
}
