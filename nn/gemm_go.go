package nn

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas/gonum"
)

// GoGemm has two inner kernels, both behind the same packing of op(B):
//
// Axpy kernel (amd64, the default there). For each block of gemmAxNC columns
// and gemmAxKC inner indices, op(B) is packed row-major into a contiguous
// kc×nc panel (≤ 512 KiB, resident in L2), then every row of C is updated as
//
//	C[i, jc:jc+nc] += Σ_p (alpha·op(A)[i,p]) · B̃[p, :]
//
// one saxpy per p, using gonum's Saxpy whose amd64 assembly is 4-wide SSE.
// The C row segment (≤ 4 KiB) stays in L1 across the p loop.
//
// Tiled kernel (elsewhere). Goto & van de Geijn (2008), "Anatomy of
// high-performance matrix multiplication", ACM TOMS 34(3):
//
//	for jc := 0; jc < n; jc += gemmNC        // B panel kc×nc stays in L2/L3
//	  for pc := 0; pc < k; pc += gemmKC
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into gemmNR-wide column slivers
//	    for ic := 0; ic < m; ic += gemmMC   // A block mc×kc stays in L2
//	      pack op(A)[ic:ic+mc, pc:pc+kc] into gemmMR-tall row slivers
//	      for each sliver pair: C[MR×NR] += alpha · Ã_sliver · B̃_sliver
//
// with a 2×4 register tile in plain scalar Go. Packing makes both operands
// contiguous in the order the kernel reads them, so the transpose flags cost
// nothing inside the kernel, and zero padding of the edge slivers lets the
// kernel always compute a full tile.
//
// Measured on the 2-core Zen 5 build machine, single goroutine, conv-shaped
// products (M=64, N=4096, K=576): axpy ≈ 12 GFLOP/s, tiled ≈ 3.7 GFLOP/s,
// gonum's own Sgemm ≈ 6.7 GFLOP/s. Without SIMD the Go compiler cannot
// profit from register tiling (a 4×4 tile spills), hence the axpy kernel
// wherever gonum has assembly for it.
const (
	gemmAxNC = 1024
	gemmAxKC = 128

	gemmMR = 2
	gemmNR = 4
	gemmKC = 256
	gemmMC = 64
	gemmNC = 1024
)

// gemmKernel selects GoGemm's inner kernel; the zero value picks by GOARCH.
type gemmKernel uint8

const (
	kernelAuto gemmKernel = iota
	kernelAxpy
	kernelTiled
)

func (k gemmKernel) resolve() gemmKernel {
	if k != kernelAuto {
		return k
	}
	if runtime.GOARCH == "amd64" {
		return kernelAxpy
	}
	return kernelTiled
}

// GoGemm is a cache-blocked, packed Sgemm in Go (no cgo): the fall-back used
// when OpenBLAS is not available. Its zero value is ready to use; it keeps a
// pool of packing buffers so that steady-state calls do not allocate, and it
// is safe for concurrent use (each call takes its own buffers). It runs on
// the calling goroutine only; parallelism is left to the caller.
type GoGemm struct {
	bufs   sync.Pool // of *gemmScratch
	kernel gemmKernel
}

type gemmScratch struct {
	a []float32 // packed A block (tiled kernel)
	b []float32 // packed B panel
}

// Name implements Gemm.
func (g *GoGemm) Name() string {
	if g.kernel.resolve() == kernelAxpy {
		return "go (packed, saxpy kernel)"
	}
	return fmt.Sprintf("go (packed, %d×%d tiled kernel)", gemmMR, gemmNR)
}

// Sgemm implements Gemm.
func (g *GoGemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	// C ← beta·C once (beta = 0 overwrites, so NaN or Inf in C vanish), then
	// every block accumulates C += alpha·op(A)·op(B).
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	s, _ := g.bufs.Get().(*gemmScratch)
	if s == nil {
		s = new(gemmScratch)
	}
	if g.kernel.resolve() == kernelAxpy {
		if s.b == nil {
			s.b = make([]float32, gemmAxKC*gemmAxNC)
		}
		sgemmAxpy(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc, s.b)
	} else {
		if s.a == nil {
			s.a = make([]float32, roundUp(gemmMC, gemmMR)*gemmKC)
			s.b = make([]float32, roundUp(gemmNC, gemmNR)*gemmKC)
		}
		sgemmTiled(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc, s)
	}
	g.bufs.Put(s)
}

