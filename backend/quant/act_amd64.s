//go:build amd64 && !purego

#include "textflag.h"

// Integer GEMV kernels (AVX-512 F/BW/VL + VNNI): rows of quantized weights
// against activations quantized by QuantizeAct. Each 64-byte step turns
// the weights into unsigned bytes (adding a constant the activation
// buffer's lane corrections take back out), multiplies them by the signed
// activation bytes with VPDPBUSD into 16 int32 lanes started from those
// corrections, and adds the lanes, converted to float, times the product
// of the weight block's scale and the activation block's, into a float
// accumulator. Rows are consecutive in memory; the stream ahead is
// prefetched.

// Word indices for VPERMW: the f16 scale of each block of a 64-byte step,
// repeated over the block's int32 lanes.
// Q4_0 group (4 blocks of 18 bytes: words 0, 9, 18, 27), 4 lanes each.
DATA permQ4_0<>+0(SB)/8, $0x0000000000000000
DATA permQ4_0<>+8(SB)/8, $0x0009000900090009
DATA permQ4_0<>+16(SB)/8, $0x0012001200120012
DATA permQ4_0<>+24(SB)/8, $0x001b001b001b001b
DATA permQ4_0<>+32(SB)/8, $0
DATA permQ4_0<>+40(SB)/8, $0
DATA permQ4_0<>+48(SB)/8, $0
DATA permQ4_0<>+56(SB)/8, $0
GLOBL permQ4_0<>(SB), RODATA|NOPTR, $64

// Q8_0 pair (2 blocks of 34 bytes: words 0 and 17), 8 lanes each.
DATA permQ8_0<>+0(SB)/8, $0x0000000000000000
DATA permQ8_0<>+8(SB)/8, $0x0000000000000000
DATA permQ8_0<>+16(SB)/8, $0x0011001100110011
DATA permQ8_0<>+24(SB)/8, $0x0011001100110011
DATA permQ8_0<>+32(SB)/8, $0
DATA permQ8_0<>+40(SB)/8, $0
DATA permQ8_0<>+48(SB)/8, $0
DATA permQ8_0<>+56(SB)/8, $0
GLOBL permQ8_0<>(SB), RODATA|NOPTR, $64

// How far ahead of the group being multiplied the weights are prefetched.
#define AHEAD 1024

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

// Q4_0_GROUP multiplies the Q4_0 group (4 blocks, 72 bytes) at SI by the
// activation group at R9 (lanes at R10, R11) into accumulator acc.
#define Q4_0_GROUP(acc) \
	PREFETCHT0 AHEAD(SI) \
	VMOVDQU 2(SI), X2 \
	VINSERTI32X4 $1, 20(SI), Z2, Z2 \
	VINSERTI32X4 $2, 38(SI), Z2, Z2 \
	VINSERTI32X4 $3, 56(SI), Z2, Z2 \
	VPSRLW $4, Z2, Z3 \
	VPANDD Z31, Z2, Z2 \
	VPANDD Z31, Z3, Z3 \
	VMOVDQU32 (R10), Z4 \
	VPDPBUSD (R9), Z2, Z4 \
	VPDPBUSD 64(R9), Z3, Z4 \
	VPERMW (SI), Z30, Z5 \
	VCVTPH2PS Y5, Z5 \
	VMULPS (R11), Z5, Z5 \
	VCVTDQ2PS Z4, Z4 \
	VFMADD231PS Z5, Z4, acc \
	ADDQ $72, SI \
	ADDQ $128, R9 \
	ADDQ $64, R10 \
	ADDQ $64, R11

// func gemvQ4_0AVX512(w *byte, rows int, qs *byte, init *int32, scale *float32, ng int, out *float32)
//
// out[r] = row r · activations for rows rows of ng whole Q4_0 groups (4
// blocks, 72 bytes) each; ng > 0.
TEXT ·gemvQ4_0AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ out+48(FP), DI
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z31
	VMOVDQU64 permQ4_0<>(SB), Z30

q40row:
	MOVQ qs+16(FP), R9
	MOVQ init+24(FP), R10
	MOVQ scale+32(FP), R11
	MOVQ ng+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	CMPQ CX, $2
	JLT  q40one

q40pair:
	Q4_0_GROUP(Z0)
	Q4_0_GROUP(Z1)
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q40pair
	TESTQ CX, CX
	JZ   q40done

q40one:
	Q4_0_GROUP(Z0)

q40done:
	HSUM
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R8
	JNZ  q40row
	VZEROUPPER
	RET

// Q8_0_PAIR multiplies the two Q8_0 blocks (68 bytes) at SI by the
// activations at R9 (lanes at R10, R11) into accumulator acc. Z31 holds
// 0x80 in every byte: w XOR 0x80 = w + 128 as an unsigned byte.
#define Q8_0_PAIR(acc) \
	PREFETCHT0 AHEAD(SI) \
	VMOVDQU 2(SI), Y2 \
	VINSERTI64X4 $1, 36(SI), Z2, Z2 \
	VPXORD Z31, Z2, Z2 \
	VMOVDQU32 (R10), Z4 \
	VPDPBUSD (R9), Z2, Z4 \
	VPERMW (SI), Z30, Z5 \
	VCVTPH2PS Y5, Z5 \
	VMULPS (R11), Z5, Z5 \
	VCVTDQ2PS Z4, Z4 \
	VFMADD231PS Z5, Z4, acc \
	ADDQ $68, SI \
	ADDQ $64, R9 \
	ADDQ $64, R10 \
	ADDQ $64, R11

