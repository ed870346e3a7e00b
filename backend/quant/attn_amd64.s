//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// AVX-512 kernels of attention over a block of cache rows (keys or values
// of one kv head at a fixed stride): one call per head and block instead
// of one per key. Each prefetches the rows 2^ROWSAHEAD rows ahead of those
// it reads: a head's rows are a few cache lines every stride bytes (the
// cache row holds every kv head of a position), a pattern the hardware
// prefetchers do not follow across pages, so that without it the kernels
// waited on memory (BenchmarkAttentionLayers, 12 layers of 4096 cached f16
// positions: 23 GB/s without, 30 GB/s with 16 rows ahead; 8, 32 and 64 no
// better).

#define ROWSAHEAD 4

// func dotRowsF32AVX512(q *float32, d int, rows *float32, stride int, n int, out *float32)
//
// out[j] = q·rows[j*stride:][:d] for j < n (a positive multiple of 4); d a
// positive multiple of 16; stride in bytes.
TEXT ·dotRowsF32AVX512(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), R8
	MOVQ d+8(FP), CX
	SHLQ $2, CX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), R10
	MOVQ out+40(FP), R11
	MOVQ DX, R15
	SHLQ $ROWSAHEAD, R15

drf32:
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), BX
	LEAQ (BX)(DX*1), R9
	LEAQ (SI)(R15*1), R12
	LEAQ (DI)(R15*1), R13
	LEAQ (BX)(R15*1), R14
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX

drf32k:
	PREFETCHT0 (R12)(AX*1)
	PREFETCHT0 (R13)(AX*1)
	PREFETCHT0 (R14)(AX*1)
	PREFETCHT0 (R9)(R15*1)
	VMOVUPS (R8)(AX*1), Z28
	VFMADD231PS (SI)(AX*1), Z28, Z0
	VFMADD231PS (DI)(AX*1), Z28, Z1
	VFMADD231PS (BX)(AX*1), Z28, Z2
	VFMADD231PS (R9)(AX*1), Z28, Z3
	ADDQ $64, AX
	CMPQ AX, CX
	JLT  drf32k

	ROWSUM4(Z0, Z1, Z2, Z3, X0, Y0)
	VMOVUPS X0, (R11)
	ADDQ $16, R11
	LEAQ (R9)(DX*1), SI
	SUBQ $4, R10
	JNZ  drf32
	VZEROUPPER
	RET

// func dotRowsF16AVX512(q *float32, d int, rows *uint16, stride int, n int, out *float32)
//
// dotRowsF32AVX512 for f16 rows.
TEXT ·dotRowsF16AVX512(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), R8
	MOVQ d+8(FP), CX
	SHLQ $1, CX
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), R10
	MOVQ out+40(FP), R11
	MOVQ DX, R15
	SHLQ $ROWSAHEAD, R15

drf16:
	LEAQ (SI)(DX*1), DI
	LEAQ (DI)(DX*1), BX
	LEAQ (BX)(DX*1), R9
	LEAQ (SI)(R15*1), R12
	LEAQ (DI)(R15*1), R13
	LEAQ (BX)(R15*1), R14
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	XORQ AX, AX

drf16k:
	PREFETCHT0 (R12)(AX*1)
	PREFETCHT0 (R13)(AX*1)
	PREFETCHT0 (R14)(AX*1)
	PREFETCHT0 (R9)(R15*1)
	VMOVUPS (R8)(AX*2), Z28
	VCVTPH2PS (SI)(AX*1), Z4
	VCVTPH2PS (DI)(AX*1), Z5
	VCVTPH2PS (BX)(AX*1), Z6
	VCVTPH2PS (R9)(AX*1), Z7
	VFMADD231PS Z4, Z28, Z0
	VFMADD231PS Z5, Z28, Z1
	VFMADD231PS Z6, Z28, Z2
	VFMADD231PS Z7, Z28, Z3
	ADDQ $32, AX
	CMPQ AX, CX
	JLT  drf16k

	ROWSUM4(Z0, Z1, Z2, Z3, X0, Y0)
	VMOVUPS X0, (R11)
	ADDQ $16, R11
	LEAQ (R9)(DX*1), SI
	SUBQ $4, R10
	JNZ  drf16
	VZEROUPPER
	RET

// func axpyRowsF32AVX512(e *float32, rows *float32, stride int, n int, acc *float32, d int)
//
// acc[:d] += Σ_j e[j]·rows[j*stride:][:d] for j < n (n > 0), d a positive
// multiple of 64, 64 elements of acc at a time in registers: the even rows
// into acc's registers, the odd rows into a second set (two chains of
// multiply-adds instead of one), added to the first at the end.
TEXT ·axpyRowsF32AVX512(SB), NOSPLIT, $0-48
	MOVQ rows+8(FP), SI
	MOVQ stride+16(FP), DX
	MOVQ acc+32(FP), DI
	MOVQ d+40(FP), R10
	MOVQ DX, R15
	SHLQ $ROWSAHEAD, R15

