//go:build !purego

#include "textflag.h"

// AVX2+FMA kernels of the Winograd F(4×4, 3×3) transforms; see
// simd4_amd64.go. n is always a positive multiple of 8. Multiplications
// by 4 and 8 are exact, so fusing them rounds as the Go loops do. The twelve (ten)
// stream pointers stay fixed and R14 is the byte offset into all of them.

// func bt6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int)
TEXT ·bt6AVX(SB), NOSPLIT, $0-104
	MOVL $0x40800000, AX // 4.0
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
	MOVL $0x40a00000, AX // 5.0
	VMOVD AX, X13
	VBROADCASTSS X13, Y13
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), CX
	MOVQ x3+24(FP), DX
	MOVQ x4+32(FP), SI
	MOVQ x5+40(FP), DI
	MOVQ y0+48(FP), R8
	MOVQ y1+56(FP), R9
	MOVQ y2+64(FP), R10
	MOVQ y3+72(FP), R11
	MOVQ y4+80(FP), R12
	MOVQ y5+88(FP), R13
	MOVQ n+96(FP), R15
	SHLQ $2, R15
	XORQ R14, R14
bt6loop:
	VMOVUPS (AX)(R14*1), Y0
	VMOVUPS (BX)(R14*1), Y1
	VMOVUPS (CX)(R14*1), Y2
	VMOVUPS (DX)(R14*1), Y3
	VMOVUPS (SI)(R14*1), Y4
	VMOVUPS (DI)(R14*1), Y5
	// y0 = (x4 − 5x2) + 4x0, rounded as the Go loop of bt6
	VMULPS Y13, Y2, Y6
	VSUBPS Y6, Y4, Y6
	VFMADD231PS Y12, Y0, Y6
	VMOVUPS Y6, (R8)(R14*1)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS Y13, Y3, Y6
	VSUBPS Y6, Y5, Y6
	VFMADD231PS Y12, Y1, Y6
	VMOVUPS Y6, (R13)(R14*1)
	// p = x4 − 4x2, q = x3 − 4x1: y1 = p + q, y2 = p − q
	VMOVAPS Y4, Y6
	VFNMADD231PS Y12, Y2, Y6
	VMOVAPS Y3, Y7
	VFNMADD231PS Y12, Y1, Y7
	VADDPS Y7, Y6, Y8
	VMOVUPS Y8, (R9)(R14*1)
	VSUBPS Y7, Y6, Y8
	VMOVUPS Y8, (R10)(R14*1)
	// r = x4 − x2, s = 2(x3 − x1): y3 = r + s, y4 = r − s
	VSUBPS Y2, Y4, Y6
	VSUBPS Y1, Y3, Y7
	VADDPS Y7, Y7, Y7
	VADDPS Y7, Y6, Y8
	VMOVUPS Y8, (R11)(R14*1)
	VSUBPS Y7, Y6, Y8
	VMOVUPS Y8, (R12)(R14*1)
	ADDQ $32, R14
	CMPQ R14, R15
	JLT bt6loop
	VZEROUPPER
	RET

// func at6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int)
TEXT ·at6AVX(SB), NOSPLIT, $0-88
	MOVL $0x40800000, AX // 4.0
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
	MOVL $0x41000000, AX // 8.0
	VMOVD AX, X13
	VBROADCASTSS X13, Y13
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), CX
	MOVQ x3+24(FP), DX
	MOVQ x4+32(FP), SI
	MOVQ x5+40(FP), DI
	MOVQ y0+48(FP), R8
	MOVQ y1+56(FP), R9
	MOVQ y2+64(FP), R10
	MOVQ y3+72(FP), R11
	MOVQ n+80(FP), R15
	SHLQ $2, R15
	XORQ R14, R14
at6loop:
	VMOVUPS (BX)(R14*1), Y1
	VMOVUPS (CX)(R14*1), Y2
	VMOVUPS (DX)(R14*1), Y3
	VMOVUPS (SI)(R14*1), Y4
	VADDPS Y2, Y1, Y6 // s12
	VSUBPS Y2, Y1, Y7 // d12
	VADDPS Y4, Y3, Y8 // s34
	VSUBPS Y4, Y3, Y9 // d34
	// y0 = x0 + s12 + s34
	VADDPS (AX)(R14*1), Y6, Y0
	VADDPS Y8, Y0, Y0
	VMOVUPS Y0, (R8)(R14*1)
	// y1 = d12 + 2·d34
	VADDPS Y9, Y9, Y0
	VADDPS Y0, Y7, Y0
	VMOVUPS Y0, (R9)(R14*1)
	// y2 = s12 + 4·s34
	VFMADD231PS Y12, Y8, Y6
	VMOVUPS Y6, (R10)(R14*1)
	// y3 = d12 + 8·d34 + x5
	VFMADD231PS Y13, Y9, Y7
	VADDPS (DI)(R14*1), Y7, Y7
	VMOVUPS Y7, (R11)(R14*1)
	ADDQ $32, R14
	CMPQ R14, R15
	JLT at6loop
	VZEROUPPER
	RET

// idx4 permutes the lanes [t0 t2 t4 t6 | t1 t3 t5 t7] left by an in-lane
// 4×4 transpose into tile order (deint4AVX); its inverse is idx4i.
DATA idx4<>+0(SB)/4, $0
DATA idx4<>+4(SB)/4, $4
DATA idx4<>+8(SB)/4, $1
DATA idx4<>+12(SB)/4, $5
DATA idx4<>+16(SB)/4, $2
DATA idx4<>+20(SB)/4, $6
DATA idx4<>+24(SB)/4, $3
DATA idx4<>+28(SB)/4, $7
GLOBL idx4<>(SB), RODATA|NOPTR, $32
DATA idx4i<>+0(SB)/4, $0
DATA idx4i<>+4(SB)/4, $2
DATA idx4i<>+8(SB)/4, $4
DATA idx4i<>+12(SB)/4, $6
DATA idx4i<>+16(SB)/4, $1
DATA idx4i<>+20(SB)/4, $3
DATA idx4i<>+24(SB)/4, $5
DATA idx4i<>+28(SB)/4, $7
GLOBL idx4i<>(SB), RODATA|NOPTR, $32

