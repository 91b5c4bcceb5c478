//go:build !purego

#include "textflag.h"

// func transpose8AVX(src *float32, lds int, dst *float32, ldd int, nb int)
//
// Transposes nb 8×8 blocks lying side by side along a strip of eight rows
// of src (row stride lds elements) into nb blocks stacked down a strip of
// eight columns of dst (row stride ldd): dst[(8b+p)·ldd + r] =
// src[r·lds + 8b + p] for r, p < 8, b < nb (nb ≥ 1). Each block: rows r
// and r+4 share a register (low and high halves), unpack and shuffle
// finish the two 4×4 transposes. Pure data movement.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	SHLQ $2, AX             // lds bytes
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), BX
	SHLQ $2, BX             // ldd bytes
	MOVQ nb+32(FP), CX
	LEAQ (SI)(AX*4), DX     // row 4 of src
	LEAQ (AX)(AX*2), R8     // 3·lds bytes
	LEAQ (BX)(BX*2), R9     // 3·ldd bytes

tloop:
	VMOVUPS (SI), X0
	VINSERTF128 $1, (DX), Y0, Y0
	VMOVUPS (SI)(AX*1), X1
	VINSERTF128 $1, (DX)(AX*1), Y1, Y1
	VMOVUPS (SI)(AX*2), X2
	VINSERTF128 $1, (DX)(AX*2), Y2, Y2
	VMOVUPS (SI)(R8*1), X3
	VINSERTF128 $1, (DX)(R8*1), Y3, Y3
	VMOVUPS 16(SI), X4
	VINSERTF128 $1, 16(DX), Y4, Y4
	VMOVUPS 16(SI)(AX*1), X5
	VINSERTF128 $1, 16(DX)(AX*1), Y5, Y5
	VMOVUPS 16(SI)(AX*2), X6
	VINSERTF128 $1, 16(DX)(AX*2), Y6, Y6
	VMOVUPS 16(SI)(R8*1), X7
	VINSERTF128 $1, 16(DX)(R8*1), Y7, Y7

	// Columns 0–3 → rows 0–3 of the block of dst.
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VSHUFPS $0x44, Y10, Y8, Y12
	VSHUFPS $0xEE, Y10, Y8, Y13
	VSHUFPS $0x44, Y11, Y9, Y14
	VSHUFPS $0xEE, Y11, Y9, Y15
	VMOVUPS Y12, (DI)
	VMOVUPS Y13, (DI)(BX*1)
	VMOVUPS Y14, (DI)(BX*2)
	VMOVUPS Y15, (DI)(R9*1)
	LEAQ (DI)(BX*4), R10
	// Columns 4–7 → rows 4–7.
	VUNPCKLPS Y5, Y4, Y8
	VUNPCKHPS Y5, Y4, Y9
	VUNPCKLPS Y7, Y6, Y10
	VUNPCKHPS Y7, Y6, Y11
	VSHUFPS $0x44, Y10, Y8, Y12
	VSHUFPS $0xEE, Y10, Y8, Y13
	VSHUFPS $0x44, Y11, Y9, Y14
	VSHUFPS $0xEE, Y11, Y9, Y15
	VMOVUPS Y12, (R10)
	VMOVUPS Y13, (R10)(BX*1)
	VMOVUPS Y14, (R10)(BX*2)
	VMOVUPS Y15, (R10)(R9*1)

	ADDQ $32, SI
	ADDQ $32, DX
	LEAQ (R10)(BX*4), DI
	DECQ CX
	JNZ tloop
	VZEROUPPER
	RET
