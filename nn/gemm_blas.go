//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package nn

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/lenscore/lenscore/internal/openblas"
)

// CBLAS enumeration values (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// EnvOpenBLASPath names an environment variable that, when set, is the only
// path tried when loading OpenBLAS.
const EnvOpenBLASPath = openblas.EnvPath

// openblasLib is the loaded library: its handle and the bound entry points.
// It is written once inside loadOpenBLAS and only read afterwards.
type openblasLib struct {
	path       string
	coretype   string // OPENBLAS_CORETYPE in force at load ("" if none)
	coreSource string // "user", "auto" or ""
	config     string // openblas_get_config(), if exported
	corename   string // openblas_get_corename(), if exported

	sgemm func(order, transA, transB, m, n, k int32, alpha float32,
		a unsafe.Pointer, lda int32, b unsafe.Pointer, ldb int32,
		beta float32, c unsafe.Pointer, ldc int32)
	sgemmF uintptr           // Fortran sgemm_, called through purego.SyscallN
	shared *openblas.Library // sets and reports the thread count
}

// loadOpenBLAS loads OpenBLAS at most once per process. It is the package's
// only global, and it is effectively immutable: sync.OnceValues runs the
// loader once and every later call returns the same (*openblasLib, error).
// The library must be loaded once because OPENBLAS_CORETYPE is read by
// OpenBLAS only when it is first mapped into the process.
var loadOpenBLAS = sync.OnceValues(func() (*openblasLib, error) {
	shared, err := openblas.Load()
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	lib, err := bindOpenBLAS(shared.Handle, shared.Path)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", shared.Path, err)
	}
	lib.coretype, lib.coreSource, lib.shared = shared.Coretype, shared.CoreSource, shared
	return lib, nil
})

// bindOpenBLAS resolves the symbols the network needs: cblas_sgemm is
// required (package internal/openblas has checked that the library is
// OpenBLAS, and owns its thread count).
func bindOpenBLAS(h uintptr, path string) (lib *openblasLib, err error) {
	defer func() {
		// purego.RegisterFunc panics on an unsupported signature; turn
		// that into an error rather than crashing the caller.
		if r := recover(); r != nil {
			lib, err = nil, fmt.Errorf("binding symbols: %v", r)
		}
	}()
	lib = &openblasLib{path: path}
	for _, s := range []struct {
		name string
		fn   any
		need bool
	}{
		{"cblas_sgemm", &lib.sgemm, true},
	} {
		sym, err := purego.Dlsym(h, s.name)
		if err != nil {
			if s.need {
				return nil, fmt.Errorf("missing symbol %s", s.name)
			}
			continue
		}
		purego.RegisterFunc(s.fn, sym)
	}
	if sym, err := purego.Dlsym(h, "sgemm_"); err == nil {
		lib.sgemmF = sym
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"openblas_get_config", &lib.config},
		{"openblas_get_corename", &lib.corename},
	} {
		sym, err := purego.Dlsym(h, s.name)
		if err != nil {
			continue
		}
		var f func() string
		purego.RegisterFunc(&f, sym)
		*s.dst = strings.TrimSpace(f())
	}
	return lib, nil
}

// OpenBLAS is a Gemm that calls cblas_sgemm of a system OpenBLAS loaded at
// run time with purego, so that lenscore builds without cgo and without
// OpenBLAS installed. Load it with LoadOpenBLAS.
//
// The library is set to one thread at load: lenscore parallelises over the
// batch with goroutines, and each goroutine's call then runs on its own OS
// thread. The thread count is a property of the process-wide library, so
// SetThreads affects every OpenBLAS value.
//
// Calls go to the Fortran entry point sgemm_, whose arguments are all
// pointers, through purego.SyscallN with a pooled argument block: this does
// not allocate. cblas_sgemm, bound with purego.RegisterFunc (reflection,
// about a dozen small allocations per call), is the fall-back when sgemm_ is
// not exported.
type OpenBLAS struct {
	lib   *openblasLib
	args  sync.Pool // of *fortranArgs
	cblas bool      // force the cblas_sgemm path (tests)
}

// fortranArgs holds the scalar arguments of sgemm_, which takes every
// argument by reference, and the argument vector handed to SyscallN. It
// lives on the heap (pooled), so the pointers into it stay valid during the
// call. The operand pointers are also stored as unsafe.Pointer: that makes
// the caller's slices heap objects (which the Go collector never moves) and
// keeps them reachable until runtime.KeepAlive(x) after the call — the same
// guarantee cgo gives — while the uintptr copies in call avoid allocating a
// fresh variadic slice on every call.
type fortranArgs struct {
	transA, transB byte
	m, n, k        int32
	lda, ldb, ldc  int32
	alpha, beta    float32
	a, b, c        unsafe.Pointer
	call           [13]uintptr
}

