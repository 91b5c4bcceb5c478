//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package linalg

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/lenscore/lenscore/internal/openblas"
)

// openblasLib is the loaded library. The symbol addresses are written once
// by loadOpenBLAS; mu serialises calls, so that setting the process-wide
// thread count, calling and restoring it is atomic with respect to other
// linalg calls, and guards the reused argument block.
type openblasLib struct {
	path, config, corename string
	shared                 *openblas.Library // sets and reports the thread count

	symGemm, symSyrk, symTrsm, symPotrf, symSyevd, symSytrd, symTrtri uintptr

	mu   sync.Mutex
	args *fortranCall
}

// fortranCall holds the by-reference scalar arguments of one Fortran call
// and the argument vector handed to purego.SyscallN. It lives on the heap
// (allocated once per library), so the pointers into it stay valid during
// the call; the data slices are kept alive by runtime.KeepAlive.
type fortranCall struct {
	ch   [4]byte
	in   [6]int32
	fl   [2]float64
	info int32
	v    [15]uintptr
	n    int
}

func (f *fortranCall) reset() { *f = fortranCall{} }

// char, integer, double and ptr append one argument (the first three by
// reference into the block) and return the receiver for chaining.
func (f *fortranCall) char(c byte, slot int) *fortranCall {
	f.ch[slot] = c
	return f.ptr(unsafe.Pointer(&f.ch[slot]))
}
func (f *fortranCall) integer(v, slot int) *fortranCall {
	f.in[slot] = int32(v)
	return f.ptr(unsafe.Pointer(&f.in[slot]))
}
func (f *fortranCall) double(v float64, slot int) *fortranCall {
	f.fl[slot] = v
	return f.ptr(unsafe.Pointer(&f.fl[slot]))
}
func (f *fortranCall) ptr(p unsafe.Pointer) *fortranCall {
	f.v[f.n] = uintptr(p)
	f.n++
	return f
}

// strlen appends the hidden CHARACTER length arguments (value 1) that
// gfortran-compiled LAPACK routines expect after the explicit ones.
func (f *fortranCall) strlen(count int) *fortranCall {
	for range count {
		f.v[f.n] = 1
		f.n++
	}
	return f
}

// call runs fn with the assembled arguments using threads threads, then
// restores the previous thread count. The caller holds o.mu.
func (o *openblasLib) call(threads int, fn uintptr) {
	prev := o.shared.Threads()
	o.shared.SetThreads(threads)
	purego.SyscallN(fn, o.args.v[:o.args.n]...)
	o.shared.SetThreads(prev) // 0 (not reported) is taken as 1
}

// loadOpenBLAS binds the LAPACK symbols on the process's one OpenBLAS
// mapping, at most once (the package's only global; immutable apart from
// the mutex-guarded call block).
var loadOpenBLAS = sync.OnceValues(func() (*openblasLib, error) {
	shared, err := openblas.Load()
	if err != nil {
		return nil, fmt.Errorf("linalg: %w", err)
	}
	lib, err := bind(shared.Handle, shared.Path)
	if err != nil {
		return nil, fmt.Errorf("linalg: OpenBLAS at %s lacks LAPACK: %w", shared.Path, err)
	}
	lib.shared = shared
	return lib, nil
})

func bind(h uintptr, path string) (lib *openblasLib, err error) {
	defer func() {
		if r := recover(); r != nil {
			lib, err = nil, fmt.Errorf("binding symbols: %v", r)
		}
	}()
	lib = &openblasLib{path: path, args: new(fortranCall)}
	for _, s := range []struct {
		name string
		dst  *uintptr
	}{
		{"dgemm_", &lib.symGemm}, {"dsyrk_", &lib.symSyrk}, {"dtrsm_", &lib.symTrsm},
		{"dpotrf_", &lib.symPotrf}, {"dsyevd_", &lib.symSyevd},
		{"dsytrd_", &lib.symSytrd}, {"dtrtri_", &lib.symTrtri},
	} {
		sym, err := purego.Dlsym(h, s.name)
		if err != nil {
			return nil, fmt.Errorf("missing symbol %s", s.name)
		}
		*s.dst = sym
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"openblas_get_config", &lib.config}, {"openblas_get_corename", &lib.corename}} {
		if sym, err := purego.Dlsym(h, s.name); err == nil {
			var f func() string
			purego.RegisterFunc(&f, sym)
			*s.dst = strings.TrimSpace(f())
		}
	}
	return lib, nil
}