// TRANSPOSE4 transposes the 4×4 blocks held in the same 128-bit lane of
// Y0..Y3 into Y4..Y7; clobbers Y8..Y11.
#define TRANSPOSE4 \
	VUNPCKLPS Y1, Y0, Y8; \
	VUNPCKLPS Y3, Y2, Y9; \
	VUNPCKHPS Y1, Y0, Y10; \
	VUNPCKHPS Y3, Y2, Y11; \
	VSHUFPS $0x44, Y9, Y8, Y4; \
	VSHUFPS $0xEE, Y9, Y8, Y5; \
	VSHUFPS $0x44, Y11, Y10, Y6; \
	VSHUFPS $0xEE, Y11, Y10, Y7

// func deint4AVX(r, q0, q1, q2, q3 *float32, n int)
TEXT ·deint4AVX(SB), NOSPLIT, $0-48
	MOVQ r+0(FP), AX
	MOVQ q0+8(FP), BX
	MOVQ q1+16(FP), CX
	MOVQ q2+24(FP), DX
	MOVQ q3+32(FP), SI
	MOVQ n+40(FP), DI
	SHLQ $2, DI
	VMOVUPS idx4<>(SB), Y12
	XORQ R8, R8
d4loop:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	TRANSPOSE4
	VPERMPS Y4, Y12, Y4
	VPERMPS Y5, Y12, Y5
	VPERMPS Y6, Y12, Y6
	VPERMPS Y7, Y12, Y7
	VMOVUPS Y4, (BX)(R8*1)
	VMOVUPS Y5, (CX)(R8*1)
	VMOVUPS Y6, (DX)(R8*1)
	VMOVUPS Y7, (SI)(R8*1)
	ADDQ $128, AX
	ADDQ $32, R8
	CMPQ R8, DI
	JLT d4loop
	VZEROUPPER
	RET

// func inter4AVX(z0, z1, z2, z3, y *float32, n int, bias float32)
TEXT ·inter4AVX(SB), NOSPLIT, $0-52
	MOVQ z0+0(FP), AX
	MOVQ z1+8(FP), BX
	MOVQ z2+16(FP), CX
	MOVQ z3+24(FP), DX
	MOVQ y+32(FP), SI
	MOVQ n+40(FP), DI
	SHLQ $2, DI
	VBROADCASTSS bias+48(FP), Y13
	VMOVUPS idx4i<>(SB), Y12
	XORQ R8, R8
i4loop:
	VPERMPS (AX)(R8*1), Y12, Y0
	VPERMPS (BX)(R8*1), Y12, Y1
	VPERMPS (CX)(R8*1), Y12, Y2
	VPERMPS (DX)(R8*1), Y12, Y3
	TRANSPOSE4
	VADDPS Y13, Y4, Y4
	VADDPS Y13, Y5, Y5
	VADDPS Y13, Y6, Y6
	VADDPS Y13, Y7, Y7
	VMOVUPS Y4, (SI)
	VMOVUPS Y5, 32(SI)
	VMOVUPS Y6, 64(SI)
	VMOVUPS Y7, 96(SI)
	ADDQ $128, SI
	ADDQ $32, R8
	CMPQ R8, DI
	JLT i4loop
	VZEROUPPER
	RET

// Rotations of the 8 tile lanes by one (bt6RowAVX): idxR moves lane l to
// l+1 (lane 7 wraps to 0), idxL moves lane l to l−1 (lane 0 wraps to 7).
DATA idxR<>+0(SB)/4, $7
DATA idxR<>+4(SB)/4, $0
DATA idxR<>+8(SB)/4, $1
DATA idxR<>+12(SB)/4, $2
DATA idxR<>+16(SB)/4, $3
DATA idxR<>+20(SB)/4, $4
DATA idxR<>+24(SB)/4, $5
DATA idxR<>+28(SB)/4, $6
GLOBL idxR<>(SB), RODATA|NOPTR, $32
DATA idxL<>+0(SB)/4, $1
DATA idxL<>+4(SB)/4, $2
DATA idxL<>+8(SB)/4, $3
DATA idxL<>+12(SB)/4, $4
DATA idxL<>+16(SB)/4, $5
DATA idxL<>+20(SB)/4, $6
DATA idxL<>+24(SB)/4, $7
DATA idxL<>+28(SB)/4, $0
GLOBL idxL<>(SB), RODATA|NOPTR, $32
DATA four8<>+0(SB)/4, $0x40800000
DATA four8<>+4(SB)/4, $0x40800000
DATA four8<>+8(SB)/4, $0x40800000
DATA four8<>+12(SB)/4, $0x40800000
DATA four8<>+16(SB)/4, $0x40800000
DATA four8<>+20(SB)/4, $0x40800000
DATA four8<>+24(SB)/4, $0x40800000
DATA four8<>+28(SB)/4, $0x40800000
GLOBL four8<>(SB), RODATA|NOPTR, $32
DATA five8<>+0(SB)/4, $0x40a00000
DATA five8<>+4(SB)/4, $0x40a00000
DATA five8<>+8(SB)/4, $0x40a00000
DATA five8<>+12(SB)/4, $0x40a00000
DATA five8<>+16(SB)/4, $0x40a00000
DATA five8<>+20(SB)/4, $0x40a00000
DATA five8<>+24(SB)/4, $0x40a00000
DATA five8<>+28(SB)/4, $0x40a00000
GLOBL five8<>(SB), RODATA|NOPTR, $32

