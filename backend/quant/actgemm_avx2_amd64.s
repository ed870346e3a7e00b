//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// Integer GEMM kernels on AVX2: four or two x rows quantized by
// QuantizeAct (each row's buffer `stride` bytes after the previous one)
// against one weight row at a time. Each weight block is unpacked once
// (its quants split into words, its f16 scale converted) for the x rows,
// and each pair
// of an x row and a weight row gets exactly the AVX2 GEMV's arithmetic
// (gemvQ8_0AVX2, gemvQ4_0AVX2 in act_amd64.s): the same int32 lanes, the
// same float products and multiply-adds into the same two accumulators,
// reduced in the same order, with the same rescaling when an activation
// super-block begins and the same multiply by the last super-block's scale
// (see act.go), so a row's result does not depend on how many x rows share
// its weights. Registers: Y0..Y7 the accumulators (x row i: Y(2i) and
// Y(2i+1)), Y8..Y12 the unpacked weights, Y13 and Y14 temporaries; R9 the
// x rows' quants, R10 their lane corrections, R11 their current
// super-block's rs entry, AX the stride and BX three times it; SI the
// weight row, DI the outputs of x row 0 (R12 = ldo in bytes, R13 three
// times it), R8 the weight rows left, CX the steps left, R15 the steps
// left in the super-block.

// HSUM8ROW reduces the accumulators ya and yb (low halves xa, xb) of one
// pair as HSUM8 does (act_amd64.s), multiplies the float by the x row's
// last super-block scale at e and stores it at dst.
#define HSUM8ROW(ya, yb, xa, xb, e, dst) \
	VADDPS yb, ya, ya \
	VEXTRACTF128 $1, ya, xb \
	VADDPS xb, xa, xa \
	VMOVHLPS xa, xa, xb \
	VADDPS xb, xa, xa \
	VMOVSHDUP xa, xb \
	VADDSS xb, xa, xa \
	VMULSS e, xa, xa \
	VMOVSS xa, dst

// STORE4 stores the four pairs' results for the current weight row and
// moves DI to the next output column.
#define STORE4 \
	HSUM8ROW(Y0, Y1, X0, X1, 4(R11), (DI)) \
	HSUM8ROW(Y2, Y3, X2, X3, 4(R11)(AX*1), (DI)(R12*1)) \
	HSUM8ROW(Y4, Y5, X4, X5, 4(R11)(AX*2), (DI)(R12*2)) \
	HSUM8ROW(Y6, Y7, X6, X7, 4(R11)(BX*1), (DI)(R13*1)) \
	ADDQ $4, DI

// STORE2 is STORE4 for two x rows.
#define STORE2 \
	HSUM8ROW(Y0, Y1, X0, X1, 4(R11), (DI)) \
	HSUM8ROW(Y2, Y3, X2, X3, 4(R11)(AX*1), (DI)(R12*1)) \
	ADDQ $4, DI

// RESCALE_Y multiplies the accumulators a and b by the float at r (an
// activation super-block's ratio), using Y13.
#define RESCALE_Y(r, a, b) \
	VBROADCASTSS r, Y13 \
	VMULPS Y13, a, a \
	VMULPS Y13, b, b

// RESCALE2 and RESCALE4 rescale the accumulators of x rows 0 and 1 (0..3)
// by their ratios at R11.
#define RESCALE2 \
	RESCALE_Y((R11), Y0, Y1) \
	RESCALE_Y((R11)(AX*1), Y2, Y3)

#define RESCALE4 \
	RESCALE2 \
	RESCALE_Y((R11)(AX*2), Y4, Y5) \
	RESCALE_Y((R11)(BX*1), Y6, Y7)

// ZERO2 clears the accumulators of x rows 0 and 1, ZERO4 of rows 0..3.
#define ZERO2 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3

#define ZERO4 \
	ZERO2 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// GEMM_ARGS loads the arguments (out, ldo, qs, init, rs, stride, w, nw,
