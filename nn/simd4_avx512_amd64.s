//go:build !purego

#include "textflag.h"

// AVX-512 twins of the fused F(4×4) Winograd kernels of simd4_amd64.s
// (bt6TileAVX, at6TileAVX, ady4TileAVX): 16 tiles per block instead of 8,
// so ntx (the tiles of a row) must be a positive multiple of 16. Every
// element goes through the same operations in the same order as in the
// AVX2 kernels; only the data movement differs (the in-lane 4×4 transpose
// is the same, the permutation into tile order is idx16, and a block's
// outer neighbours are shifted in by VALIGND instead of blend and
// permute), so the results are bitwise equal. Also the AVX-512 twins of
// a6AVX, axpyAVX and scaleAVX (16 lanes per step, the last 8 under K1).

// idx16 permutes the lanes of the in-lane 4×4 transpose of 16 tiles,
// [t0 t4 t8 t12 | t1 t5 t9 t13 | t2 t6 t10 t14 | t3 t7 t11 t15], into tile
// order: lane p takes lane 4(p mod 4) + p/4. This permutation is its own
// inverse, so it also prepares four streams for the interleave.
DATA idx16<>+0(SB)/4, $0
DATA idx16<>+4(SB)/4, $4
DATA idx16<>+8(SB)/4, $8
DATA idx16<>+12(SB)/4, $12
DATA idx16<>+16(SB)/4, $1
DATA idx16<>+20(SB)/4, $5
DATA idx16<>+24(SB)/4, $9
DATA idx16<>+28(SB)/4, $13
DATA idx16<>+32(SB)/4, $2
DATA idx16<>+36(SB)/4, $6
DATA idx16<>+40(SB)/4, $10
DATA idx16<>+44(SB)/4, $14
DATA idx16<>+48(SB)/4, $3
DATA idx16<>+52(SB)/4, $7
DATA idx16<>+56(SB)/4, $11
DATA idx16<>+60(SB)/4, $15
GLOBL idx16<>(SB), RODATA|NOPTR, $64

// TRANSPOSE4Z transposes the 4×4 blocks held in the same 128-bit lane of
// Z0..Z3 into Z4..Z7; clobbers Z8..Z11 (TRANSPOSE4 in 512 bits).
#define TRANSPOSE4Z \
	VUNPCKLPS Z1, Z0, Z8; \
	VUNPCKLPS Z3, Z2, Z9; \
	VUNPCKHPS Z1, Z0, Z10; \
	VUNPCKHPS Z3, Z2, Z11; \
	VSHUFPS $0x44, Z9, Z8, Z4; \
	VSHUFPS $0xEE, Z9, Z8, Z5; \
	VSHUFPS $0x44, Z11, Z10, Z6; \
	VSHUFPS $0xEE, Z11, Z10, Z7

// func bt6TileAVX512(rows *[6]*float32, ntx int, v *float32, vs int, tmp *float32)
//
// bt6TileAVX for ntx a positive multiple of 16, with tmp holding 576
// floats (36 vectors of 16): per block of 16 tiles the horizontal pass of
// the six rows goes to tmp, the vertical pass from tmp to v.
TEXT ·bt6TileAVX512(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), AX
	MOVQ ntx+8(FP), R15
	SHLQ $4, R15
	SUBQ $256, R15 // row offset (bytes) of the last block
	MOVQ v+16(FP), R10
	MOVQ vs+24(FP), R13
	SHLQ $2, R13 // vs in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·vs
	LEAQ (R14)(R14*2), CX // 18·vs
	MOVQ tmp+32(FP), R8
	VMOVUPS idx16<>(SB), Z12
	MOVL $0x40800000, BX // 4.0
	VPBROADCASTD BX, Z16
	MOVL $0x40a00000, BX // 5.0
	VPBROADCASTD BX, Z17
	XORQ DX, DX

t6zloop:
	XORQ R9, R9 // a·8
	MOVQ R8, R11 // tmp + 6a·64

t6zrow:
	MOVQ (AX)(R9*1), SI
	VMOVUPS (SI)(DX*1), Z0
	VMOVUPS 64(SI)(DX*1), Z1
	VMOVUPS 128(SI)(DX*1), Z2
	VMOVUPS 192(SI)(DX*1), Z3
	TRANSPOSE4Z
	VPERMPS Z4, Z12, Z4 // q0 = x[4t]
	VPERMPS Z5, Z12, Z5 // q1
	VPERMPS Z6, Z12, Z6 // q2
	VPERMPS Z7, Z12, Z7 // q3
	// x0 = x[4t − 1] → Z0: q3 moved up one tile, lane 0 the element left
	// of the block (0 left of the first block)
	VXORPS Z2, Z2, Z2
	TESTQ DX, DX
	JZ t6zleft
	VBROADCASTSS -4(SI)(DX*1), Z2

