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

// CVTF32, CVTPH and CVTBF read the f32, f16 or bf16 values at m (16 or 8
// of them) into the float32 lanes of z: a load, a conversion, or a
// zero-extension and a shift (bf16 is the high half of a float32).
#define CVTPH(m, z) VCVTPH2PS m, z

#define CVTF32(m, z) VMOVUPS m, z

#define CVTBF(m, z) \
	VPMOVZXWD m, z \
	VPSLLD $16, z, z

// DOTROWS_512 is the body of the AVX-512 dot kernels: rows of es-byte
// values (4: f32, 2: f16 or bf16) read into float32 lanes by macro CVT
// (CVTF32, CVTPH or CVTBF), q addressed by the row offset times qs (4/es).
#define DOTROWS_512(CVT, es, qs, inner, outer) \
	MOVQ q+0(FP), R8 \
	MOVQ d+8(FP), CX \
	SHLQ $(es/2), CX \
	MOVQ rows+16(FP), SI \
	MOVQ stride+24(FP), DX \
	MOVQ n+32(FP), R10 \
	MOVQ out+40(FP), R11 \
	MOVQ DX, R15 \
	SHLQ $ROWSAHEAD, R15 \
outer: \
	LEAQ (SI)(DX*1), DI \
	LEAQ (DI)(DX*1), BX \
	LEAQ (BX)(DX*1), R9 \
	LEAQ (SI)(R15*1), R12 \
	LEAQ (DI)(R15*1), R13 \
	LEAQ (BX)(R15*1), R14 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3 \
	XORQ AX, AX \
inner: \
	PREFETCHT0 (R12)(AX*1) \
	PREFETCHT0 (R13)(AX*1) \
	PREFETCHT0 (R14)(AX*1) \
	PREFETCHT0 (R9)(R15*1) \
	VMOVUPS (R8)(AX*qs), Z28 \
	CVT((SI)(AX*1), Z4) \
	CVT((DI)(AX*1), Z5) \
	CVT((BX)(AX*1), Z6) \
	CVT((R9)(AX*1), Z7) \
	VFMADD231PS Z4, Z28, Z0 \
	VFMADD231PS Z5, Z28, Z1 \
	VFMADD231PS Z6, Z28, Z2 \
	VFMADD231PS Z7, Z28, Z3 \
	ADDQ $(16*es), AX \
	CMPQ AX, CX \
	JLT  inner \
	ROWSUM4(Z0, Z1, Z2, Z3, X0, Y0) \
	VMOVUPS X0, (R11) \
	ADDQ $16, R11 \
	LEAQ (R9)(DX*1), SI \
	SUBQ $4, R10 \
	JNZ  outer \
	VZEROUPPER \
	RET

// AXPYROWS_512 is the body of the AVX-512 AXPY kernels: rows of es-byte
// values read into float32 lanes by macro CVT (CVTF32, CVTPH or CVTBF).
#define AXPYROWS_512(CVT, es, chunk, pair, last, sum) \
	MOVQ rows+8(FP), SI \
	MOVQ stride+16(FP), DX \
	MOVQ acc+32(FP), DI \
	MOVQ d+40(FP), R10 \
	MOVQ DX, R15 \
	SHLQ $ROWSAHEAD, R15 \
chunk: \
	VMOVUPS (DI), Z0 \
	VMOVUPS 64(DI), Z1 \
	VMOVUPS 128(DI), Z2 \
	VMOVUPS 192(DI), Z3 \
	VXORPS Z4, Z4, Z4 \
	VXORPS Z5, Z5, Z5 \
	VXORPS Z6, Z6, Z6 \
	VXORPS Z7, Z7, Z7 \
	MOVQ e+0(FP), R8 \
	MOVQ n+24(FP), CX \
	MOVQ SI, BX \
	CMPQ CX, $2 \
	JLT  last \