// steps) all the kernels take; GEMM_ROW starts a weight row (the x rows'
// pointers, the step count and the steps of a super-block, sps).
#define GEMM_ARGS \
	MOVQ out+0(FP), DI \
	MOVQ ldo+8(FP), R12 \
	SHLQ $2, R12 \
	LEAQ (R12)(R12*2), R13 \
	MOVQ stride+40(FP), AX \
	LEAQ (AX)(AX*2), BX \
	MOVQ w+48(FP), SI \
	MOVQ nw+56(FP), R8

#define GEMM_ROW(sps) \
	MOVQ qs+16(FP), R9 \
	MOVQ init+24(FP), R10 \
	MOVQ rs+32(FP), R11 \
	MOVQ steps+64(FP), CX \
	MOVQ $sps, R15

// NEXT_ROW loops to label row while weight rows remain, else returns.
#define NEXT_ROW(row) \
	DECQ R8 \
	JNZ  row \
	VZEROUPPER \
	RET

// Q8_0_NEXT moves to the next pair of Q8_0 blocks (the weight row's and
// the x rows') and counts the step: to label done after the last, back to
// label step within a super-block, on (to the rescaling) when one ends.
#define Q8_0_NEXT(step, done) \
	ADDQ $68, SI \
	ADDQ $128, R9 \
	DECQ CX \
	JZ   done \
	DECQ R15 \
	JNZ  step

// Q4_0_NEXT is Q8_0_NEXT for Q4_0 groups.
#define Q4_0_NEXT(step, done) \
	ADDQ $72, SI \
	ADDQ $256, R9 \
	ADDQ $64, R10 \
	DECQ CX \
	JZ   done \
	DECQ R15 \
	JNZ  step

// Q8_0_W unpacks block b (0 or 1) of the Q8_0 pair at SI: Y8 the even
// bytes and Y9 the odd bytes as words, Y10 the block's scale in 8 floats.
#define Q8_0_W(b) \
	VMOVDQU (2+34*(b))(SI), Y13 \
	VPSLLW $8, Y13, Y8 \
	VPSRAW $8, Y8, Y8 \
	VPSRAW $8, Y13, Y9 \
	VPBROADCASTW (34*(b))(SI), X10 \
	VCVTPH2PS X10, Y10

// Q8_0_X adds the product of an x row's block (even words at qe, odd
// words at qo) and the unpacked weight block into acc, as Q8_0_ONE does.
#define Q8_0_X(qe, qo, acc) \
	VPMADDWD qe, Y8, Y13 \
	VPMADDWD qo, Y9, Y14 \
	VPADDD Y14, Y13, Y13 \
	VCVTDQ2PS Y13, Y13 \
	VFMADD231PS Y10, Y13, acc

// Q8_0_ROWS01 and Q8_0_ROWS23 add x rows 0 and 1 (2 and 3) times the
// unpacked block b into accumulators a and c, the products done by macro
// X (Q8_0_X).
#define Q8_0_ROWS01(X, b, a, c) \
	X((32*(b))(R9), (64+32*(b))(R9), a) \
	X((32*(b))(R9)(AX*1), (64+32*(b))(R9)(AX*1), c)

#define Q8_0_ROWS23(X, b, a, c) \
	X((32*(b))(R9)(AX*2), (64+32*(b))(R9)(AX*2), a) \
	X((32*(b))(R9)(BX*1), (64+32*(b))(R9)(BX*1), c)

// NO_SETUP and MASK_Q4_0 are the kernels' set-up before the first weight
// row: none for Q8_0, Y15 = 0x000f in every word for Q4_0.
#define NO_SETUP

#define MASK_Q4_0 \
	MOVL $0x000f000f, DX \
	VMOVD DX, X15 \
	VPBROADCASTD X15, Y15

// GEMM_X4 and GEMM_X2 are the bodies of the four- and two-row GEMMs: the
// set-up macro setup, the weights' unpacking W of the step's two parts b0
// and b1, the x rows' products by ROWS01 and ROWS23 with the product macro
// X, NEXT to the next step, sps steps a super-block (labels row, step and
// done).
#define GEMM_X4(setup, W, ROWS01, ROWS23, X, b0, b1, NEXT, sps, row, step, done) \
	GEMM_ARGS \
	setup \
