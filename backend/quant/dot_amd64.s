//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// AVX2+FMA+F16C dot products. Every kernel keeps four 8-lane float32
// accumulators (Y0..Y3) and reduces them once at the end, so the sums are
// rounded differently from the Go code but are no less accurate. Element
// counts are whole groups of 8 (or whole blocks) and greater than zero; the
// Go wrappers in arch_amd64.go handle the rest.

// func dotF32AVX2(a unsafe.Pointer, b *float32, n int) float32
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JLT f32tail

f32loop:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  f32loop

f32tail:
	TESTQ CX, CX
	JZ    f32done
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  f32tail

f32done:
	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// func dotF16AVX2(w unsafe.Pointer, x *float32, n int) float32
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JLT f16tail

f16loop:
	VCVTPH2PS (SI), Y4
	VCVTPH2PS 16(SI), Y5
	VCVTPH2PS 32(SI), Y6
	VCVTPH2PS 48(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  f16loop

f16tail:
	TESTQ CX, CX
	JZ    f16done
	VCVTPH2PS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  f16tail

f16done:
	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// BF16LOAD widens the 8 bfloat16 values at off(SI) to float32 in y.
#define BF16LOAD(off, y) \
	VPMOVZXWD (off)(SI), y \
	VPSLLD $16, y, y

// func dotBF16AVX2(w unsafe.Pointer, x *float32, n int) float32
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ w+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JLT bf16tail

bf16loop:
	BF16LOAD(0, Y4)
	BF16LOAD(16, Y5)
	BF16LOAD(32, Y6)
	BF16LOAD(48, Y7)
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  bf16loop

bf16tail:
	TESTQ CX, CX
	JZ    bf16done
	BF16LOAD(0, Y4)
	VFMADD231PS (DI), Y4, Y0
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bf16tail

bf16done:
	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// func dot4F32AVX2(x, w0, w1, w2, w3 *float32, n int, out *[4]float32)
//
// One 8-lane accumulator per row (Y0..Y3), summed in element order and
// reduced as dot2x4F32AVX2 reduces each of its rows: a row gets the same
// bits from either kernel, so a matmul of one x row (GEMV, this kernel)
// and of many (GEMM, dot2x4F32AVX2 and this one for an odd row) agree
// bit for bit, and a sequence decoded in a batch gets what it gets alone.
TEXT ·dot4F32AVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ w0+8(FP), R8
	MOVQ w1+16(FP), R9
	MOVQ w2+24(FP), R10
	MOVQ w3+32(FP), R11
	MOVQ n+40(FP), CX
	XORQ AX, AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $16
	JLT  d4tail

d4loop:
	VMOVUPS (SI)(AX*1), Y8
	VMOVUPS 32(SI)(AX*1), Y9
	VFMADD231PS (R8)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y3
	VFMADD231PS 32(R8)(AX*1), Y9, Y0
	VFMADD231PS 32(R9)(AX*1), Y9, Y1
	VFMADD231PS 32(R10)(AX*1), Y9, Y2
	VFMADD231PS 32(R11)(AX*1), Y9, Y3
	ADDQ $64, AX
	SUBQ $16, CX
	CMPQ CX, $16
	JGE  d4loop

d4tail:
	TESTQ CX, CX
	JZ    d4done
	VMOVUPS (SI)(AX*1), Y8
	VFMADD231PS (R8)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y3

d4done:
	VEXTRACTF128 $1, Y0, X4
	VEXTRACTF128 $1, Y1, X5
	VEXTRACTF128 $1, Y2, X6
	VEXTRACTF128 $1, Y3, X7
	VADDPS X4, X0, X0
	VADDPS X5, X1, X1
	VADDPS X6, X2, X2
	VADDPS X7, X3, X3
	VHADDPS X1, X0, X0
	VHADDPS X3, X2, X2
	VHADDPS X2, X0, X0
	MOVQ out+48(FP), DI
	VMOVUPS X0, (DI)
	VZEROUPPER
	RET

// Q8DOT adds d*(q·x) for the Q8_0 block at boff(SI) and the 32 floats at
// xoff(DI) to the accumulator acc. It uses Y4..Y8.
#define Q8DOT(boff, xoff, acc) \
	F16BCAST(boff, X8, Y8) \
	VPMOVSXBD ((boff)+2)(SI), Y4 \
	VPMOVSXBD ((boff)+10)(SI), Y5 \
	VPMOVSXBD ((boff)+18)(SI), Y6 \
	VPMOVSXBD ((boff)+26)(SI), Y7 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7 \
	VMULPS (xoff)(DI), Y4, Y4 \
	VMULPS ((xoff)+32)(DI), Y5, Y5 \
	VFMADD231PS ((xoff)+64)(DI), Y6, Y4 \
	VFMADD231PS ((xoff)+96)(DI), Y7, Y5 \
	VADDPS Y5, Y4, Y4 \
	VFMADD231PS Y4, Y8, acc

// func dotQ8_0AVX2(row *byte, x *float32, nb int) float32
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-28
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $2
	JLT  q8tail

q8loop:
	Q8DOT(0, 0, Y0)
	Q8DOT(34, 128, Y1)
	ADDQ $68, SI
	ADDQ $256, DI
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q8loop

q8tail:
	TESTQ CX, CX
	JZ    q8done
	Q8DOT(0, 0, Y2)

q8done:
	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// Q4DOT adds d*((q-8)·x) for the Q4_0 block at boff(SI) and the 32 floats at
// xoff(DI) to the accumulator acc. Y15 must hold 0x0f and Y14 8 in every
// dword. It uses Y4..Y8.
#define Q4DOT(boff, xoff, acc) \
	F16BCAST(boff, X8, Y8) \
	VPMOVZXBD ((boff)+2)(SI), Y4 \
	VPMOVZXBD ((boff)+10)(SI), Y5 \
	VPSRLD $4, Y4, Y6 \
	VPSRLD $4, Y5, Y7 \
	VPAND Y15, Y4, Y4 \
	VPAND Y15, Y5, Y5 \
	VPSUBD Y14, Y4, Y4 \
	VPSUBD Y14, Y5, Y5 \
	VPSUBD Y14, Y6, Y6 \
	VPSUBD Y14, Y7, Y7 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VCVTDQ2PS Y6, Y6 \
	VCVTDQ2PS Y7, Y7 \
	VMULPS (xoff)(DI), Y4, Y4 \
	VMULPS ((xoff)+32)(DI), Y5, Y5 \
	VFMADD231PS ((xoff)+64)(DI), Y6, Y4 \
	VFMADD231PS ((xoff)+96)(DI), Y7, Y5 \
	VADDPS Y5, Y4, Y4 \
	VFMADD231PS Y4, Y8, acc

// func dotQ4_0AVX2(row *byte, x *float32, nb int) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-28
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	BCAST32(0x0f, X15, Y15)
	BCAST32(8, X14, Y14)
	CMPQ CX, $2
	JLT  q4tail

q4loop:
	Q4DOT(0, 0, Y0)
	Q4DOT(18, 128, Y1)
	ADDQ $36, SI
	ADDQ $256, DI
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q4loop

q4tail:
	TESTQ CX, CX
	JZ    q4done
	Q4DOT(0, 0, Y2)

q4done:
	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// Q4K_GROUP handles 8 bytes of Q4_K quants at qoff(SI): their low nibbles
// are elements xoff(DI) of sub-block 2c (scale Y12, min Y14), their high
// nibbles elements xoff+128(DI) of sub-block 2c+1 (scale Y13, min Y15).
// Each weight is formed as sc*q - m with one rounding and multiplied into
// accA and accB. Y8 must hold 0x0f in every dword; it uses Y4 and Y5.
#define Q4K_GROUP(qoff, xoff, accA, accB) \
	VPMOVZXBD (qoff)(SI), Y4 \
	VPSRLD $4, Y4, Y5 \
	VPAND Y8, Y4, Y4 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VFMSUB213PS Y14, Y12, Y4 \
	VFMSUB213PS Y15, Y13, Y5 \
	VFMADD231PS (xoff)(DI), Y4, accA \
	VFMADD231PS ((xoff)+128)(DI), Y5, accB

// Q4K_CHUNK handles the 64 elements of chunk c (sub-blocks 2c and 2c+1) of
// the Q4_K super-block at SI, whose scales Q4K_SCALES has stored.
#define Q4K_CHUNK(c) \
	VBROADCASTSS (8*(c))(SP), Y12 \
	VBROADCASTSS (8*(c)+4)(SP), Y13 \
	VBROADCASTSS (32+8*(c))(SP), Y14 \
	VBROADCASTSS (36+8*(c))(SP), Y15 \
	Q4K_GROUP(16+32*(c), 256*(c), Y0, Y1) \
	Q4K_GROUP(24+32*(c), 256*(c)+32, Y2, Y3) \
	Q4K_GROUP(32+32*(c), 256*(c)+64, Y0, Y1) \
	Q4K_GROUP(40+32*(c), 256*(c)+96, Y2, Y3)

// func dotQ4KAVX2(row *byte, x *float32, nb int) float32
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $64-28
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	BCAST32(0x0f, X8, Y8)

q4kloop:
	Q4K_SCALES
	Q4K_CHUNK(0)
	Q4K_CHUNK(1)
	Q4K_CHUNK(2)
	Q4K_CHUNK(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  q4kloop

	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// Q6K_DOT8 multiplies the 8 quants at qoff(SP) (bytes from Q6K_BYTES) by
// the scale in sc and the 8 floats at xoff(DI) into acc. It uses Y4.
#define Q6K_DOT8(qoff, sc, xoff, acc) \
	VPMOVSXBD (qoff)(SP), Y4 \
	VCVTDQ2PS Y4, Y4 \
	VMULPS sc, Y4, Y4 \
	VFMADD231PS (xoff)(DI), Y4, acc

// Q6K_DOTK handles the 32 elements 32k..32k+31 of half h, whose quants
// Q6K_BYTES left at 64+32k(SP); they span two 16-element sub-blocks.
#define Q6K_DOTK(h, k) \
	VBROADCASTSS (32*(h)+8*(k))(SP), Y12 \
	VBROADCASTSS (32*(h)+8*(k)+4)(SP), Y13 \
	Q6K_DOT8(64+32*(k), Y12, 512*(h)+128*(k), Y0) \
	Q6K_DOT8(72+32*(k), Y12, 512*(h)+128*(k)+32, Y1) \
	Q6K_DOT8(80+32*(k), Y13, 512*(h)+128*(k)+64, Y2) \
	Q6K_DOT8(88+32*(k), Y13, 512*(h)+128*(k)+96, Y3)

// Q6K_DOTHALF handles the 128 elements of half h.
#define Q6K_DOTHALF(h) \
	Q6K_BYTES(h) \
	Q6K_DOTK(h, 0) \
	Q6K_DOTK(h, 1) \
	Q6K_DOTK(h, 2) \
	Q6K_DOTK(h, 3)

// func dotQ6KAVX2(row *byte, x *float32, nb int) float32
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $192-28
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ nb+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	BCAST32(0x0f0f0f0f, X8, Y8)
	BCAST32(0x30303030, X9, Y9)
	BCAST32(0x20202020, X10, Y10)

q6kloop:
	Q6K_SCALES
	Q6K_DOTHALF(0)
	Q6K_DOTHALF(1)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  q6kloop

	REDUCE4
	MOVSS X0, ret+24(FP)
	RET

// func dot2x4F32AVX2(x0, x1, w *float32, stride, n int, out *[8]float32)
//
// out[q] = x0·w_q and out[4+q] = x1·w_q over n elements, where w_q is the
// row of w that starts stride floats after w_{q-1}. Each w and x vector is
// loaded once per step and used for four or two FMAs, so the loop is bound
// by the FMA units rather than by loads.
TEXT ·dot2x4F32AVX2(SB), NOSPLIT, $0-48
	MOVQ x0+0(FP), SI
	MOVQ x1+8(FP), DX
	MOVQ w+16(FP), R8
	MOVQ stride+24(FP), BX
	SHLQ $2, BX
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	MOVQ n+32(FP), CX
	XORQ AX, AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

d24loop:
	VMOVUPS (R8)(AX*1), Y8
	VMOVUPS (R9)(AX*1), Y9
	VMOVUPS (R10)(AX*1), Y10
	VMOVUPS (R11)(AX*1), Y11
	VMOVUPS (SI)(AX*1), Y12
	VMOVUPS (DX)(AX*1), Y13
	VFMADD231PS Y8, Y12, Y0
	VFMADD231PS Y9, Y12, Y1
	VFMADD231PS Y10, Y12, Y2
	VFMADD231PS Y11, Y12, Y3
	VFMADD231PS Y8, Y13, Y4
	VFMADD231PS Y9, Y13, Y5
	VFMADD231PS Y10, Y13, Y6
	VFMADD231PS Y11, Y13, Y7
	ADDQ $32, AX
	SUBQ $8, CX
	JNZ  d24loop

	VEXTRACTF128 $1, Y0, X8
	VEXTRACTF128 $1, Y1, X9
	VEXTRACTF128 $1, Y2, X10
	VEXTRACTF128 $1, Y3, X11
	VADDPS X8, X0, X0
	VADDPS X9, X1, X1
	VADDPS X10, X2, X2
	VADDPS X11, X3, X3
	VEXTRACTF128 $1, Y4, X8
	VEXTRACTF128 $1, Y5, X9
	VEXTRACTF128 $1, Y6, X10
	VEXTRACTF128 $1, Y7, X11
	VADDPS X8, X4, X4
	VADDPS X9, X5, X5
	VADDPS X10, X6, X6
	VADDPS X11, X7, X7
	VHADDPS X1, X0, X0
	VHADDPS X3, X2, X2
	VHADDPS X2, X0, X0
	VHADDPS X5, X4, X4
	VHADDPS X7, X6, X6
	VHADDPS X6, X4, X4
	MOVQ out+40(FP), DI
	VMOVUPS X0, (DI)
	VMOVUPS X4, 16(DI)
	VZEROUPPER
	RET
