// Package dirlock keeps two lenscore runs from writing into the same output
// folder at once.
//
// # Method
//
// Acquire(dir, name) opens (creating it if needed) the file
//
//	dir/.lenscore-<name>.lock
//
// and takes an exclusive, non-blocking flock(2) on it. The lock belongs to
// the open file, so the kernel releases it when the process exits for any
// reason, kill -9 and crashes included: a stale lock file from a dead run
// never blocks the next one. The holder writes its process id and command
// into the file, and the error a second run gets names the folder, the
// lock file and that holder.
//
// # Names
//
// A command takes the lock of its output folder under a default name
// (DefaultName), so two runs of any commands into one folder exclude each
// other. Processes that are parts of one run and write distinct files into
// one folder (the shards of a Slurm array job) each take their own name,
// e.g. "shard-3", and so run side by side while a second copy of the same
// shard is refused.
//
// Release removes the lock file while still holding the lock and then
// unlocks it; Acquire, having locked a file, checks that it is still the
// one at the path (else it starts again), so a run that opened the file
// just before it was removed cannot share the lock with a third. A run
// that ends without Release (a crash) leaves an unlocked file that the
// next Acquire simply takes.
//
// On systems without flock (not unix) the lock is the exclusive creation of
// the file, removed on Release; a crashed run then leaves it behind, and
// the error says to delete it.
package dirlock
