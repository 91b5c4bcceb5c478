//go:build !((linux || darwin || freebsd) && (amd64 || arm64))

package openblas

import (
	"errors"
	"runtime"
)

// EnvPath names the environment variable that, when set, is the only path
// tried.
const EnvPath = "LENSCORE_OPENBLAS"

// Library is the mapped OpenBLAS.
type Library struct {
	Handle                     uintptr
	Path, Coretype, CoreSource string
}

// SetThreads does nothing: no library can be loaded here.
func (*Library) SetThreads(int) {}

// Threads returns 0.
func (*Library) Threads() int { return 0 }

// Load reports that run-time loading is not supported on this platform.
func Load() (*Library, error) {
	return nil, errors.New("OpenBLAS loading is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}
