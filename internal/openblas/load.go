//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package openblas

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/cpu"
)

// EnvPath names the environment variable that, when set, is the only path
// tried.
const EnvPath = "LENSCORE_OPENBLAS"

// Library is the mapped OpenBLAS.
type Library struct {
	Handle     uintptr // for purego.Dlsym
	Path       string  // the candidate that loaded
	Coretype   string  // OPENBLAS_CORETYPE in force at load ("" if none)
	CoreSource string  // "user" (set before lenscore ran), "auto" or ""

	setThreads, getThreads uintptr // openblas_set_num_threads, openblas_get_num_threads (0 if absent)
}

// SetThreads sets the number of threads OpenBLAS uses inside one call
// (openblas_set_num_threads; n < 1 is 1). The count is process-wide: this
// is the one place lenscore sets it. Load sets it to 1, since lenscore
// parallelises over goroutines (each network worker's GEMM runs on its own
// OS thread); package linalg raises it for the duration of one LAPACK call.
func (l *Library) SetThreads(n int) {
	purego.SyscallN(l.setThreads, uintptr(int32(max(1, min(n, 1<<16)))))
}

// Threads returns OpenBLAS's thread count (openblas_get_num_threads), or 0
// if the library does not export it.
func (l *Library) Threads() int {
	if l.getThreads == 0 {
		return 0
	}
	r, _, _ := purego.SyscallN(l.getThreads)
	return int(int32(r))
}

// Candidates lists the shared objects tried in order. Bare names go through
// the dynamic loader's search path; the absolute paths cover Debian/Ubuntu
// (including the openblas-pthread alternative), Fedora, source installs and
// Homebrew.
func Candidates() []string {
	if p := os.Getenv(EnvPath); p != "" {
		return []string{p}
	}
	if runtime.GOOS == "darwin" {
		return []string{
			"libopenblas.dylib",
			"/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
			"/usr/local/opt/openblas/lib/libopenblas.dylib",
		}
	}
	return []string{
		"libopenblas.so.0",
		"libopenblas.so",
		"/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
		"/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
		"/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
		"/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
		"/usr/lib64/libopenblas.so.0",
		"/usr/local/lib/libopenblas.so.0",
		"/usr/local/lib/libopenblas.so",
		"/opt/OpenBLAS/lib/libopenblas.so",
	}
}

// Load maps OpenBLAS at most once per process and returns the same result
// on every call. A candidate counts only if it exports
// openblas_set_num_threads (so another BLAS under the same name is
// skipped). This is the package's only global; it is immutable once set.
var Load = sync.OnceValues(func() (*Library, error) {
	coretype, source := chooseCoretype()
	var errs []error
	for _, path := range Candidates() {
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set, err := purego.Dlsym(h, "openblas_set_num_threads")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not OpenBLAS (no openblas_set_num_threads)", path))
			purego.Dlclose(h)
			continue
		}
		lib := &Library{Handle: h, Path: path, Coretype: coretype, CoreSource: source, setThreads: set}
		if get, err := purego.Dlsym(h, "openblas_get_num_threads"); err == nil {
			lib.getThreads = get
		}
		lib.SetThreads(1)
		return lib, nil
	}
	return nil, fmt.Errorf("OpenBLAS not found (install libopenblas0 or set %s): %w", EnvPath, errors.Join(errs...))
})

// chooseCoretype sets OPENBLAS_CORETYPE unless the user already did and
// returns the value in force and who chose it.
func chooseCoretype() (value, source string) {
	if v, ok := os.LookupEnv("OPENBLAS_CORETYPE"); ok {
		return v, "user"
	}
	var v string
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL:
		v = "SkylakeX"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		v = "Haswell"
	default:
		return "", ""
	}
	if os.Setenv("OPENBLAS_CORETYPE", v) != nil {
		return "", ""
	}
	return v, "auto"
}
