//go:build !((linux || darwin || freebsd) && (amd64 || arm64))

package nn

import (
	"errors"
	"runtime"

	"github.com/lenscore/lenscore/internal/openblas"
)

// EnvOpenBLASPath names an environment variable that, when set, is the only
// path tried when loading OpenBLAS.
const EnvOpenBLASPath = openblas.EnvPath

// OpenBLAS is unavailable on this platform (no run-time loader support);
// LoadOpenBLAS always fails and SelectGemm("auto") falls back to GoGemm.
type OpenBLAS struct{}

// LoadOpenBLAS reports that OpenBLAS cannot be loaded on this platform.
func LoadOpenBLAS() (*OpenBLAS, error) {
	return nil, errors.New("nn: OpenBLAS loading is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}

// SetThreads does nothing.
func (*OpenBLAS) SetThreads(int) {}

// Threads returns 0.
func (*OpenBLAS) Threads() int { return 0 }

// Path returns "".
func (*OpenBLAS) Path() string { return "" }

// Coretype returns "".
func (*OpenBLAS) Coretype() string { return "" }

// Name implements Gemm.
func (*OpenBLAS) Name() string { return "openblas (unavailable)" }

// Sgemm implements Gemm; it must not be called.
func (*OpenBLAS) Sgemm(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
	panic("nn: OpenBLAS is not available on " + runtime.GOOS + "/" + runtime.GOARCH)
}
