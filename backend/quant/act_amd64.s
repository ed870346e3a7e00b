//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// Integer GEMV kernels (AVX-512 F/BW/VL + VNNI): rows of quantized weights
// against activations quantized by QuantizeAct. Each 64-byte step of
// weight quants is split into words, the even bytes' and the odd bytes'
// (masks and shifts, no shuffles), multiplied by the matching 16-bit
// activations with VPDPWSSD into 16 int32 lanes started from the
// activation buffer's lane corrections, and the lanes, converted to
// float, times the product of the weight block's scale and the activation
// block's, are added into a float accumulator. Rows are consecutive in
// memory; the stream ahead is prefetched. The Q4_0 and Q8_0 kernels keep
// one accumulator per row in units of the activations' current
// super-block scale (see act.go): each block's lanes times the weight
// block's scale are added in, the accumulator is multiplied by the ratio
// e_{S-1}/e_S when super-block S begins (rs[2S]) and the row's sum by the
// last super-block's e at the end (rs[2S+1]); they reduce it as the integer
// GEMM reduces a row's (ROWSUM4), so that GemvAct and GemmAct give a row
// the same bits.

// Word indices for VPERMW (package symbols: the GEMM kernels of
// actgemm_amd64.s use them too): the f16 scale of each block of a 64-byte step,
// repeated over the block's int32 lanes.
// Q4_0 group (4 blocks of 18 bytes: words 0, 9, 18, 27), 4 lanes each.
DATA ·permQ4_0+0(SB)/8, $0x0000000000000000
DATA ·permQ4_0+8(SB)/8, $0x0009000900090009
DATA ·permQ4_0+16(SB)/8, $0x0012001200120012
DATA ·permQ4_0+24(SB)/8, $0x001b001b001b001b
DATA ·permQ4_0+32(SB)/8, $0
DATA ·permQ4_0+40(SB)/8, $0
DATA ·permQ4_0+48(SB)/8, $0
DATA ·permQ4_0+56(SB)/8, $0
GLOBL ·permQ4_0(SB), RODATA|NOPTR, $64

// Q8_0 pair (2 blocks of 34 bytes: words 0 and 17), 8 lanes each.
DATA ·permQ8_0+0(SB)/8, $0x0000000000000000
DATA ·permQ8_0+8(SB)/8, $0x0000000000000000
DATA ·permQ8_0+16(SB)/8, $0x0011001100110011
DATA ·permQ8_0+24(SB)/8, $0x0011001100110011
DATA ·permQ8_0+32(SB)/8, $0
DATA ·permQ8_0+40(SB)/8, $0
DATA ·permQ8_0+48(SB)/8, $0
DATA ·permQ8_0+56(SB)/8, $0
GLOBL ·permQ8_0(SB), RODATA|NOPTR, $64

// PREFETCH256 prefetches the 256 bytes AHEAD of p.
#define PREFETCH256(p) \
	PREFETCHT0 AHEAD(p) \
	PREFETCHT0 (AHEAD+64)(p) \
	PREFETCHT0 (AHEAD+128)(p) \
	PREFETCHT0 (AHEAD+192)(p)

// HSUM adds the 16 floats of Z0 and Z1 into the low float of X0.
#define HSUM \
	VADDPS Z1, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VMOVHLPS X0, X0, X1 \
	VADDPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VADDSS X1, X0, X0

// Q4_0_CONSTS sets the Q4_0 GEMVs' constants (clobbers AX): Z31 0x000f
// in every word, Z30 ·permQ4_0.
#define Q4_0_CONSTS \
	MOVL $0x000f000f, AX \
	VPBROADCASTD AX, Z31 \
	VMOVDQU64 ·permQ4_0(SB), Z30

// Q4_0_ROW multiplies the Q4_0 group (4 blocks, 72 bytes) at p by the
// activation group xa..xd (lane corrections xi: memory operands, or
// registers a two-stream kernel loaded once for both rows) into
// accumulator acc, using the given temporaries; it advances no pointer.
// Z31 holds 0x000f in every word, Z30 ·permQ4_0.
#define Q4_0_ROW(p, acc, z2, x2, z3, z4, z5, z6, z7, z8, y8, xa, xb, xc, xd, xi) \
	PREFETCHT0 AHEAD(p) \
	VMOVDQU 2(p), x2 \
	VINSERTI32X4 $1, 20(p), z2, z2 \
	VINSERTI32X4 $2, 38(p), z2, z2 \
	VINSERTI32X4 $3, 56(p), z2, z2 \
	VPANDD Z31, z2, z3 \
	VPSRLW $8, z2, z4 \
	VPANDD Z31, z4, z4 \
	VPSRLW $4, z2, z5 \
	VPANDD Z31, z5, z5 \
	VPSRLW $12, z2, z6 \
	VMOVDQU32 xi, z7 \
	VPDPWSSD xa, z3, z7 \
	VPDPWSSD xb, z4, z7 \
	VPDPWSSD xc, z5, z7 \
	VPDPWSSD xd, z6, z7 \
	VPERMW (p), Z30, z8 \
	VCVTPH2PS y8, z8 \
	VCVTDQ2PS z7, z7 \
	VFMADD231PS z8, z7, acc

// Q4_0_GROUP is Q4_0_ROW for the row at SI, then moves the weight and
// activation pointers to the next group.
#define Q4_0_GROUP(acc) \
	Q4_0_ROW(SI, acc, Z2, X2, Z3, Z4, Z5, Z6, Z7, Z8, Y8, (R9), 64(R9), 128(R9), 192(R9), (R10)) \
	ADDQ $72, SI \
	ADDQ $256, R9 \
	ADDQ $64, R10

// func gemvQ4_0AVX512(w *byte, rows int, qs *byte, init *int32, rs *float32, ng int, out *float32)
//
// out[r] = row r · activations for rows rows of ng whole Q4_0 groups (4
// blocks, 72 bytes) each; ng > 0. A super-block is two groups.
TEXT ·gemvQ4_0AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ out+48(FP), DI
	Q4_0_CONSTS

q40row:
	MOVQ qs+16(FP), R9
	MOVQ init+24(FP), R10
	MOVQ rs+32(FP), R11
	MOVQ ng+40(FP), CX
	VXORPS Z0, Z0, Z0
	CMPQ CX, $2
	JLT  q40one

q40pair:
	Q4_0_GROUP(Z0)
	Q4_0_GROUP(Z0)
	SUBQ $2, CX
	JZ   q40done
	ADDQ $8, R11
	VMULPS.BCST (R11), Z0, Z0
	CMPQ CX, $2
	JGE  q40pair

q40one:
	Q4_0_GROUP(Z0)

q40done:
	ROWSUM4(Z0, Z0, Z0, Z0, X0, Y0)
	VMULSS 4(R11), X0, X0
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R8
	JNZ  q40row
	VZEROUPPER
	RET

// Q4_0_GROUP2 multiplies the groups at SI (row a, into Z0) and DX (row
// b, into Z1) by the activation group, each exactly as Q4_0_GROUP does.
#define Q4_0_GROUP2 \
	VMOVDQU64 (R9), Z16 \
	VMOVDQU64 64(R9), Z17 \
	VMOVDQU64 128(R9), Z18 \
	VMOVDQU64 192(R9), Z19 \
	VMOVDQU64 (R10), Z20 \
	Q4_0_ROW(SI, Z0, Z2, X2, Z3, Z4, Z5, Z6, Z7, Z8, Y8, Z16, Z17, Z18, Z19, Z20) \
	Q4_0_ROW(DX, Z1, Z9, X9, Z10, Z11, Z12, Z13, Z14, Z15, Y15, Z16, Z17, Z18, Z19, Z20) \
	ADDQ $72, SI \
	ADDQ $72, DX \
	ADDQ $256, R9 \
	ADDQ $64, R10

