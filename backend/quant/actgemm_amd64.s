//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// Integer GEMM kernels (AVX-512 F/BW/VL + VNNI): a block of x rows
// quantized by QuantizeAct (each row's buffer `stride` bytes after the
// previous one) against groups of four consecutive weight rows. Per
// 64-byte step of weight quants the x rows' 16-bit activations stay in
// registers while each weight row's quants become signed words (Q4_0:
// nibble XOR 8 is q-8 as a signed nibble, extended by shifts; Q8_0: bytes
// extended by shifts), so no lane corrections are needed; for each pair of
// an x row and a weight row, VPDPWSSD fills 16 int32 lanes (the same
// lanes, with the same exact sums, as the GEMV kernels), converted to
// float and times the weight block's scale, added into the pair's
// accumulator, which is kept in units of the x row's current super-block
// scale: when a super-block begins, the x row's accumulators are
// multiplied by the ratio e_{S-1}/e_S of its activation buffer (CX points
// at the current super-block's entry of rs), and each reduced result by
// the last super-block's e (see act.go). The accumulators are reduced as
// the float32 GEMM's (ROWSUM4): a pair's result does not depend on which
// or how many x rows share its block, and equals the GEMV's.

// The VPERMW word indices of the block scales are act_amd64.s's
// ·permQ4_0 and ·permQ8_0 (the same lanes as the GEMV kernels).

// 0x8888 in every word: XOR makes each nibble n the signed nibble n-8.
DATA xorQ4_0<>+0(SB)/4, $0x88888888
GLOBL xorQ4_0<>(SB), RODATA|NOPTR, $4

// Weight-row pointers: SI, DI, R14, R13 (rows 0..3 of the group, DX =
// row bytes); activations: R8 quants, CX the super-block ratios and
// scales (rs), AX the row stride; R11 out, R12 ldo in bytes; R9 steps
// done, R10 rows left.

#define WROWS \
	LEAQ (SI)(DX*1), DI \
	LEAQ (DI)(DX*1), R14 \
	LEAQ (R14)(DX*1), R13

// The multi-row GEMMs' arguments (out, ldo, qs, rs, stride, w,
// rowBytes, nw, steps, cold) in the registers named at WROWS: GEMM_ARGS
// before the first group of weight rows, GEMM_X at the start of each
// (the x rows' first step), GEMM_NEXT(group) after each, looping to label
// group while rows remain.
#define GEMM_ARGS \
	MOVQ out+0(FP), R11 \
	MOVQ ldo+8(FP), R12 \
	SHLQ $2, R12 \
	MOVQ stride+32(FP), AX \
	MOVQ w+40(FP), SI \
	MOVQ rowBytes+48(FP), DX \
	MOVQ nw+56(FP), R10 \
	WROWS

#define GEMM_X \
	MOVQ qs+16(FP), R8 \
	MOVQ rs+24(FP), CX \
	XORQ R9, R9

#define GEMM_NEXT(group) \
	ADDQ $16, R11 \
	MOVQ R13, SI \
	WROWS \
	SUBQ $4, R10 \
	JNZ  group

// GEMM_STEP moves the four weight rows on by wb bytes and the x rows'
// quants by xb bytes and counts the step (R9): after the last (steps),
// it goes to label done; at the end of a super-block (mask+1 steps), it
// moves CX to the next super-block's entry and goes to label next, which
// rescales the accumulators and loops to label step; otherwise it loops
// to label step.
#define GEMM_STEP(wb, xb, steps, mask, step, next, done) \
	ADDQ $wb, SI \
	ADDQ $wb, DI \
	ADDQ $wb, R14 \
	ADDQ $wb, R13 \
	ADDQ $xb, R8 \
	INCQ R9 \
	CMPQ R9, steps \
	JEQ  done \
	TESTQ $mask, R9 \
	JNZ  step \
	ADDQ $8, CX \
	JMP  next

// RESCALE4 multiplies the four accumulators of an x row by the ratio at
// r (its current super-block's rs entry).
#define RESCALE4(r, a0, a1, a2, a3) \
	VMULPS.BCST r, a0, a0 \
	VMULPS.BCST r, a1, a1 \
	VMULPS.BCST r, a2, a2 \
	VMULPS.BCST r, a3, a3

