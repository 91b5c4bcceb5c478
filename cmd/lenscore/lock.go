package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lenscore/lenscore/dirlock"
)

// lockOutDir creates the output folder if needed, checks it is writable and
// takes its lock under name (dirlock.DefaultName for a whole run; the
// parts of one run that write into one folder take one name each), so that
// a second run into the same folder fails at once with a message naming
// the folder instead of overwriting the first one's files. Release the
// lock when the run ends (the process exiting releases it too).
func lockOutDir(dir, name string) (*dirlock.Lock, error) {
	if err := checkOutDir(dir); err != nil {
		return nil, err
	}
	return dirlock.Acquire(dir, name)
}

// lockOutDirShared is lockOutDir with the lock taken shared: the shards of
// one run hold the run's lock together, which keeps an unsharded run or a
// merge (exclusive holders) out of their folder until they finish.
func lockOutDirShared(dir, name string) (*dirlock.Lock, error) {
	if err := checkOutDir(dir); err != nil {
		return nil, err
	}
	return dirlock.AcquireShared(dir, name)
}

// The outputs policy, the same for every command: a run never replaces the
// outputs of an earlier one silently. A command that writes a folder
// refuses one that holds a finished run (its summary.json), and a command
// that writes a file refuses an existing file, unless --force is given;
// --resume continues an interrupted run, never a finished one.

// addForceFlag registers --force, which lets a command replace an earlier
// run's outputs.
func addForceFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("force", false, "replace the outputs of an earlier run in --out (without it they are refused)")
}

// refuseFinished returns an error naming dir and its summary.json when dir
// holds a finished run and force is false.
func refuseFinished(dir string, force bool) error {
	p := filepath.Join(dir, "summary.json")
	if _, err := os.Stat(p); err == nil && !force {
		return fmt.Errorf("%s already holds a finished run (%s); choose another --out, or give --force to replace it", dir, p)
	}
	return nil
}

// refuseExisting returns an error naming path when it exists and force is
// false.
func refuseExisting(path string, force bool) error {
	if _, err := os.Stat(path); err == nil && !force {
		return fmt.Errorf("output %s exists; choose another --out, or give --force to replace it", path)
	}
	return nil
}

// checkNewOutFile is checkOutFile for an output file that must not replace
// an earlier run's file unless force is set.
func checkNewOutFile(path string, force bool) error {
	if err := checkOutFile(path); err != nil {
		return err
	}
	return refuseExisting(path, force)
}
