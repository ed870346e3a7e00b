//go:build amd64 && !purego

#include "textflag.h"

// Packed-weight kernels (AVX-512 F/BW + VNNI), see packed.go: groups of
// 16 weight rows whose quants, widened to words, put two quants of row r
// in int32 lane r; each VPDPWSSD takes a pair of the x row's int16
// activations broadcast from memory, so a block of 32 elements is 16 of
// them per x row, whose lanes are the 16 rows' exact block sums. Those
// become floats and are multiplied by the 16 rows' block scales into the
// x row's accumulator, kept in units of its current super-block's scale
// (rescaled by the ratio when a super-block begins, multiplied by the
// last scale at the end). The int32 sums of a block may be split over
// several chains (registers) to hide the VPDPWSSD latency when there are
// few x rows; integer sums are exact, so every kernel gives every lane
// the same bits.
//
// func gemmPacked<T>x<N>AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)
//
// out[i*ldo + 16g + r] = x row i · row r of group g, for the N x rows at
// qs + i*stride (their rs entries rsoff bytes further) and the groups
// groups of nb blocks at w.
//
// Registers: SI weights; R8 and R9 = R8 + 4*stride the x rows' quants of
// the current block; CX and R10 their rs entries of the current
// super-block; AX stride, BX 3*stride; DX out, R11 ldo in bytes, R12
// 3*ldo bytes; R13 groups left, R14 blocks left, R15 blocks left in the
// super-block. Z0..Z7 accumulators (floats, one per x row), Z8..Z15 int32
// chains, Z16..Z23 one half block of weights, Z24 the block's scales,
// Z29 and Z30 the Q4_0 constants.

// 0x000f and 0x0008 in every word.
DATA pkMask<>+0(SB)/2, $0x000f
GLOBL pkMask<>(SB), RODATA|NOPTR, $2
DATA pkEight<>+0(SB)/2, $0x0008
GLOBL pkEight<>(SB), RODATA|NOPTR, $2

// PKAHEAD is how far ahead of the block being multiplied the kernels
// prefetch the weight stream.
#define PKAHEAD 12288

#define PK_ARGS \
	MOVQ out+0(FP), DX \
	MOVQ ldo+8(FP), R11 \
	SHLQ $2, R11 \
	LEAQ (R11)(R11*2), R12 \
	MOVQ stride+24(FP), AX \
	LEAQ (AX)(AX*2), BX \
	MOVQ w+40(FP), SI \
	MOVQ groups+48(FP), R13 \
	VPBROADCASTW pkMask<>(SB), Z29 \
	VPBROADCASTW pkEight<>(SB), Z30 \
	PK_WARM

// PK_WARM prefetches the first PKAHEAD bytes of weights, which the blocks'
// prefetches (PKAHEAD ahead of each) do not cover: a call that starts
// cold would wait on memory for each of them in turn.
#define PK_WARM \
	MOVQ SI, DI \
	MOVQ $(PKAHEAD/64), R15 \
pkwarm: \
	PREFETCHT0 (DI) \
	ADDQ $64, DI \
	DECQ R15 \
	JNZ  pkwarm

// PK_GROUP starts a group: the x rows' first block and super-block.
#define PK_GROUP \
	MOVQ qs+16(FP), R8 \
	LEAQ (R8)(AX*4), R9 \
	MOVQ rsoff+32(FP), CX \
	ADDQ R8, CX \
	LEAQ (CX)(AX*4), R10 \
	MOVQ nb+56(FP), R14

// PK_SUPER counts the blocks of the super-block that begins (R15).
#define PK_SUPER \
	MOVQ $8, R15 \
	CMPQ R14, R15 \
	CMOVQLT R14, R15 \
	SUBQ R15, R14

// PK_NEXT moves on by one block of rec bytes of weights and loops to
// label block while the super-block has blocks, then to label super
// while the row has super-blocks.
#define PK_NEXT(rec, block, super) \
	ADDQ $(rec), SI \
	ADDQ $64, R8 \
	ADDQ $64, R9 \
	DECQ R15 \
	JNZ  block \
	ADDQ $8, CX \
	ADDQ $8, R10 \
	TESTQ R14, R14 \
	JNZ  super