// ROWOUT reduces the four accumulators of an x row whose rs entry is at r
// (4+r: its last super-block's scale) into xa and stores them at dst.
#define ROWOUT(a0, a1, a2, a3, xa, ya, r, dst) \
	ROWSUM4(a0, a1, a2, a3, xa, ya) \
	VMULPS.BCST 4 r, xa, xa \
	VMOVUPS xa, dst

// STORE2 stores the results of x rows 0 and 1 (accumulators Z0..Z3 and
// Z4..Z7) for the four weight rows.
#define STORE2 \
	ROWOUT(Z0, Z1, Z2, Z3, X0, Y0, (CX), (R11)) \
	ROWOUT(Z4, Z5, Z6, Z7, X4, Y4, (CX)(AX*1), (R11)(R12*1))

// RESCALE2 rescales the accumulators of x rows 0 and 1.
#define RESCALE2 \
	RESCALE4((CX), Z0, Z1, Z2, Z3) \
	RESCALE4((CX)(AX*1), Z4, Z5, Z6, Z7)

// PREFETCH_AHEAD prefetches, for each row of the group, the 128 bytes at
// the same offset of the row eight rows on (two groups ahead). The GEMMs
// do too much work per weight byte for the hardware prefetcher to keep
// ahead of a tile that is not in the cache: 8 x rows times 65536×768
// q8_0 weights from memory ran at 36-50 G multiply-adds/s without it,
// 59-68 with it (87-92 in cache; one thread, Zen 5).
#define PREFETCH_AHEAD(cold, skip) \
	CMPB cold, $0 \
	JEQ  skip \
	PREFETCHT0 (SI)(DX*8) \
	PREFETCHT0 64(SI)(DX*8) \
	PREFETCHT0 (DI)(DX*8) \
	PREFETCHT0 64(DI)(DX*8) \
	PREFETCHT0 (R14)(DX*8) \
	PREFETCHT0 64(R14)(DX*8) \
	PREFETCHT0 (R13)(DX*8) \
	PREFETCHT0 64(R13)(DX*8) \
skip:

// W4_0 unpacks the Q4_0 group (4 blocks) at p into signed words q-8: Z25
// the low nibbles of the even bytes, Z26 of the odd bytes, Z27 the high
// nibbles of the even bytes, Z24 of the odd bytes; Z28 the blocks'
// scales over their lanes.
#define W4_0(p) \
	VMOVDQU64 2(p), X24 \
	VINSERTI32X4 $1, 20(p), Z24, Z24 \
	VINSERTI32X4 $2, 38(p), Z24, Z24 \
	VINSERTI32X4 $3, 56(p), Z24, Z24 \
	VPXORD.BCST xorQ4_0<>(SB), Z24, Z24 \
	VPSLLW $12, Z24, Z25 \
	VPSRAW $12, Z25, Z25 \
	VPSLLW $4, Z24, Z26 \
	VPSRAW $12, Z26, Z26 \
	VPSLLW $8, Z24, Z27 \
	VPSRAW $12, Z27, Z27 \
	VPSRAW $12, Z24, Z24 \
	VPERMW (p), Z31, Z28 \
	VCVTPH2PS Y28, Z28

// P4_0 adds the product of an x row's group (x0..x3: low even, low odd,
// high even, high odd) and the unpacked weight row's into acc.
#define P4_0(x0, x1, x2, x3, acc) \
	VPXORD Z29, Z29, Z29 \
	VPDPWSSD x0, Z25, Z29 \
	VPDPWSSD x1, Z26, Z29 \
	VPDPWSSD x2, Z27, Z29 \
	VPDPWSSD x3, Z24, Z29 \
	VCVTDQ2PS Z29, Z29 \
	VFMADD231PS Z28, Z29, acc

// X4_0 loads x row q's group into x0..x3.
#define X4_0(q0, q1, q2, q3, x0, x1, x2, x3) \
	VMOVDQU64 q0, x0 \
	VMOVDQU64 q1, x1 \
	VMOVDQU64 q2, x2 \
	VMOVDQU64 q3, x3

