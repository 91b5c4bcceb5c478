// Package slurm writes Slurm batch scripts that run a lenscore command as a
// job array — one shard per array task — followed by a merge job that runs
// once every task has succeeded.
//
// For a Job of N tasks, Write produces three files:
//
//   - NAME-array.sbatch: #SBATCH --array=0-(N−1)[%K] with --cpus-per-task,
//     --requeue, --open-mode=append and --signal=B:TERM@S. Each task runs
//     the command with --shard slurm (right after the command's name, before
//     any "--"), so it takes shard
//     SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT
//     and uses SLURM_CPUS_PER_TASK threads. S seconds before the time limit
//     the batch shell receives SIGTERM and passes it on; lenscore writes its
//     checkpoint and exits, and the shell requeues the task (scontrol
//     requeue), whose next start resumes from the checkpoint. A pre-empted
//     task (PreemptMode=REQUEUE) is signalled and requeued by Slurm itself
//     and resumes the same way.
//   - NAME-merge.sbatch: one task running `lenscore merge DIR`.
//   - NAME-submit.sh: submits the array, then the merge with
//     --dependency=afterok:ARRAY_JOB_ID, and prints both job ids.
//
// Every argument is quoted for the shell; file names are written
// atomically. The scripts assume the submitting directory is visible from
// the nodes (Slurm starts jobs in it), as the command's relative paths are.
package slurm