t6zleft:
	VALIGND $15, Z2, Z7, Z0
	// x5 = x[4t + 4] → Z1: q0 moved down one tile, lane 15 the element
	// right of the block (0 right of the last block)
	VXORPS Z3, Z3, Z3
	CMPQ DX, R15
	JEQ t6zright
	VBROADCASTSS 256(SI)(DX*1), Z3

t6zright:
	VALIGND $1, Z4, Z3, Z1
	// x1..x4 = Z4..Z7. y0 = (x4 − 5x2) + 4x0
	VMULPS Z17, Z5, Z8
	VSUBPS Z8, Z7, Z8
	VFMADD231PS Z16, Z0, Z8
	VMOVUPS Z8, (R11)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS Z17, Z6, Z9
	VSUBPS Z9, Z1, Z9
	VFMADD231PS Z16, Z4, Z9
	VMOVUPS Z9, 320(R11)
	// p = x4 − 4x2, q = x3 − 4x1: y1 = p + q, y2 = p − q
	VMOVAPS Z7, Z10
	VFNMADD231PS Z16, Z5, Z10
	VMOVAPS Z6, Z11
	VFNMADD231PS Z16, Z4, Z11
	VADDPS Z11, Z10, Z2
	VMOVUPS Z2, 64(R11)
	VSUBPS Z11, Z10, Z3
	VMOVUPS Z3, 128(R11)
	// r = x4 − x2, s = 2(x3 − x1): y3 = r + s, y4 = r − s
	VSUBPS Z5, Z7, Z10
	VSUBPS Z4, Z6, Z11
	VADDPS Z11, Z11, Z11
	VADDPS Z11, Z10, Z2
	VMOVUPS Z2, 192(R11)
	VSUBPS Z11, Z10, Z3
	VMOVUPS Z3, 256(R11)
	ADDQ $384, R11
	ADDQ $8, R9
	CMPQ R9, $48
	JLT t6zrow
	// vertical pass: column b from tmp[(6m + b)·64] to streams 6k + b
	MOVQ R8, SI // tmp + b·64
	MOVQ R10, R11 // v + b·vs
	XORQ R9, R9

t6zcol:
	VMOVUPS (SI), Z0
	VMOVUPS 384(SI), Z1
	VMOVUPS 768(SI), Z2
	VMOVUPS 1152(SI), Z3
	VMOVUPS 1536(SI), Z4
	VMOVUPS 1920(SI), Z5
	LEAQ (R11)(CX*1), R12 // stream 18 + b
	// y0 = (x4 − 5x2) + 4x0
	VMULPS Z17, Z2, Z6
	VSUBPS Z6, Z4, Z6
	VFMADD231PS Z16, Z0, Z6
	VMOVUPS Z6, (R11)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS Z17, Z3, Z6
	VSUBPS Z6, Z5, Z6
	VFMADD231PS Z16, Z1, Z6
	VMOVUPS Z6, (R12)(R14*2)
	// y1 = p + q, y2 = p − q
	VMOVAPS Z4, Z6
	VFNMADD231PS Z16, Z2, Z6
	VMOVAPS Z3, Z7
	VFNMADD231PS Z16, Z1, Z7
	VADDPS Z7, Z6, Z8
	VMOVUPS Z8, (R11)(R14*1)
	VSUBPS Z7, Z6, Z8
	VMOVUPS Z8, (R11)(R14*2)
	// y3 = r + s, y4 = r − s
	VSUBPS Z2, Z4, Z6
	VSUBPS Z1, Z3, Z7
	VADDPS Z7, Z7, Z7
	VADDPS Z7, Z6, Z8
	VMOVUPS Z8, (R12)
	VSUBPS Z7, Z6, Z8
	VMOVUPS Z8, (R11)(R14*4)
	ADDQ $64, SI
	ADDQ R13, R11
	INCQ R9
	CMPQ R9, $6
	JLT t6zcol
	ADDQ $64, R10
	ADDQ $256, DX
	CMPQ DX, R15
	JLE t6zloop
	VZEROUPPER
	RET

// func at6TileAVX512(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32)
//
// at6TileAVX for ntx a positive multiple of 16, with tmp holding 384
// floats (24 vectors of 16).
TEXT ·at6TileAVX512(SB), NOSPLIT, $0-72
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
	VBROADCASTSS bias+40(FP), Z13
	MOVQ s+48(FP), DI
	VBROADCASTSS k+56(FP), Z14
	MOVQ tmp+64(FP), R8
	MOVL $0x41000000, R9 // 8.0
	VPBROADCASTD R9, Z15
	MOVL $0x40800000, R9 // 4.0
	VPBROADCASTD R9, Z16
	VMOVUPS idx16<>(SB), Z12
	XORQ AX, AX // offset in the streams

a6zloop:
	// first pass: column b, x_a = m_{6a+b} → tmp[(6i + b)·64], i < 4
	LEAQ (R10)(AX*1), R11 // m_b
	MOVQ R8, R9 // tmp + b·64
	XORQ R12, R12