#define ZERO8 \
	VXORPS Z0, Z0, Z0 \
	VXORPS Z1, Z1, Z1 \
	VXORPS Z2, Z2, Z2 \
	VXORPS Z3, Z3, Z3 \
	VXORPS Z4, Z4, Z4 \
	VXORPS Z5, Z5, Z5 \
	VXORPS Z6, Z6, Z6 \
	VXORPS Z7, Z7, Z7

#define ZERO12 \
	ZERO8 \
	VXORPS Z8, Z8, Z8 \
	VXORPS Z9, Z9, Z9 \
	VXORPS Z10, Z10, Z10 \
	VXORPS Z11, Z11, Z11

// func gemmQ4_0x3AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)
//
// out[i*ldo+j] = x row i · weight row j for i < 3 and j < nw (a positive
// multiple of 4), rows of steps whole Q4_0 groups; cold: prefetch the
// weights (the first block of x rows over them).
TEXT ·gemmQ4_0x3AVX512(SB), NOSPLIT, $0-73
	VMOVDQU64 ·permQ4_0(SB), Z31
	GEMM_ARGS

g40group:
	GEMM_X
	ZERO12

g40step:
	PREFETCH_AHEAD(cold+72(FP), g40fetched)
	X4_0((R8), 64(R8), 128(R8), 192(R8), Z12, Z13, Z14, Z15)
	X4_0((R8)(AX*1), 64(R8)(AX*1), 128(R8)(AX*1), 192(R8)(AX*1), Z16, Z17, Z18, Z19)
	X4_0((R8)(AX*2), 64(R8)(AX*2), 128(R8)(AX*2), 192(R8)(AX*2), Z20, Z21, Z22, Z23)
	W4_0(SI)
	P4_0(Z12, Z13, Z14, Z15, Z0)
	P4_0(Z16, Z17, Z18, Z19, Z4)
	P4_0(Z20, Z21, Z22, Z23, Z8)
	W4_0(DI)
	P4_0(Z12, Z13, Z14, Z15, Z1)
	P4_0(Z16, Z17, Z18, Z19, Z5)
	P4_0(Z20, Z21, Z22, Z23, Z9)
	W4_0(R14)
	P4_0(Z12, Z13, Z14, Z15, Z2)
	P4_0(Z16, Z17, Z18, Z19, Z6)
	P4_0(Z20, Z21, Z22, Z23, Z10)
	W4_0(R13)
	P4_0(Z12, Z13, Z14, Z15, Z3)
	P4_0(Z16, Z17, Z18, Z19, Z7)
	P4_0(Z20, Z21, Z22, Z23, Z11)
	GEMM_STEP(72, 256, steps+64(FP), 1, g40step, g40next, g40done)

g40next:
	RESCALE2
	RESCALE4((CX)(AX*2), Z8, Z9, Z10, Z11)
	JMP  g40step

g40done:
	STORE2
	ROWOUT(Z8, Z9, Z10, Z11, X8, Y8, (CX)(AX*2), (R11)(R12*2))
	GEMM_NEXT(g40group)
	VZEROUPPER
	RET

// func gemmQ4_0x2AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)
//
// gemmQ4_0x3AVX512 for two x rows, with the same arithmetic per pair: a
// batched decode step of two sequences unpacks each weight group once for
// both.
TEXT ·gemmQ4_0x2AVX512(SB), NOSPLIT, $0-73
	VMOVDQU64 ·permQ4_0(SB), Z31
	GEMM_ARGS

g4x2group:
	GEMM_X
	ZERO8

g4x2step:
	PREFETCH_AHEAD(cold+72(FP), g4x2fetched)
	X4_0((R8), 64(R8), 128(R8), 192(R8), Z12, Z13, Z14, Z15)
	X4_0((R8)(AX*1), 64(R8)(AX*1), 128(R8)(AX*1), 192(R8)(AX*1), Z16, Z17, Z18, Z19)
	W4_0(SI)
	P4_0(Z12, Z13, Z14, Z15, Z0)
	P4_0(Z16, Z17, Z18, Z19, Z4)
	W4_0(DI)
	P4_0(Z12, Z13, Z14, Z15, Z1)
	P4_0(Z16, Z17, Z18, Z19, Z5)
	W4_0(R14)
	P4_0(Z12, Z13, Z14, Z15, Z2)
	P4_0(Z16, Z17, Z18, Z19, Z6)
	W4_0(R13)
	P4_0(Z12, Z13, Z14, Z15, Z3)
	P4_0(Z16, Z17, Z18, Z19, Z7)
	GEMM_STEP(72, 256, steps+64(FP), 1, g4x2step, g4x2next, g4x2done)

