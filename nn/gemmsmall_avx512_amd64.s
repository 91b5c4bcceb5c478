//go:build !purego

#include "textflag.h"

// func sgemm4RowsAVX512(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int)
//
// The AVX-512 twin of sgemm4RowsAVX (gemmsmall_amd64.s), same arguments and
// result: C[i][j] = (acc ≠ 0 ? C[i][j] : 0) + Σ_{p<k} A(i, p)·B[p][j] for
// i < 4, j < n (n a positive multiple of 8, k ≥ 1), A(i, p) = a[i·rs + p·ps].
// Column blocks of 32 keep 8 zmm accumulators (two per row), then one block
// of 16 (4 zmm) and one of 8 (4 ymm). Each element is summed in order over p
// with one FMA per term, starting from 0, and added to C afterwards, exactly
// as the AVX2 kernel does, so both give bitwise equal results.
TEXT ·sgemm4RowsAVX512(SB), NOSPLIT, $0-80
	MOVQ a+0(FP), AX
	MOVQ rs+8(FP), BX
	SHLQ $2, BX
	LEAQ (AX)(BX*1), CX // row 1 of A
	LEAQ (CX)(BX*1), DX // row 2
	ADDQ DX, BX         // row 3
	MOVQ ps+16(FP), R12
	SHLQ $2, R12        // byte step from A(i, p) to A(i, p+1)
	MOVQ b+24(FP), R8
	MOVQ ldb+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), R10
	MOVQ ldc+48(FP), R11
	SHLQ $2, R11
	MOVQ k+64(FP), R13
	XORQ R14, R14 // column j

j32:
	MOVQ n+56(FP), DI
	SUBQ R14, DI
	CMPQ DI, $32
	JLT j16
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	LEAQ (R8)(R14*4), DI // &B[0][j]
	XORQ SI, SI          // byte offset of A(·, p) from A(·, 0)
	MOVQ R13, R15

p32:
	VMOVUPS (DI), Z8
	VMOVUPS 64(DI), Z9
	VBROADCASTSS (AX)(SI*1), Z10
	VFMADD231PS Z8, Z10, Z0
	VFMADD231PS Z9, Z10, Z1
	VBROADCASTSS (CX)(SI*1), Z11
	VFMADD231PS Z8, Z11, Z2
	VFMADD231PS Z9, Z11, Z3
	VBROADCASTSS (DX)(SI*1), Z12
	VFMADD231PS Z8, Z12, Z4
	VFMADD231PS Z9, Z12, Z5
	VBROADCASTSS (BX)(SI*1), Z13
	VFMADD231PS Z8, Z13, Z6
	VFMADD231PS Z9, Z13, Z7
	ADDQ R12, SI
	ADDQ R9, DI
	DECQ R15
	JNZ  p32
	LEAQ (R10)(R14*4), DI // &C[0][j]
	LEAQ (DI)(R11*2), SI  // &C[2][j]
	CMPQ acc+72(FP), $0
	JZ   s32
	VADDPS (DI), Z0, Z0
	VADDPS 64(DI), Z1, Z1
	VADDPS (DI)(R11*1), Z2, Z2
	VADDPS 64(DI)(R11*1), Z3, Z3
	VADDPS (SI), Z4, Z4
	VADDPS 64(SI), Z5, Z5
	VADDPS (SI)(R11*1), Z6, Z6
	VADDPS 64(SI)(R11*1), Z7, Z7

s32:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, (DI)(R11*1)
	VMOVUPS Z3, 64(DI)(R11*1)
	VMOVUPS Z4, (SI)
	VMOVUPS Z5, 64(SI)
	VMOVUPS Z6, (SI)(R11*1)
	VMOVUPS Z7, 64(SI)(R11*1)
	ADDQ $32, R14
	JMP  j32

j16:
	CMPQ DI, $16
	JLT  j8
	VXORPS Z0, Z0, Z0
	VXORPS Z2, Z2, Z2
	VXORPS Z4, Z4, Z4
	VXORPS Z6, Z6, Z6
	LEAQ (R8)(R14*4), DI
	XORQ SI, SI
	MOVQ R13, R15

p16:
	VMOVUPS (DI), Z8
	VBROADCASTSS (AX)(SI*1), Z10
	VFMADD231PS Z8, Z10, Z0
	VBROADCASTSS (CX)(SI*1), Z11
	VFMADD231PS Z8, Z11, Z2
	VBROADCASTSS (DX)(SI*1), Z12
	VFMADD231PS Z8, Z12, Z4
	VBROADCASTSS (BX)(SI*1), Z13
	VFMADD231PS Z8, Z13, Z6
	ADDQ R12, SI
	ADDQ R9, DI
	DECQ R15
	JNZ  p16
	LEAQ (R10)(R14*4), DI
	LEAQ (DI)(R11*2), SI
	CMPQ acc+72(FP), $0
	JZ   s16
	VADDPS (DI), Z0, Z0
	VADDPS (DI)(R11*1), Z2, Z2
	VADDPS (SI), Z4, Z4
	VADDPS (SI)(R11*1), Z6, Z6

s16:
	VMOVUPS Z0, (DI)
	VMOVUPS Z2, (DI)(R11*1)
	VMOVUPS Z4, (SI)
	VMOVUPS Z6, (SI)(R11*1)
	ADDQ $16, R14
	MOVQ n+56(FP), DI
	SUBQ R14, DI

	// n is a multiple of 8: at most one block of 16 and one of 8 follow
	// those of 32.
j8:
	CMPQ DI, $8
	JLT  done
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
	JNZ  p8
	LEAQ (R10)(R14*4), DI
	LEAQ (DI)(R11*2), SI
	CMPQ acc+72(FP), $0
	JZ   s8
	VADDPS (DI), Y0, Y0
	VADDPS (DI)(R11*1), Y2, Y2
	VADDPS (SI), Y4, Y4
	VADDPS (SI)(R11*1), Y6, Y6

s8:
	VMOVUPS Y0, (DI)
	VMOVUPS Y2, (DI)(R11*1)
	VMOVUPS Y4, (SI)
	VMOVUPS Y6, (SI)(R11*1)

done:
	VZEROUPPER
	RET

// func pack32AVX512(b *float32, ldb int, dst *float32, k int)
// dst[32p : 32p+32] = b[p·ldb : p·ldb+32] for p < k (k ≥ 1).
TEXT ·pack32AVX512(SB), NOSPLIT, $0-32
	MOVQ b+0(FP), SI
	MOVQ ldb+8(FP), R8
	SHLQ $2, R8
	MOVQ dst+16(FP), DI
	MOVQ k+24(FP), CX

pk:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ R8, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  pk
	VZEROUPPER
	RET