// func bt6RowAVX(x *float32, ntx int, y *float32, ys int)
//
// The F(4×4) input transform along one image row x[0, 4·ntx) with zero
// padding (x[−1] = x[4·ntx] = 0): y[b·ys + t] = Σ_m Bᵀ[b][m] x[4t − 1 + m]
// for t < ntx (a positive multiple of 8), b < 6 — deint4 and bt6 fused,
// rounded as they are. Per block of 8 tiles, q_m = x[4t + m] come from the
// in-lane transpose of deint4AVX, x[4t − 1] is q3 moved up one tile (lane 0
// from the previous block, 0 at the left edge) and x[4t + 4] is q0 moved
// down one tile (lane 7 from the next block, 0 at the right edge).
TEXT ·bt6RowAVX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), AX
	MOVQ ntx+8(FP), R9
	SHLQ $2, R9 // end offset in bytes
	MOVQ y+16(FP), R10
	MOVQ ys+24(FP), SI
	SHLQ $2, SI
	LEAQ (R10)(SI*1), R11
	LEAQ (R11)(SI*1), R12
	LEAQ (R12)(SI*1), R13
	LEAQ (R13)(SI*1), R14
	LEAQ (R14)(SI*1), R15
	VMOVUPS idx4<>(SB), Y12
	VMOVUPS idxR<>(SB), Y13
	VMOVUPS idxL<>(SB), Y14
	VXORPS Y15, Y15, Y15 // previous block's q3 moved up: lane 0 = x[4·t0 − 1]
	XORQ R8, R8
row6loop:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	TRANSPOSE4
	VPERMPS Y4, Y12, Y4 // q0 = x[4t]
	VPERMPS Y5, Y12, Y5 // q1
	VPERMPS Y6, Y12, Y6 // q2
	VPERMPS Y7, Y12, Y7 // q3
	// x0 = x[4t − 1] → Y0
	VPERMPS Y7, Y13, Y2
	VBLENDPS $0x01, Y15, Y2, Y0
	VMOVAPS Y2, Y15
	// x5 = x[4t + 4] → Y1
	VPERMPS Y4, Y14, Y1
	VXORPS Y3, Y3, Y3
	LEAQ 32(R8), DX
	CMPQ DX, R9
	JGE row6last
	VBROADCASTSS 128(AX), Y3
row6last:
	VBLENDPS $0x80, Y3, Y1, Y1
	// x1..x4 = Y4..Y7. y0 = (x4 − 5x2) + 4x0
	VMULPS five8<>(SB), Y5, Y8
	VSUBPS Y8, Y7, Y8
	VFMADD231PS four8<>(SB), Y0, Y8
	VMOVUPS Y8, (R10)(R8*1)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS five8<>(SB), Y6, Y9
	VSUBPS Y9, Y1, Y9
	VFMADD231PS four8<>(SB), Y4, Y9
	VMOVUPS Y9, (R15)(R8*1)
	// p = x4 − 4x2, q = x3 − 4x1: y1 = p + q, y2 = p − q
	VMOVAPS Y7, Y10
	VFNMADD231PS four8<>(SB), Y5, Y10
	VMOVAPS Y6, Y11
	VFNMADD231PS four8<>(SB), Y4, Y11
	VADDPS Y11, Y10, Y2
	VMOVUPS Y2, (R11)(R8*1)
	VSUBPS Y11, Y10, Y3
	VMOVUPS Y3, (R12)(R8*1)
	// r = x4 − x2, s = 2(x3 − x1): y3 = r + s, y4 = r − s
	VSUBPS Y5, Y7, Y10
	VSUBPS Y4, Y6, Y11
	VADDPS Y11, Y11, Y11
	VADDPS Y11, Y10, Y2
	VMOVUPS Y2, (R13)(R8*1)
	VSUBPS Y11, Y10, Y3
	VMOVUPS Y3, (R14)(R8*1)
	ADDQ $128, AX
	ADDQ $32, R8
	CMPQ R8, R9
	JLT row6loop
	VZEROUPPER
	RET

// Masks of VMASKMOVPS for bt4TileAVX: lane 7 only (the element left of a
// block of 8 tiles) and lane 0 only (the element right of it).
DATA mask7<>+0(SB)/4, $0
DATA mask7<>+4(SB)/4, $0
DATA mask7<>+8(SB)/4, $0
DATA mask7<>+12(SB)/4, $0
DATA mask7<>+16(SB)/4, $0
DATA mask7<>+20(SB)/4, $0
DATA mask7<>+24(SB)/4, $0
DATA mask7<>+28(SB)/4, $0xffffffff
GLOBL mask7<>(SB), RODATA|NOPTR, $32
DATA mask0<>+0(SB)/4, $0xffffffff
DATA mask0<>+4(SB)/4, $0
DATA mask0<>+8(SB)/4, $0
DATA mask0<>+12(SB)/4, $0
DATA mask0<>+16(SB)/4, $0
DATA mask0<>+20(SB)/4, $0
DATA mask0<>+24(SB)/4, $0
DATA mask0<>+28(SB)/4, $0
GLOBL mask0<>(SB), RODATA|NOPTR, $32

