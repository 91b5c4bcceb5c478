//go:build !purego

#include "textflag.h"

// AVX2+FMA kernels for the elementwise parts of GroupNorm+SiLU and softmax;
// see simd_amd64.go. n is always a positive multiple of 8.

#define LOG2E expc<>+0(SB)
#define LN2HI expc<>+32(SB)
#define LN2LO expc<>+64(SB)
#define C7 expc<>+96(SB)
#define C6 expc<>+128(SB)
#define C5 expc<>+160(SB)
#define C4 expc<>+192(SB)
#define C3 expc<>+224(SB)
#define C2 expc<>+256(SB)
#define ONE expc<>+288(SB)
#define HI expc<>+320(SB)
#define LO expc<>+352(SB)
#define I127 expc<>+384(SB)

// EXP sets Y4 = e^Y1 (Y1 clamped to ±87 in place); clobbers Y2, Y3, Y5.
// MINPS/MAXPS return their second source when either is NaN, so the
// input Y1 is that second source (Intel order: min(Y2, Y1)) and a NaN
// stays NaN instead of becoming ±87, as in the Go expf.
#define EXP \
	VMOVUPS HI, Y2; \
	VMINPS Y1, Y2, Y1; \
	VMOVUPS LO, Y2; \
	VMAXPS Y1, Y2, Y1; \
	VMULPS LOG2E, Y1, Y2; \
	VROUNDPS $0, Y2, Y2; \
	VMOVAPS Y1, Y3; \
	VFNMADD231PS LN2HI, Y2, Y3; \
	VFNMADD231PS LN2LO, Y2, Y3; \
	VMOVUPS C7, Y4; \
	VFMADD213PS C6, Y3, Y4; \
	VFMADD213PS C5, Y3, Y4; \
	VFMADD213PS C4, Y3, Y4; \
	VFMADD213PS C3, Y3, Y4; \
	VFMADD213PS C2, Y3, Y4; \
	VFMADD213PS ONE, Y3, Y4; \
	VFMADD213PS ONE, Y3, Y4; \
	VCVTPS2DQ Y2, Y5; \
	VPADDD I127, Y5, Y5; \
	VPSLLD $23, Y5, Y5; \
	VMULPS Y5, Y4, Y4

