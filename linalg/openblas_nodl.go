//go:build !((linux || darwin || freebsd) && (amd64 || arm64))

package linalg

import (
	"errors"
	"runtime"
)

// openblasLib is never loaded on this platform; the methods exist only so
// that the dispatch in linalg.go compiles.
type openblasLib struct{}

func loadOpenBLAS() (*openblasLib, error) {
	return nil, errors.New("linalg: OpenBLAS loading is not supported on " + runtime.GOOS + "/" + runtime.GOARCH)
}

func (*openblasLib) describe() string { return "" }
func (*openblasLib) dgemm(int, bool, bool, int, int, int, float64, []float64, int, []float64, int, float64, []float64, int) {
}
func (*openblasLib) dsyrk(int, bool, int, int, float64, []float64, int, float64, []float64, int) {}
func (*openblasLib) dtrsm(int, bool, bool, bool, bool, int, int, float64, []float64, int, []float64, int) {
}
func (*openblasLib) dpotrf(int, int, []float64) int                         { return 0 }
func (*openblasLib) dsyevd(int, int, []float64, []float64) error            { return nil }
func (*openblasLib) dsytrd(int, int, []float64, []float64, []float64) error { return nil }
func (*openblasLib) dtrtri(int, int, []float64) int                         { return 0 }
