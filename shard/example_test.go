package shard_test

import (
	"fmt"
	"os"

	"github.com/lenscore/lenscore/shard"
)

// Eight samples over three shards: the first 8 mod 3 = 2 shards take one
// more.
func ExampleSpec_Range() {
	for i := range 3 {
		s, err := shard.Parse(fmt.Sprintf("%d/3", i), os.Getenv)
		if err != nil {
			panic(err)
		}
		first, n, _ := s.Range(8)
		fmt.Printf("shard %s: chains %d…%d in %s\n", s, first, first+n-1, shard.PartName(s.Index, s.Count))
	}
	// Output:
	// shard 0/3: chains 0…2 in part-0000-of-0003.lcpart
	// shard 1/3: chains 3…5 in part-0001-of-0003.lcpart
	// shard 2/3: chains 6…7 in part-0002-of-0003.lcpart
}

// Inside task 7 of `sbatch --array=4-9`.
func ExampleParse_slurm() {
	env := map[string]string{"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "6"}
	s, err := shard.Parse("slurm", func(k string) string { return env[k] })
	fmt.Println(s, err)
	// Output: 3/6 <nil>
}
