// Package machine describes the machine and the process a benchmark runs on
// (CPU model, load average, CPU time, source revision) and holds the small
// statistics the bench commands share, so each result records the same
// facts in the same way.
package machine

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

// CPUMillis returns the process's user + system CPU time in milliseconds
// (NaN when the system does not report it).
func CPUMillis() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// CPUName returns the CPU's model name from /proc/cpuinfo, or GOARCH.
func CPUName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// LoadAvg returns the 1, 5 and 15 minute load averages as "a b c", or
// "unknown".
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Median returns the median of ts (the mean of the middle two for an even
// count, NaN for none); ts is not modified.
func Median(ts []float64) float64 {
	s := slices.Clone(ts)
	slices.Sort(s)
	n := len(s)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ModuleRoot returns the nearest folder at or above the working directory
// that holds a go.mod; cmd names the command in the error.
func ModuleRoot(cmd string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s: run %s inside the lenscore repository", dir, cmd)
		}
	}
}

// Revision returns the short git revision of the repository at root, or
// "unknown".
func Revision(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
