package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lenscore/lenscore/slurm"
)

func runSlurmScript(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "slurm-script", "--name NAME --tasks N [--max-parallel K] [--cpus C] [--time T] --dir jobs -- sample|survey FLAGS --out DIR")
	name := fs.String("name", "lenscore", "job name and script file prefix")
	tasks := fs.Int("tasks", 0, "array tasks (shards); for sample at most --n-samples")
	maxPar := fs.Int("max-parallel", 0, "at most this many tasks at once (--array=0-N%K); 0: no limit")
	cpus := fs.Int("cpus", 1, "CPUs per task (--cpus-per-task; lenscore uses as many threads)")
	mem := fs.Int("mem", 0, "memory per task in MiB (--mem); 0: the cluster's default")
	tlimit := fs.String("time", "", "time limit per task (--time, e.g. 4:00:00); empty: the partition's default")
	part := fs.String("partition", "", "partition (--partition)")
	account := fs.String("account", "", "account (--account)")
	sig := fs.Int("signal-seconds", 120, "SIGTERM this many seconds before the time limit, so a task checkpoints and is requeued")
	dir := fs.String("dir", "", "folder for the scripts (logs go to DIR/logs)")
	exe := fs.String("exe", "", "lenscore executable as the nodes see it (default: this one)")
	force := fs.Bool("force", false, "overwrite scripts of the same name")
	var extra multiFlag
	fs.Var(&extra, "sbatch", "further sbatch option for the array and the merge, e.g. --sbatch=--qos=long (repeatable)")
	// Everything after "--" is the lenscore command.
	var cmdArgs []string
	for i, a := range args {
		if a == "--" {
			args, cmdArgs = args[:i], args[i+1:]
			break
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required(fs, "dir"); err != nil {
		return err
	}
	if len(cmdArgs) == 0 || (cmdArgs[0] != "sample" && cmdArgs[0] != "survey") {
		fmt.Fprintln(env.stderr, "slurm-script: give the command after --: -- sample … --out DIR, or -- survey … --out DIR")
		fs.Usage()
		return errUsage
	}
	out := flagValue(cmdArgs[1:], "out")
	if out == "" {
		return fmt.Errorf("slurm-script: the %s command after -- has no --out", cmdArgs[0])
	}
	if *tasks < 1 {
		return fmt.Errorf("slurm-script: --tasks must be ≥ 1, got %d", *tasks)
	}
	if n := flagValue(cmdArgs[1:], "n-samples"); cmdArgs[0] == "sample" && n != "" {
		var k int
		if _, err := fmt.Sscan(n, &k); err == nil && k < *tasks {
			return fmt.Errorf("slurm-script: --tasks %d is more than --n-samples %d (each task needs a sample)", *tasks, k)
		}
	}
	if *exe == "" {
		e, err := os.Executable()
		if err != nil {
			return fmt.Errorf("slurm-script: give --exe: %w", err)
		}
		*exe = e
	}
	job := &slurm.Job{Name: *name, Tasks: *tasks, MaxParallel: *maxPar, CPUs: *cpus, MemMB: *mem, Time: *tlimit, Partition: *part,
		Account: *account, LogDir: filepath.Join(*dir, "logs"), Exe: *exe, Command: cmdArgs, MergeDir: out, SignalSeconds: *sig, Extra: extra}
	f, err := slurm.Write(*dir, job, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (%d tasks × %d CPUs), %s and %s\nsubmit with: sh %s\n", f.Array, *tasks, *cpus, f.Merge, f.Submit, f.Submit)
	return nil
}

// flagValue returns the value of --name (or -name, with = or as the next
// argument) in args, the last one if repeated.
func flagValue(args []string, name string) string {
	v := ""
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name && i+1 < len(args) {
			v = args[i+1]
		} else if val, ok := strings.CutPrefix(a, name+"="); ok {
			v = val
		}
	}
	return v
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