g4x2next:
	RESCALE2
	JMP  g4x2step

g4x2done:
	STORE2
	GEMM_NEXT(g4x2group)
	VZEROUPPER
	RET

// func gemmQ4_0x1AVX512(out *float32, qs *byte, rs *float32, w *byte, rowBytes int, nw int, ng int, cold bool)
//
// gemmQ4_0x3AVX512 for one x row, with the same arithmetic per pair.
TEXT ·gemmQ4_0x1AVX512(SB), NOSPLIT, $0-57
	VMOVDQU64 ·permQ4_0(SB), Z31
	MOVQ out+0(FP), R11
	MOVQ w+24(FP), SI
	MOVQ rowBytes+32(FP), DX
	MOVQ nw+40(FP), R10
	WROWS

g41group:
	MOVQ qs+8(FP), R8
	MOVQ rs+16(FP), CX
	XORQ R9, R9
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

g41step:
	PREFETCH_AHEAD(cold+56(FP), g41fetched)
	X4_0((R8), 64(R8), 128(R8), 192(R8), Z12, Z13, Z14, Z15)
	W4_0(SI)
	P4_0(Z12, Z13, Z14, Z15, Z0)
	W4_0(DI)
	P4_0(Z12, Z13, Z14, Z15, Z1)
	W4_0(R14)
	P4_0(Z12, Z13, Z14, Z15, Z2)
	W4_0(R13)
	P4_0(Z12, Z13, Z14, Z15, Z3)
	GEMM_STEP(72, 256, ng+48(FP), 1, g41step, g41next, g41done)

g41next:
	RESCALE4((CX), Z0, Z1, Z2, Z3)
	JMP  g41step

g41done:
	ROWOUT(Z0, Z1, Z2, Z3, X0, Y0, (CX), (R11))
	ADDQ $16, R11
	MOVQ R13, SI
	WROWS
	SUBQ $4, R10
	JNZ  g41group
	VZEROUPPER
	RET

// W8_0 unpacks the two Q8_0 blocks at p into signed words: zE the even
// bytes, zO the odd bytes; zd their scales over their lanes.
#define W8_0(p, yE, zE, zO, zd, yd) \
	VMOVDQU64 2(p), yE \
	VINSERTI64X4 $1, 36(p), zE, zE \
	VPSRAW $8, zE, zO \
	VPSLLW $8, zE, zE \
	VPSRAW $8, zE, zE \
	VPERMW (p), Z30, zd \
	VCVTPH2PS yd, zd

// P8_0 adds the product of an x row's step (xE, xO) and a weight row's
// (zE, zO, zd) into acc.
#define P8_0(xE, xO, zE, zO, zd, acc) \
	VPXORD Z28, Z28, Z28 \
	VPDPWSSD xE, zE, Z28 \
	VPDPWSSD xO, zO, Z28 \
	VCVTDQ2PS Z28, Z28 \
	VFMADD231PS zd, Z28, acc

// func gemmQ8_0x4AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)
//
// out[i*ldo+j] = x row i · weight row j for i < 4 and j < nw (a positive
// multiple of 4), rows of steps pairs of Q8_0 blocks; cold: prefetch the
// weights (the first block of x rows over them). Z0..Z15 accumulate,
// Z16..Z23 hold the x rows' steps, Z24..Z27 and Z12..Z15... see below.
TEXT ·gemmQ8_0x4AVX512(SB), NOSPLIT, $0-73
	VMOVDQU64 ·permQ8_0(SB), Z30
	GEMM_ARGS
	LEAQ (AX)(AX*2), BX

g80group:
	GEMM_X
	ZERO12
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15

