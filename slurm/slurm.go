package slurm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/lenscore/lenscore/atomicfile"
)

// Job describes a job array of one lenscore command and its merge.
type Job struct {
	Name          string   // job name; also the scripts' file prefix
	Tasks         int      // array tasks (shards) N ≥ 1
	MaxParallel   int      // at most this many tasks at once (%K); 0 = no limit
	CPUs          int      // --cpus-per-task ≥ 1
	MemMB         int      // --mem in MiB per task; 0 = the cluster's default
	Time          string   // --time of one task, e.g. "2:00:00"; "" = the partition's default
	Partition     string   // --partition; "" = default
	Account       string   // --account; "" = default
	LogDir        string   // folder of the tasks' logs (NAME-%A_%a.out)
	Exe           string   // lenscore executable as the nodes see it
	Command       []string // lenscore command and arguments without --shard, e.g. sample --obs … --out DIR
	MergeDir      string   // folder passed to lenscore merge
	SignalSeconds int      // SIGTERM this long before the time limit (≥ 1)
	Extra         []string // further #SBATCH options, e.g. --qos=long
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Validate checks a job's fields, naming the first bad one.
func (j *Job) Validate() error {
	switch {
	case !nameRE.MatchString(j.Name):
		return fmt.Errorf("slurm: job name %q: use letters, digits, '.', '_' and '-'", j.Name)
	case j.Tasks < 1:
		return fmt.Errorf("slurm: tasks must be ≥ 1, got %d", j.Tasks)
	case j.MaxParallel < 0:
		return fmt.Errorf("slurm: max parallel tasks must be ≥ 0, got %d", j.MaxParallel)
	case j.CPUs < 1:
		return fmt.Errorf("slurm: cpus per task must be ≥ 1, got %d", j.CPUs)
	case j.MemMB < 0:
		return fmt.Errorf("slurm: memory must be ≥ 0 MiB, got %d", j.MemMB)
	case j.SignalSeconds < 1:
		return fmt.Errorf("slurm: signal lead time must be ≥ 1 s, got %d", j.SignalSeconds)
	case j.Exe == "":
		return errors.New("slurm: no lenscore executable given")
	case len(j.Command) == 0:
		return errors.New("slurm: no lenscore command given")
	case j.MergeDir == "":
		return errors.New("slurm: no folder to merge given")
	}
	for _, a := range j.Command {
		if a == "--shard" || a == "-shard" || strings.HasPrefix(a, "--shard=") || strings.HasPrefix(a, "-shard=") {
			return errors.New("slurm: the command must not set --shard (each task adds --shard slurm)")
		}
	}
	for _, e := range j.Extra {
		if !strings.HasPrefix(e, "--") || strings.ContainsAny(e, "\n\r") {
			return fmt.Errorf("slurm: extra sbatch option %q: want --name[=value] on one line", e)
		}
	}
	return nil
}

// Quote returns s quoted for a POSIX shell (unchanged when safe).
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

func (j *Job) header(b *strings.Builder, name string) {
	fmt.Fprintf(b, "#!/bin/bash\n#SBATCH --job-name=%s\n", name)
	if j.Partition != "" {
		fmt.Fprintf(b, "#SBATCH --partition=%s\n", Quote(j.Partition))
	}
	if j.Account != "" {
		fmt.Fprintf(b, "#SBATCH --account=%s\n", Quote(j.Account))
	}
	for _, e := range j.Extra {
		fmt.Fprintf(b, "#SBATCH %s\n", e)
	}
}

// ArrayScript returns the job array's batch script.
func (j *Job) ArrayScript() (string, error) {
	if err := j.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	j.header(&b, j.Name)
	arr := fmt.Sprintf("0-%d", j.Tasks-1)
	if j.MaxParallel > 0 {
		arr += fmt.Sprintf("%%%d", j.MaxParallel)
	}
	fmt.Fprintf(&b, "#SBATCH --array=%s\n#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%d\n", arr, j.CPUs)
	if j.MemMB > 0 {
		fmt.Fprintf(&b, "#SBATCH --mem=%d\n", j.MemMB)
	}
	if j.Time != "" {
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", Quote(j.Time))
	}
	fmt.Fprintf(&b, "#SBATCH --requeue\n#SBATCH --open-mode=append\n#SBATCH --signal=B:TERM@%d\n", j.SignalSeconds)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", Quote(filepath.Join(j.LogDir, j.Name+"-%A_%a.out")))
	fmt.Fprintf(&b, `
# Shard $((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN)) of $SLURM_ARRAY_TASK_COUNT, with
# $SLURM_CPUS_PER_TASK threads. SIGTERM (%d s before the time limit, or from a
# pre-emption) makes lenscore checkpoint and exit; the task is then requeued
# and the same command resumes from the checkpoint.
set -u
echo "task $SLURM_ARRAY_TASK_ID (job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -u +%%FT%%TZ)"
%s &
pid=$!
requeue() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	echo "task $SLURM_ARRAY_TASK_ID: checkpointed; requeueing at $(date -u +%%FT%%TZ)"
	scontrol requeue "$SLURM_JOB_ID" || true
	exit 143
}
trap requeue TERM
wait "$pid"
exit $?
`, j.SignalSeconds, quoteAll(append([]string{j.Exe, j.Command[0], "--shard", "slurm"}, j.Command[1:]...)))
	return b.String(), nil
}

// MergeScript returns the merge job's batch script.
func (j *Job) MergeScript() (string, error) {
	if err := j.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	j.header(&b, j.Name+"-merge")
	fmt.Fprintf(&b, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n")
	if j.MemMB > 0 {
		fmt.Fprintf(&b, "#SBATCH --mem=%d\n", j.MemMB)
	}
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", Quote(filepath.Join(j.LogDir, j.Name+"-merge-%j.out")))
	fmt.Fprintf(&b, "\n# Runs after every array task succeeded (submitted with --dependency=afterok).\nset -eu\nexec %s\n",
		quoteAll([]string{j.Exe, "merge", j.MergeDir}))
	return b.String(), nil
}

// SubmitScript returns a shell script that submits the array script and
// the merge script (paths as the submitting shell sees them) with the
// dependency.
func (j *Job) SubmitScript(arrayPath, mergePath string) string {
	return fmt.Sprintf(`#!/bin/sh
# Submits the job array, then the merge once every task has succeeded.
set -eu
mkdir -p %s
array=$(sbatch --parsable %s)
array=${array%%%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" %s)
merge=${merge%%%%;*}
echo "array job $array (%d tasks), merge job $merge; results in %s"
`, Quote(j.LogDir), Quote(arrayPath), Quote(mergePath), j.Tasks, Quote(j.MergeDir))
}

// Files are the paths Write created.
type Files struct {
	Array, Merge, Submit string
}

// Write writes the three scripts into dir (created if needed) and returns
// their paths. Existing scripts of the same name are refused unless
// overwrite is set.
func Write(dir string, j *Job, overwrite bool) (Files, error) {
	arr, err := j.ArrayScript()
	if err != nil {
		return Files{}, err
	}
	mrg, _ := j.MergeScript()
	f := Files{Array: filepath.Join(dir, j.Name+"-array.sbatch"), Merge: filepath.Join(dir, j.Name+"-merge.sbatch"),
		Submit: filepath.Join(dir, j.Name+"-submit.sh")}
	if !overwrite {
		for _, p := range []string{f.Array, f.Merge, f.Submit} {
			if _, err := os.Stat(p); err == nil {
				return Files{}, fmt.Errorf("slurm: %s exists; choose another job name or folder, or overwrite", p)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("slurm: %w", err)
	}
	for _, w := range []struct {
		path, text string
	}{{f.Array, arr}, {f.Merge, mrg}, {f.Submit, j.SubmitScript(f.Array, f.Merge)}} {
		if err := writeExec(w.path, w.text); err != nil {
			return Files{}, err
		}
	}
	return f, nil
}

func writeExec(path, text string) error {
	if err := atomicfile.WriteFile(path, []byte(text)); err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	return os.Chmod(path, 0o755)
}