// ROW2 loads the block of row P at byte offset DX and leaves, for its 8
// tiles t, E = x[2t] in Y2 and O = x[2t+1] in Y3, oR = x[2t − 1] in Y0
// and eL = x[2t + 2] in Y1 (the elements outside the block come from
// masked loads: Y13 masks x[2t0 − 1], Y15 x[2t0 + 16]; a zero mask reads
// nothing and gives 0, the padding).
#define ROW2(P) \
	VMOVUPS (P)(DX*1), Y0; \
	VMOVUPS 32(P)(DX*1), Y1; \
	VSHUFPS $0x88, Y1, Y0, Y2; \
	VSHUFPS $0xDD, Y1, Y0, Y3; \
	VPERMPD $0xD8, Y2, Y2; \
	VPERMPD $0xD8, Y3, Y3; \
	VMASKMOVPS -32(P)(DX*1), Y13, Y0; \
	VBLENDPS $0x80, Y0, Y3, Y0; \
	VPERMPS Y0, Y14, Y0; \
	VMASKMOVPS 64(P)(DX*1), Y15, Y1; \
	VBLENDPS $0x01, Y1, Y2, Y1; \
	VPERMPS Y1, Y12, Y1

// func bt4TileAVX(r0, r1, r2, r3 *float32, ntx int, v *float32, vs int)
//
// The F(2×2) input transform Bᵀ d B of one row of tiles: r_a is input row
// 2ty − 1 + a (2·ntx values, zero outside; a zero row for rows outside the
// image), and v[(4a + b)·vs + t] = (Bᵀ d_t B)[a][b] for t < ntx (a positive
// multiple of 8). The horizontal pass comes first, h_b = Bᵀ[b]·(x[2t − 1],
// x[2t], x[2t + 1], x[2t + 2]) per row, then the vertical one, each with
// bt4's operations (winoInputBand's Go passes round the same way).
TEXT ·bt4TileAVX(SB), NOSPLIT, $0-56
	MOVQ r0+0(FP), AX
	MOVQ r1+8(FP), SI
	MOVQ r2+16(FP), DI
	MOVQ r3+24(FP), R9
	MOVQ ntx+32(FP), R15
	SHLQ $3, R15
	SUBQ $64, R15 // row offset (bytes) of the last block
	MOVQ v+40(FP), R10
	MOVQ vs+48(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), CX // 3·vs
	LEAQ (R10)(BX*4), R11
	LEAQ (R11)(BX*4), R12
	LEAQ (R12)(BX*4), R13
	VMOVUPS idxR<>(SB), Y14
	VMOVUPS idxL<>(SB), Y12
	VXORPS Y13, Y13, Y13 // first block: x[−1] = 0
	VMOVUPS mask0<>(SB), Y15
	XORQ DX, DX
tile4loop:
	CMPQ DX, R15
	JNE tile4notlast
	VXORPS Y15, Y15, Y15 // last block: x[2·ntx] = 0
tile4notlast:
	// row 1 → h1 in Y4..Y7
	ROW2(SI)
	VSUBPS Y3, Y0, Y4
	VADDPS Y3, Y2, Y5
	VSUBPS Y2, Y3, Y6
	VSUBPS Y1, Y2, Y7
	// row 2 → h2 in Y8..Y11
	ROW2(DI)
	VSUBPS Y3, Y0, Y8
	VADDPS Y3, Y2, Y9
	VSUBPS Y2, Y3, Y10
	VSUBPS Y1, Y2, Y11
	// row 0: v_0b = h0_b − h2_b
	ROW2(AX)
	VSUBPS Y3, Y0, Y0
	VSUBPS Y8, Y0, Y0
	VMOVUPS Y0, (R10)
	VSUBPS Y1, Y2, Y1
	VSUBPS Y11, Y1, Y1
	VMOVUPS Y1, (R10)(CX*1)
	VADDPS Y3, Y2, Y0
	VSUBPS Y9, Y0, Y0
	VMOVUPS Y0, (R10)(BX*1)
	VSUBPS Y2, Y3, Y1
	VSUBPS Y10, Y1, Y1
	VMOVUPS Y1, (R10)(BX*2)
	// row 3: v_3b = h1_b − h3_b
	ROW2(R9)
	VSUBPS Y3, Y0, Y0
	VSUBPS Y0, Y4, Y0
	VMOVUPS Y0, (R13)
	VSUBPS Y1, Y2, Y1
	VSUBPS Y1, Y7, Y1
	VMOVUPS Y1, (R13)(CX*1)
	VADDPS Y3, Y2, Y0
	VSUBPS Y0, Y5, Y0
	VMOVUPS Y0, (R13)(BX*1)
	VSUBPS Y2, Y3, Y1
	VSUBPS Y1, Y6, Y1
	VMOVUPS Y1, (R13)(BX*2)
	// v_1b = h1_b + h2_b, v_2b = h2_b − h1_b
	VADDPS Y8, Y4, Y0
	VMOVUPS Y0, (R11)
	VSUBPS Y4, Y8, Y1
	VMOVUPS Y1, (R12)
	VADDPS Y9, Y5, Y0
	VMOVUPS Y0, (R11)(BX*1)
	VSUBPS Y5, Y9, Y1
	VMOVUPS Y1, (R12)(BX*1)
	VADDPS Y10, Y6, Y0
	VMOVUPS Y0, (R11)(BX*2)
	VSUBPS Y6, Y10, Y1
	VMOVUPS Y1, (R12)(BX*2)
	VADDPS Y11, Y7, Y0
	VMOVUPS Y0, (R11)(CX*1)
	VSUBPS Y7, Y11, Y1
	VMOVUPS Y1, (R12)(CX*1)
	VMOVUPS mask7<>(SB), Y13
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $64, DX
	CMPQ DX, R15
	JLE tile4loop
	VZEROUPPER
	RET

