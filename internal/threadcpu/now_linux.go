package threadcpu

import (
	"syscall"
	"time"
	"unsafe"
)

// Now returns the calling OS thread's CPU time; ok is false where the
// platform has no thread clock.
func Now() (d time.Duration, ok bool) {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// ProcNow returns the process's user + system CPU time over all threads;
// ok is false where the platform does not report it.
func ProcNow() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