a6zcol:
	VMOVUPS (R11)(R14*1), Z1
	VMOVUPS (R11)(R14*2), Z2
	VMOVUPS (R11)(CX*1), Z3
	VMOVUPS (R11)(R14*4), Z4
	VADDPS Z2, Z1, Z6 // s12
	VSUBPS Z2, Z1, Z7 // d12
	VADDPS Z4, Z3, Z8 // s34
	VSUBPS Z4, Z3, Z9 // d34
	VADDPS (R11), Z6, Z0
	VADDPS Z8, Z0, Z0
	VMOVUPS Z0, (R9)
	VADDPS Z9, Z9, Z0
	VADDPS Z0, Z7, Z0
	VMOVUPS Z0, 384(R9)
	VFMADD231PS Z16, Z8, Z6
	VMOVUPS Z6, 768(R9)
	VFMADD231PS Z15, Z9, Z7
	LEAQ (R11)(CX*1), DX
	VADDPS (DX)(R14*2), Z7, Z7 // m_{30+b}
	VMOVUPS Z7, 1152(R9)
	ADDQ R13, R11
	ADDQ $64, R9
	INCQ R12
	CMPQ R12, $6
	JLT a6zcol
	// second pass: output row r from tmp[(6r + b)·64], b < 6
	MOVQ R8, R9
	MOVQ SI, R11 // y row r
	XORQ R12, R12

a6zrow:
	VMOVUPS 64(R9), Z1
	VMOVUPS 128(R9), Z2
	VMOVUPS 192(R9), Z3
	VMOVUPS 256(R9), Z4
	VADDPS Z2, Z1, Z6 // s12
	VSUBPS Z2, Z1, Z7 // d12
	VADDPS Z4, Z3, Z8 // s34
	VSUBPS Z4, Z3, Z9 // d34
	VADDPS (R9), Z6, Z0
	VADDPS Z8, Z0, Z0
	VADDPS Z9, Z9, Z1
	VADDPS Z1, Z7, Z1
	VFMADD231PS Z16, Z8, Z6
	VFMADD231PS Z15, Z9, Z7
	VADDPS 320(R9), Z7, Z3
	VPERMPS Z0, Z12, Z0
	VPERMPS Z1, Z12, Z1
	VPERMPS Z6, Z12, Z2
	VPERMPS Z3, Z12, Z3
	TRANSPOSE4Z
	VADDPS Z13, Z4, Z4
	VADDPS Z13, Z5, Z5
	VADDPS Z13, Z6, Z6
	VADDPS Z13, Z7, Z7
	TESTQ DI, DI
	JZ a6znores
	MOVQ R11, DX
	SUBQ SI, DX // offset of the row in y and s
	ADDQ DI, DX
	VADDPS (DX)(AX*4), Z4, Z4
	VADDPS 64(DX)(AX*4), Z5, Z5
	VADDPS 128(DX)(AX*4), Z6, Z6
	VADDPS 192(DX)(AX*4), Z7, Z7
	VMULPS Z14, Z4, Z4
	VMULPS Z14, Z5, Z5
	VMULPS Z14, Z6, Z6
	VMULPS Z14, Z7, Z7

a6znores:
	VMOVUPS Z4, (R11)(AX*4)
	VMOVUPS Z5, 64(R11)(AX*4)
	VMOVUPS Z6, 128(R11)(AX*4)
	VMOVUPS Z7, 192(R11)(AX*4)
	ADDQ BX, R11
	ADDQ $384, R9
	INCQ R12
	CMPQ R12, $4
	JLT a6zrow
	ADDQ $64, AX
	CMPQ AX, R15
	JLT a6zloop
	VZEROUPPER
	RET

// func ady4TileAVX512(dy *float32, w, nty int, d *float32, ds int, tmp *float32)
//
// ady4TileAVX for w/4 a positive multiple of 16, with tmp holding 384
// floats (24 vectors of 16).
TEXT ·ady4TileAVX512(SB), NOSPLIT, $0-48
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
	VMOVUPS idx16<>(SB), Z12
	MOVL $0x40800000, BX // 4.0
	VPBROADCASTD BX, Z15

adzrow:
	XORQ DX, DX // byte offset of the block in the row

adzblk:
	// rows p < 4: q_m = x[4t + m], then dY Aᵀ → tmp[(6p + j)·64]
	LEAQ (AX)(DX*1), SI
	MOVQ R8, R9
	MOVQ $4, R11