pair: \
	LEAQ (BX)(DX*1), R9 \
	PREFETCHT0 (BX)(R15*1) \
	PREFETCHT0 (32*es)(BX)(R15*1) \
	PREFETCHT0 (R9)(R15*1) \
	PREFETCHT0 (32*es)(R9)(R15*1) \
	VBROADCASTSS (R8), Z28 \
	VBROADCASTSS 4(R8), Z29 \
	CVT((BX), Z8) \
	CVT((16*es)(BX), Z9) \
	CVT((32*es)(BX), Z10) \
	CVT((48*es)(BX), Z11) \
	CVT((R9), Z12) \
	CVT((16*es)(R9), Z13) \
	CVT((32*es)(R9), Z14) \
	CVT((48*es)(R9), Z15) \
	VFMADD231PS Z8, Z28, Z0 \
	VFMADD231PS Z9, Z28, Z1 \
	VFMADD231PS Z10, Z28, Z2 \
	VFMADD231PS Z11, Z28, Z3 \
	VFMADD231PS Z12, Z29, Z4 \
	VFMADD231PS Z13, Z29, Z5 \
	VFMADD231PS Z14, Z29, Z6 \
	VFMADD231PS Z15, Z29, Z7 \
	ADDQ $8, R8 \
	LEAQ (BX)(DX*2), BX \
	SUBQ $2, CX \
	CMPQ CX, $2 \
	JGE  pair \
last: \
	TESTQ CX, CX \
	JZ   sum \
	VBROADCASTSS (R8), Z28 \
	CVT((BX), Z8) \
	CVT((16*es)(BX), Z9) \
	CVT((32*es)(BX), Z10) \
	CVT((48*es)(BX), Z11) \
	VFMADD231PS Z8, Z28, Z0 \
	VFMADD231PS Z9, Z28, Z1 \
	VFMADD231PS Z10, Z28, Z2 \
	VFMADD231PS Z11, Z28, Z3 \
sum: \
	VADDPS Z4, Z0, Z0 \
	VADDPS Z5, Z1, Z1 \
	VADDPS Z6, Z2, Z2 \
	VADDPS Z7, Z3, Z3 \
	VMOVUPS Z0, (DI) \
	VMOVUPS Z1, 64(DI) \
	VMOVUPS Z2, 128(DI) \
	VMOVUPS Z3, 192(DI) \
	ADDQ $256, DI \
	ADDQ $(64*es), SI \
	SUBQ $64, R10 \
	JNZ  chunk \
	VZEROUPPER \
	RET

// ROWSUM4Y reduces the four ymm accumulators a, b, c, d to the four floats
// [Σa, Σb, Σc, Σd] in xa (the low half of a), using b and c.
#define ROWSUM4Y(a, b, c, d, xa, xb, xc) \
	VHADDPS b, a, a \
	VHADDPS d, c, c \
	VHADDPS c, a, a \
	VEXTRACTF128 $1, a, xb \
	VADDPS xb, xa, xa

// DOTROWS_256 is DOTROWS_512 on AVX2.
#define DOTROWS_256(CVT, es, qs, inner, load, outer) \
	MOVQ q+0(FP), R8 \
	MOVQ d+8(FP), CX \
	SHLQ $(es/2), CX \
	MOVQ rows+16(FP), SI \
	MOVQ stride+24(FP), DX \
	MOVQ n+32(FP), R10 \
	MOVQ out+40(FP), R11 \
	MOVQ DX, R15 \
	SHLQ $ROWSAHEAD, R15 \
outer: \
	LEAQ (SI)(DX*1), DI \
	LEAQ (DI)(DX*1), BX \
	LEAQ (BX)(DX*1), R9 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	XORQ AX, AX \
inner: \
	TESTQ $63, AX \
	JNZ  load \
	LEAQ (SI)(R15*1), R12 \
	PREFETCHT0 (R12)(AX*1) \
	LEAQ (DI)(R15*1), R12 \
	PREFETCHT0 (R12)(AX*1) \
	LEAQ (BX)(R15*1), R12 \
	PREFETCHT0 (R12)(AX*1) \
	LEAQ (R9)(R15*1), R12 \
	PREFETCHT0 (R12)(AX*1) \
