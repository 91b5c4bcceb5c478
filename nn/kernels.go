package nn

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Kernel paths. The hand-written kernels (the small-product GEMM, the
// Winograd transforms, GroupNorm+SiLU, softmax and the other row kernels)
// exist in up to three versions: plain Go ("purego", every platform),
// AVX2+FMA ("avx2", amd64) and AVX-512 ("avx512", amd64 with AVX512F, BW,
// DQ and VL; the kernels that have no AVX-512 version run their AVX2 one).
// The best path the CPU supports is chosen when the program starts; the
// environment variable LENSCORE_KERNELS=avx512|avx2|purego asks for a
// given path (a path the CPU lacks falls back to the best one it has, and
// KernelPathNote says so), and SetKernelPath changes it at run time (tests
// use it to run every path the machine has).
//
// Every path evaluates the same formulas. The GEMM kernels sum each
// element in the same order with one fused multiply-add per term, so AVX2
// and AVX-512 give bitwise equal products; the other kernels agree to
// float32 rounding.

const (
	levelPureGo = iota
	levelAVX2
	levelAVX512
)

var kernelNames = [...]string{levelPureGo: "purego", levelAVX2: "avx2", levelAVX512: "avx512"}

// kernelLevel is the path in use; kernelNote reports a LENSCORE_KERNELS
// request and, if it could not be honoured, why. Both are set during
// package variable initialisation, before any init function runs.
var (
	kernelLevel atomic.Int32
	kernelNote  = initKernelLevel()
)

func initKernelLevel() (note string) {
	best := cpuKernelLevel()
	lvl := best
	if env, ok := os.LookupEnv("LENSCORE_KERNELS"); ok && env != "" {
		want, err := parseKernelPath(env)
		switch {
		case err != nil:
			note = fmt.Sprintf("LENSCORE_KERNELS: %v; using %s", err, kernelNames[best])
		case want > best:
			note = fmt.Sprintf("LENSCORE_KERNELS=%s: this CPU lacks it; using %s", env, kernelNames[best])
		default:
			lvl = want
			note = fmt.Sprintf("LENSCORE_KERNELS=%s", env)
		}
	}
	kernelLevel.Store(int32(lvl))
	return note
}

func parseKernelPath(s string) (int, error) {
	for l, n := range kernelNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown kernel path %q (want avx512, avx2 or purego)", s)
}

// KernelPath names the kernel path in use: "avx512", "avx2" or "purego".
func KernelPath() string { return kernelNames[kernelLevel.Load()] }

// KernelPathNote is empty unless LENSCORE_KERNELS is set; then it says
// what was asked and, when the request could not be honoured, why.
func KernelPathNote() string { return kernelNote }

// KernelPaths lists the paths this CPU can run, best first.
func KernelPaths() []string {
	var p []string
	for l := cpuKernelLevel(); l >= levelPureGo; l-- {
		p = append(p, kernelNames[l])
	}
	return p
}

// SetKernelPath switches to the named path ("avx512", "avx2" or
// "purego") and returns the name of the previous one. It fails, changing
// nothing, for an unknown name or a path this CPU cannot run. It is meant
// for tests and benchmarks: calls already running keep the path they
// started with, and the products of an Engine built while AVX2 or AVX-512
// was on fall back to its plain back-end under "purego".
func SetKernelPath(name string) (prev string, err error) {
	l, err := parseKernelPath(name)
	if err != nil {
		return "", err
	}
	if l > cpuKernelLevel() {
		return "", fmt.Errorf("kernel path %s: not supported by this CPU (best: %s)", name, kernelNames[cpuKernelLevel()])
	}
	return kernelNames[kernelLevel.Swap(int32(l))], nil
}

// useAVX512 reports whether the AVX-512 kernels are to run.
func useAVX512() bool { return kernelLevel.Load() >= levelAVX512 }

// KernelSummary describes the kernel path for logs and `lenscore version`:
// the path in use, those this CPU has, and the LENSCORE_KERNELS note if
// any, e.g. "avx2 (this CPU: avx2, purego)".
func KernelSummary() string {
	s := fmt.Sprintf("%s (this CPU: %s)", KernelPath(), strings.Join(KernelPaths(), ", "))
	if kernelNote != "" {
		s += "; " + kernelNote
	}
	return s
}