// ROW4(P) loads row P (8 values, one block of 4 tiles with zero padding
// on both sides) and leaves E = x[2t] in X2, O = x[2t+1] in X3,
// oR = x[2t − 1] in X0 and eL = x[2t + 2] in X1.
#define ROW4(P) \
	VMOVUPS (P), X0; \
	VMOVUPS 16(P), X1; \
	VSHUFPS $0x88, X1, X0, X2; \
	VSHUFPS $0xDD, X1, X0, X3; \
	VPSLLDQ $4, X3, X0; \
	VPSRLDQ $4, X2, X1

// func bt4Tile4AVX(r0, r1, r2, r3 *float32, v *float32, vs int)
//
// bt4TileAVX for a row of exactly 4 tiles (an 8-pixel-wide image), in
// 128-bit registers: the same operations in the same order.
TEXT ·bt4Tile4AVX(SB), NOSPLIT, $0-48
	MOVQ r0+0(FP), AX
	MOVQ r1+8(FP), SI
	MOVQ r2+16(FP), DI
	MOVQ r3+24(FP), R9
	MOVQ v+32(FP), R10
	MOVQ vs+40(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), CX // 3·vs
	LEAQ (R10)(BX*4), R11
	LEAQ (R11)(BX*4), R12
	LEAQ (R12)(BX*4), R13
	ROW4(SI)
	VSUBPS X3, X0, X4
	VADDPS X3, X2, X5
	VSUBPS X2, X3, X6
	VSUBPS X1, X2, X7
	ROW4(DI)
	VSUBPS X3, X0, X8
	VADDPS X3, X2, X9
	VSUBPS X2, X3, X10
	VSUBPS X1, X2, X11
	ROW4(AX)
	VSUBPS X3, X0, X0
	VSUBPS X8, X0, X0
	VMOVUPS X0, (R10)
	VSUBPS X1, X2, X1
	VSUBPS X11, X1, X1
	VMOVUPS X1, (R10)(CX*1)
	VADDPS X3, X2, X0
	VSUBPS X9, X0, X0
	VMOVUPS X0, (R10)(BX*1)
	VSUBPS X2, X3, X1
	VSUBPS X10, X1, X1
	VMOVUPS X1, (R10)(BX*2)
	ROW4(R9)
	VSUBPS X3, X0, X0
	VSUBPS X0, X4, X0
	VMOVUPS X0, (R13)
	VSUBPS X1, X2, X1
	VSUBPS X1, X7, X1
	VMOVUPS X1, (R13)(CX*1)
	VADDPS X3, X2, X0
	VSUBPS X0, X5, X0
	VMOVUPS X0, (R13)(BX*1)
	VSUBPS X2, X3, X1
	VSUBPS X1, X6, X1
	VMOVUPS X1, (R13)(BX*2)
	VADDPS X8, X4, X0
	VMOVUPS X0, (R11)
	VSUBPS X4, X8, X1
	VMOVUPS X1, (R12)
	VADDPS X9, X5, X0
	VMOVUPS X0, (R11)(BX*1)
	VSUBPS X5, X9, X1
	VMOVUPS X1, (R12)(BX*1)
	VADDPS X10, X6, X0
	VMOVUPS X0, (R11)(BX*2)
	VSUBPS X6, X10, X1
	VMOVUPS X1, (R12)(BX*2)
	VADDPS X11, X7, X0
	VMOVUPS X0, (R11)(CX*1)
	VSUBPS X7, X11, X1
	VMOVUPS X1, (R12)(CX*1)
	VZEROUPPER
	RET

// func bt6TileAVX(rows *[6]*float32, ntx int, v *float32, vs int, tmp *float32)
//
// The F(4×4) input transform Bᵀ d B of one row of tiles: rows[a] is input
// row 4ty − 1 + a (4·ntx values, zero outside; a zero row for rows outside
// the image), and v[(6a + b)·vs + t] = (Bᵀ d_t B)[a][b] for t < ntx (a
// positive multiple of 8). Per block of 8 tiles the horizontal pass of the
// six rows (bt6RowAVX's operations) goes to tmp (36 vectors: 288 floats;
// callers provide 304), and the vertical pass (bt6AVX's) from tmp to v:
// the results are those of bt6RowAVX followed by bt6AVX, bit for bit. The
// neighbours x[4t − 1] and x[4t + 4] of a block are broadcast loads inside
// the row, 0 beyond its ends.
TEXT ·bt6TileAVX(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), AX
	MOVQ ntx+8(FP), R15
	SHLQ $4, R15
	SUBQ $128, R15 // row offset (bytes) of the last block
	MOVQ v+16(FP), R10
	MOVQ vs+24(FP), R13
	SHLQ $2, R13 // vs in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·vs
	LEAQ (R14)(R14*2), CX // 18·vs
	MOVQ tmp+32(FP), R8
	VMOVUPS idx4<>(SB), Y12
	VMOVUPS idxR<>(SB), Y13
	VMOVUPS idxL<>(SB), Y14
	XORQ DX, DX
tile6loop:
	XORQ R9, R9 // a·8
	MOVQ R8, R11 // tmp + 6a·32
tile6row:
	MOVQ (AX)(R9*1), SI
	VMOVUPS (SI)(DX*1), Y0
	VMOVUPS 32(SI)(DX*1), Y1
	VMOVUPS 64(SI)(DX*1), Y2
	VMOVUPS 96(SI)(DX*1), Y3
	TRANSPOSE4
	VPERMPS Y4, Y12, Y4 // q0 = x[4t]
	VPERMPS Y5, Y12, Y5 // q1
	VPERMPS Y6, Y12, Y6 // q2
	VPERMPS Y7, Y12, Y7 // q3
	// x0 = x[4t − 1] → Y0 (0 left of the first block; a broadcast, not a
	// masked load, which measured as a fifth of this kernel's time)
	VXORPS Y2, Y2, Y2
	TESTQ DX, DX
	JZ tile6left
	VBROADCASTSS -4(SI)(DX*1), Y2
