//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// AVX-512 float32 GEMM micro-kernel: six rows of x against four rows of w
// at a time, 24 dot products accumulated in Z0..Z23 over 16 lanes each,
// with 10 loads per 24 fused multiply-adds.

// STORE4 writes (or, when R15 is not zero, adds to) the four floats in x
// at the memory operand p.
#define STORE4(x, p) \
	TESTB R15, R15 \
	JZ   2(PC) \
	VADDPS p, x, x \
	VMOVUPS x, p

// func gemm6x4F32AVX512(out *float32, ldo int, x *float32, ldx int, w *float32, ldw int, nw int, k int, acc bool)
//
// For each of the nw/4 groups of four w rows: out[i*ldo+j] = (or +=)
// x[i*ldx:]·w[j*ldw:] over k elements for i < 6 and the group's j. nw is a
// positive multiple of 4, k a positive multiple of 16; ldo, ldx and ldw
// are in elements.
TEXT ·gemm6x4F32AVX512(SB), NOSPLIT, $0-65
	MOVQ x+16(FP), R8
	MOVQ ldx+24(FP), AX
	SHLQ $2, AX
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12
	LEAQ (R12)(AX*1), R13
	MOVQ w+32(FP), SI
	MOVQ ldw+40(FP), AX
	SHLQ $2, AX
	LEAQ (SI)(AX*1), DI
	LEAQ (DI)(AX*1), BX
	LEAQ (BX)(AX*1), DX
	MOVQ out+0(FP), R14
	MOVBQZX acc+64(FP), R15

group:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17
	VXORPS Z18, Z18, Z18
	VXORPS Z19, Z19, Z19
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23
	MOVQ k+56(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

kloop:
	VMOVUPS (SI)(AX*1), Z24
	VMOVUPS (DI)(AX*1), Z25
	VMOVUPS (BX)(AX*1), Z26
	VMOVUPS (DX)(AX*1), Z27
	VMOVUPS (R8)(AX*1), Z28
	VMOVUPS (R9)(AX*1), Z29
	VFMADD231PS Z24, Z28, Z0
	VFMADD231PS Z25, Z28, Z1
	VFMADD231PS Z26, Z28, Z2
	VFMADD231PS Z27, Z28, Z3
	VFMADD231PS Z24, Z29, Z4
	VFMADD231PS Z25, Z29, Z5
	VFMADD231PS Z26, Z29, Z6
	VFMADD231PS Z27, Z29, Z7
	VMOVUPS (R10)(AX*1), Z28
	VMOVUPS (R11)(AX*1), Z29
	VFMADD231PS Z24, Z28, Z8
	VFMADD231PS Z25, Z28, Z9
	VFMADD231PS Z26, Z28, Z10
	VFMADD231PS Z27, Z28, Z11
	VFMADD231PS Z24, Z29, Z12
	VFMADD231PS Z25, Z29, Z13
	VFMADD231PS Z26, Z29, Z14
	VFMADD231PS Z27, Z29, Z15
	VMOVUPS (R12)(AX*1), Z28
	VMOVUPS (R13)(AX*1), Z29
	VFMADD231PS Z24, Z28, Z16
	VFMADD231PS Z25, Z28, Z17
	VFMADD231PS Z26, Z28, Z18
	VFMADD231PS Z27, Z28, Z19
	VFMADD231PS Z24, Z29, Z20
	VFMADD231PS Z25, Z29, Z21
	VFMADD231PS Z26, Z29, Z22
	VFMADD231PS Z27, Z29, Z23
	ADDQ $64, AX
	CMPQ AX, CX
	JLT  kloop

	// Reduce and store the 6×4 block; AX = ldo in bytes, CX = 3*ldo.
	MOVQ ldo+8(FP), AX
	SHLQ $2, AX
	LEAQ (AX)(AX*2), CX
	ROWSUM4(Z0, Z1, Z2, Z3, X0, Y0)
	STORE4(X0, (R14))
	ROWSUM4(Z4, Z5, Z6, Z7, X4, Y4)
	STORE4(X4, (R14)(AX*1))
	ROWSUM4(Z8, Z9, Z10, Z11, X8, Y8)
	STORE4(X8, (R14)(AX*2))
	ROWSUM4(Z12, Z13, Z14, Z15, X12, Y12)
	STORE4(X12, (R14)(CX*1))
	LEAQ (R14)(AX*4), CX
	ROWSUM4(Z16, Z17, Z18, Z19, X16, Y16)
	STORE4(X16, (CX))
	ROWSUM4(Z20, Z21, Z22, Z23, X20, Y20)
	STORE4(X20, (CX)(AX*1))

	// Next group of four w rows.
	ADDQ $16, R14
	MOVQ ldw+40(FP), AX
	SHLQ $4, AX
	ADDQ AX, SI
	ADDQ AX, DI
	ADDQ AX, BX
	ADDQ AX, DX
	SUBQ $4, nw+48(FP)
	JNZ  group
	VZEROUPPER
	RET

// func gemm1x4F32AVX512(out *float32, x *float32, w *float32, ldw int, nw int, k int, acc bool)
//
// gemm6x4F32AVX512 for one x row, with the same arithmetic for each dot
// product (lanes, order, reduction), so that a row's results do not
// depend on how the rows are blocked.
TEXT ·gemm1x4F32AVX512(SB), NOSPLIT, $0-49
	MOVQ x+8(FP), R8
	MOVQ w+16(FP), SI
	MOVQ ldw+24(FP), AX
	SHLQ $2, AX
	LEAQ (SI)(AX*1), DI
	LEAQ (DI)(AX*1), BX
	LEAQ (BX)(AX*1), DX
	MOVQ out+0(FP), R14
	MOVBQZX acc+48(FP), R15
	MOVQ nw+32(FP), R9

group1:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	MOVQ k+40(FP), CX
	SHLQ $2, CX
	XORQ AX, AX

kloop1:
	PREFETCHT0 1024(SI)(AX*1)
	PREFETCHT0 1024(DI)(AX*1)
	PREFETCHT0 1024(BX)(AX*1)
	PREFETCHT0 1024(DX)(AX*1)
	VMOVUPS (R8)(AX*1), Z28
	VFMADD231PS (SI)(AX*1), Z28, Z0
	VFMADD231PS (DI)(AX*1), Z28, Z1
	VFMADD231PS (BX)(AX*1), Z28, Z2
	VFMADD231PS (DX)(AX*1), Z28, Z3
	ADDQ $64, AX
	CMPQ AX, CX
	JLT  kloop1

	ROWSUM4(Z0, Z1, Z2, Z3, X0, Y0)
	STORE4(X0, (R14))
	ADDQ $16, R14
	MOVQ ldw+24(FP), AX
	SHLQ $4, AX
	ADDQ AX, SI
	ADDQ AX, DI
	ADDQ AX, BX
	ADDQ AX, DX
	SUBQ $4, R9
	JNZ  group1
	VZEROUPPER
	RET
