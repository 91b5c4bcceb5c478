package slurm_test

import (
	"fmt"
	"strings"

	"github.com/lenscore/lenscore/slurm"
)

// The sbatch options of a 20-task array of 4-CPU tasks, at most 10 at once.
func ExampleJob_ArrayScript() {
	j := &slurm.Job{Name: "J0737", Tasks: 20, MaxParallel: 10, CPUs: 4, Time: "2:00:00", LogDir: "jobs/logs",
		Exe: "/home/me/bin/lenscore", Command: []string{"sample", "--obs", "J0737/obs.fits", "--lens", "J0737/lens.json", "--out", "runs/J0737"},
		MergeDir: "runs/J0737", SignalSeconds: 120}
	s, err := j.ArrayScript()
	if err != nil {
		panic(err)
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "#SBATCH") || strings.Contains(l, "--shard") {
			fmt.Println(l)
		}
	}
	// Output:
	// #SBATCH --job-name=J0737
	// #SBATCH --array=0-19%10
	// #SBATCH --ntasks=1
	// #SBATCH --cpus-per-task=4
	// #SBATCH --time=2:00:00
	// #SBATCH --requeue
	// #SBATCH --open-mode=append
	// #SBATCH --signal=B:TERM@120
	// #SBATCH --output=jobs/logs/J0737-%A_%a.out
	// /home/me/bin/lenscore sample --shard slurm --obs J0737/obs.fits --lens J0737/lens.json --out runs/J0737 &
}