// BLOCK_Q8_0 multiplies one Q8_0 block of the group (at SI) by the x
// rows: P0..P3(x offset, weight register) add one weight register's
// products into the chains, taken in turn.
#define BLOCK_Q8_0(ptr, S, W0, W1, W2, W3, W4, W5, W6, W7, P0, P1, P2, P3) \
	PREFETCHT0 (PKAHEAD)(ptr) \
	PREFETCHT0 (PKAHEAD+64)(ptr) \
	PREFETCHT0 (PKAHEAD+128)(ptr) \
	PREFETCHT0 (PKAHEAD+192)(ptr) \
	PREFETCHT0 (PKAHEAD+256)(ptr) \
	PREFETCHT0 (PKAHEAD+320)(ptr) \
	PREFETCHT0 (PKAHEAD+384)(ptr) \
	PREFETCHT0 (PKAHEAD+448)(ptr) \
	PREFETCHT0 (PKAHEAD+512)(ptr) \
	VCVTPH2PS (ptr), S \
	VPMOVSXBW 32(ptr), W0 \
	VPMOVSXBW 64(ptr), W1 \
	VPMOVSXBW 96(ptr), W2 \
	VPMOVSXBW 128(ptr), W3 \
	VPMOVSXBW 160(ptr), W4 \
	VPMOVSXBW 192(ptr), W5 \
	VPMOVSXBW 224(ptr), W6 \
	VPMOVSXBW 256(ptr), W7 \
	P0(0, W0) \
	P1(4, W1) \
	P2(8, W2) \
	P3(12, W3) \
	P0(16, W4) \
	P1(20, W5) \
	P2(24, W6) \
	P3(28, W7) \
	VPMOVSXBW 288(ptr), W0 \
	VPMOVSXBW 320(ptr), W1 \
	VPMOVSXBW 352(ptr), W2 \
	VPMOVSXBW 384(ptr), W3 \
	VPMOVSXBW 416(ptr), W4 \
	VPMOVSXBW 448(ptr), W5 \
	VPMOVSXBW 480(ptr), W6 \
	VPMOVSXBW 512(ptr), W7 \
	P0(32, W0) \
	P1(36, W1) \
	P2(40, W2) \
	P3(44, W3) \
	P0(48, W4) \
	P1(52, W5) \
	P2(56, W6) \
	P3(60, W7)

// Q4W unpacks the Q4_0 chunk at off(ptr) into lo (its low nibbles minus
// 8: elements 2c, 2c+1) and hi (its high nibbles minus 8: 2c+16, 2c+17).
#define Q4W(ptr, off, lo, hi) \
	VPMOVZXBW (off)(ptr), lo \
	VPSRLW $4, lo, hi \
	VPANDD Z29, lo, lo \
	VPSUBW Z30, lo, lo \
	VPSUBW Z30, hi, hi

// BLOCK_Q4_0 is BLOCK_Q8_0 for a Q4_0 block.
#define BLOCK_Q4_0(ptr, S, W0, W1, W2, W3, W4, W5, W6, W7, P0, P1, P2, P3) \
	PREFETCHT0 (PKAHEAD)(ptr) \
	PREFETCHT0 (PKAHEAD+64)(ptr) \
	PREFETCHT0 (PKAHEAD+128)(ptr) \
	PREFETCHT0 (PKAHEAD+192)(ptr) \
	PREFETCHT0 (PKAHEAD+256)(ptr) \
	VCVTPH2PS (ptr), S \
	Q4W(ptr, 32, W0, W1) \
	Q4W(ptr, 64, W2, W3) \
	Q4W(ptr, 96, W4, W5) \
	Q4W(ptr, 128, W6, W7) \
	P0(0, W0) \
	P1(32, W1) \
	P2(4, W2) \
	P3(36, W3) \
	P0(8, W4) \
	P1(40, W5) \
	P2(12, W6) \
	P3(44, W7) \
	Q4W(ptr, 160, W0, W1) \
	Q4W(ptr, 192, W2, W3) \
	Q4W(ptr, 224, W4, W5) \
	Q4W(ptr, 256, W6, W7) \
	P0(16, W0) \
	P1(48, W1) \
	P2(20, W2) \
	P3(52, W3) \
	P0(24, W4) \
	P1(56, W5) \
	P2(28, W6) \
	P3(60, W7)