// func gnSiluFwdAVX(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int)
// The main loop interleaves three independent vectors (24 elements; the
// stores of h and s sit behind one branch each): one vector's exp,
// reciprocal and products form a dependency chain of ~80 cycles, which the
// out-of-order core overlaps only about twice, so the single-vector loop
// ran at ~40 cycles per 8 elements. The tail loop does the remaining 8 or
// 16. Every element sees the same operations in the same order in both
// loops.
TEXT ·gnSiluFwdAVX(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xh+8(FP), DI
	MOVQ sg+16(FP), R8
	MOVQ y+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS m+40(FP), Y8
	VBROADCASTSS r+44(FP), Y9
	VBROADCASTSS gam+48(FP), Y10
	VBROADCASTSS bet+52(FP), Y11
	MOVQ store+56(FP), DX
	CMPQ CX, $24
	JLT fwdtail
fwd3:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VSUBPS Y8, Y0, Y0
	VSUBPS Y8, Y1, Y1
	VSUBPS Y8, Y2, Y2
	VMULPS Y9, Y0, Y0
	VMULPS Y9, Y1, Y1
	VMULPS Y9, Y2, Y2
	TESTQ DX, DX
	JZ fwd3noh
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
fwd3noh:
	VFMADD213PS Y11, Y10, Y0
	VFMADD213PS Y11, Y10, Y1
	VFMADD213PS Y11, Y10, Y2
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	VSUBPS Y0, Y13, Y3
	VSUBPS Y1, Y14, Y4
	VSUBPS Y2, Y15, Y5
	VMOVUPS HI, Y6
	VMOVUPS HI, Y7
	VMOVUPS HI, Y12
	VMINPS Y3, Y6, Y3
	VMINPS Y4, Y7, Y4
	VMINPS Y5, Y12, Y5
	VMOVUPS LO, Y6
	VMOVUPS LO, Y7
	VMOVUPS LO, Y12
	VMAXPS Y3, Y6, Y3
	VMAXPS Y4, Y7, Y4
	VMAXPS Y5, Y12, Y5
	VMULPS LOG2E, Y3, Y6
	VMULPS LOG2E, Y4, Y7
	VMULPS LOG2E, Y5, Y12
	VROUNDPS $0, Y6, Y6
	VROUNDPS $0, Y7, Y7
	VROUNDPS $0, Y12, Y12
	VFNMADD231PS LN2HI, Y6, Y3
	VFNMADD231PS LN2HI, Y7, Y4
	VFNMADD231PS LN2HI, Y12, Y5
	VFNMADD231PS LN2LO, Y6, Y3
	VFNMADD231PS LN2LO, Y7, Y4
	VFNMADD231PS LN2LO, Y12, Y5
	VMOVUPS C7, Y13
	VMOVUPS C7, Y14
	VMOVUPS C7, Y15
	VFMADD213PS C6, Y3, Y13
	VFMADD213PS C6, Y4, Y14
	VFMADD213PS C6, Y5, Y15
	VFMADD213PS C5, Y3, Y13
	VFMADD213PS C5, Y4, Y14
	VFMADD213PS C5, Y5, Y15
	VFMADD213PS C4, Y3, Y13
	VFMADD213PS C4, Y4, Y14
	VFMADD213PS C4, Y5, Y15
	VFMADD213PS C3, Y3, Y13
	VFMADD213PS C3, Y4, Y14
	VFMADD213PS C3, Y5, Y15
	VFMADD213PS C2, Y3, Y13
	VFMADD213PS C2, Y4, Y14
	VFMADD213PS C2, Y5, Y15
	VFMADD213PS ONE, Y3, Y13
	VFMADD213PS ONE, Y4, Y14
	VFMADD213PS ONE, Y5, Y15
	VFMADD213PS ONE, Y3, Y13
	VFMADD213PS ONE, Y4, Y14
	VFMADD213PS ONE, Y5, Y15
	VCVTPS2DQ Y6, Y6
	VCVTPS2DQ Y7, Y7
	VCVTPS2DQ Y12, Y12
	VPADDD I127, Y6, Y6
	VPADDD I127, Y7, Y7
	VPADDD I127, Y12, Y12
	VPSLLD $23, Y6, Y6
	VPSLLD $23, Y7, Y7
	VPSLLD $23, Y12, Y12
	VMULPS Y6, Y13, Y13
	VMULPS Y7, Y14, Y14
	VMULPS Y12, Y15, Y15
	VADDPS ONE, Y13, Y13
	VADDPS ONE, Y14, Y14
	VADDPS ONE, Y15, Y15
	VMOVUPS ONE, Y6
	VMOVUPS ONE, Y7
	VMOVUPS ONE, Y12
	VDIVPS Y13, Y6, Y13
	VDIVPS Y14, Y7, Y14
	VDIVPS Y15, Y12, Y15
	TESTQ DX, DX
	JZ fwd3nos
	VMOVUPS Y13, 0(R8)
	VMOVUPS Y14, 32(R8)
	VMOVUPS Y15, 64(R8)
fwd3nos:
	VMULPS Y13, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y15, Y2, Y2
	VMOVUPS Y0, 0(R9)
	VMOVUPS Y1, 32(R9)
	VMOVUPS Y2, 64(R9)

	ADDQ $96, SI
	ADDQ $96, DI
	ADDQ $96, R8
	ADDQ $96, R9
	SUBQ $24, CX
	CMPQ CX, $24
	JGE fwd3
fwdtail:
	TESTQ CX, CX
	JZ fwddone
	VXORPS Y7, Y7, Y7
	VMOVUPS ONE, Y13
fwdloop:
	VMOVUPS (SI), Y0
	VSUBPS Y8, Y0, Y0
	VMULPS Y9, Y0, Y0
	TESTQ DX, DX
	JZ fwdnoh
	VMOVUPS Y0, (DI)
fwdnoh:
	VFMADD213PS Y11, Y10, Y0
	VSUBPS Y0, Y7, Y1
	EXP
	VADDPS Y13, Y4, Y4
	VDIVPS Y4, Y13, Y4
	TESTQ DX, DX
	JZ fwdnos
	VMOVUPS Y4, (R8)
fwdnos:
	VMULPS Y4, Y0, Y0
	VMOVUPS Y0, (R9)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JNZ fwdloop
fwddone:
	VZEROUPPER
	RET

// func gnSiluBwdAVX(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32)
TEXT ·gnSiluBwdAVX(SB), NOSPLIT, $0-56
	MOVQ h+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ sg+16(FP), R8
	MOVQ dx+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS gam+40(FP), Y10
	VBROADCASTSS bet+44(FP), Y11
	MOVQ acc+48(FP), AX
	VMOVUPS ONE, Y13
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
bwdloop:
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VFMADD213PS Y11, Y10, Y1
	VMOVUPS (R8), Y2
	VSUBPS Y2, Y13, Y3
	VFMADD213PS Y13, Y1, Y3
	VMULPS Y2, Y3, Y3
	VMULPS (DI), Y3, Y3
	VFMADD231PS Y3, Y0, Y6
	VADDPS Y3, Y7, Y7
	VMULPS Y10, Y3, Y3
	VMOVUPS Y3, (R9)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	SUBQ $8, CX
	JNZ bwdloop
	VMOVUPS Y6, (AX)
	VMOVUPS Y7, 32(AX)
	VZEROUPPER
	RET

// func gnBwdFinishAVX(ds, h *float32, n int, r, m1, m2 float32)
TEXT ·gnBwdFinishAVX(SB), NOSPLIT, $0-36
	MOVQ ds+0(FP), DI
	MOVQ h+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS r+24(FP), Y9
	VBROADCASTSS m1+28(FP), Y10
	VBROADCASTSS m2+32(FP), Y11
finloop:
	VMOVUPS (DI), Y0
	VSUBPS Y10, Y0, Y0
	VMOVUPS (SI), Y1
	VFNMADD231PS Y11, Y1, Y0
	VMULPS Y9, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ finloop
	VZEROUPPER
	RET

// func expSubAVX(row *float32, n int, m float32, acc *[8]float32)
// Three vectors per iteration of the main loop, as in gnSiluFwdAVX; each
// lane's sum still adds the vectors in order.
TEXT ·expSubAVX(SB), NOSPLIT, $0-32
	MOVQ row+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y8
	MOVQ acc+24(FP), AX
	VXORPS Y6, Y6, Y6
	CMPQ CX, $24
	JLT exptail
exp3:
	VMOVUPS 0(DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VSUBPS Y8, Y0, Y0
	VSUBPS Y8, Y1, Y1
	VSUBPS Y8, Y2, Y2
	VMOVUPS HI, Y3
	VMOVUPS HI, Y5
	VMOVUPS HI, Y7
	VMINPS Y0, Y3, Y0
	VMINPS Y1, Y5, Y1
	VMINPS Y2, Y7, Y2
	VMOVUPS LO, Y3
	VMOVUPS LO, Y5
	VMOVUPS LO, Y7
	VMAXPS Y0, Y3, Y0
	VMAXPS Y1, Y5, Y1
	VMAXPS Y2, Y7, Y2
	VMULPS LOG2E, Y0, Y3
	VMULPS LOG2E, Y1, Y5
	VMULPS LOG2E, Y2, Y7
	VROUNDPS $0, Y3, Y3
	VROUNDPS $0, Y5, Y5
	VROUNDPS $0, Y7, Y7
	VFNMADD231PS LN2HI, Y3, Y0
	VFNMADD231PS LN2HI, Y5, Y1
	VFNMADD231PS LN2HI, Y7, Y2
	VFNMADD231PS LN2LO, Y3, Y0
	VFNMADD231PS LN2LO, Y5, Y1
	VFNMADD231PS LN2LO, Y7, Y2
	VMOVUPS C7, Y4
	VMOVUPS C7, Y9
	VMOVUPS C7, Y10
	VFMADD213PS C6, Y0, Y4
	VFMADD213PS C6, Y1, Y9
	VFMADD213PS C6, Y2, Y10
	VFMADD213PS C5, Y0, Y4
	VFMADD213PS C5, Y1, Y9
	VFMADD213PS C5, Y2, Y10
	VFMADD213PS C4, Y0, Y4
	VFMADD213PS C4, Y1, Y9
	VFMADD213PS C4, Y2, Y10
	VFMADD213PS C3, Y0, Y4
	VFMADD213PS C3, Y1, Y9
	VFMADD213PS C3, Y2, Y10
	VFMADD213PS C2, Y0, Y4
	VFMADD213PS C2, Y1, Y9
	VFMADD213PS C2, Y2, Y10
	VFMADD213PS ONE, Y0, Y4
	VFMADD213PS ONE, Y1, Y9
	VFMADD213PS ONE, Y2, Y10
	VFMADD213PS ONE, Y0, Y4
	VFMADD213PS ONE, Y1, Y9
	VFMADD213PS ONE, Y2, Y10
	VCVTPS2DQ Y3, Y3
	VCVTPS2DQ Y5, Y5
	VCVTPS2DQ Y7, Y7
	VPADDD I127, Y3, Y3
	VPADDD I127, Y5, Y5
	VPADDD I127, Y7, Y7
	VPSLLD $23, Y3, Y3
	VPSLLD $23, Y5, Y5
	VPSLLD $23, Y7, Y7
	VMULPS Y3, Y4, Y4
	VMULPS Y5, Y9, Y9
	VMULPS Y7, Y10, Y10
	VMOVUPS Y4, 0(DI)
	VMOVUPS Y9, 32(DI)
	VMOVUPS Y10, 64(DI)
	VADDPS Y4, Y6, Y6
	VADDPS Y9, Y6, Y6
	VADDPS Y10, Y6, Y6
	ADDQ $96, DI
	SUBQ $24, CX
	CMPQ CX, $24
	JGE exp3
exptail:
	TESTQ CX, CX
	JZ expdone
exploop:
	VMOVUPS (DI), Y1
	VSUBPS Y8, Y1, Y1
	EXP
	VMOVUPS Y4, (DI)
	VADDPS Y4, Y6, Y6
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ exploop
expdone:
	VMOVUPS Y6, (AX)
	VZEROUPPER
	RET

// func normT8AVX(src *float32, lds int, inv *[8]float32, dst *float32, ldd int, n int)
// For the 8 rows i of src (stride lds): src[i][j] *= inv[i], then
// dst[j][i] = src[i][j] (dst stride ldd), j < n, n a positive multiple of 8.
TEXT ·normT8AVX(SB), NOSPLIT, $0-48
	MOVQ src+0(FP), AX
	MOVQ lds+8(FP), R12
	SHLQ $2, R12
	LEAQ (AX)(R12*1), BX
	LEAQ (BX)(R12*1), CX
	LEAQ (CX)(R12*1), DX
	LEAQ (DX)(R12*1), R8
	LEAQ (R8)(R12*1), R9
	LEAQ (R9)(R12*1), R10
	LEAQ (R10)(R12*1), R11
	MOVQ inv+16(FP), R14
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R12
	SHLQ $2, R12
	MOVQ n+40(FP), R13
ntloop:
	VBROADCASTSS 0(R14), Y8
	VMULPS (AX), Y8, Y0
	VMOVUPS Y0, (AX)
	VBROADCASTSS 4(R14), Y8
	VMULPS (BX), Y8, Y1
	VMOVUPS Y1, (BX)
	VBROADCASTSS 8(R14), Y8
	VMULPS (CX), Y8, Y2
	VMOVUPS Y2, (CX)
	VBROADCASTSS 12(R14), Y8
	VMULPS (DX), Y8, Y3
	VMOVUPS Y3, (DX)
	VBROADCASTSS 16(R14), Y8
	VMULPS (R8), Y8, Y4
	VMOVUPS Y4, (R8)
	VBROADCASTSS 20(R14), Y8
	VMULPS (R9), Y8, Y5
	VMOVUPS Y5, (R9)
	VBROADCASTSS 24(R14), Y8
	VMULPS (R10), Y8, Y6
	VMOVUPS Y6, (R10)
	VBROADCASTSS 28(R14), Y8
	VMULPS (R11), Y8, Y7
	VMOVUPS Y7, (R11)
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ DI, SI
	VMOVUPS Y8, (SI)
	ADDQ R12, SI
	VMOVUPS Y9, (SI)
	ADDQ R12, SI
	VMOVUPS Y10, (SI)
	ADDQ R12, SI
	VMOVUPS Y11, (SI)
	ADDQ R12, SI
	VMOVUPS Y12, (SI)
	ADDQ R12, SI
	VMOVUPS Y13, (SI)
	ADDQ R12, SI
	VMOVUPS Y14, (SI)
	ADDQ R12, SI
	VMOVUPS Y15, (SI)
	ADDQ R12, SI
	LEAQ (DI)(R12*8), DI
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, CX
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, R13
	JNZ ntloop
	VZEROUPPER
	RET

// func maxScaleAVX(row *float32, n int, scale float32) float32
// Returns the largest element of row and sets row[j] *= scale, n a
// positive multiple of 8.
TEXT ·maxScaleAVX(SB), NOSPLIT, $0-28
	MOVQ row+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y8
	VMOVUPS (DI), Y0
msloop:
	VMOVUPS (DI), Y1
	VMAXPS Y1, Y0, Y0
	VMULPS Y8, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ msloop
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	MOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func fillColsAVX(y *float32, ld int, b *float32, rows, n int)
// y[r·ld + j] = b[r] for r < rows, j < n, n a positive multiple of 8.
TEXT ·fillColsAVX(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ ld+8(FP), R12
	SHLQ $2, R12
	MOVQ b+16(FP), SI
	MOVQ rows+24(FP), DX
	MOVQ n+32(FP), R13
fcrow:
	VBROADCASTSS (SI), Y0
	MOVQ DI, R8
	MOVQ R13, CX
fccol:
	VMOVUPS Y0, (R8)
	ADDQ $32, R8
	SUBQ $8, CX
	JNZ fccol
	ADDQ $4, SI
	ADDQ R12, DI
	DECQ DX
	JNZ fcrow
	VZEROUPPER
	RET

// func bt4AVX(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int)
// y0 = x0 − x2, y1 = x1 + x2, y2 = x2 − x1, y3 = x1 − x3.
TEXT ·bt4AVX(SB), NOSPLIT, $0-72
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), CX
	MOVQ x3+24(FP), DX
	MOVQ y0+32(FP), SI
	MOVQ y1+40(FP), DI
	MOVQ y2+48(FP), R8
	MOVQ y3+56(FP), R9
	MOVQ n+64(FP), R10
	XORQ R11, R11
btloop:
	VMOVUPS (AX)(R11*4), Y0
	VMOVUPS (BX)(R11*4), Y1
	VMOVUPS (CX)(R11*4), Y2
	VMOVUPS (DX)(R11*4), Y3
	VSUBPS Y2, Y0, Y4
	VADDPS Y2, Y1, Y5
	VSUBPS Y1, Y2, Y6
	VSUBPS Y3, Y1, Y7
	VMOVUPS Y4, (SI)(R11*4)
	VMOVUPS Y5, (DI)(R11*4)
	VMOVUPS Y6, (R8)(R11*4)
	VMOVUPS Y7, (R9)(R11*4)
	ADDQ $8, R11
	CMPQ R11, R10
	JLT btloop
	VZEROUPPER
	RET

// func at4AVX(x0, x1, x2, x3, u, w *float32, n int)
// u = x0 + x1 + x2, w = x1 − x2 − x3.
TEXT ·at4AVX(SB), NOSPLIT, $0-56
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), CX
	MOVQ x3+24(FP), DX
	MOVQ u+32(FP), SI
	MOVQ w+40(FP), DI
	MOVQ n+48(FP), R10
	XORQ R11, R11
atloop:
	VMOVUPS (AX)(R11*4), Y0
	VMOVUPS (BX)(R11*4), Y1
	VMOVUPS (CX)(R11*4), Y2
	VMOVUPS (DX)(R11*4), Y3
	VADDPS Y1, Y0, Y4
	VADDPS Y2, Y4, Y4
	VSUBPS Y2, Y1, Y5
	VSUBPS Y3, Y5, Y5
	VMOVUPS Y4, (SI)(R11*4)
	VMOVUPS Y5, (DI)(R11*4)
	ADDQ $8, R11
	CMPQ R11, R10
	JLT atloop
	VZEROUPPER
	RET

// func deintAVX(r, ev, od *float32, n int)
// ev[j] = r[2j], od[j] = r[2j+1] for j < n.
TEXT ·deintAVX(SB), NOSPLIT, $0-32
	MOVQ r+0(FP), SI
	MOVQ ev+8(FP), DI
	MOVQ od+16(FP), R8
	MOVQ n+24(FP), CX
deloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y3, Y3
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, (R8)
	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $32, R8
	SUBQ $8, CX
	JNZ deloop
	VZEROUPPER
	RET

// func interAVX(a, b, y *float32, n int, bias float32)
// y[2j] = bias + a[j], y[2j+1] = bias + b[j] for j < n.
TEXT ·interAVX(SB), NOSPLIT, $0-36
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), CX
	VBROADCASTSS bias+32(FP), Y7
