//go:build unix

package dirlock

import (
	"errors"
	"os"
	"syscall"
)

func lockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, ErrHeld
			}
			return nil, err
		}
		// The previous holder removes the file before it unlocks; if we
		// locked a file that is no longer at path, try again on the new one.
		fst, ferr := f.Stat()
		pst, perr := os.Stat(path)
		if ferr == nil && perr == nil && os.SameFile(fst, pst) {
			return f, nil
		}
		f.Close()
		if ferr != nil {
			return nil, ferr
		}
	}
}

func unlockFile(f *os.File, path string) error {
	// Remove while still holding the lock, then close, which unlocks.
	err := os.Remove(path)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func staleHint(string) string { return "" }