adzp:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	TRANSPOSE4Z
	VPERMPS Z4, Z12, Z4
	VPERMPS Z5, Z12, Z5
	VPERMPS Z6, Z12, Z6
	VPERMPS Z7, Z12, Z7
	VMOVUPS Z4, (R9)
	VMOVUPS Z7, 320(R9)
	VADDPS Z6, Z4, Z8 // s02
	VADDPS Z7, Z5, Z9 // s13
	VADDPS Z9, Z8, Z10
	VMOVUPS Z10, 64(R9)
	VSUBPS Z9, Z8, Z10
	VMOVUPS Z10, 128(R9)
	VFMADD231PS Z15, Z6, Z4 // f = x0 + 4·x2
	VFMADD231PS Z15, Z7, Z5 // x1 + 4·x3
	VADDPS Z5, Z5, Z5       // h
	VADDPS Z5, Z4, Z10
	VMOVUPS Z10, 192(R9)
	VSUBPS Z5, Z4, Z10
	VMOVUPS Z10, 256(R9)
	ADDQ R15, SI
	ADDQ $384, R9
	DECQ R11
	JNZ adzp

	// columns j < 6: A (dY Aᵀ) → streams 6i + j
	MOVQ R8, R9 // tmp + j·64
	MOVQ R10, R11 // stream j
	XORQ BX, BX

adzcol:
	VMOVUPS (R9), Z0
	VMOVUPS 384(R9), Z1
	VMOVUPS 768(R9), Z2
	VMOVUPS 1152(R9), Z3
	LEAQ (R11)(CX*1), R12 // stream 18 + j
	VMOVUPS Z0, (R11)
	VMOVUPS Z3, (R12)(R14*2)
	VADDPS Z2, Z0, Z8
	VADDPS Z3, Z1, Z9
	VADDPS Z9, Z8, Z10
	VMOVUPS Z10, (R11)(R14*1)
	VSUBPS Z9, Z8, Z10
	VMOVUPS Z10, (R11)(R14*2)
	VFMADD231PS Z15, Z2, Z0
	VFMADD231PS Z15, Z3, Z1
	VADDPS Z1, Z1, Z1
	VADDPS Z1, Z0, Z10
	VMOVUPS Z10, (R12)
	VSUBPS Z1, Z0, Z10
	VMOVUPS Z10, (R11)(R14*4)
	ADDQ $64, R9
	ADDQ R13, R11
	INCQ BX
	CMPQ BX, $6
	JLT adzcol

	ADDQ $64, R10 // the next 16 tiles
	ADDQ $256, DX
	CMPQ DX, R15
	JLT adzblk
	LEAQ (AX)(R15*4), AX // the next row of tiles
	DECQ DI
	JNZ adzrow
	VZEROUPPER
	RET

// MASK16B sets K1 to all 16 lanes, or to the low 8 when fewer than 16
// elements remain (CX counts them; n is a multiple of 8). Clobbers DX.
#define MASK16B(label) \
	MOVL $0xffff, DX; \
	CMPQ CX, $16; \
	JGE  label; \
	MOVL $0x00ff, DX; \
label: \
	KMOVW DX, K1

// func a6AVX512(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int)
// a6AVX in 16 lanes.
TEXT ·a6AVX512(SB), NOSPLIT, $0-88
	MOVL $0x40800000, AX // 4.0
	VPBROADCASTD AX, Z12
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), R12
	MOVQ x3+24(FP), R13
	MOVQ y0+32(FP), SI
	MOVQ y1+40(FP), DI
	MOVQ y2+48(FP), R8
	MOVQ y3+56(FP), R9
	MOVQ y4+64(FP), R10
	MOVQ y5+72(FP), R11
	MOVQ n+80(FP), CX
	XORQ R14, R14

a6zl:
	MASK16B(a6zmask)
	VMOVUPS.Z (AX)(R14*1), K1, Z0
	VMOVUPS.Z (BX)(R14*1), K1, Z1
	VMOVUPS.Z (R12)(R14*1), K1, Z2
	VMOVUPS.Z (R13)(R14*1), K1, Z3
	VMOVUPS Z0, K1, (SI)(R14*1)
	VMOVUPS Z3, K1, (R11)(R14*1)
	VADDPS Z2, Z0, Z4 // s02
	VADDPS Z3, Z1, Z5 // s13
	VADDPS Z5, Z4, Z6
	VMOVUPS Z6, K1, (DI)(R14*1)
	VSUBPS Z5, Z4, Z6
	VMOVUPS Z6, K1, (R8)(R14*1)
	VFMADD231PS Z12, Z2, Z0 // f = x0 + 4·x2 (4·x2 exact)
	VFMADD231PS Z12, Z3, Z1 // x1 + 4·x3
	VADDPS Z1, Z1, Z1       // h
	VADDPS Z1, Z0, Z6
	VMOVUPS Z6, K1, (R9)(R14*1)
	VSUBPS Z1, Z0, Z6
	VMOVUPS Z6, K1, (R10)(R14*1)
	ADDQ $64, R14
	SUBQ $16, CX
	JG a6zl
	VZEROUPPER
	RET