load: \
	VMOVUPS (R8)(AX*qs), Y8 \
	CVT((SI)(AX*1), Y4) \
	CVT((DI)(AX*1), Y5) \
	CVT((BX)(AX*1), Y6) \
	CVT((R9)(AX*1), Y7) \
	VFMADD231PS Y4, Y8, Y0 \
	VFMADD231PS Y5, Y8, Y1 \
	VFMADD231PS Y6, Y8, Y2 \
	VFMADD231PS Y7, Y8, Y3 \
	ADDQ $(8*es), AX \
	CMPQ AX, CX \
	JLT  inner \
	ROWSUM4Y(Y0, Y1, Y2, Y3, X0, X1, X2) \
	VMOVUPS X0, (R11) \
	ADDQ $16, R11 \
	LEAQ (R9)(DX*1), SI \
	SUBQ $4, R10 \
	JNZ  outer \
	VZEROUPPER \
	RET

// AXPYROWS_256 is AXPYROWS_512 on AVX2.
#define AXPYROWS_256(CVT, es, chunk, pair, last, sum) \
	MOVQ rows+8(FP), SI \
	MOVQ stride+16(FP), DX \
	MOVQ acc+32(FP), DI \
	MOVQ d+40(FP), R10 \
	MOVQ DX, R15 \
	SHLQ $ROWSAHEAD, R15 \
chunk: \
	VMOVUPS (DI), Y0 \
	VMOVUPS 32(DI), Y1 \
	VMOVUPS 64(DI), Y2 \
	VMOVUPS 96(DI), Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7 \
	MOVQ e+0(FP), R8 \
	MOVQ n+24(FP), CX \
	MOVQ SI, BX \
	CMPQ CX, $2 \
	JLT  last \
pair: \
	LEAQ (BX)(DX*1), R9 \
	PREFETCHT0 (BX)(R15*1) \
	PREFETCHT0 (16*es)(BX)(R15*1) \
	PREFETCHT0 (R9)(R15*1) \
	PREFETCHT0 (16*es)(R9)(R15*1) \
	VBROADCASTSS (R8), Y12 \
	CVT((BX), Y8) \
	CVT((8*es)(BX), Y9) \
	CVT((16*es)(BX), Y10) \
	CVT((24*es)(BX), Y11) \
	VFMADD231PS Y8, Y12, Y0 \
	VFMADD231PS Y9, Y12, Y1 \
	VFMADD231PS Y10, Y12, Y2 \
	VFMADD231PS Y11, Y12, Y3 \
	VBROADCASTSS 4(R8), Y13 \
	CVT((R9), Y8) \
	CVT((8*es)(R9), Y9) \
	CVT((16*es)(R9), Y10) \
	CVT((24*es)(R9), Y11) \
	VFMADD231PS Y8, Y13, Y4 \
	VFMADD231PS Y9, Y13, Y5 \
	VFMADD231PS Y10, Y13, Y6 \
	VFMADD231PS Y11, Y13, Y7 \
	ADDQ $8, R8 \
	LEAQ (BX)(DX*2), BX \
	SUBQ $2, CX \
	CMPQ CX, $2 \
	JGE  pair \
last: \
	TESTQ CX, CX \
	JZ   sum \
	VBROADCASTSS (R8), Y12 \
	CVT((BX), Y8) \
	CVT((8*es)(BX), Y9) \
	CVT((16*es)(BX), Y10) \
	CVT((24*es)(BX), Y11) \
	VFMADD231PS Y8, Y12, Y0 \
	VFMADD231PS Y9, Y12, Y1 \
	VFMADD231PS Y10, Y12, Y2 \
	VFMADD231PS Y11, Y12, Y3 \
sum: \
	VADDPS Y4, Y0, Y0 \
	VADDPS Y5, Y1, Y1 \
	VADDPS Y6, Y2, Y2 \
	VADDPS Y7, Y3, Y3 \
	VMOVUPS Y0, (DI) \
	VMOVUPS Y1, 32(DI) \
	VMOVUPS Y2, 64(DI) \
	VMOVUPS Y3, 96(DI) \
	ADDQ $128, DI \
	ADDQ $(32*es), SI \
	SUBQ $32, R10 \
	JNZ  chunk \
	VZEROUPPER \
	RET