// sgemmAxpy adds alpha·op(A)·op(B) to C with the axpy kernel; pb holds
// gemmAxKC·gemmAxNC floats.
func sgemmAxpy(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pb []float32) {
	impl := gonum.Implementation{}
	for jc := 0; jc < n; jc += gemmAxNC {
		nc := min(gemmAxNC, n-jc)
		for pc := 0; pc < k; pc += gemmAxKC {
			kc := min(gemmAxKC, k-pc)
			// B̃[p, j] = op(B)[pc+p, jc+j], row stride nc.
			if !transB {
				for p := 0; p < kc; p++ {
					copy(pb[p*nc:p*nc+nc], b[(pc+p)*ldb+jc:])
				}
			} else {
				// Read rows of the stored B contiguously; the strided
				// writes touch kc cache lines that stay in L1.
				for j := 0; j < nc; j++ {
					src := b[(jc+j)*ldb+pc:]
					src = src[:kc]
					for p, v := range src {
						pb[p*nc+j] = v
					}
				}
			}
			for i := 0; i < m; i++ {
				crow := c[i*ldc+jc : i*ldc+jc+nc]
				for p := 0; p < kc; p++ {
					var av float32
					if transA {
						av = a[(pc+p)*lda+i]
					} else {
						av = a[i*lda+pc+p]
					}
					impl.Saxpy(nc, alpha*av, pb[p*nc:p*nc+nc], 1, crow, 1)
				}
			}
		}
	}
}

// sgemmTiled adds alpha·op(A)·op(B) to C with the tiled kernel.
func sgemmTiled(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, s *gemmScratch) {
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			packB(transB, b, ldb, pc, jc, kc, nc, s.b)
			for ic := 0; ic < m; ic += gemmMC {
				mc := min(gemmMC, m-ic)
				packA(transA, a, lda, ic, pc, mc, kc, s.a)
				macroKernel(mc, nc, kc, alpha, s.a, s.b, c[ic*ldc+jc:], ldc)
			}
		}
	}
}

