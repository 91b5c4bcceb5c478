package nn

import (
	"fmt"
	"sync"
)

// Blocking of GoGemm, after Goto & van de Geijn (2008), "Anatomy of
// high-performance matrix multiplication", ACM TOMS 34(3):
//
//	for jc := 0; jc < n; jc += gemmNC        // B panel kc×nc stays in L2/L3
//	  for pc := 0; pc < k; pc += gemmKC
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into gemmNR-wide column slivers
//	    for ic := 0; ic < m; ic += gemmMC   // A block mc×kc stays in L2
//	      pack op(A)[ic:ic+mc, pc:pc+kc] into gemmMR-tall row slivers
//	      for each sliver pair: C[MR×NR] += alpha · Ã_sliver · B̃_sliver
//
// Packing makes both operands contiguous in the order the micro-kernel reads
// them, so the transpose flags cost nothing inside the kernel, and zero
// padding of the edge slivers lets the kernel always compute a full tile.
const (
	gemmMR = 4
	gemmNR = 4
	gemmKC = 256
	gemmMC = 64
	gemmNC = 1024
)

// GoGemm is a cache-blocked, packed Sgemm in plain Go: the fall-back used
// when OpenBLAS is not available. Its zero value is ready to use; it keeps a
// pool of packing buffers so that steady-state calls do not allocate, and it
// is safe for concurrent use (each call takes its own buffers).
type GoGemm struct {
	bufs sync.Pool // of *gemmScratch
}

type gemmScratch struct {
	a []float32 // packed A block, gemmMC×gemmKC rounded up to gemmMR
	b []float32 // packed B panel, gemmKC×gemmNC rounded up to gemmNR
}

// Name implements Gemm.
func (*GoGemm) Name() string { return fmt.Sprintf("go (packed %d×%d kernel)", gemmMR, gemmNR) }

// Sgemm implements Gemm.
func (g *GoGemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	// C ← beta·C once (beta = 0 overwrites, so NaN or Inf in C vanish), then
	// every block accumulates C += alpha·Ã·B̃.
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	s, _ := g.bufs.Get().(*gemmScratch)
	if s == nil {
		s = &gemmScratch{
			a: make([]float32, roundUp(gemmMC, gemmMR)*gemmKC),
			b: make([]float32, roundUp(gemmNC, gemmNR)*gemmKC),
		}
	}
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
	g.bufs.Put(s)
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
				kernel4x4(as, bs, alpha, c[ir*ldc+jr:], ldc)
				continue
			}
			// Edge tile: compute the full padded tile into a local
			// buffer, then add only its valid part to C.
			tile = [gemmMR * gemmNR]float32{}
			kernel4x4(as, bs, 1, tile[:], gemmNR)
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

// kernel4x4 adds alpha·Σ_p a_p b_pᵀ to the 4×4 block of c (row stride ldc),
// where a_p = as[4p:4p+4] and b_p = bs[4p:4p+4]. The sixteen sums live in
// local variables so the compiler can keep them in registers.
func kernel4x4(as, bs []float32, alpha float32, c []float32, ldc int) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for len(as) >= 4 && len(bs) >= 4 {
		a0, a1, a2, a3 := as[0], as[1], as[2], as[3]
		b0, b1, b2, b3 := bs[0], bs[1], bs[2], bs[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		as, bs = as[4:], bs[4:]
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
	r = c[2*ldc : 2*ldc+4]
	r[0] += alpha * c20
	r[1] += alpha * c21
	r[2] += alpha * c22
	r[3] += alpha * c23
	r = c[3*ldc : 3*ldc+4]
	r[0] += alpha * c30
	r[1] += alpha * c31
	r[2] += alpha * c32
	r[3] += alpha * c33
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
