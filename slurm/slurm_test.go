package slurm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testJob(dir string) *Job {
	return &Job{Name: "lens1", Tasks: 4, MaxParallel: 2, CPUs: 3, MemMB: 2000, Time: "1:00:00", LogDir: filepath.Join(dir, "logs"),
		Exe: filepath.Join(dir, "fake lenscore"), Command: []string{"sample", "--obs", "it's.fits", "--out", "run dir"},
		MergeDir: "run dir", SignalSeconds: 90, Extra: []string{"--qos=long"}}
}

func TestScriptsContent(t *testing.T) {
	j := testJob("/x")
	arr, err := j.ArrayScript()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"#SBATCH --array=0-3%2\n", "#SBATCH --cpus-per-task=3\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:TERM@90\n",
		"#SBATCH --mem=2000\n", "#SBATCH --time=1:00:00\n", "#SBATCH --qos=long\n", "#SBATCH --output=/x/logs/lens1-%A_%a.out\n",
		`'/x/fake lenscore' sample --shard slurm --obs 'it'\''s.fits' --out 'run dir' &`} {
		if !strings.Contains(arr, w) {
			t.Errorf("array script lacks %q:\n%s", w, arr)
		}
	}
	m, _ := j.MergeScript()
	if !strings.Contains(m, `exec '/x/fake lenscore' merge 'run dir'`) || strings.Contains(m, "--array") {
		t.Errorf("merge script:\n%s", m)
	}
	s := j.SubmitScript("a.sbatch", "m.sbatch")
	if !strings.Contains(s, `--dependency=afterok:"$array" m.sbatch`) {
		t.Errorf("submit script:\n%s", s)
	}
	for _, c := range []struct {
		mod  func(*Job)
		want string
	}{
		{func(j *Job) { j.Tasks = 0 }, "tasks"},
		{func(j *Job) { j.CPUs = 0 }, "cpus"},
		{func(j *Job) { j.Name = "a b" }, "job name"},
		{func(j *Job) { j.Command = append(j.Command, "--shard", "0/2") }, "--shard"},
		{func(j *Job) { j.Extra = []string{"--x\n#SBATCH --y"} }, "one line"},
	} {
		k := testJob("/x")
		c.mod(k)
		if _, err := k.ArrayScript(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("invalid job (%s): %v", c.want, err)
		}
	}
}

// Quote must survive the shell: sh prints each argument back unchanged.
func TestQuoteShell(t *testing.T) {
	args := []string{"plain", "with space", "it's", `a"b`, "$HOME", "`x`", "", "a\nb", "--k=v", "*"}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	out, err := exec.Command("sh", "-c", `for a in `+strings.Join(q, " ")+`; do printf '%s\0' "$a"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(got) != len(args) {
		t.Fatalf("shell saw %d arguments, want %d: %q", len(got), len(args), got)
	}
	for i := range args {
		if got[i] != args[i] {
			t.Errorf("argument %d: shell saw %q, want %q", i, got[i], args[i])
		}
	}
}

// The array script run by bash outside Slurm, with a fake lenscore and a
// fake scontrol: the task runs the command with --shard slurm; SIGTERM to
// the batch shell reaches lenscore, which is waited for, and the task is
// requeued.
func TestArrayScriptSignal(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	j := testJob(dir)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	rec := filepath.Join(dir, "record")
	os.WriteFile(j.Exe, []byte("#!/bin/sh\nprintf '%s|' \"$@\" > '"+rec+"'\ntrap 'echo TERM >> \""+rec+"\"; sleep 0.3; echo checkpointed >> \""+rec+"\"; exit 130' TERM\necho started >> '"+rec+"'\nwhile :; do sleep 0.05; done\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "scontrol"), []byte("#!/bin/sh\necho \"scontrol $*\" >> '"+rec+"'\n"), 0o755)
	f, err := Write(filepath.Join(dir, "jobs"), j, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(filepath.Join(dir, "jobs"), j, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second Write: %v", err)
	}
	cmd := exec.Command("bash", f.Array)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_MIN=0",
		"SLURM_ARRAY_TASK_COUNT=4", "SLURM_JOB_ID=77", "SLURM_CPUS_PER_TASK=3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(rec)
		if strings.Contains(string(b), "started") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("fake lenscore did not start: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	b, _ := os.ReadFile(rec)
	want := "sample|--shard|slurm|--obs|it's.fits|--out|run dir|started\nTERM\ncheckpointed\nscontrol requeue 77\n"
	if string(b) != want {
		t.Errorf("record:\n%s\nwant:\n%s", b, want)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Errorf("batch script exit: %v, want 143", err)
	}
}
