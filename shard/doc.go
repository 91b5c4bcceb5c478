// Package shard splits a posterior run's chains over independent jobs (for
// example the tasks of a Slurm job array) and merges their results into
// exactly the files of an unsharded run.
//
// # Splitting
//
// A run of K chains (samples) with seed s draws chain k from
// rand.NewPCG(s, k) (package posterior), whatever else runs beside it. Shard
// i of N (0 ≤ i < N ≤ K) runs the chains [first_i, first_i + n_i) with
//
//	n_i = ⌊K/N⌋ + [i < K mod N],   first_i = Σ_{j<i} n_j,
//
// so the shards partition 0…K−1 in order and the first K mod N shards take
// one chain more. Concatenating the shards' samples in shard order gives the
// unsharded run's samples bit for bit, and any statistic computed from them
// in chain order (the mean and standard deviation summed in the same order)
// is identical too.
//
// A Spec is parsed from "i/N" or from the environment of a Slurm array task
// ("slurm": i = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN,
// N = SLURM_ARRAY_TASK_COUNT). Threads reads SLURM_CPUS_PER_TASK.
//
// # Part files
//
// Shard i of N writes PartName(i, N) = "part-IIII-of-NNNN.lcpart" into the
// run's output folder, which all shards share; each shard writes only its
// own names (its part and its checkpoint CheckpointName(i, N)), always
// through a temporary file in the same folder and a rename, so concurrent
// shards never see each other's partial files. Layout (little-endian):
//
//	"LCPART01"
//	u32 length, then the JSON Manifest (shard, count, chains, key, ...)
//	u64 chains n, u64 dim, n·dim float64 samples (chain-major)
//	SHA-256 of all preceding bytes
//
// The manifest's Key maps the names of everything that defines the run
// (observation, lens, prior and likelihood fingerprints, seed, sampler
// settings) to their values; Collect refuses parts whose keys differ and
// names the files and the differing entries, and names missing or
// duplicated shards. Summary and Timing carry opaque JSON for the caller:
// the settings summary, equal for all parts of a run, and the run-dependent
// costs (wall time, back-end), which never enter the merged run's
// deterministic outputs.
package shard
