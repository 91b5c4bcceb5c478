// Package atomicfile writes files so that a reader, or the file after a
// crash, sees either the old contents or the complete new ones, never a
// partial write.
//
// # Method
//
// The data go to a temporary file ".NAME.tmp-*" in the target's own
// directory (a rename is atomic only within one file system), which is
// synced to disk, given mode 0644 (os.CreateTemp makes 0600) and closed;
// it is then renamed over the target and the directory is synced (best
// effort: not every system can sync a directory), which makes the rename
// itself durable. On any error the temporary file is removed and the
// target is left untouched.
//
// Every lenscore file writer (FITS images, safetensors weights, PNG
// figures, JSON summaries, lens files, sampler checkpoints) goes through
// this package. Two processes writing the same path each produce a whole
// file, and the last rename wins; to keep two runs from writing into one
// output folder at all, lock it with package dirlock.
package atomicfile