tile6left:
	VBLENDPS $0x80, Y2, Y7, Y2
	VPERMPS Y2, Y13, Y0
	// x5 = x[4t + 4] → Y1 (0 right of the last block)
	VXORPS Y3, Y3, Y3
	CMPQ DX, R15
	JEQ tile6right
	VBROADCASTSS 128(SI)(DX*1), Y3
tile6right:
	VBLENDPS $0x01, Y3, Y4, Y3
	VPERMPS Y3, Y14, Y1
	// x1..x4 = Y4..Y7. y0 = (x4 − 5x2) + 4x0
	VMULPS five8<>(SB), Y5, Y8
	VSUBPS Y8, Y7, Y8
	VFMADD231PS four8<>(SB), Y0, Y8
	VMOVUPS Y8, (R11)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS five8<>(SB), Y6, Y9
	VSUBPS Y9, Y1, Y9
	VFMADD231PS four8<>(SB), Y4, Y9
	VMOVUPS Y9, 160(R11)
	// p = x4 − 4x2, q = x3 − 4x1: y1 = p + q, y2 = p − q
	VMOVAPS Y7, Y10
	VFNMADD231PS four8<>(SB), Y5, Y10
	VMOVAPS Y6, Y11
	VFNMADD231PS four8<>(SB), Y4, Y11
	VADDPS Y11, Y10, Y2
	VMOVUPS Y2, 32(R11)
	VSUBPS Y11, Y10, Y3
	VMOVUPS Y3, 64(R11)
	// r = x4 − x2, s = 2(x3 − x1): y3 = r + s, y4 = r − s
	VSUBPS Y5, Y7, Y10
	VSUBPS Y4, Y6, Y11
	VADDPS Y11, Y11, Y11
	VADDPS Y11, Y10, Y2
	VMOVUPS Y2, 96(R11)
	VSUBPS Y11, Y10, Y3
	VMOVUPS Y3, 128(R11)
	ADDQ $192, R11
	ADDQ $8, R9
	CMPQ R9, $48
	JLT tile6row
	// vertical pass: column b from tmp[(6m + b)·32] to streams 6k + b
	MOVQ R8, SI // tmp + b·32
	MOVQ R10, R11 // v + b·vs
	XORQ R9, R9
tile6col:
	VMOVUPS (SI), Y0
	VMOVUPS 192(SI), Y1
	VMOVUPS 384(SI), Y2
	VMOVUPS 576(SI), Y3
	VMOVUPS 768(SI), Y4
	VMOVUPS 960(SI), Y5
	LEAQ (R11)(CX*1), R12 // stream 18 + b
	// y0 = (x4 − 5x2) + 4x0
	VMULPS five8<>(SB), Y2, Y6
	VSUBPS Y6, Y4, Y6
	VFMADD231PS four8<>(SB), Y0, Y6
	VMOVUPS Y6, (R11)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS five8<>(SB), Y3, Y6
	VSUBPS Y6, Y5, Y6
	VFMADD231PS four8<>(SB), Y1, Y6
	VMOVUPS Y6, (R12)(R14*2)
	// y1 = p + q, y2 = p − q
	VMOVAPS Y4, Y6
	VFNMADD231PS four8<>(SB), Y2, Y6
	VMOVAPS Y3, Y7
	VFNMADD231PS four8<>(SB), Y1, Y7
	VADDPS Y7, Y6, Y8
	VMOVUPS Y8, (R11)(R14*1)
	VSUBPS Y7, Y6, Y8
	VMOVUPS Y8, (R11)(R14*2)
	// y3 = r + s, y4 = r − s
	VSUBPS Y2, Y4, Y6
	VSUBPS Y1, Y3, Y7
	VADDPS Y7, Y7, Y7
	VADDPS Y7, Y6, Y8
	VMOVUPS Y8, (R12)
	VSUBPS Y7, Y6, Y8
	VMOVUPS Y8, (R11)(R14*4)
	ADDQ $32, SI
	ADDQ R13, R11
	INCQ R9
	CMPQ R9, $6
	JLT tile6col
	ADDQ $32, R10
	ADDQ $128, DX
	CMPQ DX, R15
	JLE tile6loop
	VZEROUPPER
	RET

// func at6TileAVX(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32)
//
// The F(4×4) output transform of one row of tiles of one output channel:
// with m_{6a+b}[t] = m[(6a + b)·ms + t] the 36 GEMM outputs of tile t,
// y[r·w + 4t + j] = bias + (Aᵀ m_t A)[r][j] for r, j < 4 and t < ntx (a
// positive multiple of 8), then, if s is not nil (same layout as y),
// y = (y + s)·k. Per block of 8 tiles the first pass (at6AVX's operations)
// goes to tmp (24 vectors: 192 floats) and the second pass, interleave,
// bias and residual from tmp to y: bitwise equal to at6AVX twice, then
// inter4AVX and addScaleAVX.
TEXT ·at6TileAVX(SB), NOSPLIT, $0-72
	MOVQ m+0(FP), R10
	MOVQ ms+8(FP), R13
	SHLQ $2, R13 // ms in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·ms
	LEAQ (R14)(R14*2), CX // 18·ms
	MOVQ ntx+16(FP), R15
	SHLQ $2, R15 // end offset in the streams (bytes)
	MOVQ y+24(FP), SI
	MOVQ w+32(FP), BX
	SHLQ $2, BX // row stride in bytes
	LEAQ (BX)(BX*2), DX // 3 rows
	VBROADCASTSS bias+40(FP), Y13
	MOVQ s+48(FP), DI
	VBROADCASTSS k+56(FP), Y14
	MOVQ tmp+64(FP), R8
	MOVL $0x41000000, R9 // 8.0
	VMOVD R9, X15
	VBROADCASTSS X15, Y15
	VMOVUPS idx4i<>(SB), Y12
	XORQ AX, AX // offset in the streams