// func gemvQ8_0AVX512(w *byte, rows int, qs *byte, init *int32, scale *float32, nb int, out *float32)
//
// out[r] = row r · activations for rows rows of nb Q8_0 blocks each; nb >
// 0 (an odd last block is done with 256-bit registers).
TEXT ·gemvQ8_0AVX512(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rows+8(FP), R8
	MOVQ out+48(FP), DI
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU64 permQ8_0<>(SB), Z30

q80row:
	MOVQ qs+16(FP), R9
	MOVQ init+24(FP), R10
	MOVQ scale+32(FP), R11
	MOVQ nb+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	CMPQ CX, $4
	JLT  q80two

q80quad:
	Q8_0_PAIR(Z0)
	Q8_0_PAIR(Z1)
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  q80quad

q80two:
	CMPQ CX, $2
	JLT  q80last
	Q8_0_PAIR(Z0)
	SUBQ $2, CX

q80last:
	TESTQ CX, CX
	JZ   q80done
	// One block: 32 bytes, 8 lanes.
	VMOVDQU 2(SI), Y2
	VPXORD Y31, Y2, Y2
	VMOVDQU32 (R10), Y4
	VPDPBUSD (R9), Y2, Y4
	VPBROADCASTW (SI), X5
	VCVTPH2PS X5, Y5
	VMULPS (R11), Y5, Y5
	VCVTDQ2PS Y4, Y4
	VFMADD231PS Z5, Z4, Z0 // the upper halves of Z4 and Z5 are zero
	ADDQ $34, SI

q80done:
	HSUM
	MOVSS X0, (DI)
	ADDQ $4, DI
	DECQ R8
	JNZ  q80row
	VZEROUPPER
	RET

// func quantActAVX512(x *float32, nb int, qs *byte, d *float32, sum *int32, lo, hi *int64, period int)
//
// Quantizes nb blocks of 32 floats at x as QuantizeAct does: d[b] =
// max|x|/127, the quants round(x/d) (ties to even) as bytes, sum[b] their
// sum. The blocks come in periods of `period` blocks whose quants fill
// 32*period bytes of qs: block i of a period stores its first 16 quants
// at lo[i] and its last 16 at hi[i] (byte offsets in the period). A block
// holding NaN or an infinity gets d = NaN, zero quants and sum 0.
TEXT ·quantActAVX512(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ qs+16(FP), DI
	MOVQ d+24(FP), R8
	MOVQ sum+32(FP), R9
	MOVQ lo+40(FP), R10
	MOVQ hi+48(FP), R11
	XORQ R12, R12 // block index in the period
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	MOVL $0x7f7fffff, AX // the largest finite float32
	VPBROADCASTD AX, Z30
	MOVL $0x42fe0000, AX // 127.0
	VMOVD AX, X29
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X28
	MOVL $0x7fc00000, AX // NaN
	VMOVD AX, X27

qablock:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VANDPS Z31, Z0, Z2
	VANDPS Z31, Z1, Z3
	// Any |x| not <= the largest float (NaN or infinite)?
	VCMPPS $0x16, Z30, Z2, K1 // NLE_UQ
	VCMPPS $0x16, Z30, Z3, K2
	KORW K1, K2, K1
	KORTESTW K1, K1
	JNZ  qanonfinite
	VMAXPS Z3, Z2, Z2
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VMAXPS X3, X2, X2
	VMOVHLPS X2, X2, X3
	VMAXPS X3, X2, X2
	VMOVSHDUP X2, X3
	VMAXSS X3, X2, X2 // amax
	VDIVSS X29, X2, X2 // d = amax/127
	VXORPS X4, X4, X4
	VUCOMISS X4, X2
	JEQ  qazero
	VDIVSS X2, X28, X4 // id = 1/d

qazero:
	VMOVSS X2, (R8)
	VBROADCASTSS X4, Z4
	VMULPS Z4, Z0, Z0
	VMULPS Z4, Z1, Z1
	VCVTPS2DQ Z0, Z0
	VCVTPS2DQ Z1, Z1
	VPMOVSDB Z0, X5
	VPMOVSDB Z1, X6
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
	VMOVSS X27, (R8)
	MOVL $0, (R9)
	VPXORD X5, X5, X5
	VPXORD X6, X6, X6

qastore:
	MOVQ (R10)(R12*8), AX
	VMOVDQU X5, (DI)(AX*1)
	MOVQ (R11)(R12*8), AX
	VMOVDQU X6, (DI)(AX*1)
	INCQ R12
	CMPQ R12, period+56(FP)
	JLT  qanext
	XORQ R12, R12
	MOVQ period+56(FP), AX
	SHLQ $5, AX
	ADDQ AX, DI

qanext:
	ADDQ $128, SI
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  qablock
	VZEROUPPER
	RET