// func dotRowsF32AVX512(q *float32, d int, rows *float32, stride int, n int, out *float32)
//
// out[j] = q·rows[j*stride:][:d] for j < n (a positive multiple of 4); d a
// positive multiple of 16; stride in bytes.
TEXT ·dotRowsF32AVX512(SB), NOSPLIT, $0-48
	DOTROWS_512(CVTF32, 4, 1, innerf32, outerf32)

// func dotRowsF16AVX512(q *float32, d int, rows *uint16, stride int, n int, out *float32)
//
// dotRowsF32AVX512 for f16 rows.
TEXT ·dotRowsF16AVX512(SB), NOSPLIT, $0-48
	DOTROWS_512(CVTPH, 2, 2, innerf, outerf)

// func dotRowsBF16AVX512(q *float32, d int, rows *uint16, stride int, n int, out *float32)
//
// dotRowsF16AVX512 for bf16 rows (each value widened to a float32 by a shift).
TEXT ·dotRowsBF16AVX512(SB), NOSPLIT, $0-48
	DOTROWS_512(CVTBF, 2, 2, innerb, outerb)

// func axpyRowsF32AVX512(e *float32, rows *float32, stride int, n int, acc *float32, d int)
//
// acc[:d] += Σ_j e[j]·rows[j*stride:][:d] for j < n (n > 0), d a positive
// multiple of 64, 64 elements of acc at a time in registers: the even rows
// into acc's registers, the odd rows into a second set (two chains of
// multiply-adds instead of one), added to the first at the end.
TEXT ·axpyRowsF32AVX512(SB), NOSPLIT, $0-48
	AXPYROWS_512(CVTF32, 4, chunkf32, pairf32, lastf32, sumf32)

// func axpyRowsF16AVX512(e *float32, rows *uint16, stride int, n int, acc *float32, d int)
//
// axpyRowsF32AVX512 for f16 rows.
TEXT ·axpyRowsF16AVX512(SB), NOSPLIT, $0-48
	AXPYROWS_512(CVTPH, 2, chunkf, pairf, lastf, sumf)

// func axpyRowsBF16AVX512(e *float32, rows *uint16, stride int, n int, acc *float32, d int)
//
// axpyRowsF16AVX512 for bf16 rows (each value widened to a float32 by a shift).
TEXT ·axpyRowsBF16AVX512(SB), NOSPLIT, $0-48
	AXPYROWS_512(CVTBF, 2, chunkb, pairb, lastb, sumb)

// func dotRowsGroupF16AVX512(q *float32, qstride int, heads int, rows *uint16, stride int, n int, out *float32, ostride int, add bool)
//
// dotRowsF16AVX512 for the query heads of one kv group over a 64-element
// piece of f16 rows (head h's 64 floats of q at q + h*qstride): each block
// of four rows is converted once, into Z4..Z19, for all the heads, and
// each head's four dot products are made exactly as dotRowsF16AVX512
// makes them for 64-element rows, then stored at out + h*ostride (add:
// added to what is there). n a positive multiple of 4; strides in bytes.
TEXT ·dotRowsGroupF16AVX512(SB), NOSPLIT, $0-65
	MOVQ q+0(FP), R8
	MOVQ qstride+8(FP), CX
	MOVQ heads+16(FP), R12
	MOVQ rows+24(FP), SI
	MOVQ stride+32(FP), DX
	MOVQ n+40(FP), R10
	MOVQ out+48(FP), R11
	MOVQ ostride+56(FP), R13
	MOVBQZX add+64(FP), DI
	LEAQ (DX)(DX*2), R9
	MOVQ DX, BX
	SHLQ $ROWSAHEAD, BX