a6tloop:
	// first pass: column b, x_a = m_{6a+b} → tmp[(6i + b)·32], i < 4
	LEAQ (R10)(AX*1), R11 // m_b
	MOVQ R8, R9 // tmp + b·32
	XORQ R12, R12
a6tcol:
	VMOVUPS (R11)(R14*1), Y1
	VMOVUPS (R11)(R14*2), Y2
	VMOVUPS (R11)(CX*1), Y3
	VMOVUPS (R11)(R14*4), Y4
	VADDPS Y2, Y1, Y6 // s12
	VSUBPS Y2, Y1, Y7 // d12
	VADDPS Y4, Y3, Y8 // s34
	VSUBPS Y4, Y3, Y9 // d34
	VADDPS (R11), Y6, Y0
	VADDPS Y8, Y0, Y0
	VMOVUPS Y0, (R9)
	VADDPS Y9, Y9, Y0
	VADDPS Y0, Y7, Y0
	VMOVUPS Y0, 192(R9)
	VFMADD231PS four8<>(SB), Y8, Y6
	VMOVUPS Y6, 384(R9)
	VFMADD231PS Y15, Y9, Y7
	ADDQ CX, R11
	VADDPS (R11)(R14*2), Y7, Y7 // m_{30+b}
	SUBQ CX, R11
	VMOVUPS Y7, 576(R9)
	ADDQ R13, R11
	ADDQ $32, R9
	INCQ R12
	CMPQ R12, $6
	JLT a6tcol
	// second pass: output row r from tmp[(6r + b)·32], b < 6
	MOVQ R8, R9
	MOVQ SI, R11 // y row r
	XORQ R12, R12
a6trow:
	VMOVUPS 32(R9), Y1
	VMOVUPS 64(R9), Y2
	VMOVUPS 96(R9), Y3
	VMOVUPS 128(R9), Y4
	VADDPS Y2, Y1, Y6 // s12
	VSUBPS Y2, Y1, Y7 // d12
	VADDPS Y4, Y3, Y8 // s34
	VSUBPS Y4, Y3, Y9 // d34
	VADDPS (R9), Y6, Y0
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y9, Y1
	VADDPS Y1, Y7, Y1
	VFMADD231PS four8<>(SB), Y8, Y6
	VFMADD231PS Y15, Y9, Y7
	VADDPS 160(R9), Y7, Y3
	VPERMPS Y0, Y12, Y0
	VPERMPS Y1, Y12, Y1
	VPERMPS Y6, Y12, Y2
	VPERMPS Y3, Y12, Y3
	TRANSPOSE4
	VADDPS Y13, Y4, Y4
	VADDPS Y13, Y5, Y5
	VADDPS Y13, Y6, Y6
	VADDPS Y13, Y7, Y7
	TESTQ DI, DI
	JZ a6tnores
	MOVQ R11, R9
	SUBQ SI, R9 // offset of the row in y and s
	ADDQ DI, R9
	VADDPS (R9)(AX*4), Y4, Y4
	VADDPS 32(R9)(AX*4), Y5, Y5
	VADDPS 64(R9)(AX*4), Y6, Y6
	VADDPS 96(R9)(AX*4), Y7, Y7
	VMULPS Y14, Y4, Y4
	VMULPS Y14, Y5, Y5
	VMULPS Y14, Y6, Y6
	VMULPS Y14, Y7, Y7
	// restore R9 = tmp + r·192
	MOVQ R12, R9
	IMULQ $192, R9
	ADDQ R8, R9
a6tnores:
	VMOVUPS Y4, (R11)(AX*4)
	VMOVUPS Y5, 32(R11)(AX*4)
	VMOVUPS Y6, 64(R11)(AX*4)
	VMOVUPS Y7, 96(R11)(AX*4)
	ADDQ BX, R11
	ADDQ $192, R9
	INCQ R12
	CMPQ R12, $4
	JLT a6trow
	ADDQ $32, AX
	CMPQ AX, R15
	JLT a6tloop
	VZEROUPPER
	RET

// func a6AVX(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int)
// y0 = x0, y1 = s02 + s13, y2 = s02 − s13 (s02 = x0 + x2, s13 = x1 + x3),
// y3 = f + h, y4 = f − h (f = x0 + 4·x2, h = 2·(x1 + 4·x3)), y5 = x3.
TEXT ·a6AVX(SB), NOSPLIT, $0-88
	MOVL $0x40800000, AX // 4.0
	VMOVD AX, X12
	VBROADCASTSS X12, Y12
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), CX
	MOVQ x3+24(FP), DX
	MOVQ y0+32(FP), SI
	MOVQ y1+40(FP), DI
	MOVQ y2+48(FP), R8
	MOVQ y3+56(FP), R9
	MOVQ y4+64(FP), R10
	MOVQ y5+72(FP), R11
	MOVQ n+80(FP), R15
	SHLQ $2, R15
	XORQ R14, R14