g80step:
	PREFETCH_AHEAD(cold+72(FP), g80fetched)
	VMOVDQU64 (R8), Z16
	VMOVDQU64 64(R8), Z17
	VMOVDQU64 (R8)(AX*1), Z18
	VMOVDQU64 64(R8)(AX*1), Z19
	VMOVDQU64 (R8)(AX*2), Z20
	VMOVDQU64 64(R8)(AX*2), Z21
	VMOVDQU64 (R8)(BX*1), Z22
	VMOVDQU64 64(R8)(BX*1), Z23
	W8_0(SI, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z0)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z4)
	P8_0(Z20, Z21, Z24, Z25, Z26, Z8)
	P8_0(Z22, Z23, Z24, Z25, Z26, Z12)
	W8_0(DI, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z1)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z5)
	P8_0(Z20, Z21, Z24, Z25, Z26, Z9)
	P8_0(Z22, Z23, Z24, Z25, Z26, Z13)
	W8_0(R14, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z2)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z6)
	P8_0(Z20, Z21, Z24, Z25, Z26, Z10)
	P8_0(Z22, Z23, Z24, Z25, Z26, Z14)
	W8_0(R13, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z3)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z7)
	P8_0(Z20, Z21, Z24, Z25, Z26, Z11)
	P8_0(Z22, Z23, Z24, Z25, Z26, Z15)
	GEMM_STEP(68, 128, steps+64(FP), 3, g80step, g80next, g80done)

g80next:
	RESCALE2
	RESCALE4((CX)(AX*2), Z8, Z9, Z10, Z11)
	RESCALE4((CX)(BX*1), Z12, Z13, Z14, Z15)
	JMP  g80step

g80done:
	STORE2
	ROWOUT(Z8, Z9, Z10, Z11, X8, Y8, (CX)(AX*2), (R11)(R12*2))
	LEAQ (R12)(R12*2), R15
	ROWOUT(Z12, Z13, Z14, Z15, X12, Y12, (CX)(BX*1), (R11)(R15*1))
	GEMM_NEXT(g80group)
	VZEROUPPER
	RET

// func gemmQ8_0x2AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)
//
// gemmQ8_0x4AVX512 for two x rows, with the same arithmetic per pair: a
// batched decode step of two sequences unpacks each weight block once for
// both. Z0..Z3 and Z4..Z7 accumulate.
TEXT ·gemmQ8_0x2AVX512(SB), NOSPLIT, $0-73
	VMOVDQU64 ·permQ8_0(SB), Z30
	GEMM_ARGS

g82group:
	GEMM_X
	ZERO8

g82step:
	PREFETCH_AHEAD(cold+72(FP), g82fetched)
	VMOVDQU64 (R8), Z16
	VMOVDQU64 64(R8), Z17
	VMOVDQU64 (R8)(AX*1), Z18
	VMOVDQU64 64(R8)(AX*1), Z19
	W8_0(SI, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z0)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z4)
	W8_0(DI, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z1)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z5)
	W8_0(R14, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z2)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z6)
	W8_0(R13, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z3)
	P8_0(Z18, Z19, Z24, Z25, Z26, Z7)
	GEMM_STEP(68, 128, steps+64(FP), 3, g82step, g82next, g82done)

g82next:
	RESCALE2
	JMP  g82step

g82done:
	STORE2
	GEMM_NEXT(g82group)
	VZEROUPPER
	RET

// func gemmQ8_0x1AVX512(out *float32, qs *byte, rs *float32, w *byte, rowBytes int, nw int, np int, cold bool)
//
// gemmQ8_0x4AVX512 for one x row, with the same arithmetic per pair.
TEXT ·gemmQ8_0x1AVX512(SB), NOSPLIT, $0-57
	VMOVDQU64 ·permQ8_0(SB), Z30
	MOVQ out+0(FP), R11
	MOVQ w+24(FP), SI
	MOVQ rowBytes+32(FP), DX
	MOVQ nw+40(FP), R10
	WROWS

g81group:
	MOVQ qs+8(FP), R8
	MOVQ rs+16(FP), CX
	XORQ R9, R9
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

g81step:
	PREFETCH_AHEAD(cold+56(FP), g81fetched)
	VMOVDQU64 (R8), Z16
	VMOVDQU64 64(R8), Z17
	W8_0(SI, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z0)
	W8_0(DI, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z1)
	W8_0(R14, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z2)
	W8_0(R13, Y24, Z24, Z25, Z26, Y26)
	P8_0(Z16, Z17, Z24, Z25, Z26, Z3)
	GEMM_STEP(68, 128, np+48(FP), 3, g81step, g81next, g81done)

