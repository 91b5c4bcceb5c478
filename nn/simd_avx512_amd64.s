//go:build !purego

#include "textflag.h"

// AVX-512 twins of gnSiluFwdAVX and expSubAVX (simd_amd64.s): 16 lanes per
// step, the last 8 (n is a multiple of 8) under the opmask K1. Each element
// goes through the same operations in the same order as in the AVX2
// kernels (VRNDSCALEPS $0 rounds to nearest-even as VROUNDPS $0 does), so
// the elementwise results are bitwise equal; expSub's lane sums are added
// in a different order (16 lanes folded to 8), equal to float32 rounding.

DATA expc512<>+0(SB)/4, $0x3fb8aa3b  // log2 e
DATA expc512<>+4(SB)/4, $0x42ae0000  // 87: upper clamp
DATA expc512<>+8(SB)/4, $0xc2ae0000  // −87: lower clamp
DATA expc512<>+12(SB)/4, $0x3f317200 // ln 2, high part
DATA expc512<>+16(SB)/4, $0x35bfbe8e // ln 2, low part
DATA expc512<>+20(SB)/4, $0x39500d01 // c7
DATA expc512<>+24(SB)/4, $0x3ab60b61 // c6
DATA expc512<>+28(SB)/4, $0x3c088889 // c5
DATA expc512<>+32(SB)/4, $0x3d2aaaab // c4
DATA expc512<>+36(SB)/4, $0x3e2aaaab // c3
DATA expc512<>+40(SB)/4, $0x3f000000 // c2
DATA expc512<>+44(SB)/4, $0x3f800000 // 1
DATA expc512<>+48(SB)/4, $0x0000007f // 127 (exponent bias)
GLOBL expc512<>(SB), RODATA|NOPTR, $52

// LOADEXPC broadcasts the constants into Z16…Z28.
#define LOADEXPC \
	VBROADCASTSS expc512<>+0(SB), Z16; \
	VBROADCASTSS expc512<>+4(SB), Z17; \
	VBROADCASTSS expc512<>+8(SB), Z18; \
	VBROADCASTSS expc512<>+12(SB), Z19; \
	VBROADCASTSS expc512<>+16(SB), Z20; \
	VBROADCASTSS expc512<>+20(SB), Z21; \
	VBROADCASTSS expc512<>+24(SB), Z22; \
	VBROADCASTSS expc512<>+28(SB), Z23; \
	VBROADCASTSS expc512<>+32(SB), Z24; \
	VBROADCASTSS expc512<>+36(SB), Z25; \
	VBROADCASTSS expc512<>+40(SB), Z26; \
	VBROADCASTSS expc512<>+44(SB), Z27; \
	VPBROADCASTD expc512<>+48(SB), Z28

// EXP512 sets Z4 = e^Z1 (Z1 clamped to ±87 in place); clobbers Z2, Z3, Z5.
// Operand order as in the AVX2 EXP, so a NaN stays NaN.
#define EXP512 \
	VMINPS Z1, Z17, Z1; \
	VMAXPS Z1, Z18, Z1; \
	VMULPS Z16, Z1, Z2; \
	VRNDSCALEPS $0, Z2, Z2; \
	VMOVAPS Z1, Z3; \
	VFNMADD231PS Z19, Z2, Z3; \
	VFNMADD231PS Z20, Z2, Z3; \
	VMOVAPS Z21, Z4; \
	VFMADD213PS Z22, Z3, Z4; \
	VFMADD213PS Z23, Z3, Z4; \
	VFMADD213PS Z24, Z3, Z4; \
	VFMADD213PS Z25, Z3, Z4; \
	VFMADD213PS Z26, Z3, Z4; \
	VFMADD213PS Z27, Z3, Z4; \
	VFMADD213PS Z27, Z3, Z4; \
	VCVTPS2DQ Z2, Z5; \
	VPADDD Z28, Z5, Z5; \
	VPSLLD $23, Z5, Z5; \
	VMULPS Z5, Z4, Z4