inloop:
	VADDPS (SI), Y7, Y0
	VADDPS (DI), Y7, Y1
	VUNPCKLPS Y1, Y0, Y2
	VUNPCKHPS Y1, Y0, Y3
	VPERM2F128 $0x20, Y3, Y2, Y4
	VPERM2F128 $0x31, Y3, Y2, Y5
	VMOVUPS Y4, (R8)
	VMOVUPS Y5, 32(R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $64, R8
	SUBQ $8, CX
	JNZ inloop
	VZEROUPPER
	RET

DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
DATA expc<>+32(SB)/4, $0x3f317200
DATA expc<>+36(SB)/4, $0x3f317200
DATA expc<>+40(SB)/4, $0x3f317200
DATA expc<>+44(SB)/4, $0x3f317200
DATA expc<>+48(SB)/4, $0x3f317200
DATA expc<>+52(SB)/4, $0x3f317200
DATA expc<>+56(SB)/4, $0x3f317200
DATA expc<>+60(SB)/4, $0x3f317200
DATA expc<>+64(SB)/4, $0x35bfbe8e
DATA expc<>+68(SB)/4, $0x35bfbe8e
DATA expc<>+72(SB)/4, $0x35bfbe8e
DATA expc<>+76(SB)/4, $0x35bfbe8e
DATA expc<>+80(SB)/4, $0x35bfbe8e
DATA expc<>+84(SB)/4, $0x35bfbe8e
DATA expc<>+88(SB)/4, $0x35bfbe8e
DATA expc<>+92(SB)/4, $0x35bfbe8e
DATA expc<>+96(SB)/4, $0x39500d01
DATA expc<>+100(SB)/4, $0x39500d01
DATA expc<>+104(SB)/4, $0x39500d01
DATA expc<>+108(SB)/4, $0x39500d01
DATA expc<>+112(SB)/4, $0x39500d01
DATA expc<>+116(SB)/4, $0x39500d01
DATA expc<>+120(SB)/4, $0x39500d01
DATA expc<>+124(SB)/4, $0x39500d01
DATA expc<>+128(SB)/4, $0x3ab60b61
DATA expc<>+132(SB)/4, $0x3ab60b61
DATA expc<>+136(SB)/4, $0x3ab60b61
DATA expc<>+140(SB)/4, $0x3ab60b61
DATA expc<>+144(SB)/4, $0x3ab60b61
DATA expc<>+148(SB)/4, $0x3ab60b61
DATA expc<>+152(SB)/4, $0x3ab60b61
DATA expc<>+156(SB)/4, $0x3ab60b61
DATA expc<>+160(SB)/4, $0x3c088889
DATA expc<>+164(SB)/4, $0x3c088889
DATA expc<>+168(SB)/4, $0x3c088889
DATA expc<>+172(SB)/4, $0x3c088889
DATA expc<>+176(SB)/4, $0x3c088889
DATA expc<>+180(SB)/4, $0x3c088889
DATA expc<>+184(SB)/4, $0x3c088889
DATA expc<>+188(SB)/4, $0x3c088889
DATA expc<>+192(SB)/4, $0x3d2aaaab
DATA expc<>+196(SB)/4, $0x3d2aaaab
DATA expc<>+200(SB)/4, $0x3d2aaaab
DATA expc<>+204(SB)/4, $0x3d2aaaab
DATA expc<>+208(SB)/4, $0x3d2aaaab
DATA expc<>+212(SB)/4, $0x3d2aaaab
DATA expc<>+216(SB)/4, $0x3d2aaaab
DATA expc<>+220(SB)/4, $0x3d2aaaab
DATA expc<>+224(SB)/4, $0x3e2aaaab
DATA expc<>+228(SB)/4, $0x3e2aaaab
DATA expc<>+232(SB)/4, $0x3e2aaaab
DATA expc<>+236(SB)/4, $0x3e2aaaab
DATA expc<>+240(SB)/4, $0x3e2aaaab
DATA expc<>+244(SB)/4, $0x3e2aaaab
DATA expc<>+248(SB)/4, $0x3e2aaaab
DATA expc<>+252(SB)/4, $0x3e2aaaab
DATA expc<>+256(SB)/4, $0x3f000000
DATA expc<>+260(SB)/4, $0x3f000000
DATA expc<>+264(SB)/4, $0x3f000000
DATA expc<>+268(SB)/4, $0x3f000000
DATA expc<>+272(SB)/4, $0x3f000000
DATA expc<>+276(SB)/4, $0x3f000000
DATA expc<>+280(SB)/4, $0x3f000000
DATA expc<>+284(SB)/4, $0x3f000000
DATA expc<>+288(SB)/4, $0x3f800000
DATA expc<>+292(SB)/4, $0x3f800000
DATA expc<>+296(SB)/4, $0x3f800000
DATA expc<>+300(SB)/4, $0x3f800000
DATA expc<>+304(SB)/4, $0x3f800000
DATA expc<>+308(SB)/4, $0x3f800000
DATA expc<>+312(SB)/4, $0x3f800000
DATA expc<>+316(SB)/4, $0x3f800000
DATA expc<>+320(SB)/4, $0x42ae0000
DATA expc<>+324(SB)/4, $0x42ae0000
DATA expc<>+328(SB)/4, $0x42ae0000
DATA expc<>+332(SB)/4, $0x42ae0000
DATA expc<>+336(SB)/4, $0x42ae0000
DATA expc<>+340(SB)/4, $0x42ae0000
DATA expc<>+344(SB)/4, $0x42ae0000
DATA expc<>+348(SB)/4, $0x42ae0000
DATA expc<>+352(SB)/4, $0xc2ae0000
DATA expc<>+356(SB)/4, $0xc2ae0000
DATA expc<>+360(SB)/4, $0xc2ae0000
DATA expc<>+364(SB)/4, $0xc2ae0000
DATA expc<>+368(SB)/4, $0xc2ae0000
DATA expc<>+372(SB)/4, $0xc2ae0000
DATA expc<>+376(SB)/4, $0xc2ae0000
DATA expc<>+380(SB)/4, $0xc2ae0000
DATA expc<>+384(SB)/4, $0x0000007f
DATA expc<>+388(SB)/4, $0x0000007f
DATA expc<>+392(SB)/4, $0x0000007f
DATA expc<>+396(SB)/4, $0x0000007f
DATA expc<>+400(SB)/4, $0x0000007f
DATA expc<>+404(SB)/4, $0x0000007f
DATA expc<>+408(SB)/4, $0x0000007f
DATA expc<>+412(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $416

// func addScaleAVX(y, s *float32, n int, k float32)
// y[j] = (y[j] + s[j])·k for j < n (n a positive multiple of 8).
TEXT ·addScaleAVX(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS k+24(FP), Y2
asloop:
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMULPS Y2, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ asloop
	VZEROUPPER
	RET

// func fillAVX(y *float32, n int, v float32)
// y[j] = v for j < n (n a positive multiple of 8).
TEXT ·fillAVX(SB), NOSPLIT, $0-20
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS v+16(FP), Y0
flloop:
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ flloop
	VZEROUPPER
	RET

// func sumSqF64AVX(x *float32, n int, shift float64) (s1, s2 float64)
// s1 = Σ (x[j] − shift), s2 = Σ (x[j] − shift)² in float64, n a positive
// multiple of 8.
TEXT ·sumSqF64AVX(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD shift+16(FP), Y4
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	// 16 floats per iteration into four chains per sum (the add and FMA
	// latencies, not the throughput, bound a two-chain loop).
	CMPQ CX, $16
	JLT sstail
ss16:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VCVTPS2PD 32(SI), Y11
	VCVTPS2PD 48(SI), Y12
	VSUBPD Y4, Y2, Y2
	VSUBPD Y4, Y3, Y3
	VSUBPD Y4, Y11, Y11
	VSUBPD Y4, Y12, Y12
	VADDPD Y2, Y0, Y0
	VADDPD Y3, Y1, Y1
	VADDPD Y11, Y7, Y7
	VADDPD Y12, Y8, Y8
	VFMADD231PD Y2, Y2, Y5
	VFMADD231PD Y3, Y3, Y6
	VFMADD231PD Y11, Y11, Y9
	VFMADD231PD Y12, Y12, Y10
	ADDQ $64, SI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE ss16
sstail:
	TESTQ CX, CX
	JZ ssdone
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VSUBPD Y4, Y2, Y2
	VSUBPD Y4, Y3, Y3
	VADDPD Y2, Y0, Y0
	VADDPD Y3, Y1, Y1
	VFMADD231PD Y2, Y2, Y5
	VFMADD231PD Y3, Y3, Y6
ssdone:
	VADDPD Y7, Y0, Y0
	VADDPD Y8, Y1, Y1
	VADDPD Y9, Y5, Y5
	VADDPD Y10, Y6, Y6
	VADDPD Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VHADDPD X0, X0, X0
	VMOVSD X0, s1+24(FP)
	VADDPD Y6, Y5, Y5
	VEXTRACTF128 $1, Y5, X6
	VADDPD X6, X5, X5
	VHADDPD X5, X5, X5
	VMOVSD X5, s2+32(FP)
	VZEROUPPER
	RET

// func adyaAVX(y0, y1 *float32, ntx int, d *float32, dst int)
// The Winograd weight gradient's output-side transform A·dY·Aᵀ of ntx
// (a multiple of 8) 2×2 tiles: dY_t = [y0[2t] y0[2t+1]; y1[2t] y1[2t+1]]
// (two image rows), A rows [1 0], [1 1], [1 −1], [0 −1]. Row pass
// R_iq = (A dY)_iq: R_0q = s_0q, R_1q = s_0q + s_1q, R_2q = s_0q − s_1q,
// R_3q = −s_1q; then D_{4i+0} = R_i0, D_{4i+1} = R_i0 + R_i1,
// D_{4i+2} = R_i0 − R_i1, D_{4i+3} = −R_i1, stream k at d + k·dst floats —
// the operations of a4 in winograd.go, in the same order.
TEXT ·adyaAVX(SB), NOSPLIT, $0-40
	MOVQ y0+0(FP), SI
	MOVQ y1+8(FP), DI
	MOVQ ntx+16(FP), CX
	MOVQ d+24(FP), R8
	MOVQ dst+32(FP), BX
	SHLQ $2, BX             // stream stride in bytes
	LEAQ (BX)(BX*2), R12    // 3·stride
	LEAQ (R8)(BX*4), R9     // streams 4–7
	LEAQ (R9)(BX*4), R10    // streams 8–11
	LEAQ (R10)(BX*4), R11   // streams 12–15
	VPCMPEQD Y15, Y15, Y15
	VPSLLD $31, Y15, Y15    // sign mask
adloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	VPERMPD $0xD8, Y2, Y2   // s00
	VPERMPD $0xD8, Y3, Y3   // s01
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0xDD, Y1, Y0, Y5
	VPERMPD $0xD8, Y4, Y4   // s10
	VPERMPD $0xD8, Y5, Y5   // s11
	VADDPS Y4, Y2, Y6       // R10
	VADDPS Y5, Y3, Y7       // R11
	VSUBPS Y4, Y2, Y8       // R20
	VSUBPS Y5, Y3, Y9       // R21
	VXORPS Y15, Y4, Y10     // R30
	VXORPS Y15, Y5, Y11     // R31
	// i = 0: R00 = s00 (Y2), R01 = s01 (Y3)
	VADDPS Y3, Y2, Y0
	VSUBPS Y3, Y2, Y1
	VXORPS Y15, Y3, Y12
	VMOVUPS Y2, (R8)
	VMOVUPS Y0, (R8)(BX*1)
	VMOVUPS Y1, (R8)(BX*2)
	VMOVUPS Y12, (R8)(R12*1)
	// i = 1
	VADDPS Y7, Y6, Y0
	VSUBPS Y7, Y6, Y1
	VXORPS Y15, Y7, Y12
	VMOVUPS Y6, (R9)
	VMOVUPS Y0, (R9)(BX*1)
	VMOVUPS Y1, (R9)(BX*2)
	VMOVUPS Y12, (R9)(R12*1)
	// i = 2
	VADDPS Y9, Y8, Y0
	VSUBPS Y9, Y8, Y1
	VXORPS Y15, Y9, Y12
	VMOVUPS Y8, (R10)
	VMOVUPS Y0, (R10)(BX*1)
	VMOVUPS Y1, (R10)(BX*2)
	VMOVUPS Y12, (R10)(R12*1)
	// i = 3
	VADDPS Y11, Y10, Y0
	VSUBPS Y11, Y10, Y1
	VXORPS Y15, Y11, Y12
	VMOVUPS Y10, (R11)
	VMOVUPS Y0, (R11)(BX*1)
	VMOVUPS Y1, (R11)(BX*2)
	VMOVUPS Y12, (R11)(R12*1)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, CX
	JNZ adloop
	VZEROUPPER
	RET

// func axpyAVX(y, x *float32, n int, s float32)
// y += x·s, the product rounded first (VMULPS then VADDPS); 32 floats per
// iteration while they last, then 8.
TEXT ·axpyAVX(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y15
	SHLQ $2, CX
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-128, DX
	JZ axpy8
axpy32:
	VMULPS (SI)(AX*1), Y15, Y0
	VMULPS 32(SI)(AX*1), Y15, Y1
	VMULPS 64(SI)(AX*1), Y15, Y2
	VMULPS 96(SI)(AX*1), Y15, Y3
	VADDPS (DI)(AX*1), Y0, Y0
	VADDPS 32(DI)(AX*1), Y1, Y1
	VADDPS 64(DI)(AX*1), Y2, Y2
	VADDPS 96(DI)(AX*1), Y3, Y3
	VMOVUPS Y0, (DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	CMPQ AX, DX
	JLT axpy32
axpy8:
	CMPQ AX, CX
	JGE axpydone
	VMULPS (SI)(AX*1), Y15, Y0
	VADDPS (DI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	JMP axpy8
axpydone:
	VZEROUPPER
	RET

// func sum8AVX(x *float32, n int, acc *[8]float32)
TEXT ·sum8AVX(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ acc+16(FP), DI
	SHLQ $2, CX
	XORQ AX, AX
	VXORPS Y0, Y0, Y0
sum8loop:
	VADDPS (SI)(AX*1), Y0, Y0
	ADDQ $32, AX
	CMPQ AX, CX
	JLT sum8loop
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// func scaleAVX(y, x *float32, n int, k float32)
// y[j] = x[j]·k for j < n (n a positive multiple of 8).
TEXT ·scaleAVX(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS k+24(FP), Y2
scloop:
	VMULPS (SI), Y2, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ scloop
	VZEROUPPER
	RET