g81next:
	RESCALE4((CX), Z0, Z1, Z2, Z3)
	JMP  g81step

g81done:
	ROWOUT(Z0, Z1, Z2, Z3, X0, Y0, (CX), (R11))
	ADDQ $16, R11
	MOVQ R13, SI
	WROWS
	SUBQ $4, R10
	JNZ  g81group
	VZEROUPPER
	RET

// P4_0M is P4_0 with the x row's group read from memory at q (4 steps of
// 64 bytes).
#define P4_0M(q, acc) \
	VPXORD Z29, Z29, Z29 \
	VPDPWSSD q, Z25, Z29 \
	VPDPWSSD 64 q, Z26, Z29 \
	VPDPWSSD 128 q, Z27, Z29 \
	VPDPWSSD 192 q, Z24, Z29 \
	VCVTDQ2PS Z29, Z29 \
	VFMADD231PS Z28, Z29, acc

// func gemmQ4_0x6AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)
//
// gemmQ4_0x3AVX512 for six x rows, read from memory by the multiply-adds
// (the weights' unpacking is shared by six rows instead of three).
TEXT ·gemmQ4_0x6AVX512(SB), NOSPLIT, $0-73
	VMOVDQU64 ·permQ4_0(SB), Z31
	GEMM_ARGS
	LEAQ (AX)(AX*2), BX
	LEAQ (AX)(AX*4), R15

g46group:
	GEMM_X
	ZERO12
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

g46step:
	PREFETCH_AHEAD(cold+72(FP), g46fetched)
	W4_0(SI)
	P4_0M((R8), Z0)
	P4_0M((R8)(AX*1), Z4)
	P4_0M((R8)(AX*2), Z8)
	P4_0M((R8)(BX*1), Z12)
	P4_0M((R8)(AX*4), Z16)
	P4_0M((R8)(R15*1), Z20)
	W4_0(DI)
	P4_0M((R8), Z1)
	P4_0M((R8)(AX*1), Z5)
	P4_0M((R8)(AX*2), Z9)
	P4_0M((R8)(BX*1), Z13)
	P4_0M((R8)(AX*4), Z17)
	P4_0M((R8)(R15*1), Z21)
	W4_0(R14)
	P4_0M((R8), Z2)
	P4_0M((R8)(AX*1), Z6)
	P4_0M((R8)(AX*2), Z10)
	P4_0M((R8)(BX*1), Z14)
	P4_0M((R8)(AX*4), Z18)
	P4_0M((R8)(R15*1), Z22)
	W4_0(R13)
	P4_0M((R8), Z3)
	P4_0M((R8)(AX*1), Z7)
	P4_0M((R8)(AX*2), Z11)
	P4_0M((R8)(BX*1), Z15)
	P4_0M((R8)(AX*4), Z19)
	P4_0M((R8)(R15*1), Z23)
	GEMM_STEP(72, 256, steps+64(FP), 1, g46step, g46next, g46done)

g46next:
	RESCALE2
	RESCALE4((CX)(AX*2), Z8, Z9, Z10, Z11)
	RESCALE4((CX)(BX*1), Z12, Z13, Z14, Z15)
	RESCALE4((CX)(AX*4), Z16, Z17, Z18, Z19)
	RESCALE4((CX)(R15*1), Z20, Z21, Z22, Z23)
	JMP  g46step

g46done:
	STORE2
	ROWOUT(Z8, Z9, Z10, Z11, X8, Y8, (CX)(AX*2), (R11)(R12*2))
	LEAQ (R12)(R12*2), R8
	ROWOUT(Z12, Z13, Z14, Z15, X12, Y12, (CX)(BX*1), (R11)(R8*1))
	ROWOUT(Z16, Z17, Z18, Z19, X16, Y16, (CX)(AX*4), (R11)(R12*4))
	LEAQ (R12)(R12*4), R8
	ROWOUT(Z20, Z21, Z22, Z23, X20, Y20, (CX)(R15*1), (R11)(R8*1))
	GEMM_NEXT(g46group)
	VZEROUPPER
	RET