row: \
	GEMM_ROW(sps) \
	ZERO4 \
step: \
	PREFETCHT0 AHEAD(SI) \
	W(b0) \
	ROWS01(X, b0, Y0, Y2) \
	ROWS23(X, b0, Y4, Y6) \
	W(b1) \
	ROWS01(X, b1, Y1, Y3) \
	ROWS23(X, b1, Y5, Y7) \
	NEXT(step, done) \
	MOVQ $sps, R15 \
	ADDQ $8, R11 \
	RESCALE4 \
	JMP  step \
done: \
	STORE4 \
	NEXT_ROW(row)

#define GEMM_X2(setup, W, ROWS01, X, b0, b1, NEXT, sps, row, step, done) \
	GEMM_ARGS \
	setup \
row: \
	GEMM_ROW(sps) \
	ZERO2 \
step: \
	PREFETCHT0 AHEAD(SI) \
	W(b0) \
	ROWS01(X, b0, Y0, Y2) \
	W(b1) \
	ROWS01(X, b1, Y1, Y3) \
	NEXT(step, done) \
	MOVQ $sps, R15 \
	ADDQ $8, R11 \
	RESCALE2 \
	JMP  step \
done: \
	STORE2 \
	NEXT_ROW(row)

// func gemmQ8_0x4AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)
//
// out[i*ldo+j] = x row i · weight row j for i < 4 and j < nw (> 0), rows
// of steps pairs of Q8_0 blocks (68 bytes; steps > 0) one after another.
// init is unused (Q8_0 has no lane corrections).
TEXT ·gemmQ8_0x4AVX2(SB), NOSPLIT, $0-72
	GEMM_X4(NO_SETUP, Q8_0_W, Q8_0_ROWS01, Q8_0_ROWS23, Q8_0_X, 0, 1, Q8_0_NEXT, 4, a84row, a84step, a84done)

// func gemmQ8_0x2AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)
//
// out[i*ldo+j] = x row i · weight row j for i < 2 and j < nw (> 0), rows
// of steps pairs of Q8_0 blocks (68 bytes; steps > 0) one after another.
// init is unused (Q8_0 has no lane corrections).
TEXT ·gemmQ8_0x2AVX2(SB), NOSPLIT, $0-72
	GEMM_X2(NO_SETUP, Q8_0_W, Q8_0_ROWS01, Q8_0_X, 0, 1, Q8_0_NEXT, 4, a82row, a82step, a82done)

// Q4_0_W unpacks blocks h2 and h2+1 (h2 = 0 or 2) of the Q4_0 group at SI
// (Q4_0_UNPACK2): Y8..Y11 the quants, Y12 the scales over their lanes. Y15
// holds 0x000f in every word.
#define Q4_0_W(h2) \
	Q4_0_UNPACK2(h2, Y13, X13, Y8, Y9, Y10, Y11, Y15, Y12, X12, DX, R14)

// Q4_0_X adds the product of an x row's half group (its four word
// vectors at q0..q3, lane corrections at xi) and the unpacked weight
// blocks into acc, as Q4_0_HALF2 does.
#define Q4_0_X(q0, q1, q2, q3, xi, acc) \
	VPMADDWD q0, Y8, Y13 \
	VPMADDWD q1, Y9, Y14 \
	VPADDD Y14, Y13, Y13 \
	VPMADDWD q2, Y10, Y14 \
	VPADDD Y14, Y13, Y13 \
	VPMADDWD q3, Y11, Y14 \
	VPADDD Y14, Y13, Y13 \
	VPADDD xi, Y13, Y13 \
	VCVTDQ2PS Y13, Y13 \
	VFMADD231PS Y12, Y13, acc

