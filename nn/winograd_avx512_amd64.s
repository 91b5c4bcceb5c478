//go:build !purego

#include "textflag.h"

// AVX-512 twins of the F(4×4, 3×3) Winograd transforms bt6AVX and at6AVX
// (simd4_amd64.s): the same operations in the same order on 16 lanes, then
// one block of 8 lanes when n is an odd multiple of 8, so results are
// bitwise equal to the AVX2 kernels'. Register arguments: the macros take
// the vector registers (Z… or Y…) to work on.

// BT6(x0..x5 loaded in R0..R5; 4.0 in F4, 5.0 in F5; T0..T2 temporaries),
// stores y0..y5 at (R8..R13)(R14*1).
#define BT6(R0, R1, R2, R3, R4, R5, F4, F5, T0, T1, T2) \
	VMULPS F5, R2, T0 \
	VSUBPS T0, R4, T0 \
	VFMADD231PS F4, R0, T0 \
	VMOVUPS T0, (R8)(R14*1) \
	VMULPS F5, R3, T0 \
	VSUBPS T0, R5, T0 \
	VFMADD231PS F4, R1, T0 \
	VMOVUPS T0, (R13)(R14*1) \
	VMOVAPS R4, T0 \
	VFNMADD231PS F4, R2, T0 \
	VMOVAPS R3, T1 \
	VFNMADD231PS F4, R1, T1 \
	VADDPS T1, T0, T2 \
	VMOVUPS T2, (R9)(R14*1) \
	VSUBPS T1, T0, T2 \
	VMOVUPS T2, (R10)(R14*1) \
	VSUBPS R2, R4, T0 \
	VSUBPS R1, R3, T1 \
	VADDPS T1, T1, T1 \
	VADDPS T1, T0, T2 \
	VMOVUPS T2, (R11)(R14*1) \
	VSUBPS T1, T0, T2 \
	VMOVUPS T2, (R12)(R14*1)

// func bt6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int)
// y_k[j] = Σ_m Bᵀ[k][m] x_m[j] for j < n, n a positive multiple of 8.
TEXT ·bt6AVX512(SB), NOSPLIT, $0-104
	MOVL $0x40800000, AX // 4.0
	VPBROADCASTD AX, Z12
	MOVL $0x40a00000, AX // 5.0
	VPBROADCASTD AX, Z13
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

	SUBQ $64, R15 // blocks of 16 while R14 ≤ 4n − 64

bt6z:
	CMPQ R14, R15
	JGT  bt6y
	VMOVUPS (AX)(R14*1), Z0
	VMOVUPS (BX)(R14*1), Z1
	VMOVUPS (CX)(R14*1), Z2
	VMOVUPS (DX)(R14*1), Z3
	VMOVUPS (SI)(R14*1), Z4
	VMOVUPS (DI)(R14*1), Z5
	BT6(Z0, Z1, Z2, Z3, Z4, Z5, Z12, Z13, Z6, Z7, Z8)
	ADDQ $64, R14
	JMP  bt6z

bt6y:
	ADDQ $64, R15 // 4n
	CMPQ R14, R15
	JGE  bt6done // otherwise 8 lanes remain
	VMOVUPS (AX)(R14*1), Y0
	VMOVUPS (BX)(R14*1), Y1
	VMOVUPS (CX)(R14*1), Y2
	VMOVUPS (DX)(R14*1), Y3
	VMOVUPS (SI)(R14*1), Y4
	VMOVUPS (DI)(R14*1), Y5
	BT6(Y0, Y1, Y2, Y3, Y4, Y5, Y12, Y13, Y6, Y7, Y8)

bt6done:
	VZEROUPPER
	RET

// AT6(x1..x4 loaded in R1..R4; 4.0 in F4, 8.0 in F8; T0..T4 temporaries),
// x0 and x5 read from (AX) and (DI), stores y0..y3 at (R8..R11)(R14*1).
#define AT6(R1, R2, R3, R4, F4, F8, T0, T1, T2, T3, T4) \
	VADDPS R2, R1, T1 \
	VSUBPS R2, R1, T2 \
	VADDPS R4, R3, T3 \
	VSUBPS R4, R3, T4 \
	VADDPS (AX)(R14*1), T1, T0 \
	VADDPS T3, T0, T0 \
	VMOVUPS T0, (R8)(R14*1) \
	VADDPS T4, T4, T0 \
	VADDPS T0, T2, T0 \
	VMOVUPS T0, (R9)(R14*1) \
	VFMADD231PS F4, T3, T1 \
	VMOVUPS T1, (R10)(R14*1) \
	VFMADD231PS F8, T4, T2 \
	VADDPS (DI)(R14*1), T2, T2 \
	VMOVUPS T2, (R11)(R14*1)

// func at6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int)
// y_k[j] = Σ_m Aᵀ[k][m] x_m[j] for j < n, n a positive multiple of 8.
TEXT ·at6AVX512(SB), NOSPLIT, $0-88
	MOVL $0x40800000, AX // 4.0
	VPBROADCASTD AX, Z12
	MOVL $0x41000000, AX // 8.0
	VPBROADCASTD AX, Z13
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

at6z:
	MOVQ R15, R12
	SUBQ R14, R12
	CMPQ R12, $64
	JLT  at6y
	VMOVUPS (BX)(R14*1), Z1
	VMOVUPS (CX)(R14*1), Z2
	VMOVUPS (DX)(R14*1), Z3
	VMOVUPS (SI)(R14*1), Z4
	AT6(Z1, Z2, Z3, Z4, Z12, Z13, Z0, Z6, Z7, Z8, Z9)
	ADDQ $64, R14
	JMP  at6z

at6y:
	CMPQ R12, $32
	JLT  at6done
	VMOVUPS (BX)(R14*1), Y1
	VMOVUPS (CX)(R14*1), Y2
	VMOVUPS (DX)(R14*1), Y3
	VMOVUPS (SI)(R14*1), Y4
	AT6(Y1, Y2, Y3, Y4, Y12, Y13, Y0, Y6, Y7, Y8, Y9)

at6done:
	VZEROUPPER
	RET