arf32chunk:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	MOVQ e+0(FP), R8
	MOVQ n+24(FP), CX
	MOVQ SI, BX
	CMPQ CX, $2
	JLT  arf32last

arf32pair:
	LEAQ (BX)(DX*1), R9
	PREFETCHT0 (BX)(R15*1)
	PREFETCHT0 64(BX)(R15*1)
	PREFETCHT0 128(BX)(R15*1)
	PREFETCHT0 192(BX)(R15*1)
	PREFETCHT0 (R9)(R15*1)
	PREFETCHT0 64(R9)(R15*1)
	PREFETCHT0 128(R9)(R15*1)
	PREFETCHT0 192(R9)(R15*1)
	VBROADCASTSS (R8), Z28
	VBROADCASTSS 4(R8), Z29
	VFMADD231PS (BX), Z28, Z0
	VFMADD231PS 64(BX), Z28, Z1
	VFMADD231PS 128(BX), Z28, Z2
	VFMADD231PS 192(BX), Z28, Z3
	VFMADD231PS (R9), Z29, Z4
	VFMADD231PS 64(R9), Z29, Z5
	VFMADD231PS 128(R9), Z29, Z6
	VFMADD231PS 192(R9), Z29, Z7
	ADDQ $8, R8
	LEAQ (BX)(DX*2), BX
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  arf32pair

arf32last:
	TESTQ CX, CX
	JZ   arf32sum
	VBROADCASTSS (R8), Z28
	VFMADD231PS (BX), Z28, Z0
	VFMADD231PS 64(BX), Z28, Z1
	VFMADD231PS 128(BX), Z28, Z2
	VFMADD231PS 192(BX), Z28, Z3

arf32sum:
	VADDPS Z4, Z0, Z0
	VADDPS Z5, Z1, Z1
	VADDPS Z6, Z2, Z2
	VADDPS Z7, Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, R10
	JNZ  arf32chunk
	VZEROUPPER
	RET

// func axpyRowsF16AVX512(e *float32, rows *uint16, stride int, n int, acc *float32, d int)
//
// axpyRowsF32AVX512 for f16 rows.
TEXT ·axpyRowsF16AVX512(SB), NOSPLIT, $0-48
	MOVQ rows+8(FP), SI
	MOVQ stride+16(FP), DX
	MOVQ acc+32(FP), DI
	MOVQ d+40(FP), R10
	MOVQ DX, R15
	SHLQ $ROWSAHEAD, R15

arf16chunk:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	MOVQ e+0(FP), R8
	MOVQ n+24(FP), CX
	MOVQ SI, BX
	CMPQ CX, $2
	JLT  arf16last

arf16pair:
	LEAQ (BX)(DX*1), R9
	PREFETCHT0 (BX)(R15*1)
	PREFETCHT0 64(BX)(R15*1)
	PREFETCHT0 (R9)(R15*1)
	PREFETCHT0 64(R9)(R15*1)
	VBROADCASTSS (R8), Z28
	VBROADCASTSS 4(R8), Z29
	VCVTPH2PS (BX), Z8
	VCVTPH2PS 32(BX), Z9
	VCVTPH2PS 64(BX), Z10
	VCVTPH2PS 96(BX), Z11
	VCVTPH2PS (R9), Z12
	VCVTPH2PS 32(R9), Z13
	VCVTPH2PS 64(R9), Z14
	VCVTPH2PS 96(R9), Z15
	VFMADD231PS Z8, Z28, Z0
	VFMADD231PS Z9, Z28, Z1
	VFMADD231PS Z10, Z28, Z2
	VFMADD231PS Z11, Z28, Z3
	VFMADD231PS Z12, Z29, Z4
	VFMADD231PS Z13, Z29, Z5
	VFMADD231PS Z14, Z29, Z6
	VFMADD231PS Z15, Z29, Z7
	ADDQ $8, R8
	LEAQ (BX)(DX*2), BX
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  arf16pair

arf16last:
	TESTQ CX, CX
	JZ   arf16sum
	VBROADCASTSS (R8), Z28
	VCVTPH2PS (BX), Z8
	VCVTPH2PS 32(BX), Z9
	VCVTPH2PS 64(BX), Z10
	VCVTPH2PS 96(BX), Z11
	VFMADD231PS Z8, Z28, Z0
	VFMADD231PS Z9, Z28, Z1
	VFMADD231PS Z10, Z28, Z2
	VFMADD231PS Z11, Z28, Z3

arf16sum:
	VADDPS Z4, Z0, Z0
	VADDPS Z5, Z1, Z1
	VADDPS Z6, Z2, Z2
	VADDPS Z7, Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $128, SI
	SUBQ $64, R10
	JNZ  arf16chunk
	VZEROUPPER
	RET
