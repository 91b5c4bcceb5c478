//go:build !linux

package threadcpu

import "time"

// Now returns the calling OS thread's CPU time; ok is false where the
// platform has no thread clock.
func Now() (d time.Duration, ok bool) { return 0, false }

// ProcNow returns the process's user + system CPU time over all threads;
// ok is false where the platform does not report it.
func ProcNow() (d time.Duration, ok bool) { return 0, false }
