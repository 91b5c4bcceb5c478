package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// Spec is shard Index of Count (0 ≤ Index < Count).
type Spec struct {
	Index, Count int
}

// String returns "i/N".
func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Slurm array environment variables read by Parse("slurm") and Threads.
const (
	EnvTaskID    = "SLURM_ARRAY_TASK_ID"
	EnvTaskMin   = "SLURM_ARRAY_TASK_MIN"
	EnvTaskCount = "SLURM_ARRAY_TASK_COUNT"
	EnvCPUs      = "SLURM_CPUS_PER_TASK"
)

// Parse reads a shard specification: "i/N" (0 ≤ i < N) or "slurm", which
// takes i and N from the Slurm array task's environment (getenv, e.g.
// os.Getenv). Errors name the value and what is wrong with it.
func Parse(v string, getenv func(string) string) (Spec, error) {
	if v == "slurm" {
		return fromSlurm(getenv)
	}
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return Spec{}, fmt.Errorf("shard %q: want i/N (0 ≤ i < N) or slurm", v)
	}
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("shard %q: i and N must be integers (want i/N, 0 ≤ i < N)", v)
	}
	return check(Spec{i, n}, fmt.Sprintf("shard %q", v))
}

func check(s Spec, what string) (Spec, error) {
	switch {
	case s.Count < 1:
		return Spec{}, fmt.Errorf("%s: the number of shards N must be ≥ 1, got %d", what, s.Count)
	case s.Index < 0 || s.Index >= s.Count:
		return Spec{}, fmt.Errorf("%s: index %d is outside 0…%d (want i/N with 0 ≤ i < N)", what, s.Index, s.Count-1)
	case s.Count > 9999:
		return Spec{}, fmt.Errorf("%s: at most 9999 shards, got %d", what, s.Count)
	}
	return s, nil
}

func fromSlurm(getenv func(string) string) (Spec, error) {
	get := func(name string) (int, error) {
		v := getenv(name)
		if v == "" {
			return 0, fmt.Errorf("shard slurm: %s is not set (not inside a Slurm array task; submit with sbatch --array, or give --shard i/N)", name)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("shard slurm: %s=%q is not an integer", name, v)
		}
		return n, nil
	}
	id, err := get(EnvTaskID)
	if err != nil {
		return Spec{}, err
	}
	lo, err := get(EnvTaskMin)
	if err != nil {
		return Spec{}, err
	}
	n, err := get(EnvTaskCount)
	if err != nil {
		return Spec{}, err
	}
	return check(Spec{id - lo, n}, fmt.Sprintf("shard slurm (%s=%d, %s=%d, %s=%d; the array must be contiguous, e.g. --array=0-%d)",
		EnvTaskID, id, EnvTaskMin, lo, EnvTaskCount, n, max(n-1, 0)))
}

// Threads returns the CPUs Slurm allotted to the task (SLURM_CPUS_PER_TASK)
// and whether it is set; a set but invalid value is an error.
func Threads(getenv func(string) string) (int, bool, error) {
	v := getenv(EnvCPUs)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, false, fmt.Errorf("%s=%q: want a positive integer", EnvCPUs, v)
	}
	return n, true, nil
}

// Range returns the chains [first, first+n) of shard s in a run of total
// chains. Every shard must get at least one chain.
func (s Spec) Range(total int) (first, n int, err error) {
	if s.Count > total {
		return 0, 0, fmt.Errorf("shard %s: %d shards for %d samples; use at most as many shards as samples", s, s.Count, total)
	}
	q, r := total/s.Count, total%s.Count
	n = q
	if s.Index < r {
		n++
	}
	first = s.Index*q + min(s.Index, r)
	return first, n, nil
}

// Items returns the indices of the items (e.g. catalogue lines) of shard s
// out of total: i, i+N, i+2N, … (round robin, so shards get similar mixes).
func (s Spec) Items(total int) []int {
	var out []int
	for k := s.Index; k < total; k += s.Count {
		out = append(out, k)
	}
	return out
}

// PartName is the file name of shard i of n's part.
func PartName(i, n int) string { return fmt.Sprintf("part-%04d-of-%04d.lcpart", i, n) }

// CheckpointName is the file name of shard i of n's sampler checkpoint.
func CheckpointName(i, n int) string { return fmt.Sprintf("checkpoint-%04d-of-%04d.bin", i, n) }