func roundUp(x, q int) int { return (x + q - 1) / q * q }

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as consecutive gemmMR-row
// slivers; within a sliver element (i, p) is at p·gemmMR + i. Rows past mc
// are zero.
func packA(trans bool, a []float32, lda, i0, p0, mc, kc int, dst []float32) {
	for ir := 0; ir < mc; ir += gemmMR {
		mr := min(gemmMR, mc-ir)
		d := dst[ir*kc : ir*kc+gemmMR*kc]
		if !trans {
			// op(A)(i, p) = a[i·lda + p]
			for i := 0; i < mr; i++ {
				row := a[(i0+ir+i)*lda+p0:]
				row = row[:kc]
				for p, v := range row {
					d[p*gemmMR+i] = v
				}
			}
		} else {
			// op(A)(i, p) = a[p·lda + i]: each source row holds one p.
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ir:]
				src = src[:mr]
				copy(d[p*gemmMR:p*gemmMR+mr], src)
			}
		}
		if mr < gemmMR {
			for p := 0; p < kc; p++ {
				clear(d[p*gemmMR+mr : p*gemmMR+gemmMR])
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as consecutive gemmNR-
// column slivers; within a sliver element (p, j) is at p·gemmNR + j.
// Columns past nc are zero.
func packB(trans bool, b []float32, ldb, p0, j0, kc, nc int, dst []float32) {
	for jr := 0; jr < nc; jr += gemmNR {
		nr := min(gemmNR, nc-jr)
		d := dst[jr*kc : jr*kc+gemmNR*kc]
		if !trans {
			// op(B)(p, j) = b[p·ldb + j]
			for p := 0; p < kc; p++ {
				src := b[(p0+p)*ldb+j0+jr:]
				src = src[:nr]
				copy(d[p*gemmNR:p*gemmNR+nr], src)
			}
		} else {
			// op(B)(p, j) = b[j·ldb + p]
			for j := 0; j < nr; j++ {
				col := b[(j0+jr+j)*ldb+p0:]
				col = col[:kc]
				for p, v := range col {
					d[p*gemmNR+j] = v
				}
			}
		}
		if nr < gemmNR {
			for p := 0; p < kc; p++ {
				clear(d[p*gemmNR+nr : p*gemmNR+gemmNR])
			}
		}
	}
}

// macroKernel updates the mc×nc block at c with alpha·Ã·B̃ for packed Ã
// (mc×kc) and B̃ (kc×nc).
func macroKernel(mc, nc, kc int, alpha float32, pa, pb []float32, c []float32, ldc int) {
	var tile [gemmMR * gemmNR]float32
	for jr := 0; jr < nc; jr += gemmNR {
		nr := min(gemmNR, nc-jr)
		bs := pb[jr*kc : jr*kc+gemmNR*kc]
		for ir := 0; ir < mc; ir += gemmMR {
			mr := min(gemmMR, mc-ir)
			as := pa[ir*kc : ir*kc+gemmMR*kc]
			if mr == gemmMR && nr == gemmNR {
				kernel2x4(as, bs, alpha, c[ir*ldc+jr:], ldc)
				continue
			}
			// Edge tile: compute the full padded tile into a local
			// buffer, then add only its valid part to C.
			tile = [gemmMR * gemmNR]float32{}
			kernel2x4(as, bs, 1, tile[:], gemmNR)
			for i := 0; i < mr; i++ {
				row := c[(ir+i)*ldc+jr:]
				row = row[:nr]
				for j := range row {
					row[j] += alpha * tile[i*gemmNR+j]
				}
			}
		}
	}
}

// kernel2x4 adds alpha·Σ_p a_p b_pᵀ to the 2×4 block of c (row stride
// ldc), where a_p = as[2p:2p+2] and b_p = bs[4p:4p+4]. The eight sums, two
// a values and four b values fit in the 15 float registers the Go compiler
// uses on amd64; larger tiles (4×4, 3×4) spill to the stack and measured
// slower.
func kernel2x4(as, bs []float32, alpha float32, c []float32, ldc int) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	for len(as) >= 2 && len(bs) >= 4 {
		b0, b1, b2, b3 := bs[0], bs[1], bs[2], bs[3]
		a0, a1 := as[0], as[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		as, bs = as[2:], bs[4:]
	}
	r := c[:4]
	r[0] += alpha * c00
	r[1] += alpha * c01
	r[2] += alpha * c02
	r[3] += alpha * c03
	r = c[ldc : ldc+4]
	r[0] += alpha * c10
	r[1] += alpha * c11
	r[2] += alpha * c12
	r[3] += alpha * c13
}

// scaleC sets C ← beta·C on the m×n matrix at c. beta = 0 stores zeros,
// as BLAS requires, so that NaN or Inf previously in C do not propagate.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// checkSgemm panics with a descriptive message if the Sgemm arguments are
// inconsistent: negative sizes, a leading dimension shorter than a stored
// row, or a slice too short for the matrix it holds. These are programming
// errors (as in every BLAS); the check also guarantees that a C library is
// never handed memory it would overrun.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("nn: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	// Stored shapes (rows × cols) of A and B.
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat := func(name string, rows, cols int, x []float32, ld int) {
		if ld < max(1, cols) {
			panic(fmt.Sprintf("nn: Sgemm: ld%s=%d < %d columns of %s", name, ld, cols, name))
		}
		if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("nn: Sgemm: len(%s)=%d < %d needed for %d×%d with ld=%d",
				name, len(x), (rows-1)*ld+cols, rows, cols, ld))
		}
	}
	checkMat("c", m, n, c, ldc)
	if m == 0 || n == 0 || k == 0 {
		return
	}
	checkMat("a", ar, ac, a, lda)
	checkMat("b", br, bc, b, ldb)
}