a6loop:
	VMOVUPS (AX)(R14*1), Y0
	VMOVUPS (BX)(R14*1), Y1
	VMOVUPS (CX)(R14*1), Y2
	VMOVUPS (DX)(R14*1), Y3
	VMOVUPS Y0, (SI)(R14*1)
	VMOVUPS Y3, (R11)(R14*1)
	VADDPS Y2, Y0, Y4 // s02
	VADDPS Y3, Y1, Y5 // s13
	VADDPS Y5, Y4, Y6
	VMOVUPS Y6, (DI)(R14*1)
	VSUBPS Y5, Y4, Y6
	VMOVUPS Y6, (R8)(R14*1)
	VFMADD231PS Y12, Y2, Y0 // f = x0 + 4·x2 (4·x2 exact)
	VFMADD231PS Y12, Y3, Y1 // x1 + 4·x3
	VADDPS Y1, Y1, Y1       // h
	VADDPS Y1, Y0, Y6
	VMOVUPS Y6, (R9)(R14*1)
	VSUBPS Y1, Y0, Y6
	VMOVUPS Y6, (R10)(R14*1)
	ADDQ $32, R14
	CMPQ R14, R15
	JLT a6loop
	VZEROUPPER
	RET

// func ady4TileAVX(dy *float32, w, nty int, d *float32, ds int, tmp *float32)
//
// The F(4×4) weight gradient's transform D = A dY Aᵀ of nty rows of tiles of
// one channel: tile row ty's four rows of dY start at dy + 4·ty·w (row
// stride w floats, ntx = w/4 tiles a positive multiple of 8), and
// d[(6i + j)·ds + t] = (A dY_t Aᵀ)[i][j] for tile t = ty·ntx + tx. Per
// block of 8 tiles: each dY row is de-interleaved (deint4AVX's operations)
// and multiplied by Aᵀ (a6AVX's) into tmp (24 vectors: 768 bytes), then
// each column of tmp by A (a6AVX's) into the six streams 6i + j — the
// operations of deint4, then a6 over the rows, then over the columns, bit
// for bit.
TEXT ·ady4TileAVX(SB), NOSPLIT, $0-48
	MOVQ dy+0(FP), AX
	MOVQ w+8(FP), R15
	SHLQ $2, R15 // row stride in bytes
	MOVQ nty+16(FP), DI
	MOVQ d+24(FP), R10
	MOVQ ds+32(FP), R13
	SHLQ $2, R13 // ds in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·ds
	LEAQ (R14)(R14*2), CX // 18·ds
	MOVQ tmp+40(FP), R8
	VMOVUPS idx4<>(SB), Y12
	VMOVUPS four8<>(SB), Y15

ady4row:
	XORQ DX, DX // byte offset of the block in the row

ady4blk:
	// rows p < 4: q_m = x[4t + m], then dY Aᵀ → tmp[(6p + j)·32]
	LEAQ (AX)(DX*1), SI
	MOVQ R8, R9
	MOVQ $4, R11

ady4p:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	TRANSPOSE4
	VPERMPS Y4, Y12, Y4
	VPERMPS Y5, Y12, Y5
	VPERMPS Y6, Y12, Y6
	VPERMPS Y7, Y12, Y7
	VMOVUPS Y4, (R9)
	VMOVUPS Y7, 160(R9)
	VADDPS Y6, Y4, Y8 // s02
	VADDPS Y7, Y5, Y9 // s13
	VADDPS Y9, Y8, Y10
	VMOVUPS Y10, 32(R9)
	VSUBPS Y9, Y8, Y10
	VMOVUPS Y10, 64(R9)
	VFMADD231PS Y15, Y6, Y4 // f = x0 + 4·x2
	VFMADD231PS Y15, Y7, Y5 // x1 + 4·x3
	VADDPS Y5, Y5, Y5       // h
	VADDPS Y5, Y4, Y10
	VMOVUPS Y10, 96(R9)
	VSUBPS Y5, Y4, Y10
	VMOVUPS Y10, 128(R9)
	ADDQ R15, SI
	ADDQ $192, R9
	DECQ R11
	JNZ ady4p

	// columns j < 6: A (dY Aᵀ) → streams 6i + j
	MOVQ R8, R9 // tmp + j·32
	MOVQ R10, R11 // stream j
	XORQ BX, BX

ady4col:
	VMOVUPS (R9), Y0
	VMOVUPS 192(R9), Y1
	VMOVUPS 384(R9), Y2
	VMOVUPS 576(R9), Y3
	LEAQ (R11)(CX*1), R12 // stream 18 + j
	VMOVUPS Y0, (R11)
	VMOVUPS Y3, (R12)(R14*2)
	VADDPS Y2, Y0, Y8
	VADDPS Y3, Y1, Y9
	VADDPS Y9, Y8, Y10
	VMOVUPS Y10, (R11)(R14*1)
	VSUBPS Y9, Y8, Y10
	VMOVUPS Y10, (R11)(R14*2)
	VFMADD231PS Y15, Y2, Y0
	VFMADD231PS Y15, Y3, Y1
	VADDPS Y1, Y1, Y1
	VADDPS Y1, Y0, Y10
	VMOVUPS Y10, (R12)
	VSUBPS Y1, Y0, Y10
	VMOVUPS Y10, (R11)(R14*4)
	ADDQ $32, R9
	ADDQ R13, R11
	INCQ BX
	CMPQ BX, $6
	JLT ady4col

	ADDQ $32, R10 // the next 8 tiles
	ADDQ $128, DX
	CMPQ DX, R15
	JLT ady4blk
	LEAQ (AX)(R15*4), AX // the next row of tiles
	DECQ DI
	JNZ ady4row
	VZEROUPPER
	RET