// func gnSiluFwdAVX512(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int)
// h = (x−m)·r, a = gam·h + bet, s = σ(a), y = a·s for n (a positive
// multiple of 8) elements; h and s are stored only if store ≠ 0.
TEXT ·gnSiluFwdAVX512(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ xh+8(FP), DI
	MOVQ sg+16(FP), R8
	MOVQ y+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS m+40(FP), Z8
	VBROADCASTSS r+44(FP), Z9
	VBROADCASTSS gam+48(FP), Z10
	VBROADCASTSS bet+52(FP), Z11
	MOVQ store+56(FP), DX
	LOADEXPC
	VXORPS Z7, Z7, Z7
	MOVL $0xffff, AX
	KMOVW AX, K1

fwdloop:
	CMPQ CX, $16
	JGE  fwdfull
	MOVL $0x00ff, AX // the last 8 elements
	KMOVW AX, K1

fwdfull:
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS Z8, Z0, Z0
	VMULPS Z9, Z0, Z0
	TESTQ DX, DX
	JZ    fwdnoh
	VMOVUPS Z0, K1, (DI)

fwdnoh:
	VFMADD213PS Z11, Z10, Z0
	VSUBPS Z0, Z7, Z1
	EXP512
	VADDPS Z27, Z4, Z4
	VDIVPS Z4, Z27, Z4
	TESTQ DX, DX
	JZ    fwdnos
	VMOVUPS Z4, K1, (R8)

fwdnos:
	VMULPS Z4, Z0, Z0
	VMOVUPS Z0, K1, (R9)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $16, CX
	JG   fwdloop
	VZEROUPPER
	RET

// func expSubAVX512(row *float32, n int, m float32, acc *[8]float32)
// row = e^(row − m) for n (a positive multiple of 8) elements; acc gets 8
// lane sums of the new row.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-32
	MOVQ row+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Z8
	MOVQ acc+24(FP), AX
	LOADEXPC
	VXORPS Z6, Z6, Z6
	MOVL $0xffff, DX
	KMOVW DX, K1

exploop:
	CMPQ CX, $16
	JGE  expfull
	MOVL $0x00ff, DX // the last 8 elements
	KMOVW DX, K1

expfull:
	VMOVUPS.Z (DI), K1, Z1
	VSUBPS Z8, Z1, Z1
	EXP512
	VMOVUPS Z4, K1, (DI)
	VADDPS Z4, Z6, K1, Z6
	ADDQ $64, DI
	SUBQ $16, CX
	JG   exploop
	VEXTRACTF32X8 $1, Z6, Y7
	VADDPS Y7, Y6, Y6
	VMOVUPS Y6, (AX)
	VZEROUPPER
	RET

// MASK16 sets K1 to all 16 lanes, or to the low 8 when fewer than 16
// elements remain (CX counts them; n is a multiple of 8). Clobbers DX.
#define MASK16(label) \
	MOVL $0xffff, DX; \
	CMPQ CX, $16; \
	JGE  label; \
	MOVL $0x00ff, DX; \
label: \
	KMOVW DX, K1

// func gnSiluBwdAVX512(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32)
// a = gam·h + bet, da = dy·s·(1 + a(1−s)), dx = gam·da; acc[0:8] gets lane
// sums of da·h, acc[8:16] those of da (16 lanes folded to 8).
TEXT ·gnSiluBwdAVX512(SB), NOSPLIT, $0-56
	MOVQ h+0(FP), SI
	MOVQ dy+8(FP), DI
	MOVQ sg+16(FP), R8
	MOVQ dx+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS gam+40(FP), Z10
	VBROADCASTSS bet+44(FP), Z11
	MOVQ acc+48(FP), AX
	VBROADCASTSS expc512<>+44(SB), Z13 // 1
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

bwdloop:
	MASK16(bwdmask)
	VMOVUPS.Z (SI), K1, Z0
	VMOVAPS Z0, Z1
	VFMADD213PS Z11, Z10, Z1
	VMOVUPS.Z (R8), K1, Z2
	VSUBPS Z2, Z13, Z3
	VFMADD213PS Z13, Z1, Z3
	VMULPS Z2, Z3, Z3
	VMOVUPS.Z (DI), K1, Z4
	VMULPS Z4, Z3, Z3
	VFMADD231PS Z3, Z0, K1, Z6
	VADDPS Z3, Z7, K1, Z7
	VMULPS Z10, Z3, Z3
	VMOVUPS Z3, K1, (R9)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $16, CX
	JG   bwdloop
	VEXTRACTF32X8 $1, Z6, Y8
	VADDPS Y8, Y6, Y6
	VEXTRACTF32X8 $1, Z7, Y9
	VADDPS Y9, Y7, Y7
	VMOVUPS Y6, (AX)
	VMOVUPS Y7, 32(AX)
	VZEROUPPER
	RET

// func gnBwdFinishAVX512(ds, h *float32, n int, r, m1, m2 float32)
// ds = r·(ds − m1 − h·m2).
TEXT ·gnBwdFinishAVX512(SB), NOSPLIT, $0-36
	MOVQ ds+0(FP), DI
	MOVQ h+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS r+24(FP), Z9
	VBROADCASTSS m1+28(FP), Z10
	VBROADCASTSS m2+32(FP), Z11

finloop:
	MASK16(finmask)
	VMOVUPS.Z (DI), K1, Z0
	VSUBPS Z10, Z0, Z0
	VMOVUPS.Z (SI), K1, Z1
	VFNMADD231PS Z11, Z1, Z0
	VMULPS Z9, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JG   finloop
	VZEROUPPER
	RET

// func addScaleAVX512(y, s *float32, n int, k float32)
// y = (y + s)·k.
TEXT ·addScaleAVX512(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS k+24(FP), Z2

asloop:
	MASK16(asmask)
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VADDPS Z1, Z0, Z0
	VMULPS Z2, Z0, Z0
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JG   asloop
	VZEROUPPER
	RET

// func maxScaleAVX512(row *float32, n int, scale float32) float32
// Returns max(row) and sets row[j] *= scale, n a positive multiple of 8.
TEXT ·maxScaleAVX512(SB), NOSPLIT, $0-28
	MOVQ row+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS scale+16(FP), Z8
	VBROADCASTSS (DI), Z0 // running maximum, started from row[0]

msloop:
	MASK16(msmask)
	VMOVUPS.Z (DI), K1, Z1
	VMAXPS Z1, Z0, K1, Z0
	VMULPS Z8, Z1, Z1
	VMOVUPS Z1, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JG   msloop
	VEXTRACTF32X8 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VMAXPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VMAXPS X1, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumSqF64AVX512(x *float32, n int, shift float64) (s1, s2 float64)
// Σ (x[j] − shift) and Σ (x[j] − shift)² in float64, n a positive multiple
// of 8: 32 floats per step into four chains per sum, then 8 at a time.
TEXT ·sumSqF64AVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD shift+16(FP), Z4
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z7, Z7, Z7
	VXORPD Z9, Z9, Z9
	VXORPD Z5, Z5, Z5
	VXORPD Z6, Z6, Z6
	VXORPD Z10, Z10, Z10
	VXORPD Z11, Z11, Z11

ss32:
	CMPQ CX, $32
	JLT  ss8
	VCVTPS2PD (SI), Z2
	VCVTPS2PD 32(SI), Z3
	VCVTPS2PD 64(SI), Z12
	VCVTPS2PD 96(SI), Z13
	VSUBPD Z4, Z2, Z2
	VSUBPD Z4, Z3, Z3
	VSUBPD Z4, Z12, Z12
	VSUBPD Z4, Z13, Z13
	VADDPD Z2, Z0, Z0
	VADDPD Z3, Z1, Z1
	VADDPD Z12, Z7, Z7
	VADDPD Z13, Z9, Z9
	VFMADD231PD Z2, Z2, Z5
	VFMADD231PD Z3, Z3, Z6
	VFMADD231PD Z12, Z12, Z10
	VFMADD231PD Z13, Z13, Z11
	ADDQ $128, SI
	SUBQ $32, CX
	JMP  ss32

ss8:
	TESTQ CX, CX
	JZ    ssdone
	VCVTPS2PD (SI), Z2
	VSUBPD Z4, Z2, Z2
	VADDPD Z2, Z0, Z0
	VFMADD231PD Z2, Z2, Z5
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  ss8

ssdone:
	VADDPD Z7, Z0, Z0
	VADDPD Z9, Z1, Z1
	VADDPD Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VHADDPD X0, X0, X0
	VMOVSD X0, s1+24(FP)
	VADDPD Z10, Z5, Z5
	VADDPD Z11, Z6, Z6
	VADDPD Z6, Z5, Z5
	VEXTRACTF64X4 $1, Z5, Y6
	VADDPD Y6, Y5, Y5
	VEXTRACTF128 $1, Y5, X6
	VADDPD X6, X5, X5
	VHADDPD X5, X5, X5
	VMOVSD X5, s2+32(FP)
	VZEROUPPER
	RET

// func fillAVX512(y *float32, n int, v float32)
// y[j] = v for j < n (n a positive multiple of 8): fillAVX in 16 lanes.
TEXT ·fillAVX512(SB), NOSPLIT, $0-20
	MOVQ y+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS v+16(FP), Z0

flloop:
	MASK16(flmask)
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, DI
	SUBQ $16, CX
	JG   flloop
	VZEROUPPER
	RET

// func fillColsAVX512(y *float32, ld int, b *float32, rows, n int)
// y[r·ld + j] = b[r] for r < rows, j < n (n a positive multiple of 8):
// fillColsAVX in 16 lanes.
TEXT ·fillColsAVX512(SB), NOSPLIT, $0-40
	MOVQ y+0(FP), DI
	MOVQ ld+8(FP), R12
	SHLQ $2, R12
	MOVQ b+16(FP), SI
	MOVQ rows+24(FP), R9
	MOVQ n+32(FP), R13

fcrow:
	VBROADCASTSS (SI), Z0
	MOVQ DI, R8
	MOVQ R13, CX

fccol:
	MASK16(fcmask)
	VMOVUPS Z0, K1, (R8)
	ADDQ $64, R8
	SUBQ $16, CX
	JG   fccol
	ADDQ $4, SI
	ADDQ R12, DI
	DECQ R9
	JNZ  fcrow
	VZEROUPPER
	RET

// func bt4AVX512(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int)
// bt4AVX in 16 lanes: y0 = x0 − x2, y1 = x1 + x2, y2 = x2 − x1,
// y3 = x1 − x3 (n a positive multiple of 8).
TEXT ·bt4AVX512(SB), NOSPLIT, $0-72
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), R12
	MOVQ x3+24(FP), R13
	MOVQ y0+32(FP), SI
	MOVQ y1+40(FP), DI
	MOVQ y2+48(FP), R8
	MOVQ y3+56(FP), R9
	MOVQ n+64(FP), CX
	XORQ R11, R11

bt4loop:
	MASK16(bt4mask)
	VMOVUPS.Z (AX)(R11*4), K1, Z0
	VMOVUPS.Z (BX)(R11*4), K1, Z1
	VMOVUPS.Z (R12)(R11*4), K1, Z2
	VMOVUPS.Z (R13)(R11*4), K1, Z3
	VSUBPS Z2, Z0, Z4
	VADDPS Z2, Z1, Z5
	VSUBPS Z1, Z2, Z6
	VSUBPS Z3, Z1, Z7
	VMOVUPS Z4, K1, (SI)(R11*4)
	VMOVUPS Z5, K1, (DI)(R11*4)
	VMOVUPS Z6, K1, (R8)(R11*4)
	VMOVUPS Z7, K1, (R9)(R11*4)
	ADDQ $16, R11
	SUBQ $16, CX
	JG   bt4loop
	VZEROUPPER
	RET

// func at4AVX512(x0, x1, x2, x3, u, w *float32, n int)
// at4AVX in 16 lanes: u = x0 + x1 + x2, w = x1 − x2 − x3.
TEXT ·at4AVX512(SB), NOSPLIT, $0-56
	MOVQ x0+0(FP), AX
	MOVQ x1+8(FP), BX
	MOVQ x2+16(FP), R12
	MOVQ x3+24(FP), R13
	MOVQ u+32(FP), SI
	MOVQ w+40(FP), DI
	MOVQ n+48(FP), CX
	XORQ R11, R11

at4loop:
	MASK16(at4mask)
	VMOVUPS.Z (AX)(R11*4), K1, Z0
	VMOVUPS.Z (BX)(R11*4), K1, Z1
	VMOVUPS.Z (R12)(R11*4), K1, Z2
	VMOVUPS.Z (R13)(R11*4), K1, Z3
	VADDPS Z1, Z0, Z4
	VADDPS Z2, Z4, Z4
	VSUBPS Z2, Z1, Z5
	VSUBPS Z3, Z5, Z5
	VMOVUPS Z4, K1, (SI)(R11*4)
	VMOVUPS Z5, K1, (DI)(R11*4)
	ADDQ $16, R11
	SUBQ $16, CX
	JG   at4loop
	VZEROUPPER
	RET