// LoadOpenBLAS loads the library (once per process) and returns a Gemm
// using it, or an error if no usable OpenBLAS was found. Before loading it
// sets OPENBLAS_CORETYPE (SkylakeX with AVX-512, Haswell with AVX2) unless
// the variable is already set.
func LoadOpenBLAS() (*OpenBLAS, error) {
	lib, err := loadOpenBLAS()
	if err != nil {
		return nil, err
	}
	return &OpenBLAS{lib: lib}, nil
}

// SetThreads sets the number of threads OpenBLAS uses inside one call
// (openblas_set_num_threads). It applies process-wide. n < 1 is treated as 1.
func (o *OpenBLAS) SetThreads(n int) {
	o.lib.shared.SetThreads(n)
}

// Threads reports the number of threads OpenBLAS uses inside one call, or 0
// if the library does not export openblas_get_num_threads.
func (o *OpenBLAS) Threads() int {
	return o.lib.shared.Threads()
}

// Path is the shared object that was loaded.
func (o *OpenBLAS) Path() string { return o.lib.path }

// Coretype is the kernel family in force: OpenBLAS's own report
// (openblas_get_corename) when available, else OPENBLAS_CORETYPE as set at
// load, else "".
func (o *OpenBLAS) Coretype() string {
	if o.lib.corename != "" {
		return o.lib.corename
	}
	return o.lib.coretype
}

// Name implements Gemm, e.g. "openblas 0.3.21 (Haswell, 1 thread)".
func (o *OpenBLAS) Name() string {
	version := ""
	if f := strings.Fields(o.lib.config); len(f) >= 2 && strings.EqualFold(f[0], "OpenBLAS") {
		version = " " + f[1]
	}
	var detail []string
	if c := o.Coretype(); c != "" {
		if o.lib.coretype != "" && !strings.EqualFold(c, o.lib.coretype) {
			c += fmt.Sprintf(", OPENBLAS_CORETYPE=%s", o.lib.coretype)
		}
		detail = append(detail, c)
	}
	if t := o.Threads(); t == 1 {
		detail = append(detail, "1 thread")
	} else if t > 1 {
		detail = append(detail, fmt.Sprintf("%d threads", t))
	}
	if len(detail) == 0 {
		return "openblas" + version
	}
	return "openblas" + version + " (" + strings.Join(detail, ", ") + ")"
}

// Sgemm implements Gemm by calling cblas_sgemm in row-major order. The
// arguments are checked first (checkSgemm panics on a programming error, as
// every Gemm here does) so that the C code never reads or writes outside
// the slices.
func (o *OpenBLAS) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	const maxInt32 = 1<<31 - 1
	if m > maxInt32 || n > maxInt32 || k > maxInt32 || lda > maxInt32 || ldb > maxInt32 || ldc > maxInt32 {
		panic("nn: OpenBLAS.Sgemm: dimension exceeds the 32-bit BLAS interface")
	}
	if o.lib.sgemmF != 0 && !o.cblas {
		o.sgemmFortran(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
	if transA {
		ta = cblasTrans
	}
	if transB {
		tb = cblasTrans
	}
	o.lib.sgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), alpha,
		unsafe.Pointer(&a[0]), int32(lda), unsafe.Pointer(&b[0]), int32(ldb),
		beta, unsafe.Pointer(&c[0]), int32(ldc))
}

// sgemmFortran calls the column-major sgemm_. A row-major r×c matrix with
// row stride ld is, read column-major, its c×r transpose with the same
// leading dimension, so row-major C = op(A)·op(B) is computed as the
// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands and m with n, keeping
// each transpose flag with its operand.
func (o *OpenBLAS) sgemmFortran(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	x, _ := o.args.Get().(*fortranArgs)
	if x == nil {
		x = new(fortranArgs)
	}
	*x = fortranArgs{
		transA: 'N', transB: 'N',
		m: int32(m), n: int32(n), k: int32(k),
		lda: int32(lda), ldb: int32(ldb), ldc: int32(ldc),
		alpha: alpha, beta: beta,
	}
	if transA {
		x.transA = 'T'
	}
	if transB {
		x.transB = 'T'
	}
	x.a, x.b, x.c = unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0])
	x.call = [13]uintptr{
		uintptr(unsafe.Pointer(&x.transB)), uintptr(unsafe.Pointer(&x.transA)),
		uintptr(unsafe.Pointer(&x.n)), uintptr(unsafe.Pointer(&x.m)), uintptr(unsafe.Pointer(&x.k)),
		uintptr(unsafe.Pointer(&x.alpha)),
		uintptr(x.b), uintptr(unsafe.Pointer(&x.ldb)),
		uintptr(x.a), uintptr(unsafe.Pointer(&x.lda)),
		uintptr(unsafe.Pointer(&x.beta)),
		uintptr(x.c), uintptr(unsafe.Pointer(&x.ldc)),
	}
	purego.SyscallN(o.lib.sgemmF, x.call[:]...)
	runtime.KeepAlive(x)
	x.a, x.b, x.c = nil, nil, nil
	o.args.Put(x)
}