dgkeys:
	PREFETCHT0 (SI)(BX*1)
	PREFETCHT0 64(SI)(BX*1)
	VCVTPH2PS (SI), Z4
	VCVTPH2PS 32(SI), Z5
	VCVTPH2PS 64(SI), Z6
	VCVTPH2PS 96(SI), Z7
	VCVTPH2PS (SI)(DX*1), Z8
	VCVTPH2PS 32(SI)(DX*1), Z9
	VCVTPH2PS 64(SI)(DX*1), Z10
	VCVTPH2PS 96(SI)(DX*1), Z11
	VCVTPH2PS (SI)(DX*2), Z12
	VCVTPH2PS 32(SI)(DX*2), Z13
	VCVTPH2PS 64(SI)(DX*2), Z14
	VCVTPH2PS 96(SI)(DX*2), Z15
	VCVTPH2PS (SI)(R9*1), Z16
	VCVTPH2PS 32(SI)(R9*1), Z17
	VCVTPH2PS 64(SI)(R9*1), Z18
	VCVTPH2PS 96(SI)(R9*1), Z19
	MOVQ R8, R14
	MOVQ R11, R15
	MOVQ R12, AX

dghead:
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VMOVUPS (R14), Z28
	VFMADD231PS Z4, Z28, Z0
	VFMADD231PS Z8, Z28, Z1
	VFMADD231PS Z12, Z28, Z2
	VFMADD231PS Z16, Z28, Z3
	VMOVUPS 64(R14), Z28
	VFMADD231PS Z5, Z28, Z0
	VFMADD231PS Z9, Z28, Z1
	VFMADD231PS Z13, Z28, Z2
	VFMADD231PS Z17, Z28, Z3
	VMOVUPS 128(R14), Z28
	VFMADD231PS Z6, Z28, Z0
	VFMADD231PS Z10, Z28, Z1
	VFMADD231PS Z14, Z28, Z2
	VFMADD231PS Z18, Z28, Z3
	VMOVUPS 192(R14), Z28
	VFMADD231PS Z7, Z28, Z0
	VFMADD231PS Z11, Z28, Z1
	VFMADD231PS Z15, Z28, Z2
	VFMADD231PS Z19, Z28, Z3
	ROWSUM4(Z0, Z1, Z2, Z3, X0, Y0)
	TESTQ DI, DI
	JZ   dgstore
	VADDPS (R15), X0, X0

dgstore:
	VMOVUPS X0, (R15)
	ADDQ CX, R14
	ADDQ R13, R15
	DECQ AX
	JNZ  dghead

	LEAQ (SI)(DX*4), SI
	ADDQ $16, R11
	SUBQ $4, R10
	JNZ  dgkeys
	VZEROUPPER
	RET

// func axpyRowsGroup4F16AVX512(e *float32, estride int, rows *uint16, stride int, n int, acc *float32, astride int)
//
// acc_h[:64] += Σ_j e[h*estride/4 + j]·rows[j*stride:][:64] for four query
// heads h < 4 of one kv group, acc_h at acc + h*astride (strides in bytes;
// n > 0): each 64-element piece of an f16 row is converted once for the
// four heads, whose 16 accumulators stay in registers.
TEXT ·axpyRowsGroup4F16AVX512(SB), NOSPLIT, $0-56
	MOVQ e+0(FP), R8
	MOVQ estride+8(FP), R12
	MOVQ rows+16(FP), SI
	MOVQ stride+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ acc+40(FP), DI
	MOVQ astride+48(FP), AX
	LEAQ (DI)(AX*1), R9
	LEAQ (DI)(AX*2), R10
	LEAQ (R9)(AX*2), R11
	LEAQ (R12)(R12*2), R13
	MOVQ DX, R15
	SHLQ $ROWSAHEAD, R15
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS (R9), Z4
	VMOVUPS 64(R9), Z5
	VMOVUPS 128(R9), Z6
	VMOVUPS 192(R9), Z7
	VMOVUPS (R10), Z8
	VMOVUPS 64(R10), Z9
	VMOVUPS 128(R10), Z10
	VMOVUPS 192(R10), Z11
	VMOVUPS (R11), Z12
	VMOVUPS 64(R11), Z13
	VMOVUPS 128(R11), Z14
	VMOVUPS 192(R11), Z15

