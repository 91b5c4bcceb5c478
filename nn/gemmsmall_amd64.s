//go:build !purego

#include "textflag.h"

// func sgemm4RowsAVX(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int)
//
// C[i][j] = (acc ≠ 0 ? C[i][j] : 0) + Σ_{p<k} A(i, p)·B[p][j] for i < 4, j < n
// (n a positive multiple of 8, k ≥ 1), where A(i, p) = a[i·rs + p·ps] (rs = lda,
// ps = 1 for A; rs = 1, ps = lda for Aᵀ) and B, C are row-major with the
// given leading dimensions, all in elements. Column blocks of 16 (then one
// of 8) keep 8 (4) accumulators in registers; the sum over p runs in order
// with one FMA per term, so results do not depend on n or on the block.
TEXT ·sgemm4RowsAVX(SB), NOSPLIT, $0-80
	MOVQ a+0(FP), AX
	MOVQ rs+8(FP), BX
	SHLQ $2, BX
	LEAQ (AX)(BX*1), CX   // row 1 of A
	LEAQ (CX)(BX*1), DX   // row 2
	ADDQ DX, BX           // row 3
	MOVQ ps+16(FP), R12
	SHLQ $2, R12          // byte step from A(i, p) to A(i, p+1)
	MOVQ b+24(FP), R8
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), R10
	MOVQ ldc+48(FP), R11
	SHLQ $2, R11
	MOVQ k+64(FP), R13
	XORQ R14, R14 // column j

j16:
	MOVQ n+56(FP), DI
	SUBQ R14, DI
	CMPQ DI, $16
	JLT j8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	LEAQ (R8)(R14*4), DI // &B[0][j]
	XORQ SI, SI          // byte offset of A(·, p) from A(·, 0)
	MOVQ R13, R15
p16:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VBROADCASTSS (AX)(SI*1), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VBROADCASTSS (CX)(SI*1), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VBROADCASTSS (DX)(SI*1), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VBROADCASTSS (BX)(SI*1), Y13
	VFMADD231PS Y8, Y13, Y6
	VFMADD231PS Y9, Y13, Y7
	ADDQ R12, SI
	ADDQ R9, DI
	DECQ R15
	JNZ p16
	LEAQ (R10)(R14*4), DI // &C[0][j]
	CMPQ acc+72(FP), $0
	JZ s16
	VADDPS (DI), Y0, Y0
	VADDPS 32(DI), Y1, Y1
	VADDPS (DI)(R11*1), Y2, Y2
	VADDPS 32(DI)(R11*1), Y3, Y3
	LEAQ (DI)(R11*2), SI
	VADDPS (SI), Y4, Y4
	VADDPS 32(SI), Y5, Y5
	VADDPS (SI)(R11*1), Y6, Y6
	VADDPS 32(SI)(R11*1), Y7, Y7
s16:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DI)(R11*1)
	VMOVUPS Y3, 32(DI)(R11*1)
	LEAQ (DI)(R11*2), SI
	VMOVUPS Y4, (SI)
	VMOVUPS Y5, 32(SI)
	VMOVUPS Y6, (SI)(R11*1)
	VMOVUPS Y7, 32(SI)(R11*1)
	ADDQ $16, R14
	JMP j16

j8:
	CMPQ DI, $8
	JLT done
	VXORPS Y0, Y0, Y0
	VXORPS Y2, Y2, Y2
	VXORPS Y4, Y4, Y4
	VXORPS Y6, Y6, Y6
	LEAQ (R8)(R14*4), DI
	XORQ SI, SI
	MOVQ R13, R15
p8:
	VMOVUPS (DI), Y8
	VBROADCASTSS (AX)(SI*1), Y10
	VFMADD231PS Y8, Y10, Y0
	VBROADCASTSS (CX)(SI*1), Y11
	VFMADD231PS Y8, Y11, Y2
	VBROADCASTSS (DX)(SI*1), Y12
	VFMADD231PS Y8, Y12, Y4
	VBROADCASTSS (BX)(SI*1), Y13
	VFMADD231PS Y8, Y13, Y6
	ADDQ R12, SI
	ADDQ R9, DI
	DECQ R15
	JNZ p8
	LEAQ (R10)(R14*4), DI
	CMPQ acc+72(FP), $0
	JZ s8
	VADDPS (DI), Y0, Y0
	VADDPS (DI)(R11*1), Y2, Y2
	LEAQ (DI)(R11*2), SI
	VADDPS (SI), Y4, Y4
	VADDPS (SI)(R11*1), Y6, Y6
s8:
	VMOVUPS Y0, (DI)
	VMOVUPS Y2, (DI)(R11*1)
	LEAQ (DI)(R11*2), SI
	VMOVUPS Y4, (SI)
	VMOVUPS Y6, (SI)(R11*1)
	// n is a multiple of 8, so at most one block of 8 follows those of 16

done:
	VZEROUPPER
	RET

// func pack16AVX(b *float32, ldb int, dst *float32, k int)
// dst[16p : 16p+16] = b[p·ldb : p·ldb+16] for p < k (k ≥ 1).
TEXT ·pack16AVX(SB), NOSPLIT, $0-32
	MOVQ b+0(FP), SI
	MOVQ ldb+8(FP), R8
	SHLQ $2, R8
	MOVQ dst+16(FP), DI
	MOVQ k+24(FP), CX
pk:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ pk
	VZEROUPPER
	RET
