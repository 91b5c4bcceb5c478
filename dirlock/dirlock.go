package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultName is the lock name commands take on their output folder.
const DefaultName = "out"

// ErrHeld is returned (wrapped) by Acquire when another process holds the
// lock.
var ErrHeld = errors.New("locked by another run")

// Lock is a held folder lock. Release it when the run is over; the process
// exiting releases it too.
type Lock struct {
	f    *os.File
	path string
}

// FileName returns the base name of the lock file for name.
func FileName(name string) string { return ".lenscore-" + name + ".lock" }

// Acquire takes the lock called name on dir, which must exist. It fails at
// once, wrapping ErrHeld, if another open of the same lock file holds it
// (another process, or another Acquire in this one). name is made of
// letters, digits, '.', '_' and '-'.
func Acquire(dir, name string) (*Lock, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dirlock: %s is not a directory", dir)
	}
	path := filepath.Join(dir, FileName(name))
	f, err := lockFile(path)
	if errors.Is(err, ErrHeld) {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if h := strings.TrimSpace(string(b)); h != "" {
				holder = " by " + h
			}
		}
		return nil, fmt.Errorf("%s is in use by another lenscore run (%s is held%s); wait for it to finish or choose another output folder: %w%s",
			dir, path, holder, ErrHeld, staleHint(path))
	}
	if err != nil {
		return nil, fmt.Errorf("dirlock: %s: %w", path, err)
	}
	// Record the holder for the message another run gets (best effort).
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d (%s)\n", os.Getpid(), strings.Join(os.Args, " "))
	}
	return &Lock{f: f, path: path}, nil
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Release gives the lock up. It is safe to call more than once and on a nil
// Lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f, l.path)
	l.f = nil
	return err
}

func checkName(name string) error {
	if name == "" {
		return errors.New("dirlock: empty lock name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("dirlock: lock name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}