// describe returns e.g. "0.3.21 Haswell ".
func (o *openblasLib) describe() string {
	var s string
	if f := strings.Fields(o.config); len(f) >= 2 && strings.EqualFold(f[0], "OpenBLAS") {
		s = f[1] + " "
	}
	if o.corename != "" {
		s += o.corename + " "
	}
	return s
}

func yn(b bool, yes, no byte) byte {
	if b {
		return yes
	}
	return no
}

// The routines below map row-major storage onto column-major Fortran: a
// row-major r×c matrix with stride ld is, read column-major, its c×r
// transpose with the same leading dimension.

// dgemm: row-major C = op(A)op(B) is the column-major Cᵀ = op(B)ᵀop(A)ᵀ.
func (o *openblasLib) dgemm(threads int, transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.args
	f.reset()
	f.char(yn(transB, 'T', 'N'), 0).char(yn(transA, 'T', 'N'), 1).
		integer(n, 0).integer(m, 1).integer(k, 2).double(alpha, 0).
		ptr(unsafe.Pointer(&b[0])).integer(ldb, 3).ptr(unsafe.Pointer(&a[0])).integer(lda, 4).
		double(beta, 1).ptr(unsafe.Pointer(&c[0])).integer(ldc, 5).strlen(2)
	o.call(threads, o.symGemm)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

// dsyrk: the row-major upper triangle is the column-major lower one, and the
// column-major view of A is Aᵀ, so the transpose flag flips.
func (o *openblasLib) dsyrk(threads int, trans bool, n, k int, alpha float64, a []float64, lda int, beta float64, c []float64, ldc int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.args
	f.reset()
	f.char('L', 0).char(yn(trans, 'N', 'T'), 1).integer(n, 0).integer(k, 1).double(alpha, 0).
		ptr(unsafe.Pointer(&a[0])).integer(lda, 2).double(beta, 1).ptr(unsafe.Pointer(&c[0])).integer(ldc, 3).strlen(2)
	o.call(threads, o.symSyrk)
	runtime.KeepAlive(a)
	runtime.KeepAlive(c)
}

// dtrsm: op(T)X = αB row-major is Xᵀop(T)ᵀ = αBᵀ column-major, where the
// column-major view of T is Tᵀ: the side and the triangle flip, the
// transpose flag stays, m and n swap.
func (o *openblasLib) dtrsm(threads int, left, lower, transT, unit bool, m, n int, alpha float64, t []float64, ldt int, b []float64, ldb int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.args
	f.reset()
	f.char(yn(left, 'R', 'L'), 0).char(yn(lower, 'U', 'L'), 1).char(yn(transT, 'T', 'N'), 2).char(yn(unit, 'U', 'N'), 3).
		integer(n, 0).integer(m, 1).double(alpha, 0).ptr(unsafe.Pointer(&t[0])).integer(ldt, 2).
		ptr(unsafe.Pointer(&b[0])).integer(ldb, 3).strlen(4)
	o.call(threads, o.symTrsm)
	runtime.KeepAlive(t)
	runtime.KeepAlive(b)
}

// dpotrf: the row-major lower triangle is the column-major upper one, and
// the column-major factor U (A = UᵀU) read row-major is L = Uᵀ.
func (o *openblasLib) dpotrf(threads, n int, a []float64) (info int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.args
	f.reset()
	f.char('U', 0).integer(n, 0).ptr(unsafe.Pointer(&a[0])).integer(n, 1).ptr(unsafe.Pointer(&f.info)).strlen(1)
	o.call(threads, o.symPotrf)
	runtime.KeepAlive(a)
	return int(f.info)
}

// dsyevd: the row-major upper triangle is the column-major lower one; the
// eigenvectors come back in the columns of the column-major Z, i.e. in the
// rows of the row-major a.
func (o *openblasLib) dsyevd(threads, n int, a, w []float64) error {
	// Workspace sizes documented for JOBZ = 'V' (a query returns the same).
	lwork := 1 + 6*int64(n) + 2*int64(n)*int64(n)
	liwork := 3 + 5*int64(n)
	if lwork > 1<<31-1 {
		return fmt.Errorf("linalg: EigenSym: n=%d too large for the 32-bit LAPACK workspace", n)
	}
	work := make([]float64, lwork)
	iwork := make([]int32, liwork)
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.args
	f.reset()
	f.char('V', 0).char('L', 1).integer(n, 0).ptr(unsafe.Pointer(&a[0])).integer(n, 1).ptr(unsafe.Pointer(&w[0])).
		ptr(unsafe.Pointer(&work[0])).integer(int(lwork), 2).ptr(unsafe.Pointer(&iwork[0])).integer(int(liwork), 3).
		ptr(unsafe.Pointer(&f.info)).strlen(2)
	o.call(threads, o.symSyevd)
	runtime.KeepAlive(a)
	runtime.KeepAlive(w)
	runtime.KeepAlive(work)
	runtime.KeepAlive(iwork)
	switch info := f.info; {
	case info < 0:
		return fmt.Errorf("linalg: EigenSym: dsyevd rejected argument %d", -info)
	case info > 0:
		return fmt.Errorf("linalg: EigenSym: dsyevd failed to converge (info %d, n=%d)", info, n)
	}
	return nil
}

// dsytrd: the row-major upper triangle is the column-major lower one, whose
// reduction starts from the first column.
func (o *openblasLib) dsytrd(threads, n int, a, d, e []float64) error {
	tau := make([]float64, max(n-1, 1))
	ee := make([]float64, max(n-1, 1))
	o.mu.Lock()
	defer o.mu.Unlock()
	var query float64
	run := func(work *float64, lwork int) int32 {
		f := o.args
		f.reset()
		f.char('L', 0).integer(n, 0).ptr(unsafe.Pointer(&a[0])).integer(n, 1).ptr(unsafe.Pointer(&d[0])).
			ptr(unsafe.Pointer(&ee[0])).ptr(unsafe.Pointer(&tau[0])).ptr(unsafe.Pointer(work)).integer(lwork, 2).
			ptr(unsafe.Pointer(&f.info)).strlen(1)
		o.call(threads, o.symSytrd)
		return f.info
	}
	if info := run(&query, -1); info != 0 {
		return fmt.Errorf("linalg: Tridiag: dsytrd workspace query failed (info %d)", info)
	}
	work := make([]float64, max(int(query), 1))
	info := run(&work[0], len(work))
	runtime.KeepAlive(a)
	runtime.KeepAlive(d)
	runtime.KeepAlive(ee)
	runtime.KeepAlive(tau)
	runtime.KeepAlive(work)
	if info != 0 {
		return fmt.Errorf("linalg: Tridiag: dsytrd rejected argument %d", -info)
	}
	copy(e, ee[:n-1])
	return nil
}

// dtrtri: the row-major lower triangle is the column-major upper one (Lᵀ),
// whose inverse (L⁻¹)ᵀ read row-major is L⁻¹.
func (o *openblasLib) dtrtri(threads, n int, a []float64) (info int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.args
	f.reset()
	f.char('U', 0).char('N', 1).integer(n, 0).ptr(unsafe.Pointer(&a[0])).integer(n, 1).ptr(unsafe.Pointer(&f.info)).strlen(2)
	o.call(threads, o.symTrtri)
	runtime.KeepAlive(a)
	return int(f.info)
}