// Products of one weight register (W) with the x rows' pairs at byte
// offset xo of the current block: P8 for eight x rows (one chain each),
// P4A/P4B for four (two chains each), P2_0..P2_3 for two (four chains
// each), P1_0..P1_3 for one (four chains).
#define PROD4(xo, W, x, a0, a1, a2, a3) \
	VPDPWSSD.BCST (xo)(x), W, a0 \
	VPDPWSSD.BCST (xo)(x)(AX*1), W, a1 \
	VPDPWSSD.BCST (xo)(x)(AX*2), W, a2 \
	VPDPWSSD.BCST (xo)(x)(BX*1), W, a3

#define PROD2(xo, W, a0, a1) \
	VPDPWSSD.BCST (xo)(R8), W, a0 \
	VPDPWSSD.BCST (xo)(R8)(AX*1), W, a1

#define P8(xo, W) \
	PROD4(xo, W, R8, Z8, Z9, Z10, Z11) \
	PROD4(xo, W, R9, Z12, Z13, Z14, Z15)

#define P4A(xo, W) PROD4(xo, W, R8, Z8, Z9, Z10, Z11)
#define P4B(xo, W) PROD4(xo, W, R8, Z12, Z13, Z14, Z15)
#define P2_0(xo, W) PROD2(xo, W, Z8, Z9)
#define P2_1(xo, W) PROD2(xo, W, Z10, Z11)
#define P2_2(xo, W) PROD2(xo, W, Z12, Z13)
#define P2_3(xo, W) PROD2(xo, W, Z14, Z15)

#define P1_0(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z8
#define P1_1(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z9
#define P1_2(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z10
#define P1_3(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z11

// PB_0..PB_3: one x row's four chains of a second weight stream.
#define PB_0(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z12
#define PB_1(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z13
#define PB_2(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z14
#define PB_3(xo, W) VPDPWSSD.BCST (xo)(R8), W, Z15

// ACC adds the int32 sums of chain c, as floats times the block scales,
// into accumulator a, and clears the chain.
#define ACC(c, a) ACCS(c, a, Z24)

// ACCS is ACC with the block scales in S.
#define ACCS(c, a, S) \
	VCVTDQ2PS c, c \
	VFMADD231PS S, c, a \
	VPXORD c, c, c

// The end of a block for each x-row count: the chains of a row added,
// then ACC.
#define END8 \
	ACC(Z8, Z0) \
	ACC(Z9, Z1) \
	ACC(Z10, Z2) \
	ACC(Z11, Z3) \
	ACC(Z12, Z4) \
	ACC(Z13, Z5) \
	ACC(Z14, Z6) \
	ACC(Z15, Z7)

#define END4 \
	VPADDD Z12, Z8, Z8 \
	VPADDD Z13, Z9, Z9 \
	VPADDD Z14, Z10, Z10 \
	VPADDD Z15, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	ACC(Z8, Z0) \
	ACC(Z9, Z1) \
	ACC(Z10, Z2) \
	ACC(Z11, Z3)

#define END2 \
	VPADDD Z10, Z8, Z8 \
	VPADDD Z14, Z12, Z12 \
	VPADDD Z12, Z8, Z8 \
	VPADDD Z11, Z9, Z9 \
	VPADDD Z15, Z13, Z13 \
	VPADDD Z13, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	ACC(Z8, Z0) \
	ACC(Z9, Z1)

