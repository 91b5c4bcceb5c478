package main

import "github.com/lenscore/lenscore/dirlock"

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