ag4row:
	PREFETCHT0 (SI)(R15*1)
	PREFETCHT0 64(SI)(R15*1)
	VCVTPH2PS (SI), Z16
	VCVTPH2PS 32(SI), Z17
	VCVTPH2PS 64(SI), Z18
	VCVTPH2PS 96(SI), Z19
	VBROADCASTSS (R8), Z20
	VBROADCASTSS (R8)(R12*1), Z21
	VBROADCASTSS (R8)(R12*2), Z22
	VBROADCASTSS (R8)(R13*1), Z23
	VFMADD231PS Z16, Z20, Z0
	VFMADD231PS Z17, Z20, Z1
	VFMADD231PS Z18, Z20, Z2
	VFMADD231PS Z19, Z20, Z3
	VFMADD231PS Z16, Z21, Z4
	VFMADD231PS Z17, Z21, Z5
	VFMADD231PS Z18, Z21, Z6
	VFMADD231PS Z19, Z21, Z7
	VFMADD231PS Z16, Z22, Z8
	VFMADD231PS Z17, Z22, Z9
	VFMADD231PS Z18, Z22, Z10
	VFMADD231PS Z19, Z22, Z11
	VFMADD231PS Z16, Z23, Z12
	VFMADD231PS Z17, Z23, Z13
	VFMADD231PS Z18, Z23, Z14
	VFMADD231PS Z19, Z23, Z15
	ADDQ $4, R8
	ADDQ DX, SI
	DECQ CX
	JNZ  ag4row

	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, (R9)
	VMOVUPS Z5, 64(R9)
	VMOVUPS Z6, 128(R9)
	VMOVUPS Z7, 192(R9)
	VMOVUPS Z8, (R10)
	VMOVUPS Z9, 64(R10)
	VMOVUPS Z10, 128(R10)
	VMOVUPS Z11, 192(R10)
	VMOVUPS Z12, (R11)
	VMOVUPS Z13, 64(R11)
	VMOVUPS Z14, 128(R11)
	VMOVUPS Z15, 192(R11)
	VZEROUPPER
	RET

// func dotRowsF32AVX2(q *float32, d int, rows *float32, stride int, n int, out *float32)
//
// dotRowsF32AVX512 on AVX2: d a positive multiple of 8, four rows at a
// time reduced by ROWSUM4Y.
TEXT ·dotRowsF32AVX2(SB), NOSPLIT, $0-48
	DOTROWS_256(CVTF32, 4, 1, innerf32, loadf32, outerf32)

// func dotRowsF16AVX2(q *float32, d int, rows *uint16, stride int, n int, out *float32)
//
// dotRowsF32AVX2 for f16 rows.
TEXT ·dotRowsF16AVX2(SB), NOSPLIT, $0-48
	DOTROWS_256(CVTPH, 2, 2, innerf, loadf, outerf)

// func dotRowsBF16AVX2(q *float32, d int, rows *uint16, stride int, n int, out *float32)
//
// dotRowsF16AVX2 for bf16 rows (each value widened to a float32 by a shift).
TEXT ·dotRowsBF16AVX2(SB), NOSPLIT, $0-48
	DOTROWS_256(CVTBF, 2, 2, innerb, loadb, outerb)

// func axpyRowsF32AVX2(e *float32, rows *float32, stride int, n int, acc *float32, d int)
//
// axpyRowsF32AVX512 on AVX2: d a positive multiple of 32, 32 elements of
// acc at a time, the even rows into acc's registers and the odd rows into
// a second set, added at the end.
TEXT ·axpyRowsF32AVX2(SB), NOSPLIT, $0-48
	AXPYROWS_256(CVTF32, 4, chunkf32, pairf32, lastf32, sumf32)

// func axpyRowsF16AVX2(e *float32, rows *uint16, stride int, n int, acc *float32, d int)
//
// axpyRowsF32AVX2 for f16 rows.
TEXT ·axpyRowsF16AVX2(SB), NOSPLIT, $0-48
	AXPYROWS_256(CVTPH, 2, chunkf, pairf, lastf, sumf)

// func axpyRowsBF16AVX2(e *float32, rows *uint16, stride int, n int, acc *float32, d int)
//
// axpyRowsF16AVX2 for bf16 rows (each value widened to a float32 by a shift).
TEXT ·axpyRowsBF16AVX2(SB), NOSPLIT, $0-48
	AXPYROWS_256(CVTBF, 2, chunkb, pairb, lastb, sumb)