#define END1 \
	VPADDD Z9, Z8, Z8 \
	VPADDD Z11, Z10, Z10 \
	VPADDD Z10, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	ACC(Z8, Z0)

// END1B ends a block of the second weight stream (chains Z12..Z15, scales
// Z27, accumulator Z1).
#define END1B \
	VPADDD Z13, Z12, Z12 \
	VPADDD Z15, Z14, Z14 \
	VPADDD Z14, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	ACCS(Z12, Z1, Z27)

// Rescale by the ratio at the start of a super-block (off 0) or scale by
// the last e (off -4, CX past the last entry), N x rows.
#define SCALEX4(off, r, a0, a1, a2, a3) \
	VMULPS.BCST (off)(r), a0, a0 \
	VMULPS.BCST (off)(r)(AX*1), a1, a1 \
	VMULPS.BCST (off)(r)(AX*2), a2, a2 \
	VMULPS.BCST (off)(r)(BX*1), a3, a3

#define SCALE8(off) \
	SCALEX4(off, CX, Z0, Z1, Z2, Z3) \
	SCALEX4(off, R10, Z4, Z5, Z6, Z7)

#define SCALE4(off) SCALEX4(off, CX, Z0, Z1, Z2, Z3)

#define SCALE2(off) \
	VMULPS.BCST (off)(CX), Z0, Z0 \
	VMULPS.BCST (off)(CX)(AX*1), Z1, Z1

#define SCALE1(off) \
	VMULPS.BCST (off)(CX), Z0, Z0

// Stores of the N rows' 16 results, then DX on to the next group.
#define STORE8 \
	VMOVUPS Z0, (DX) \
	VMOVUPS Z1, (DX)(R11*1) \
	VMOVUPS Z2, (DX)(R11*2) \
	VMOVUPS Z3, (DX)(R12*1) \
	LEAQ (DX)(R11*4), DI \
	VMOVUPS Z4, (DI) \
	VMOVUPS Z5, (DI)(R11*1) \
	VMOVUPS Z6, (DI)(R11*2) \
	VMOVUPS Z7, (DI)(R12*1) \
	ADDQ $64, DX

#define STORE4 \
	VMOVUPS Z0, (DX) \
	VMOVUPS Z1, (DX)(R11*1) \
	VMOVUPS Z2, (DX)(R11*2) \
	VMOVUPS Z3, (DX)(R12*1) \
	ADDQ $64, DX

#define STORE2 \
	VMOVUPS Z0, (DX) \
	VMOVUPS Z1, (DX)(R11*1) \
	ADDQ $64, DX

#define STORE1 \
	VMOVUPS Z0, (DX) \
	ADDQ $64, DX

// CLEAR zeroes the accumulators and chains.
#define CLEAR \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15

// PK_BODY is the body of a packed kernel for N x rows: BLOCK the type's
// block (BLOCK_Q8_0 or BLOCK_Q4_0, rec bytes a group's block), PA..PD the
// products that feed the chains in turn, END, SCALE and STORE the x-row
// count's macros.
#define PK_BODY(BLOCK, PA, PB, PC, PD, END, SCALE, STORE, rec) \
	PK_ARGS \
pkgroup: \
	PK_GROUP \
	CLEAR \
pksuper: \
	SCALE(0) \
	PK_SUPER \
pkblock: \
	BLOCK(SI, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, PA, PB, PC, PD) \
	END \
	PK_NEXT(rec, pkblock, pksuper) \
	SCALE(-4) \
	STORE \
	DECQ R13 \
	JNZ  pkgroup \
	VZEROUPPER \
	RET

// PK2_BODY is the body of a two-stream one-row kernel (see below).
#define PK2_BODY(BLOCK, rec) \
	MOVQ outA+0(FP), DX \
	MOVQ outB+8(FP), R11 \
	MOVQ wA+32(FP), SI \
	MOVQ wB+40(FP), DI \
	MOVQ groups+48(FP), R13 \
	VPBROADCASTW pkMask<>(SB), Z29 \
	VPBROADCASTW pkEight<>(SB), Z30 \
	MOVQ SI, AX \
	MOVQ DI, BX \
	MOVQ $(PKAHEAD/128), R15 \