// Q4_0_XV is Q4_0_X with AVX-VNNI (the same int32 sums): the lanes start
// from the corrections and take the four products by VPDPWSSD, the
// activations loaded into Y14.
#define Q4_0_XV(q0, q1, q2, q3, xi, acc) \
	VMOVDQU xi, Y13 \
	VMOVDQU q0, Y14 \
	VNNIW(14, 8, 13) \
	VMOVDQU q1, Y14 \
	VNNIW(14, 9, 13) \
	VMOVDQU q2, Y14 \
	VNNIW(14, 10, 13) \
	VMOVDQU q3, Y14 \
	VNNIW(14, 11, 13) \
	VCVTDQ2PS Y13, Y13 \
	VFMADD231PS Y12, Y13, acc

// Q4_0_ROWS01 and Q4_0_ROWS23 add x rows 0 and 1 (2 and 3) times the
// unpacked half group h2 into accumulators a and b, the products done by
// macro X (Q4_0_X or Q4_0_XV).
#define Q4_0_ROWS01(X, h2, a, b) \
	X((16*(h2))(R9), (64+16*(h2))(R9), (128+16*(h2))(R9), (192+16*(h2))(R9), (16*(h2))(R10), a) \
	X((16*(h2))(R9)(AX*1), (64+16*(h2))(R9)(AX*1), (128+16*(h2))(R9)(AX*1), (192+16*(h2))(R9)(AX*1), (16*(h2))(R10)(AX*1), b)

#define Q4_0_ROWS23(X, h2, a, b) \
	X((16*(h2))(R9)(AX*2), (64+16*(h2))(R9)(AX*2), (128+16*(h2))(R9)(AX*2), (192+16*(h2))(R9)(AX*2), (16*(h2))(R10)(AX*2), a) \
	X((16*(h2))(R9)(BX*1), (64+16*(h2))(R9)(BX*1), (128+16*(h2))(R9)(BX*1), (192+16*(h2))(R9)(BX*1), (16*(h2))(R10)(BX*1), b)

// func gemmQ4_0x4AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)
//
// out[i*ldo+j] = x row i · weight row j for i < 4 and j < nw (> 0), rows
// of steps whole Q4_0 groups (4 blocks, 72 bytes; steps > 0) one after
// another.
TEXT ·gemmQ4_0x4AVX2(SB), NOSPLIT, $0-72
	GEMM_X4(MASK_Q4_0, Q4_0_W, Q4_0_ROWS01, Q4_0_ROWS23, Q4_0_X, 0, 2, Q4_0_NEXT, 2, a44row, a44step, a44done)

// func gemmQ4_0x2AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)
//
// out[i*ldo+j] = x row i · weight row j for i < 2 and j < nw (> 0), rows
// of steps whole Q4_0 groups (4 blocks, 72 bytes; steps > 0) one after
// another.
TEXT ·gemmQ4_0x2AVX2(SB), NOSPLIT, $0-72
	GEMM_X2(MASK_Q4_0, Q4_0_W, Q4_0_ROWS01, Q4_0_X, 0, 2, Q4_0_NEXT, 2, a42row, a42step, a42done)

// func gemmQ4_0x4VNNI(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)
//
// gemmQ4_0x4AVX2 with AVX-VNNI (Q4_0_XV): the same results.
TEXT ·gemmQ4_0x4VNNI(SB), NOSPLIT, $0-72
	GEMM_X4(MASK_Q4_0, Q4_0_W, Q4_0_ROWS01, Q4_0_ROWS23, Q4_0_XV, 0, 2, Q4_0_NEXT, 2, v44row, v44step, v44done)

// func gemmQ4_0x2VNNI(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)
//
// gemmQ4_0x2AVX2 with AVX-VNNI (Q4_0_XV): the same results.
TEXT ·gemmQ4_0x2VNNI(SB), NOSPLIT, $0-72
	GEMM_X2(MASK_Q4_0, Q4_0_W, Q4_0_ROWS01, Q4_0_XV, 0, 2, Q4_0_NEXT, 2, v42row, v42step, v42done)
