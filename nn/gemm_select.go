package nn

import (
	"fmt"
	"os"
	"strings"
)

// EnvGemm names the environment variable that forces the Gemm back-end
// chosen by DefaultGemm: "openblas", "go", "naive" or "auto" (the default).
const EnvGemm = "LENSCORE_GEMM"

// SelectGemm returns the Gemm back-end named by pref:
//
//	"auto" or ""  OpenBLAS if it loads, else GoGemm
//	"openblas"    OpenBLAS, or an error if it cannot be loaded
//	"go"          GoGemm, the pure-Go packed implementation
//	"naive"       NaiveGemm, the triple-loop reference (slow)
//
// Loading OpenBLAS happens at most once per process; see LoadOpenBLAS.
func SelectGemm(pref string) (Gemm, error) {
	switch strings.ToLower(strings.TrimSpace(pref)) {
	case "", "auto":
		if o, err := LoadOpenBLAS(); err == nil {
			return o, nil
		}
		return new(GoGemm), nil
	case "openblas", "blas":
		o, err := LoadOpenBLAS()
		if err != nil {
			return nil, err
		}
		return o, nil
	case "go":
		return new(GoGemm), nil
	case "naive":
		return NaiveGemm{}, nil
	}
	return nil, fmt.Errorf("nn: unknown Gemm back-end %q (want auto, openblas, go or naive)", pref)
}

// DefaultGemm returns the back-end selected by the environment variable
// LENSCORE_GEMM (see SelectGemm), or "auto" when it is unset. It returns an
// error if the variable names an unknown back-end or forces an OpenBLAS that
// cannot be loaded.
func DefaultGemm() (Gemm, error) {
	pref := os.Getenv(EnvGemm)
	g, err := SelectGemm(pref)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", EnvGemm, pref, err)
	}
	return g, nil
}