pk2warm: \
	PREFETCHT0 (AX) \
	PREFETCHT0 (BX) \
	PREFETCHT0 64(AX) \
	PREFETCHT0 64(BX) \
	ADDQ $128, AX \
	ADDQ $128, BX \
	DECQ R15 \
	JNZ  pk2warm \
pk2group: \
	MOVQ qs+16(FP), R8 \
	MOVQ rsoff+24(FP), CX \
	ADDQ R8, CX \
	MOVQ nb+56(FP), R14 \
	CLEAR \
pk2super: \
	VMULPS.BCST (CX), Z0, Z0 \
	VMULPS.BCST (CX), Z1, Z1 \
	PK_SUPER \
pk2block: \
	BLOCK(SI, Z24, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, P1_0, P1_1, P1_2, P1_3) \
	BLOCK(DI, Z27, Z2, Z3, Z4, Z5, Z6, Z7, Z25, Z26, PB_0, PB_1, PB_2, PB_3) \
	END1 \
	END1B \
	ADDQ $(rec), SI \
	ADDQ $(rec), DI \
	ADDQ $64, R8 \
	DECQ R15 \
	JNZ  pk2block \
	ADDQ $8, CX \
	TESTQ R14, R14 \
	JNZ  pk2super \
	VMULPS.BCST -4(CX), Z0, Z0 \
	VMULPS.BCST -4(CX), Z1, Z1 \
	VMOVUPS Z0, (DX) \
	VMOVUPS Z1, (R11) \
	ADDQ $64, DX \
	ADDQ $64, R11 \
	DECQ R13 \
	JNZ  pk2group \
	VZEROUPPER \
	RET

// The kernels: func gemmPacked<T>x<N>AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

TEXT ·gemmPackedQ8_0x8AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q8_0, P8, P8, P8, P8, END8, SCALE8, STORE8, 544)

TEXT ·gemmPackedQ8_0x4AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q8_0, P4A, P4B, P4A, P4B, END4, SCALE4, STORE4, 544)

TEXT ·gemmPackedQ8_0x2AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q8_0, P2_0, P2_1, P2_2, P2_3, END2, SCALE2, STORE2, 544)

TEXT ·gemmPackedQ8_0x1AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q8_0, P1_0, P1_1, P1_2, P1_3, END1, SCALE1, STORE1, 544)

TEXT ·gemmPackedQ4_0x8AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q4_0, P8, P8, P8, P8, END8, SCALE8, STORE8, 288)

TEXT ·gemmPackedQ4_0x4AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q4_0, P4A, P4B, P4A, P4B, END4, SCALE4, STORE4, 288)

TEXT ·gemmPackedQ4_0x2AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q4_0, P2_0, P2_1, P2_2, P2_3, END2, SCALE2, STORE2, 288)

TEXT ·gemmPackedQ4_0x1AVX512(SB), NOSPLIT, $0-64
	PK_BODY(BLOCK_Q4_0, P1_0, P1_1, P1_2, P1_3, END1, SCALE1, STORE1, 288)

// func gemmPacked<T>x1x2AVX512(outA, outB *float32, qs *byte, rsoff int, wA, wB *byte, groups int, nb int)
//
// gemmPacked<T>x1AVX512 on two runs of groups at once (wA into outA, wB
// into outB; groups each) for one x row: a thread streams two places of
// memory, which a core reads faster than one, with each lane's arithmetic
// unchanged. SI and DI stream the weights, DX and R11 the outputs;
// Z0/Z8..Z11 and Z16..Z24 are stream A's, Z1/Z12..Z15 and Z2..Z7,
// Z25..Z27 stream B's.