// func axpyAVX512(y, x *float32, n int, s float32)
// y[j] += x[j]·s, the product rounded before the sum: axpyAVX in 16 lanes.
TEXT ·axpyAVX512(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Z15

axzl:
	MASK16B(axzmask)
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z0, Z15, Z0
	VMOVUPS.Z (DI), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JG axzl
	VZEROUPPER
	RET

// func scaleAVX512(y, x *float32, n int, k float32)
// y[j] = x[j]·k: scaleAVX in 16 lanes.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS k+24(FP), Z2

sczl:
	MASK16B(sczmask)
	VMOVUPS.Z (SI), K1, Z0
	VMULPS Z0, Z2, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JG sczl
	VZEROUPPER
	RET

// The 32-pixel-wide F(4×4) layers have rows of 8 tiles; the *2AVX512
// kernels below take two such rows of tiles as one block of 16 (the tiles
// of a band are numbered row after row, so the GEMM streams of tile rows ty
// and ty + 1 are contiguous), with the operations of the kernels above.

// func bt6Tile2AVX512(rows *[10]*float32, v *float32, vs int, tmp *float32)
//
// bt6TileAVX for two rows of 8 tiles (W = 32): rows[a] is input row
// 4ty − 1 + a for a < 10 (tile row ty takes rows[0:6], ty + 1 rows[4:10]),
// v as bt6TileAVX's for ntx = 16 (tiles of ty in lanes 0–7, of ty + 1 in
// 8–15); tmp holds 576 floats. Each row of tiles is its own image row, so
// x[4t − 1] is 0 for lanes 0 and 8 and x[4t + 4] for lanes 7 and 15
// (zeroing masks K2, K3).
TEXT ·bt6Tile2AVX512(SB), NOSPLIT, $0-32
	MOVQ rows+0(FP), AX
	MOVQ v+8(FP), R10
	MOVQ vs+16(FP), R13
	SHLQ $2, R13 // vs in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·vs
	LEAQ (R14)(R14*2), CX // 18·vs
	MOVQ tmp+24(FP), R8
	VMOVUPS idx16<>(SB), Z12
	MOVL $0x40800000, BX // 4.0
	VPBROADCASTD BX, Z16
	MOVL $0x40a00000, BX // 5.0
	VPBROADCASTD BX, Z17
	MOVL $0xfeff, BX // all lanes but 0 and 8
	KMOVW BX, K2
	MOVL $0x7f7f, BX // all lanes but 7 and 15
	KMOVW BX, K3
	VXORPS Z18, Z18, Z18
	XORQ R9, R9 // a·8
	MOVQ R8, R11 // tmp + 6a·64

t62row:
	MOVQ (AX)(R9*1), SI
	MOVQ 32(AX)(R9*1), DI
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS (DI), Z2
	VMOVUPS 64(DI), Z3
	TRANSPOSE4Z
	VPERMPS Z4, Z12, Z4 // q0 = x[4t]
	VPERMPS Z5, Z12, Z5 // q1
	VPERMPS Z6, Z12, Z6 // q2
	VPERMPS Z7, Z12, Z7 // q3
	// x0 = x[4t − 1] → Z0, x5 = x[4t + 4] → Z1
	VALIGND.Z $15, Z18, Z7, K2, Z0
	VALIGND.Z $1, Z4, Z18, K3, Z1
	// x1..x4 = Z4..Z7. y0 = (x4 − 5x2) + 4x0
	VMULPS Z17, Z5, Z8
	VSUBPS Z8, Z7, Z8
	VFMADD231PS Z16, Z0, Z8
	VMOVUPS Z8, (R11)
	// y5 = (x5 − 5x3) + 4x1
	VMULPS Z17, Z6, Z9
	VSUBPS Z9, Z1, Z9
	VFMADD231PS Z16, Z4, Z9
	VMOVUPS Z9, 320(R11)
	// p = x4 − 4x2, q = x3 − 4x1: y1 = p + q, y2 = p − q
	VMOVAPS Z7, Z10
	VFNMADD231PS Z16, Z5, Z10
	VMOVAPS Z6, Z11
	VFNMADD231PS Z16, Z4, Z11
	VADDPS Z11, Z10, Z2
	VMOVUPS Z2, 64(R11)
	VSUBPS Z11, Z10, Z3
	VMOVUPS Z3, 128(R11)
	// r = x4 − x2, s = 2(x3 − x1): y3 = r + s, y4 = r − s
	VSUBPS Z5, Z7, Z10
	VSUBPS Z4, Z6, Z11
	VADDPS Z11, Z11, Z11
	VADDPS Z11, Z10, Z2
	VMOVUPS Z2, 192(R11)
	VSUBPS Z11, Z10, Z3
	VMOVUPS Z3, 256(R11)
	ADDQ $384, R11
	ADDQ $8, R9
	CMPQ R9, $48
	JLT t62row
	// vertical pass: column b from tmp[(6m + b)·64] to streams 6k + b
	MOVQ R8, SI // tmp + b·64
	MOVQ R10, R11 // v + b·vs
	XORQ R9, R9

t62col:
	VMOVUPS (SI), Z0
	VMOVUPS 384(SI), Z1
	VMOVUPS 768(SI), Z2
	VMOVUPS 1152(SI), Z3
	VMOVUPS 1536(SI), Z4
	VMOVUPS 1920(SI), Z5
	LEAQ (R11)(CX*1), R12 // stream 18 + b
	VMULPS Z17, Z2, Z6
	VSUBPS Z6, Z4, Z6
	VFMADD231PS Z16, Z0, Z6
	VMOVUPS Z6, (R11)
	VMULPS Z17, Z3, Z6
	VSUBPS Z6, Z5, Z6
	VFMADD231PS Z16, Z1, Z6
	VMOVUPS Z6, (R12)(R14*2)
	VMOVAPS Z4, Z6
	VFNMADD231PS Z16, Z2, Z6
	VMOVAPS Z3, Z7
	VFNMADD231PS Z16, Z1, Z7
	VADDPS Z7, Z6, Z8
	VMOVUPS Z8, (R11)(R14*1)
	VSUBPS Z7, Z6, Z8
	VMOVUPS Z8, (R11)(R14*2)
	VSUBPS Z2, Z4, Z6
	VSUBPS Z1, Z3, Z7
	VADDPS Z7, Z7, Z7
	VADDPS Z7, Z6, Z8
	VMOVUPS Z8, (R12)
	VSUBPS Z7, Z6, Z8
	VMOVUPS Z8, (R11)(R14*4)
	ADDQ $64, SI
	ADDQ R13, R11
	INCQ R9
	CMPQ R9, $6
	JLT t62col
	VZEROUPPER
	RET

// func at6Tile2AVX512(m *float32, ms int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32)
//
// at6TileAVX for two rows of 8 tiles (tile rows ty and ty + 1 of a
// 32-pixel-wide output, w its row stride): m_k[t] for t < 16 are the 16
// tiles' GEMM outputs (ty's in 0–7); output rows 4ty + r go to y + r·w,
// 4ty + 4 + r to y + (4 + r)·w, r < 4; s (if not nil) as y; tmp holds 384
// floats.
TEXT ·at6Tile2AVX512(SB), NOSPLIT, $0-64
	MOVQ m+0(FP), R10
	MOVQ ms+8(FP), R13
	SHLQ $2, R13 // ms in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·ms
	LEAQ (R14)(R14*2), CX // 18·ms
	MOVQ y+16(FP), SI
	MOVQ w+24(FP), BX
	SHLQ $2, BX // row stride in bytes
	VBROADCASTSS bias+32(FP), Z13
	MOVQ s+40(FP), DI
	VBROADCASTSS k+48(FP), Z14
	MOVQ tmp+56(FP), R8
	MOVL $0x41000000, R9 // 8.0
	VPBROADCASTD R9, Z15
	MOVL $0x40800000, R9 // 4.0
	VPBROADCASTD R9, Z16
	VMOVUPS idx16<>(SB), Z12
	// first pass: column b, x_a = m_{6a+b} → tmp[(6i + b)·64], i < 4
	MOVQ R10, R11 // m_b
	MOVQ R8, R9 // tmp + b·64
	XORQ R12, R12

a62col:
	VMOVUPS (R11)(R14*1), Z1
	VMOVUPS (R11)(R14*2), Z2
	VMOVUPS (R11)(CX*1), Z3
	VMOVUPS (R11)(R14*4), Z4
	VADDPS Z2, Z1, Z6 // s12
	VSUBPS Z2, Z1, Z7 // d12
	VADDPS Z4, Z3, Z8 // s34
	VSUBPS Z4, Z3, Z9 // d34
	VADDPS (R11), Z6, Z0
	VADDPS Z8, Z0, Z0
	VMOVUPS Z0, (R9)
	VADDPS Z9, Z9, Z0
	VADDPS Z0, Z7, Z0
	VMOVUPS Z0, 384(R9)
	VFMADD231PS Z16, Z8, Z6
	VMOVUPS Z6, 768(R9)
	VFMADD231PS Z15, Z9, Z7
	LEAQ (R11)(CX*1), DX
	VADDPS (DX)(R14*2), Z7, Z7 // m_{30+b}
	VMOVUPS Z7, 1152(R9)
	ADDQ R13, R11
	ADDQ $64, R9
	INCQ R12
	CMPQ R12, $6
	JLT a62col
	// second pass: output row r from tmp[(6r + b)·64], b < 6
	MOVQ R8, R9
	MOVQ SI, R11 // y row r
	XORQ R12, R12

a62row:
	VMOVUPS 64(R9), Z1
	VMOVUPS 128(R9), Z2
	VMOVUPS 192(R9), Z3
	VMOVUPS 256(R9), Z4
	VADDPS Z2, Z1, Z6 // s12
	VSUBPS Z2, Z1, Z7 // d12
	VADDPS Z4, Z3, Z8 // s34
	VSUBPS Z4, Z3, Z9 // d34
	VADDPS (R9), Z6, Z0
	VADDPS Z8, Z0, Z0
	VADDPS Z9, Z9, Z1
	VADDPS Z1, Z7, Z1
	VFMADD231PS Z16, Z8, Z6
	VFMADD231PS Z15, Z9, Z7
	VADDPS 320(R9), Z7, Z3
	VPERMPS Z0, Z12, Z0
	VPERMPS Z1, Z12, Z1
	VPERMPS Z6, Z12, Z2
	VPERMPS Z3, Z12, Z3
	TRANSPOSE4Z
	VADDPS Z13, Z4, Z4
	VADDPS Z13, Z5, Z5
	VADDPS Z13, Z6, Z6
	VADDPS Z13, Z7, Z7
	TESTQ DI, DI
	JZ a62nores
	MOVQ R11, DX
	SUBQ SI, DX // offset of the row in y and s
	ADDQ DI, DX
	VADDPS (DX), Z4, Z4
	VADDPS 64(DX), Z5, Z5
	VADDPS (DX)(BX*4), Z6, Z6
	VADDPS 64(DX)(BX*4), Z7, Z7
	VMULPS Z14, Z4, Z4
	VMULPS Z14, Z5, Z5
	VMULPS Z14, Z6, Z6
	VMULPS Z14, Z7, Z7

a62nores:
	VMOVUPS Z4, (R11)
	VMOVUPS Z5, 64(R11)
	VMOVUPS Z6, (R11)(BX*4)
	VMOVUPS Z7, 64(R11)(BX*4)
	ADDQ BX, R11
	ADDQ $384, R9
	INCQ R12
	CMPQ R12, $4
	JLT a62row
	VZEROUPPER
	RET

// func ady4Tile2AVX512(dy *float32, npair int, d *float32, ds int, tmp *float32)
//
// ady4TileAVX for w = 32 (8 tiles a row) and 2·npair rows of tiles, two
// rows of tiles per block of 16; tmp holds 384 floats.
TEXT ·ady4Tile2AVX512(SB), NOSPLIT, $0-40
	MOVQ dy+0(FP), AX
	MOVQ $128, R15 // row stride in bytes
	MOVQ npair+8(FP), DI
	MOVQ d+16(FP), R10
	MOVQ ds+24(FP), R13
	SHLQ $2, R13 // ds in bytes
	LEAQ (R13)(R13*2), R14
	ADDQ R14, R14 // 6·ds
	LEAQ (R14)(R14*2), CX // 18·ds
	MOVQ tmp+32(FP), R8
	VMOVUPS idx16<>(SB), Z12
	MOVL $0x40800000, BX // 4.0
	VPBROADCASTD BX, Z15

ad2blk:
	// rows p < 4 of both rows of tiles: q_m = x[4t + m], then dY Aᵀ →
	// tmp[(6p + j)·64]
	MOVQ AX, SI
	MOVQ R8, R9
	MOVQ $4, R11

ad2p:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 512(SI), Z2 // the same row of the next row of tiles
	VMOVUPS 576(SI), Z3
	TRANSPOSE4Z
	VPERMPS Z4, Z12, Z4
	VPERMPS Z5, Z12, Z5
	VPERMPS Z6, Z12, Z6
	VPERMPS Z7, Z12, Z7
	VMOVUPS Z4, (R9)
	VMOVUPS Z7, 320(R9)
	VADDPS Z6, Z4, Z8 // s02
	VADDPS Z7, Z5, Z9 // s13
	VADDPS Z9, Z8, Z10
	VMOVUPS Z10, 64(R9)
	VSUBPS Z9, Z8, Z10
	VMOVUPS Z10, 128(R9)
	VFMADD231PS Z15, Z6, Z4 // f = x0 + 4·x2
	VFMADD231PS Z15, Z7, Z5 // x1 + 4·x3
	VADDPS Z5, Z5, Z5       // h
	VADDPS Z5, Z4, Z10
	VMOVUPS Z10, 192(R9)
	VSUBPS Z5, Z4, Z10
	VMOVUPS Z10, 256(R9)
	ADDQ R15, SI
	ADDQ $384, R9
	DECQ R11
	JNZ ad2p

	// columns j < 6: A (dY Aᵀ) → streams 6i + j
	MOVQ R8, R9 // tmp + j·64
	MOVQ R10, R11 // stream j
	XORQ BX, BX

ad2col:
	VMOVUPS (R9), Z0
	VMOVUPS 384(R9), Z1
	VMOVUPS 768(R9), Z2
	VMOVUPS 1152(R9), Z3
	LEAQ (R11)(CX*1), R12 // stream 18 + j
	VMOVUPS Z0, (R11)
	VMOVUPS Z3, (R12)(R14*2)
	VADDPS Z2, Z0, Z8
	VADDPS Z3, Z1, Z9
	VADDPS Z9, Z8, Z10
	VMOVUPS Z10, (R11)(R14*1)
	VSUBPS Z9, Z8, Z10
	VMOVUPS Z10, (R11)(R14*2)
	VFMADD231PS Z15, Z2, Z0
	VFMADD231PS Z15, Z3, Z1
	VADDPS Z1, Z1, Z1
	VADDPS Z1, Z0, Z10
	VMOVUPS Z10, (R12)
	VSUBPS Z1, Z0, Z10
	VMOVUPS Z10, (R11)(R14*4)
	ADDQ $64, R9
	ADDQ R13, R11
	INCQ BX
	CMPQ BX, $6
	JLT ad2col

	ADDQ $64, R10 // the next 16 tiles
	ADDQ $1024, AX // the next two rows of tiles (8 rows of 128 bytes)
	DECQ DI
	JNZ ad2blk
	VZEROUPPER
	RET

// TR4Z transposes the 4×4 blocks in the same 128-bit lane of A, B, C, D
// into O0..O3 (O_p lane L = element p of lane L of A, B, C, D); clobbers
// T0..T3.
#define TR4Z(A, B, C, D, O0, O1, O2, O3, T0, T1, T2, T3) \
	VUNPCKLPS B, A, T0; \
	VUNPCKLPS D, C, T1; \
	VUNPCKHPS B, A, T2; \
	VUNPCKHPS D, C, T3; \
	VSHUFPS $0x44, T1, T0, O0; \
	VSHUFPS $0xEE, T1, T0, O1; \
	VSHUFPS $0x44, T3, T2, O2; \
	VSHUFPS $0xEE, T3, T2, O3

// TSTORE writes column p of a pair of blocks, A = rows 0–3 and B = rows
// 4–7 transposed in lanes (lane L holds columns 4L + p): dst rows p,
// 4 + p, 8 + p and 12 + p at R0, R4, R8, R12 (addresses). Clobbers Z24, Z25.
#define TSTORE(A, B, R0, R4, R8, R12) \
	VSHUFF32X4 $0x44, B, A, Z24; \
	VSHUFF32X4 $0xD8, Z24, Z24, Z24; \
	VMOVUPS Y24, R0; \
	VEXTRACTF32X8 $1, Z24, R4; \
	VSHUFF32X4 $0xEE, B, A, Z25; \
	VSHUFF32X4 $0xD8, Z25, Z25, Z25; \
	VMOVUPS Y25, R8; \
	VEXTRACTF32X8 $1, Z25, R12

// func transpose8AVX512(src *float32, lds int, dst *float32, ldd int, np int)
//
// transpose8AVX for 2·np blocks (np ≥ 1), two side by side per step: the
// eight rows of 16 values become 16 rows of 8 of dst. Pure data movement.
TEXT ·transpose8AVX512(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	SHLQ $2, AX             // lds bytes
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), BX
	SHLQ $2, BX             // ldd bytes
	MOVQ np+32(FP), CX
	LEAQ (SI)(AX*4), DX     // row 4 of src
	LEAQ (AX)(AX*2), R8     // 3·lds bytes
	LEAQ (BX)(BX*2), R9     // 3·ldd bytes

t16loop:
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(AX*1), Z1
	VMOVUPS (SI)(AX*2), Z2
	VMOVUPS (SI)(R8*1), Z3
	VMOVUPS (DX), Z4
	VMOVUPS (DX)(AX*1), Z5
	VMOVUPS (DX)(AX*2), Z6
	VMOVUPS (DX)(R8*1), Z7
	TR4Z(Z0, Z1, Z2, Z3, Z8, Z9, Z10, Z11, Z16, Z17, Z18, Z19)
	TR4Z(Z4, Z5, Z6, Z7, Z12, Z13, Z14, Z15, Z20, Z21, Z22, Z23)
	LEAQ (DI)(BX*4), R10    // dst row 4
	LEAQ (R10)(BX*4), R11   // row 8
	LEAQ (R11)(BX*4), R12   // row 12
	TSTORE(Z8, Z12, (DI), (R10), (R11), (R12))
	TSTORE(Z9, Z13, (DI)(BX*1), (R10)(BX*1), (R11)(BX*1), (R12)(BX*1))
	TSTORE(Z10, Z14, (DI)(BX*2), (R10)(BX*2), (R11)(BX*2), (R12)(BX*2))
	TSTORE(Z11, Z15, (DI)(R9*1), (R10)(R9*1), (R11)(R9*1), (R12)(R9*1))
	ADDQ $64, SI
	ADDQ $64, DX
	LEAQ (R12)(BX*4), DI
	DECQ CX
	JNZ t16loop
	VZEROUPPER
	RET