// func gemvQ4_0x2AVX512(wa *byte, wb *byte, rows int, qs *byte, init *int32, rs *float32, ng int, outa *float32, outb *float32)
//
// gemvQ4_0AVX512 for rows rows at wa and rows rows at wb, a row of each
// at a time: two streams of weights, which the memory system feeds faster
// than one. Each row gets gemvQ4_0AVX512's bits.
TEXT ·gemvQ4_0x2AVX512(SB), NOSPLIT, $0-72
	MOVQ wa+0(FP), SI
	MOVQ wb+8(FP), DX
	MOVQ rows+16(FP), R8
	MOVQ outa+56(FP), DI
	MOVQ outb+64(FP), BX
	Q4_0_CONSTS

q42row:
	MOVQ qs+24(FP), R9
	MOVQ init+32(FP), R10
	MOVQ rs+40(FP), R11
	MOVQ ng+48(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	MOVQ $2, R12 // groups left in the super-block

q42group:
	Q4_0_GROUP2
	DECQ CX
	JZ   q42done
	DECQ R12
	JNZ  q42group
	ADDQ $8, R11
	VMULPS.BCST (R11), Z0, Z0
	VMULPS.BCST (R11), Z1, Z1
	MOVQ $2, R12
	JMP  q42group

q42done:
	ROWSUM4(Z0, Z0, Z0, Z0, X0, Y0)
	VMULSS 4(R11), X0, X0
	MOVSS X0, (DI)
	ROWSUM4(Z1, Z1, Z1, Z1, X1, Y1)
	VMULSS 4(R11), X1, X1
	MOVSS X1, (BX)
	ADDQ $4, DI
	ADDQ $4, BX
	DECQ R8
	JNZ  q42row
	VZEROUPPER
	RET

// Q8_0_ROW multiplies the two Q8_0 blocks (68 bytes) at p by the
// activations xe, xo (memory operands, or registers a two-stream kernel
// loaded once for both rows) into accumulator acc,
// using the given temporaries; it advances no pointer: the even bytes
// sign-extended to words (shift left, then right arithmetically), the odd
// bytes shifted right arithmetically. Z30 holds ·permQ8_0.
#define Q8_0_ROW(p, acc, z2, y2, z3, z4, z5, y5, z7, xe, xo) \
	PREFETCHT0 AHEAD(p) \
	VMOVDQU 2(p), y2 \
	VINSERTI64X4 $1, 36(p), z2, z2 \
	VPSLLW $8, z2, z3 \
	VPSRAW $8, z3, z3 \
	VPSRAW $8, z2, z4 \
	VPXORD z7, z7, z7 \
	VPDPWSSD xe, z3, z7 \
	VPDPWSSD xo, z4, z7 \
	VPERMW (p), Z30, z5 \
	VCVTPH2PS y5, z5 \
	VCVTDQ2PS z7, z7 \
	VFMADD231PS z5, z7, acc

// Q8_0_PAIR is Q8_0_ROW for the row at SI, then moves the weight and
// activation pointers to the next pair of blocks.
#define Q8_0_PAIR(acc) \
	Q8_0_ROW(SI, acc, Z2, Y2, Z3, Z4, Z5, Y5, Z7, (R9), 64(R9)) \
	ADDQ $68, SI \
	ADDQ $128, R9

// func gemvQ8_0AVX512(w *byte, rows int, qs *byte, init *int32, rs *float32, nb int, out *float32)
//
// out[r] = row r · activations for rows rows of nb Q8_0 blocks each; nb >
// 0 (an odd last block is done with 256-bit registers). Q8_0 needs no
// lane corrections (init is unused). A super-block is four pairs.
TEXT ·gemvQ8_0AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ out+48(FP), DI
	VMOVDQU64 ·permQ8_0(SB), Z30

q80row:
	MOVQ qs+16(FP), R9
	MOVQ rs+32(FP), R11
	MOVQ nb+40(FP), CX
	VXORPS Z0, Z0, Z0
	JMP  q80super

q80next:
	ADDQ $8, R11
	VMULPS.BCST (R11), Z0, Z0

q80super:
	// BX = the super-block's blocks: min(8, CX).
	MOVQ $8, BX
	CMPQ CX, BX
	CMOVQLT CX, BX
	SUBQ BX, CX
	CMPQ BX, $8
	JNE  q80pairs
	Q8_0_PAIR(Z0)
	Q8_0_PAIR(Z0)
	Q8_0_PAIR(Z0)
	Q8_0_PAIR(Z0)
	JMP  q80end

q80pairs:
	CMPQ BX, $2
	JLT  q80last
	Q8_0_PAIR(Z0)
	SUBQ $2, BX
	JMP  q80pairs

q80last:
	TESTQ BX, BX
	JZ   q80end
	// One block (the row's last): 32 bytes, 8 lanes; the upper halves of
	// the Z registers written through their Y halves are zero.
	VMOVDQU 2(SI), Y2
	VPSLLW $8, Y2, Y3
	VPSRAW $8, Y3, Y3
	VPSRAW $8, Y2, Y4
	VPXOR Y7, Y7, Y7
	VPDPWSSD (R9), Y3, Y7
	VPDPWSSD 64(R9), Y4, Y7
	VPBROADCASTW (SI), X5
	VCVTPH2PS X5, Y5
	VCVTDQ2PS Y7, Y7
	VFMADD231PS Z5, Z7, Z0
	ADDQ $34, SI

q80end:
	TESTQ CX, CX
	JNZ  q80next
	ROWSUM4(Z0, Z0, Z0, Z0, X0, Y0)
	VMULSS 4(R11), X0, X0
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R8
	JNZ  q80row
	VZEROUPPER
	RET

// func gemvQ8_0x2AVX512(wa *byte, wb *byte, rows int, qs *byte, rs *float32, np int, outa *float32, outb *float32)
//
// gemvQ8_0AVX512 for rows rows at wa and rows rows at wb, rows of np pairs
// of blocks (an even block count), a row of each at a time: two streams
// of weights. Each row gets gemvQ8_0AVX512's bits.
TEXT ·gemvQ8_0x2AVX512(SB), NOSPLIT, $0-64
	MOVQ wa+0(FP), SI
	MOVQ wb+8(FP), DX
	MOVQ rows+16(FP), R8
	MOVQ outa+48(FP), DI
	MOVQ outb+56(FP), BX
	VMOVDQU64 ·permQ8_0(SB), Z30

q82row:
	MOVQ qs+24(FP), R9
	MOVQ rs+32(FP), R11
	MOVQ np+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	MOVQ $4, R12 // pairs left in the super-block

q82pair:
	VMOVDQU64 (R9), Z16
	VMOVDQU64 64(R9), Z17
	Q8_0_ROW(SI, Z0, Z2, Y2, Z3, Z4, Z5, Y5, Z7, Z16, Z17)
	Q8_0_ROW(DX, Z1, Z9, Y9, Z10, Z11, Z12, Y12, Z14, Z16, Z17)
	ADDQ $68, SI
	ADDQ $68, DX
	ADDQ $128, R9
	DECQ CX
	JZ   q82done
	DECQ R12
	JNZ  q82pair
	ADDQ $8, R11
	VMULPS.BCST (R11), Z0, Z0
	VMULPS.BCST (R11), Z1, Z1
	MOVQ $4, R12
	JMP  q82pair

q82done:
	ROWSUM4(Z0, Z0, Z0, Z0, X0, Y0)
	VMULSS 4(R11), X0, X0
	MOVSS X0, (DI)
	ROWSUM4(Z1, Z1, Z1, Z1, X1, Y1)
	VMULSS 4(R11), X1, X1
	MOVSS X1, (BX)
	ADDQ $4, DI
	ADDQ $4, BX
	DECQ R8
	JNZ  q82row
	VZEROUPPER
	RET

// Dword indices that put the even elements of a zmm first, then the odd.
DATA evenOdd<>+0(SB)/8, $0x0000000200000000
DATA evenOdd<>+8(SB)/8, $0x0000000600000004
DATA evenOdd<>+16(SB)/8, $0x0000000a00000008
DATA evenOdd<>+24(SB)/8, $0x0000000e0000000c
DATA evenOdd<>+32(SB)/8, $0x0000000300000001
DATA evenOdd<>+40(SB)/8, $0x0000000700000005
DATA evenOdd<>+48(SB)/8, $0x0000000b00000009
DATA evenOdd<>+56(SB)/8, $0x0000000f0000000d
GLOBL evenOdd<>(SB), RODATA|NOPTR, $64

// QSTORE stores the 16 words of half y (even elements first) for the half
// at byte position P (R13) + table(R12*8): the even words at byte offset
// 2*(p&^63) + p&63 of DI, the odd ones 64 bytes later. It uses AX, BX.
#define QSTORE(y, x, table) \
	MOVQ (table)(R12*8), AX \
	ADDQ R13, AX \
	MOVQ AX, BX \
	ANDQ $-64, BX \
	ANDQ $63, AX \
	LEAQ (AX)(BX*2), AX \
	VMOVDQU x, (DI)(AX*1) \
	VEXTRACTI128 $1, y, 64(DI)(AX*1)

// func quantActAVX512(x *float32, nb int, qs *byte, d *float32, sum *int32, lo, hi *int64, period int)
//
// Quantizes nb blocks of 32 floats at x as QuantizeAct does, each block b
// with the scale d[b] (its super-block's, positive or NaN): the quants
// round(x/d) (ties to even) as int16, sum[b] their sum; zeros and 0 where
// d[b] is NaN. The blocks come in periods of `period` blocks spanning
// 32*period byte positions: block i of a period has its first 16 elements
// at byte positions lo[i].. and its last 16 at hi[i].. (relative to the
// period), stored as actPos says.
TEXT ·quantActAVX512(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ qs+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ sum+32(FP), R9
	MOVQ lo+40(FP), R10
	MOVQ hi+48(FP), R11
	XORQ R12, R12 // block index in the period
	XORQ R13, R13 // byte position of the period
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X28
	VMOVDQU64 evenOdd<>(SB), Z26

qablock:
	VMOVSS (R8), X2
	VUCOMISS X2, X2
	JPS  qanonfinite // NaN
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VDIVSS X2, X28, X4 // 1/d
	VBROADCASTSS X4, Z4
	VMULPS Z4, Z0, Z0
	VMULPS Z4, Z1, Z1
	VCVTPS2DQ Z0, Z0
	VCVTPS2DQ Z1, Z1
	VPERMD Z0, Z26, Z5
	VPERMD Z1, Z26, Z6
	VPMOVSDW Z5, Y5
	VPMOVSDW Z6, Y6
	VPADDD Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPADDD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPADDD X1, X0, X0
	VMOVD X0, (R9)
	JMP  qastore

qanonfinite:
	MOVL $0, (R9)
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6

qastore:
	QSTORE(Y5, X5, R10)
	QSTORE(Y6, X6, R11)
	INCQ R12
	CMPQ R12, period+56(FP)
	JLT  qanext
	XORQ R12, R12
	MOVQ period+56(FP), AX
	SHLQ $5, AX
	ADDQ AX, R13

qanext:
	ADDQ $128, SI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  qablock
	VZEROUPPER
	RET

// VPERMPS indices spreading the eight Q4_K sub-block scales over the
// lanes of each half's two steps: low nibbles (sub-blocks 4h and 4h+2),
// high nibbles (4h+1 and 4h+3), 8 lanes each.
DATA permQ4KA0<>+0(SB)/8, $0
DATA permQ4KA0<>+8(SB)/8, $0
DATA permQ4KA0<>+16(SB)/8, $0
DATA permQ4KA0<>+24(SB)/8, $0
DATA permQ4KA0<>+32(SB)/8, $0x0000000200000002
DATA permQ4KA0<>+40(SB)/8, $0x0000000200000002
DATA permQ4KA0<>+48(SB)/8, $0x0000000200000002
DATA permQ4KA0<>+56(SB)/8, $0x0000000200000002
GLOBL permQ4KA0<>(SB), RODATA|NOPTR, $64
DATA permQ4KB0<>+0(SB)/8, $0x0000000100000001
DATA permQ4KB0<>+8(SB)/8, $0x0000000100000001
DATA permQ4KB0<>+16(SB)/8, $0x0000000100000001
DATA permQ4KB0<>+24(SB)/8, $0x0000000100000001
DATA permQ4KB0<>+32(SB)/8, $0x0000000300000003
DATA permQ4KB0<>+40(SB)/8, $0x0000000300000003
DATA permQ4KB0<>+48(SB)/8, $0x0000000300000003
DATA permQ4KB0<>+56(SB)/8, $0x0000000300000003
GLOBL permQ4KB0<>(SB), RODATA|NOPTR, $64

// Q4K_HALF multiplies half h of the Q4_K super-block at SI by the
// activations (quants at R9, lane scales at R11) into Z0: Z9 holds the
// eight d·sc floats, Z24/Z25 the scale indices of the half's steps, Z31
// 0x000f in every word.
#define Q4K_HALF(h) \
	VMOVDQU64 (16+64*(h))(SI), Z2 \
	VPANDD Z31, Z2, Z3 \
	VPSRLW $8, Z2, Z4 \
	VPANDD Z31, Z4, Z4 \
	VPSRLW $4, Z2, Z5 \
	VPANDD Z31, Z5, Z5 \
	VPSRLW $12, Z2, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPDPWSSD (256*(h))(R9), Z3, Z7 \
	VPDPWSSD (256*(h)+64)(R9), Z4, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPDPWSSD (256*(h)+128)(R9), Z5, Z8 \
	VPDPWSSD (256*(h)+192)(R9), Z6, Z8 \
	VPERMPS Z9, Z24, Z10 \
	VMULPS (128*(h))(R11), Z10, Z10 \
	VPERMPS Z9, Z25, Z11 \
	VMULPS (128*(h)+64)(R11), Z11, Z11 \
	VCVTDQ2PS Z7, Z7 \
	VCVTDQ2PS Z8, Z8 \
	VFMADD231PS Z10, Z7, Z0 \
	VFMADD231PS Z11, Z8, Z0

// func gemvQ4KAVX512(w *byte, rows int, qs *byte, scale *float32, d *float32, sum *int32, nsb int, out *float32)
//
// out[r] = row r · activations for rows rows of nsb Q4_K super-blocks:
// Σ d·sc·(q·x) over the sub-blocks, less Σ dmin·m·(dx·Σq) (the mins,
// from the activation blocks' scales d and sums).
TEXT ·gemvQ4KAVX512(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R12
	MOVQ out+56(FP), DI
	MOVL $0x000f000f, AX
	VPBROADCASTD AX, Z31
	VMOVDQU64 permQ4KA0<>(SB), Z26
	VMOVDQU64 permQ4KB0<>(SB), Z27
	MOVL $4, AX
	VPBROADCASTD AX, Z28 // +4: the second half's sub-blocks

q4krow:
	MOVQ qs+16(FP), R9
	MOVQ scale+24(FP), R11
	MOVQ d+32(FP), R13
	MOVQ sum+40(FP), R14
	MOVQ nsb+48(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Y1, Y1, Y1 // the mins

q4kblock:
	PREFETCHT0 AHEAD(SI)
	PREFETCHT0 (AHEAD+64)(SI)
	PREFETCHT0 (AHEAD+128)(SI)
	// The 6-bit scales and mins (ggml's get_scale_min_k4) as two
	// little-endian 8-byte vectors: R8 the scales, R10 the mins.
	MOVL 4(SI), AX
	MOVL 8(SI), BX
	MOVL 12(SI), DX
	MOVL AX, R8
	ANDL $0x3f3f3f3f, R8
	SHRL $6, AX
	ANDL $0x03030303, AX
	SHLL $4, AX
	MOVL DX, R15
	ANDL $0x0f0f0f0f, R15
	ORL R15, AX
	SHLQ $32, AX
	ORQ AX, R8
	MOVL BX, R10
	ANDL $0x3f3f3f3f, R10
	SHRL $6, BX
	ANDL $0x03030303, BX
	SHLL $4, BX
	SHRL $4, DX
	ANDL $0x0f0f0f0f, DX
	ORL DX, BX
	SHLQ $32, BX
	ORQ BX, R10
	VPBROADCASTW (SI), X12
	VCVTPH2PS X12, Y12 // d
	VPBROADCASTW 2(SI), X13
	VCVTPH2PS X13, Y13 // dmin
	VMOVQ R8, X9
	VPMOVZXBD X9, Y9
	VCVTDQ2PS Y9, Y9
	VMULPS Y12, Y9, Y9 // d·sc, zero upper half
	VMOVQ R10, X14
	VPMOVZXBD X14, Y14
	VCVTDQ2PS Y14, Y14
	VMULPS Y13, Y14, Y14 // dmin·m
	VCVTDQ2PS (R14), Y15
	VMULPS (R13), Y15, Y15 // dx·Σq of the 8 activation blocks
	VFMADD231PS Y15, Y14, Y1
	VMOVDQA64 Z26, Z24
	VMOVDQA64 Z27, Z25
	Q4K_HALF(0)
	VPADDD Z28, Z26, Z24
	VPADDD Z28, Z27, Z25
	Q4K_HALF(1)
	ADDQ $144, SI
	ADDQ $512, R9
	ADDQ $256, R11
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  q4kblock

	VXORPS Z2, Z2, Z2
	VSUBPS Z1, Z2, Z1 // the mins are subtracted
	HSUM
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R12
	JNZ  q4krow
	VZEROUPPER
	RET

// VPSHUFB patterns spreading a Q6_K half's 8 scales over the lanes of its
// two steps (4 lanes per 16-element scale group).
DATA shufQ6K<>+0(SB)/8, $0x0101010100000000
DATA shufQ6K<>+8(SB)/8, $0x0303030302020202
DATA shufQ6K<>+16(SB)/8, $0x0505050504040404
DATA shufQ6K<>+24(SB)/8, $0x0707070706060606
GLOBL shufQ6K<>(SB), RODATA|NOPTR, $32

// Q6K_CONSTS loads the Q6_K kernels' constants: Z29 0x0f0f, Z30 0x3030,
// Z31 0x00ff in each word, X26/X27 the scale patterns. It uses AX.
#define Q6K_CONSTS \
	MOVL $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z29 \
	MOVL $0x30303030, AX \
	VPBROADCASTD AX, Z30 \
	MOVL $0x00ff00ff, AX \
	VPBROADCASTD AX, Z31 \
	VMOVDQU64 shufQ6K<>(SB), X26 \
	VMOVDQU64 shufQ6K<>+16(SB), X27

// Q6K_ROWHALF multiplies half h of the Q6_K super-block at p by the
// activations (quants at R9, lane corrections at R10, lane scales at R11)
// into acc0 and acc1: d holds the super-block's d, Z29 0x0f0f, Z30 0x3030,
// Z31 0x00ff in each word, X26/X27 the scale patterns. It uses Z2..Z11
// and Z13..Z15.
#define Q6K_ROWHALF(h, p, d, acc0, acc1) \
	VMOVDQU64 (64*(h))(p), Z2 \
	VMOVDQU (128+32*(h))(p), Y3 \
	VPSRLW $2, Y3, Y4 \
	VINSERTI64X4 $1, Y4, Z3, Z3 \
	VPANDD Z29, Z2, Z4 \
	VPSLLW $4, Z3, Z5 \
	VPTERNLOGD $0xf8, Z30, Z5, Z4 \
	VPSRLW $4, Z2, Z6 \
	VPANDD Z29, Z6, Z6 \
	VPTERNLOGD $0xf8, Z30, Z3, Z6 \
	VPANDD Z31, Z4, Z7 \
	VPSRLW $8, Z4, Z4 \
	VPANDD Z31, Z6, Z8 \
	VPSRLW $8, Z6, Z6 \
	VMOVDQU32 (128*(h))(R10), Z9 \
	VPDPWSSD (256*(h))(R9), Z7, Z9 \
	VPDPWSSD (256*(h)+64)(R9), Z4, Z9 \
	VMOVDQU32 (128*(h)+64)(R10), Z10 \
	VPDPWSSD (256*(h)+128)(R9), Z8, Z10 \
	VPDPWSSD (256*(h)+192)(R9), Z6, Z10 \
	VPBROADCASTQ (192+8*(h))(p), X13 \
	VPSHUFB X26, X13, X14 \
	VPSHUFB X27, X13, X15 \
	VPMOVSXBD X14, Z14 \
	VPMOVSXBD X15, Z15 \
	VCVTDQ2PS Z14, Z14 \
	VCVTDQ2PS Z15, Z15 \
	VMULPS d, Z14, Z14 \
	VMULPS d, Z15, Z15 \
	VMULPS (128*(h))(R11), Z14, Z14 \
	VMULPS (128*(h)+64)(R11), Z15, Z15 \
	VCVTDQ2PS Z9, Z9 \
	VCVTDQ2PS Z10, Z10 \
	VFMADD231PS Z14, Z9, acc0 \
	VFMADD231PS Z15, Z10, acc1

// Q6K_HALF is Q6K_ROWHALF for the row at SI into Z0 and Z1, Z12 holding
// its d.
#define Q6K_HALF(h) \
	Q6K_ROWHALF(h, SI, Z12, Z0, Z1)

// func gemvQ6KAVX512(w *byte, rows int, qs *byte, init *int32, scale *float32, nsb int, out *float32)
//
// out[r] = row r · activations for rows rows of nsb Q6_K super-blocks.
// The quants q (0..63) are bytes (ql's nibble | qh's two bits << 4) split
// into even and odd words; the lane corrections take 32·Σx back out.
TEXT ·gemvQ6KAVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R12
	MOVQ out+48(FP), DI
	Q6K_CONSTS

q6krow:
	MOVQ qs+16(FP), R9
	MOVQ init+24(FP), R10
	MOVQ scale+32(FP), R11
	MOVQ nsb+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q6kblock:
	PREFETCH256(SI)
	VPBROADCASTW 208(SI), Y12
	VCVTPH2PS Y12, Z12
	Q6K_HALF(0)
	Q6K_HALF(1)
	ADDQ $210, SI
	ADDQ $512, R9
	ADDQ $256, R10
	ADDQ $256, R11
	DECQ CX
	JNZ  q6kblock

	HSUM
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R12
	JNZ  q6krow
	VZEROUPPER
	RET

// func gemvQ6Kx2AVX512(wa *byte, wb *byte, rows int, qs *byte, init *int32, scale *float32, nsb int, outa *float32, outb *float32)
//
// gemvQ6KAVX512 for rows rows at wa and rows rows at wb, a row of each at
// a time: two streams of weights. Each row gets gemvQ6KAVX512's bits.
TEXT ·gemvQ6Kx2AVX512(SB), NOSPLIT, $0-72
	MOVQ wa+0(FP), SI
	MOVQ wb+8(FP), DX
	MOVQ rows+16(FP), R12
	MOVQ outa+56(FP), DI
	MOVQ outb+64(FP), BX
	Q6K_CONSTS

q62row:
	MOVQ qs+24(FP), R9
	MOVQ init+32(FP), R10
	MOVQ scale+40(FP), R11
	MOVQ nsb+48(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17

q62block:
	PREFETCH256(SI)
	PREFETCH256(DX)
	VPBROADCASTW 208(SI), Y12
	VCVTPH2PS Y12, Z12
	VPBROADCASTW 208(DX), Y18
	VCVTPH2PS Y18, Z18
	Q6K_ROWHALF(0, SI, Z12, Z0, Z1)
	Q6K_ROWHALF(0, DX, Z18, Z16, Z17)
	Q6K_ROWHALF(1, SI, Z12, Z0, Z1)
	Q6K_ROWHALF(1, DX, Z18, Z16, Z17)
	ADDQ $210, SI
	ADDQ $210, DX
	ADDQ $512, R9
	ADDQ $256, R10
	ADDQ $256, R11
	DECQ CX
	JNZ  q62block

	HSUM
	MOVSS X0, (DI)
	VMOVAPS Z16, Z0
	VMOVAPS Z17, Z1
	HSUM
	MOVSS X0, (BX)
	ADDQ $4, DI
	ADDQ $4, BX
	DECQ R12
	JNZ  q62row
	VZEROUPPER
	RET

// Lane scale patterns (VPERMPS indices into the block scales from a
// vector's first block): two blocks of 8 lanes (element order), blocks 0
// and 2 (Q4_K halves), four blocks of 4 lanes (Q4_0 groups).
DATA lanePat<>+0(SB)/8, $0
DATA lanePat<>+8(SB)/8, $0
DATA lanePat<>+16(SB)/8, $0
DATA lanePat<>+24(SB)/8, $0
DATA lanePat<>+32(SB)/8, $0x0000000100000001
DATA lanePat<>+40(SB)/8, $0x0000000100000001
DATA lanePat<>+48(SB)/8, $0x0000000100000001
DATA lanePat<>+56(SB)/8, $0x0000000100000001
DATA lanePat<>+64(SB)/8, $0
DATA lanePat<>+72(SB)/8, $0
DATA lanePat<>+80(SB)/8, $0
DATA lanePat<>+88(SB)/8, $0
DATA lanePat<>+96(SB)/8, $0x0000000200000002
DATA lanePat<>+104(SB)/8, $0x0000000200000002
DATA lanePat<>+112(SB)/8, $0x0000000200000002
DATA lanePat<>+120(SB)/8, $0x0000000200000002
DATA lanePat<>+128(SB)/8, $0
DATA lanePat<>+136(SB)/8, $0
DATA lanePat<>+144(SB)/8, $0x0000000100000001
DATA lanePat<>+152(SB)/8, $0x0000000100000001
DATA lanePat<>+160(SB)/8, $0x0000000200000002
DATA lanePat<>+168(SB)/8, $0x0000000200000002
DATA lanePat<>+176(SB)/8, $0x0000000300000003
DATA lanePat<>+184(SB)/8, $0x0000000300000003
GLOBL lanePat<>(SB), RODATA|NOPTR, $192

// func actLanesAVX512(qs *int16, nv int, init *int32, scale *float32, d *float32, c int32, mode int)
//
// The first nv vectors of 16 lanes of an activation buffer (see
// actLanes): each lane's sum of quants (VPMADDWD by ones of a step's even
// and odd words) times -c, and its block's scale. mode 0: element order
// (a vector is one step, blocks 2v, 2v+1); 1: Q4_K (blocks 4(v/2)+v%2 and
// +2); 2: Q4_0 groups (two steps a vector, blocks 4v..4v+3).
TEXT ·actLanesAVX512(SB), NOSPLIT, $0-56
	MOVQ qs+0(FP), SI
	MOVQ nv+8(FP), CX
	MOVQ init+16(FP), DI
	MOVQ scale+24(FP), R8
	MOVQ d+32(FP), R9
	MOVL c+40(FP), AX
	NEGL AX
	VPBROADCASTD AX, Z31
	MOVL $0x00010001, AX
	VPBROADCASTD AX, Z30
	MOVQ mode+48(FP), R10
	MOVQ R10, AX
	SHLQ $6, AX
	LEAQ lanePat<>(SB), BX
	VMOVDQU64 (BX)(AX*1), Z29
	XORQ R11, R11 // vector index

lnloop:
	VPMADDWD (SI), Z30, Z0
	VPMADDWD 64(SI), Z30, Z1
	VPADDD Z1, Z0, Z0
	CMPQ R10, $2
	JNE  lnone
	VPMADDWD 128(SI), Z30, Z1
	VPADDD Z1, Z0, Z0
	VPMADDWD 192(SI), Z30, Z1
	VPADDD Z1, Z0, Z0
	ADDQ $128, SI

lnone:
	ADDQ $128, SI
	VPMULLD Z31, Z0, Z0
	VMOVDQU32 Z0, (DI)
	// The vector's first block.
	MOVQ R11, AX
	CMPQ R10, $1
	JEQ  lnq4k
	JGT  lnq40
	SHLQ $1, AX // 2v
	JMP  lnscale

lnq4k:
	MOVQ R11, DX
	ANDQ $1, DX
	SHRQ $1, AX
	SHLQ $2, AX
	ADDQ DX, AX // 4(v/2) + v%2
	JMP  lnscale

lnq40:
	SHLQ $2, AX // 4v

lnscale:
	VPERMPS (R9)(AX*4), Z29, Z1
	VMOVUPS Z1, (R8)
	ADDQ $64, DI
	ADDQ $64, R8
	INCQ R11
	CMPQ R11, CX
	JLT  lnloop
	VZEROUPPER
	RET

// AVX2 integer GEMV kernels: the AVX-512 kernels' arithmetic on 256-bit
// registers, VPMADDWD (pairs of 16-bit products summed into int32 lanes)
// in place of VPDPWSSD. A 64-byte step is done in two halves, the lanes of
// the first half being the first 8 of the step's 16.

// VPSHUFB pattern spreading two f16 words over 4 words each.
DATA ·shufD2+0(SB)/8, $0x0100010001000100
DATA ·shufD2+8(SB)/8, $0x0302030203020302
GLOBL ·shufD2(SB), RODATA|NOPTR, $16

// HSUM8 adds the 8 floats of Y0 and Y1 into the low float of X0.
#define HSUM8 \
	VADDPS Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VMOVHLPS X0, X0, X1 \
	VADDPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VADDSS X1, X0, X0

// Q4_0_HALF2 multiplies blocks h2 and h2+1 (h2 = 0 or 2) of the Q4_0
// group at SI by the activations at R9 (lane corrections at R10) into
// acc. Y15 holds 0x000f in every word.
#define Q4_0_HALF2(h2, acc) \
	Q4_0_UNPACK2(h2, Y2, X2, Y3, Y4, Y5, Y6, Y15, Y7, X7, AX, BX) \
	VPMADDWD (16*(h2))(R9), Y3, Y3 \
	VPMADDWD (64+16*(h2))(R9), Y4, Y4 \
	VPMADDWD (128+16*(h2))(R9), Y5, Y5 \
	VPMADDWD (192+16*(h2))(R9), Y6, Y6 \
	VPADDD Y4, Y3, Y3 \
	VPADDD Y6, Y5, Y5 \
	VPADDD Y5, Y3, Y3 \
	VPADDD (16*(h2))(R10), Y3, Y3 \
	VCVTDQ2PS Y3, Y3 \
	VFMADD231PS Y7, Y3, acc

// RESCALE_Y multiplies the accumulators a and b by the float at r (an
// activation super-block's ratio), using Y13.
#define RESCALE_Y(r, a, b) \
	VBROADCASTSS r, Y13 \
	VMULPS Y13, a, a \
	VMULPS Y13, b, b

// GEMV_Q4_0_AVX2 is the body of the AVX2 Q4_0 GEMVs, whose half groups
// are done by macro half (labels row, group, next and done): the
// accumulators are rescaled when a super-block (two groups) begins, and
// the row's sum multiplied by the last super-block's scale (R11: the
// current super-block's rs entry), as on AVX-512.
#define GEMV_Q4_0_AVX2(half, row, group, next, done) \
	MOVQ w+0(FP), SI \
	MOVQ rows+8(FP), R8 \
	MOVQ out+48(FP), DI \
	MOVL $0x000f000f, AX \
	VMOVD AX, X15 \
	VPBROADCASTD X15, Y15 \
row: \
	MOVQ qs+16(FP), R9 \
	MOVQ init+24(FP), R10 \
	MOVQ rs+32(FP), R11 \
	MOVQ ng+40(FP), CX \
	MOVQ $2, R12 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
group: \
	PREFETCHT0 AHEAD(SI) \
	half(0, Y0) \
	half(2, Y1) \
	ADDQ $72, SI \
	ADDQ $256, R9 \
	ADDQ $64, R10 \
	DECQ CX \
	JZ   done \
	DECQ R12 \
	JNZ  group \
next: \
	MOVQ $2, R12 \
	ADDQ $8, R11 \
	RESCALE_Y((R11), Y0, Y1) \
	JMP  group \
done: \
	HSUM8 \
	VMULSS 4(R11), X0, X0 \
	MOVSS X0, (DI) \
	ADDQ $4, DI \
	DECQ R8 \
	JNZ  row \
	VZEROUPPER \
	RET

// func gemvQ4_0AVX2(w *byte, rows int, qs *byte, init *int32, rs *float32, ng int, out *float32)
//
// gemvQ4_0AVX512 on AVX2.
TEXT ·gemvQ4_0AVX2(SB), NOSPLIT, $0-56
	GEMV_Q4_0_AVX2(Q4_0_HALF2, a40row, a40group, a40next, a40done)

// Q4_0_HALF2V is Q4_0_HALF2 with AVX-VNNI: the lanes start from the
// corrections and take the four products by VPDPWSSD (the same int32
// sums), the activations loaded into Y8.
#define Q4_0_HALF2V(h2, acc) \
	Q4_0_UNPACK2(h2, Y2, X2, Y3, Y4, Y5, Y6, Y15, Y7, X7, AX, BX) \
	VMOVDQU (16*(h2))(R10), Y2 \
	VMOVDQU (16*(h2))(R9), Y8 \
	VNNIW(8, 3, 2) \
	VMOVDQU (64+16*(h2))(R9), Y8 \
	VNNIW(8, 4, 2) \
	VMOVDQU (128+16*(h2))(R9), Y8 \
	VNNIW(8, 5, 2) \
	VMOVDQU (192+16*(h2))(R9), Y8 \
	VNNIW(8, 6, 2) \
	VCVTDQ2PS Y2, Y2 \
	VFMADD231PS Y7, Y2, acc

// func gemvQ4_0VNNI(w *byte, rows int, qs *byte, init *int32, rs *float32, ng int, out *float32)
//
// gemvQ4_0AVX2 with AVX-VNNI: each half group's four multiply-adds of
// words start from its lane corrections (Q4_0_HALF2V).
TEXT ·gemvQ4_0VNNI(SB), NOSPLIT, $0-56
	GEMV_Q4_0_AVX2(Q4_0_HALF2V, v40row, v40group, v40next, v40done)

// Q8_0_ONE multiplies block b (0 or 1) of the Q8_0 pair at SI by the
// activations at R9 into acc.
#define Q8_0_ONE(b, acc) \
	VMOVDQU (2+34*(b))(SI), Y2 \
	VPSLLW $8, Y2, Y3 \
	VPSRAW $8, Y3, Y3 \
	VPSRAW $8, Y2, Y4 \
	VPMADDWD (32*(b))(R9), Y3, Y3 \
	VPMADDWD (64+32*(b))(R9), Y4, Y4 \
	VPADDD Y4, Y3, Y3 \
	VPBROADCASTW (34*(b))(SI), X5 \
	VCVTPH2PS X5, Y5 \
	VCVTDQ2PS Y3, Y3 \
	VFMADD231PS Y5, Y3, acc

// func gemvQ8_0AVX2(w *byte, rows int, qs *byte, init *int32, rs *float32, nb int, out *float32)
//
// gemvQ8_0AVX512 on AVX2 (nb > 0; an odd last block alone), with its
// super-block rescaling (a super-block is four pairs).
TEXT ·gemvQ8_0AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ out+48(FP), DI

a80row:
	MOVQ qs+16(FP), R9
	MOVQ rs+32(FP), R11
	MOVQ nb+40(FP), CX
	MOVQ $4, R12 // pairs left in the super-block
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	CMPQ CX, $2
	JLT  a80last

a80pair:
	PREFETCHT0 AHEAD(SI)
	Q8_0_ONE(0, Y0)
	Q8_0_ONE(1, Y1)
	ADDQ $68, SI
	ADDQ $128, R9
	SUBQ $2, CX
	JZ   a80done
	DECQ R12
	JNZ  a80more
	MOVQ $4, R12
	ADDQ $8, R11
	RESCALE_Y((R11), Y0, Y1)

a80more:
	CMPQ CX, $2
	JGE  a80pair

a80last:
	// One block left (it begins a super-block only when the row is a
	// single block, whose accumulators are zero).
	Q8_0_ONE(0, Y0)
	ADDQ $34, SI

a80done:
	HSUM8
	VMULSS 4(R11), X0, X0
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R8
	JNZ  a80row
	VZEROUPPER
	RET

// Dword indices putting a ymm's even elements first (per the VPACKSSDW
// that follows: [0 2 4 6 | 1 3 5 7]).
DATA evenOdd8<>+0(SB)/8, $0x0000000200000000
DATA evenOdd8<>+8(SB)/8, $0x0000000600000004
DATA evenOdd8<>+16(SB)/8, $0x0000000300000001
DATA evenOdd8<>+24(SB)/8, $0x0000000700000005
GLOBL evenOdd8<>(SB), RODATA|NOPTR, $32

// func quantActAVX2(x *float32, nb int, qs *byte, d *float32, sum *int32, lo, hi *int64, period int)
//
// quantActAVX512 on AVX2.
TEXT ·quantActAVX2(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ qs+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ sum+32(FP), R9
	MOVQ lo+40(FP), R10
	MOVQ hi+48(FP), R11
	XORQ R12, R12
	XORQ R13, R13
	VMOVDQU evenOdd8<>(SB), Y13
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X12

qbblock:
	VMOVSS (R8), X4
	VUCOMISS X4, X4
	JPS  qbnonfinite // NaN
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VDIVSS X4, X12, X6 // 1/d
	VBROADCASTSS X6, Y6
	VMULPS Y6, Y0, Y0
	VMULPS Y6, Y1, Y1
	VMULPS Y6, Y2, Y2
	VMULPS Y6, Y3, Y3
	VCVTPS2DQ Y0, Y0
	VCVTPS2DQ Y1, Y1
	VCVTPS2DQ Y2, Y2
	VCVTPS2DQ Y3, Y3
	VPADDD Y1, Y0, Y8
	VPADDD Y3, Y2, Y9
	VPADDD Y9, Y8, Y8
	VEXTRACTI128 $1, Y8, X9
	VPADDD X9, X8, X8
	VPSHUFD $0x4e, X8, X9
	VPADDD X9, X8, X8
	VPSHUFD $0xb1, X8, X9
	VPADDD X9, X8, X8
	VMOVD X8, (R9)
	VPERMD Y0, Y13, Y0
	VPERMD Y1, Y13, Y1
	VPERMD Y2, Y13, Y2
	VPERMD Y3, Y13, Y3
	VPACKSSDW Y1, Y0, Y5
	VPACKSSDW Y3, Y2, Y6
	JMP  qbstore

qbnonfinite:
	MOVL $0, (R9)
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6

qbstore:
	QSTORE(Y5, X5, R10)
	QSTORE(Y6, X6, R11)
	INCQ R12
	CMPQ R12, period+56(FP)
	JLT  qbnext
	XORQ R12, R12
	MOVQ period+56(FP), AX
	SHLQ $5, AX
	ADDQ AX, R13

qbnext:
	ADDQ $128, SI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  qbblock
	VZEROUPPER
	RET

// func blockMaxAVX2(x *float32, nb int, m *float32)
//
// m[b] = max|x| over block b of 32 floats at x, NaN where the block holds a
// NaN or an infinity (the largest magnitude as bits: the order of
// non-negative floats).
TEXT ·blockMaxAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ m+16(FP), DI
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15

bmablock:
	VPAND (SI), Y15, Y0
	VPAND 32(SI), Y15, Y1
	VPAND 64(SI), Y15, Y2
	VPAND 96(SI), Y15, Y3
	VPMAXUD Y1, Y0, Y0
	VPMAXUD Y3, Y2, Y2
	VPMAXUD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPMAXUD X1, X0, X0
	VMOVD X0, AX
	CMPL AX, $0x7f800000
	JCS  bmastore
	MOVL $0x7fc00000, AX

bmastore:
	MOVL AX, (DI)
	ADDQ $128, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  bmablock
	VZEROUPPER
	RET

// func blockMaxAVX512(x *float32, nb int, m *float32)
//
// blockMaxAVX2 on AVX-512.
TEXT ·blockMaxAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ m+16(FP), DI
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31

bmzblock:
	VPANDD (SI), Z31, Z0
	VPANDD 64(SI), Z31, Z1
	VPMAXUD Z1, Z0, Z0
	VEXTRACTI64X4 $1, Z0, Y1
	VPMAXUD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPMAXUD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPMAXUD X1, X0, X0
	VMOVD X0, AX
	CMPL AX, $0x7f800000
	JCS  bmzstore
	MOVL $0x7fc00000, AX

bmzstore:
	MOVL AX, (DI)
	ADDQ $128, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  bmzblock
	VZEROUPPER
	RET

// LANES8 sets Y0 to the 8 lane sums of 32 bytes of even words at off(SI)
// and the odd words 64 bytes later (Y12: ones).
#define LANES8(off) \
	VPMADDWD (off)(SI), Y12, Y0 \
	VPMADDWD (off+64)(SI), Y12, Y1 \
	VPADDD Y1, Y0, Y0

// func actLanesAVX2(qs *int16, nv int, init *int32, scale *float32, d *float32, c int32, mode int)
//
// actLanesAVX512 on AVX2, a vector of 16 lanes as two halves.
TEXT ·actLanesAVX2(SB), NOSPLIT, $0-56
	MOVQ qs+0(FP), SI
	MOVQ nv+8(FP), CX
	MOVQ init+16(FP), DI
	MOVQ scale+24(FP), R8
	MOVQ d+32(FP), R9
	MOVL c+40(FP), AX
	NEGL AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	MOVL $0x00010001, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	MOVQ mode+48(FP), R10
	MOVQ R10, AX
	SHLQ $6, AX
	LEAQ lanePat<>(SB), BX
	VMOVDQU (BX)(AX*1), Y9
	VMOVDQU 32(BX)(AX*1), Y10
	XORQ R11, R11

lbloop:
	LANES8(0)
	VMOVDQA Y0, Y2
	LANES8(32)
	VMOVDQA Y0, Y3
	CMPQ R10, $2
	JNE  lbone
	LANES8(128)
	VPADDD Y0, Y2, Y2
	LANES8(160)
	VPADDD Y0, Y3, Y3
	ADDQ $128, SI

lbone:
	ADDQ $128, SI
	VPMULLD Y11, Y2, Y2
	VPMULLD Y11, Y3, Y3
	VMOVDQU Y2, (DI)
	VMOVDQU Y3, 32(DI)
	MOVQ R11, AX
	CMPQ R10, $1
	JEQ  lbq4k
	JGT  lbq40
	SHLQ $1, AX
	JMP  lbscale

lbq4k:
	MOVQ R11, DX
	ANDQ $1, DX
	SHRQ $1, AX
	SHLQ $2, AX
	ADDQ DX, AX
	JMP  lbscale

lbq40:
	SHLQ $2, AX

lbscale:
	VPERMPS (R9)(AX*4), Y9, Y4
	VPERMPS (R9)(AX*4), Y10, Y5
	VMOVUPS Y4, (R8)
	VMOVUPS Y5, 32(R8)
	ADDQ $64, DI
	ADDQ $64, R8
	INCQ R11
	CMPQ R11, CX
	JLT  lbloop
	VZEROUPPER
	RET

// Q4K_PART2 multiplies 32 bytes (part c of half h) of the Q4_K super-block
// at SI by the activations (quants R15, lane scales R11) into Y0, with the
// d·sc floats at 0(SP). Y15: 0x000f in each word.
#define Q4K_PART2(h, c) \
	VMOVDQU (16+64*(h)+32*(c))(SI), Y2 \
	VPAND Y15, Y2, Y3 \
	VPSRLW $8, Y2, Y4 \
	VPAND Y15, Y4, Y4 \
	VPSRLW $4, Y2, Y5 \
	VPAND Y15, Y5, Y5 \
	VPSRLW $12, Y2, Y6 \
	VPMADDWD (256*(h)+32*(c))(R15), Y3, Y3 \
	VPMADDWD (256*(h)+64+32*(c))(R15), Y4, Y4 \
	VPADDD Y4, Y3, Y3 \
	VPMADDWD (256*(h)+128+32*(c))(R15), Y5, Y5 \
	VPMADDWD (256*(h)+192+32*(c))(R15), Y6, Y6 \
	VPADDD Y6, Y5, Y5 \
	VBROADCASTSS (4*(4*(h)+2*(c)))(SP), Y7 \
	VMULPS (128*(h)+32*(c))(R11), Y7, Y7 \
	VCVTDQ2PS Y3, Y3 \
	VFMADD231PS Y7, Y3, Y0 \
	VBROADCASTSS (4*(4*(h)+2*(c)+1))(SP), Y8 \
	VMULPS (128*(h)+64+32*(c))(R11), Y8, Y8 \
	VCVTDQ2PS Y5, Y5 \
	VFMADD231PS Y8, Y5, Y0

// func gemvQ4KAVX2(w *byte, rows int, qs *byte, scale *float32, d *float32, sum *int32, nsb int, out *float32)
//
// gemvQ4KAVX512 on AVX2.
TEXT ·gemvQ4KAVX2(SB), NOSPLIT, $64-64
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R12
	MOVQ out+56(FP), DI
	MOVL $0x000f000f, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15

b4krow:
	MOVQ qs+16(FP), R15
	MOVQ scale+24(FP), R11
	MOVQ d+32(FP), R13
	MOVQ sum+40(FP), R14
	MOVQ nsb+48(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

b4kblock:
	PREFETCHT0 AHEAD(SI)
	PREFETCHT0 (AHEAD+64)(SI)
	PREFETCHT0 (AHEAD+128)(SI)
	Q4K_SCALES
	VCVTDQ2PS (R14), Y2
	VMULPS (R13), Y2, Y2
	VFMADD231PS 32(SP), Y2, Y1
	Q4K_PART2(0, 0)
	Q4K_PART2(0, 1)
	Q4K_PART2(1, 0)
	Q4K_PART2(1, 1)
	ADDQ $144, SI
	ADDQ $512, R15
	ADDQ $256, R11
	ADDQ $32, R13
	ADDQ $32, R14
	DECQ CX
	JNZ  b4kblock

	VSUBPS Y1, Y0, Y0
	VXORPS Y1, Y1, Y1
	HSUM8
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R12
	JNZ  b4krow
	VZEROUPPER
	RET

// VPSHUFB pattern: byte 0 four times, then byte 1 four times.
DATA shufS2<>+0(SB)/8, $0x0101010100000000
DATA shufS2<>+8(SB)/8, $0x0101010100000000
GLOBL shufS2<>(SB), RODATA|NOPTR, $16

// Q6K_PART2 multiplies part c of half h of the Q6_K super-block at SI by
// the activations (quants R9, lane corrections R10, lane scales R11) into
// Y0, with Y12 holding d. Y13: 0x0f0f, Y14: 0x3030, Y15: 0x00ff in each
// word; X11 the shufS2 pattern.
#define Q6K_PART2(h, c) \
	VMOVDQU (64*(h)+32*(c))(SI), Y2 \
	VMOVDQU (128+32*(h))(SI), Y3 \
	VPSRLW $(2*(c)), Y3, Y3 \
	VPAND Y13, Y2, Y4 \
	VPSLLW $4, Y3, Y5 \
	VPAND Y14, Y5, Y5 \
	VPOR Y5, Y4, Y4 \
	VPSRLW $4, Y2, Y6 \
	VPAND Y13, Y6, Y6 \
	VPAND Y14, Y3, Y5 \
	VPOR Y5, Y6, Y6 \
	VPAND Y15, Y4, Y7 \
	VPSRLW $8, Y4, Y4 \
	VPMADDWD (256*(h)+32*(c))(R9), Y7, Y7 \
	VPMADDWD (256*(h)+64+32*(c))(R9), Y4, Y4 \
	VPADDD Y4, Y7, Y7 \
	VPADDD (128*(h)+32*(c))(R10), Y7, Y7 \
	VPAND Y15, Y6, Y8 \
	VPSRLW $8, Y6, Y6 \
	VPMADDWD (256*(h)+128+32*(c))(R9), Y8, Y8 \
	VPMADDWD (256*(h)+192+32*(c))(R9), Y6, Y6 \
	VPADDD Y6, Y8, Y8 \
	VPADDD (128*(h)+64+32*(c))(R10), Y8, Y8 \
	VPBROADCASTW (192+8*(h)+2*(c))(SI), X9 \
	VPSHUFB X11, X9, X9 \
	VPMOVSXBD X9, Y9 \
	VCVTDQ2PS Y9, Y9 \
	VMULPS Y12, Y9, Y9 \
	VMULPS (128*(h)+32*(c))(R11), Y9, Y9 \
	VCVTDQ2PS Y7, Y7 \
	VFMADD231PS Y9, Y7, Y0 \
	VPBROADCASTW (196+8*(h)+2*(c))(SI), X10 \
	VPSHUFB X11, X10, X10 \
	VPMOVSXBD X10, Y10 \
	VCVTDQ2PS Y10, Y10 \
	VMULPS Y12, Y10, Y10 \
	VMULPS (128*(h)+64+32*(c))(R11), Y10, Y10 \
	VCVTDQ2PS Y8, Y8 \
	VFMADD231PS Y10, Y8, Y0

// func gemvQ6KAVX2(w *byte, rows int, qs *byte, init *int32, scale *float32, nsb int, out *float32)
//
// gemvQ6KAVX512 on AVX2.
TEXT ·gemvQ6KAVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R12
	MOVQ out+48(FP), DI
	MOVL $0x0f0f0f0f, AX
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x30303030, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	MOVL $0x00ff00ff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15
	VMOVDQU shufS2<>(SB), X11

b6krow:
	MOVQ qs+16(FP), R9
	MOVQ init+24(FP), R10
	MOVQ scale+32(FP), R11
	MOVQ nsb+40(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

b6kblock:
	PREFETCH256(SI)
	VPBROADCASTW 208(SI), X12
	VCVTPH2PS X12, Y12
	Q6K_PART2(0, 0)
	Q6K_PART2(0, 1)
	Q6K_PART2(1, 0)
	Q6K_PART2(1, 1)
	ADDQ $210, SI
	ADDQ $512, R9
	ADDQ $256, R10
	ADDQ $256, R11
	DECQ CX
	JNZ  b6kblock

	HSUM8
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R12
	JNZ  b6krow
	VZEROUPPER
	RET