TEXT ·gemmPackedQ8_0x1x2AVX512(SB), NOSPLIT, $0-64
	PK2_BODY(BLOCK_Q8_0, 544)

TEXT ·gemmPackedQ4_0x1x2AVX512(SB), NOSPLIT, $0-64
	PK2_BODY(BLOCK_Q4_0, 288)

// func quantPackedAVX512(x *float32, nb int, qs *byte, d *float32)
//
// Quantizes nb blocks of 32 floats at x as QuantizePackedAct does, each
// block b with the scale d[b] (positive or NaN): round(x/d) (ties to even)
// as int16 in element order, zeros where d[b] is NaN.
TEXT ·quantPackedAVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ qs+16(FP), DI
	MOVQ d+24(FP), R8
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X28

qpblock:
	VMOVSS (R8), X2
	VUCOMISS X2, X2
	JPS  qpnan
	VDIVSS X2, X28, X4
	VBROADCASTSS X4, Z4
	VMULPS (SI), Z4, Z0
	VMULPS 64(SI), Z4, Z1
	VCVTPS2DQ Z0, Z0
	VCVTPS2DQ Z1, Z1
	VPMOVSDW Z0, Y0
	VPMOVSDW Z1, Y1
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	JMP  qpnext

qpnan:
	VPXOR Y0, Y0, Y0
	VMOVDQU Y0, (DI)
	VMOVDQU Y0, 32(DI)

qpnext:
	ADDQ $128, SI
	ADDQ $4, R8
	ADDQ $64, DI
	DECQ CX
	JNZ  qpblock
	VZEROUPPER
	RET

// 0, 1, ..., 15 as int32: times the row bytes, each lane's row offset.
DATA ·pkLane+0(SB)/8, $0x0000000100000000
DATA ·pkLane+8(SB)/8, $0x0000000300000002
DATA ·pkLane+16(SB)/8, $0x0000000500000004
DATA ·pkLane+24(SB)/8, $0x0000000700000006
DATA ·pkLane+32(SB)/8, $0x0000000900000008
DATA ·pkLane+40(SB)/8, $0x0000000b0000000a
DATA ·pkLane+48(SB)/8, $0x0000000d0000000c
DATA ·pkLane+56(SB)/8, $0x0000000f0000000e
GLOBL ·pkLane(SB), RODATA|NOPTR, $64

// func packAVX512(dst *byte, src *byte, rb int, groups int, nb int, nu int)
//
// Packs groups whole groups of 16 rows (rb bytes each, nb blocks of 2*nu
// bytes) from src into dst as PackWeights does: for each block, the nu
// 16-bit words of the 16 rows' blocks, word c of all rows together (a
// gather of 16 dwords at row stride, narrowed to words). The last word's
// gather reads 2 bytes past a row's block, so the caller keeps at least 2
// bytes after the groups' rows (the next group).
TEXT ·packAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rb+16(FP), DX
	MOVQ groups+24(FP), R13
	// Z1 = [0, rb, 2rb, ..., 15rb] as int32.
	MOVQ DX, AX
	VPBROADCASTD AX, Z2
	VPMULLD ·pkLane(SB), Z2, Z1

pkgroup:
	MOVQ SI, R9 // the group's block b of row 0
	MOVQ nb+32(FP), R14

pkblock:
	MOVQ R9, R8
	MOVQ nu+40(FP), R15

pkword:
	KXNORW K1, K1, K1
	VPXORD Z0, Z0, Z0
	VPGATHERDD (R8)(Z1*1), K1, Z0
	VPMOVDW Z0, Y0
	VMOVDQU Y0, (DI)
	ADDQ $32, DI
	ADDQ $2, R8
	DECQ R15
	JNZ  pkword
	MOVQ nu+40(FP), AX
	LEAQ (R9)(AX*2), R9
	DECQ R14
	JNZ  pkblock
	SHLQ $4, DX
	ADDQ DX, SI
	SHRQ $4, DX
	DECQ R13
	JNZ  pkgroup
	VZEROUPPER
	RET
