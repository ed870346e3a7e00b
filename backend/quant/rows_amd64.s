//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// Multi-row dot products: one quantized weight row against several rows
// of x, each weight block converted once for all of them. Every row's
// arithmetic (the products, their order, the accumulators and the final
// reduction) is exactly the one-row kernel's in dot_amd64.s, so each
// result is bit for bit what that kernel gives the row alone.

// Q8CONV converts the Q8_0 block at boff(SI): Y8..Y11 hold its 32
// weights as floats, Y12 its scale.
#define Q8CONV(boff) \
	F16BCAST(boff, X12, Y12) \
	VPMOVSXBD ((boff)+2)(SI), Y8 \
	VPMOVSXBD ((boff)+10)(SI), Y9 \
	VPMOVSXBD ((boff)+18)(SI), Y10 \
	VPMOVSXBD ((boff)+26)(SI), Y11 \
	VCVTDQ2PS Y8, Y8 \
	VCVTDQ2PS Y9, Y9 \
	VCVTDQ2PS Y10, Y10 \
	VCVTDQ2PS Y11, Y11

// Q4CONV converts the Q4_0 block at boff(SI) as Q4DOT does: Y8..Y11 hold
// its 32 weights (nibble - 8) as floats, Y12 its scale. The nibble mask
// and the offset are read from memory, which leaves the registers to the
// rows.
#define Q4CONV(boff) \
	F16BCAST(boff, X12, Y12) \
	VPMOVZXBD ((boff)+2)(SI), Y8 \
	VPMOVZXBD ((boff)+10)(SI), Y9 \
	VPSRLD $4, Y8, Y10 \
	VPSRLD $4, Y9, Y11 \
	VPAND q4mask<>(SB), Y8, Y8 \
	VPAND q4mask<>(SB), Y9, Y9 \
	VPSUBD q4eight<>(SB), Y8, Y8 \
	VPSUBD q4eight<>(SB), Y9, Y9 \
	VPSUBD q4eight<>(SB), Y10, Y10 \
	VPSUBD q4eight<>(SB), Y11, Y11 \
	VCVTDQ2PS Y8, Y8 \
	VCVTDQ2PS Y9, Y9 \
	VCVTDQ2PS Y10, Y10 \
	VCVTDQ2PS Y11, Y11

DATA q4mask<>+0(SB)/8, $0x0000000f0000000f
DATA q4mask<>+8(SB)/8, $0x0000000f0000000f
DATA q4mask<>+16(SB)/8, $0x0000000f0000000f
DATA q4mask<>+24(SB)/8, $0x0000000f0000000f
GLOBL q4mask<>(SB), RODATA|NOPTR, $32

DATA q4eight<>+0(SB)/8, $0x0000000800000008
DATA q4eight<>+8(SB)/8, $0x0000000800000008
DATA q4eight<>+16(SB)/8, $0x0000000800000008
DATA q4eight<>+24(SB)/8, $0x0000000800000008
GLOBL q4eight<>(SB), RODATA|NOPTR, $32

// Q8ROW adds d*(q·x) for the block Q8CONV (or Q4CONV) converted and the 32 floats at
// xoff(ptr) to acc, with Q8DOT's operations in Q8DOT's order. It uses Y13
// and Y14.
#define Q8ROW(ptr, xoff, acc) \
	VMULPS (xoff)(ptr), Y8, Y13 \
	VMULPS ((xoff)+32)(ptr), Y9, Y14 \
	VFMADD231PS ((xoff)+64)(ptr), Y10, Y13 \
	VFMADD231PS ((xoff)+96)(ptr), Y11, Y14 \
	VADDPS Y14, Y13, Y13 \
	VFMADD231PS Y13, Y12, acc

// HSUM stores at off(DX) the sum of the lanes of y (low half x), added
// as REDUCE4 adds them. It uses X8.
#define HSUM(y, x, off) \
	VEXTRACTF128 $1, y, X8 \
	VADDPS X8, x, x \
	VMOVHLPS x, x, X8 \
	VADDPS X8, x, x \
	VMOVSHDUP x, X8 \
	VADDSS X8, x, x \
	MOVSS x, (off)(DX)

// func dotQ8_0x4AVX2(row *byte, x *float32, stride, nb int, out *[4]float32)
//
// out[r] = dotQ8_0AVX2(row, x + r*stride bytes, nb) for r < 4: as there,
// even blocks add into one accumulator per row (Y0..Y3), odd blocks into
// another (Y4..Y7), a last odd block into a third, and the three are
// summed as REDUCE4 sums them (the fourth, never used, is zero).
TEXT ·dotQ8_0x4AVX2(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	MOVQ nb+24(FP), CX
	LEAQ (DI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ CX, $2
	JLT  q84tail

q84loop:
	PREFETCHT0 1024(SI)
	Q8CONV(0)
	Q8ROW(DI, 0, Y0)
	Q8ROW(R8, 0, Y1)
	Q8ROW(R9, 0, Y2)
	Q8ROW(R10, 0, Y3)
	Q8CONV(34)
	Q8ROW(DI, 128, Y4)
	Q8ROW(R8, 128, Y5)
	Q8ROW(R9, 128, Y6)
	Q8ROW(R10, 128, Y7)
	ADDQ $68, SI
	ADDQ $256, DI
	ADDQ $256, R8
	ADDQ $256, R9
	ADDQ $256, R10
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q84loop

q84tail:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    q84sum
	Q8CONV(0)
	Q8ROW(DI, 0, Y4)
	Q8ROW(R8, 0, Y5)
	Q8ROW(R9, 0, Y6)
	Q8ROW(R10, 0, Y7)

q84sum:
	VADDPS Y15, Y4, Y4
	VADDPS Y15, Y5, Y5
	VADDPS Y15, Y6, Y6
	VADDPS Y15, Y7, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	MOVQ out+32(FP), DX
	HSUM(Y0, X0, 0)
	HSUM(Y1, X1, 4)
	HSUM(Y2, X2, 8)
	HSUM(Y3, X3, 12)
	VZEROUPPER
	RET

// func dotQ8_0x2AVX2(row *byte, x *float32, stride, nb int, out *[2]float32)
//
// dotQ8_0x4AVX2 for two rows of x.
TEXT ·dotQ8_0x2AVX2(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	MOVQ nb+24(FP), CX
	LEAQ (DI)(BX*1), R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	CMPQ CX, $2
	JLT  q82tail

q82loop:
	PREFETCHT0 1024(SI)
	Q8CONV(0)
	Q8ROW(DI, 0, Y0)
	Q8ROW(R8, 0, Y1)
	Q8CONV(34)
	Q8ROW(DI, 128, Y4)
	Q8ROW(R8, 128, Y5)
	ADDQ $68, SI
	ADDQ $256, DI
	ADDQ $256, R8
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q82loop

q82tail:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    q82sum
	Q8CONV(0)
	Q8ROW(DI, 0, Y4)
	Q8ROW(R8, 0, Y5)

q82sum:
	VADDPS Y15, Y4, Y4
	VADDPS Y15, Y5, Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	MOVQ out+32(FP), DX
	HSUM(Y0, X0, 0)
	HSUM(Y1, X1, 4)
	VZEROUPPER
	RET

// func dotQ4_0x4AVX2(row *byte, x *float32, stride, nb int, out *[4]float32)
//
// dotQ8_0x4AVX2 for Q4_0 blocks: out[r] = dotQ4_0AVX2(row, x + r*stride
// bytes, nb), bit for bit.
TEXT ·dotQ4_0x4AVX2(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	MOVQ nb+24(FP), CX
	LEAQ (DI)(BX*1), R8
	LEAQ (R8)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ CX, $2
	JLT  q44tail

q44loop:
	PREFETCHT0 1024(SI)
	Q4CONV(0)
	Q8ROW(DI, 0, Y0)
	Q8ROW(R8, 0, Y1)
	Q8ROW(R9, 0, Y2)
	Q8ROW(R10, 0, Y3)
	Q4CONV(18)
	Q8ROW(DI, 128, Y4)
	Q8ROW(R8, 128, Y5)
	Q8ROW(R9, 128, Y6)
	Q8ROW(R10, 128, Y7)
	ADDQ $36, SI
	ADDQ $256, DI
	ADDQ $256, R8
	ADDQ $256, R9
	ADDQ $256, R10
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q44loop

q44tail:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    q44sum
	Q4CONV(0)
	Q8ROW(DI, 0, Y4)
	Q8ROW(R8, 0, Y5)
	Q8ROW(R9, 0, Y6)
	Q8ROW(R10, 0, Y7)

q44sum:
	VADDPS Y15, Y4, Y4
	VADDPS Y15, Y5, Y5
	VADDPS Y15, Y6, Y6
	VADDPS Y15, Y7, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	MOVQ out+32(FP), DX
	HSUM(Y0, X0, 0)
	HSUM(Y1, X1, 4)
	HSUM(Y2, X2, 8)
	HSUM(Y3, X3, 12)
	VZEROUPPER
	RET


// func dotQ4_0x2AVX2(row *byte, x *float32, stride, nb int, out *[2]float32)
TEXT ·dotQ4_0x2AVX2(SB), NOSPLIT, $0-40
	MOVQ row+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	MOVQ nb+24(FP), CX
	LEAQ (DI)(BX*1), R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	CMPQ CX, $2
	JLT  q42tail

q42loop:
	PREFETCHT0 1024(SI)
	Q4CONV(0)
	Q8ROW(DI, 0, Y0)
	Q8ROW(R8, 0, Y1)
	Q4CONV(18)
	Q8ROW(DI, 128, Y4)
	Q8ROW(R8, 128, Y5)
	ADDQ $36, SI
	ADDQ $256, DI
	ADDQ $256, R8
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  q42loop

q42tail:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    q42sum
	Q4CONV(0)
	Q8ROW(DI, 0, Y4)
	Q8ROW(R8, 0, Y5)

q42sum:
	VADDPS Y15, Y4, Y4
	VADDPS Y15, Y5, Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	MOVQ out+32(FP), DX
	HSUM(Y0, X0, 0)
	HSUM(Y1, X1, 4)
	VZEROUPPER
	RET

// Q8ROWS8 runs Q8ROW for the 8 rows of x (DI, +BX, +2BX, R8 = +3BX,
// +4BX, R10 = +5BX, R11 = +6BX, R12 = +7BX) at xoff into Y0..Y7.
#define Q8ROWS8(xoff) \
	Q8ROW(DI, xoff, Y0) \
	Q8ROWX(DI, BX*1, xoff, Y1) \
	Q8ROWX(DI, BX*2, xoff, Y2) \
	Q8ROW(R8, xoff, Y3) \
	Q8ROWX(DI, BX*4, xoff, Y4) \
	Q8ROW(R10, xoff, Y5) \
	Q8ROW(R11, xoff, Y6) \
	Q8ROW(R12, xoff, Y7)

// Q8ROWX is Q8ROW with the x row at base + index.
#define Q8ROWX(base, index, xoff, acc) \
	VMULPS (xoff)(base)(index), Y8, Y13 \
	VMULPS ((xoff)+32)(base)(index), Y9, Y14 \
	VFMADD231PS ((xoff)+64)(base)(index), Y10, Y13 \
	VFMADD231PS ((xoff)+96)(base)(index), Y11, Y14 \
	VADDPS Y14, Y13, Y13 \
	VFMADD231PS Y13, Y12, acc

// TAIL8 adds to acc the last block's d*(q·x) for the x row at ptr - 128,
// formed in the zeroed Y15 and then given REDUCE4's zero, as the
// single-row kernel forms its third and fourth accumulators. It uses
// Y13..Y15.
#define TAIL8(ptr, acc) \
	VXORPS Y15, Y15, Y15 \
	Q8ROW(ptr, -128, Y15) \
	VXORPS Y13, Y13, Y13 \
	VADDPS Y13, Y15, Y15 \
	VADDPS Y15, acc, acc

// TAILX8 is TAIL8 with the x row at base + index - 128.
#define TAILX8(base, index, acc) \
	VXORPS Y15, Y15, Y15 \
	Q8ROWX(base, index, -128, Y15) \
	VXORPS Y13, Y13, Y13 \
	VADDPS Y13, Y15, Y15 \
	VADDPS Y15, acc, acc

// ADVANCE8 moves the 8 x row pointers by n bytes.
#define ADVANCE8(n) \
	ADDQ $(n), DI \
	ADDQ $(n), R8 \
	ADDQ $(n), R10 \
	ADDQ $(n), R11 \
	ADDQ $(n), R12

// func dotQ8_0x8AVX2(row *byte, x *float32, stride, nb int, out *[8]float32)
//
// dotQ8_0x4AVX2 for 8 rows of x, each block decoded once for all 8. The
// single-row kernel adds even blocks into one accumulator and odd blocks
// into another; 8 rows would need 16, so this kernel makes two passes over
// the weight row (it is in L1): the even blocks into Y0..Y7, kept on the
// stack, then the odd blocks into Y0..Y7. Each accumulator still sees its
// blocks in the same order, and the sums are formed as REDUCE4 forms them.
TEXT ·dotQ8_0x8AVX2(SB), NOSPLIT, $256-40
	MOVQ x+8(FP), DI
	MOVQ stride+16(FP), BX
	LEAQ (DI)(BX*2), R8
	ADDQ BX, R8
	LEAQ (DI)(BX*4), R10
	ADDQ BX, R10
	LEAQ (R10)(BX*1), R11
	LEAQ (R11)(BX*1), R12

	// Even blocks.
	MOVQ row+0(FP), SI
	MOVQ nb+24(FP), CX
	SHRQ $1, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    q88even

q88evenloop:
	PREFETCHT0 1024(SI)
	Q8CONV(0)
	Q8ROWS8(0)
	ADDQ $68, SI
	ADVANCE8(256)
	DECQ CX
	JNZ  q88evenloop

q88even:
	VMOVUPS Y0, 0(SP)
	VMOVUPS Y1, 32(SP)
	VMOVUPS Y2, 64(SP)
	VMOVUPS Y3, 96(SP)
	VMOVUPS Y4, 128(SP)
	VMOVUPS Y5, 160(SP)
	VMOVUPS Y6, 192(SP)
	VMOVUPS Y7, 224(SP)

	// Odd blocks: back to block 1.
	MOVQ nb+24(FP), CX
	SHRQ $1, CX
	MOVQ CX, AX
	SHLQ $8, AX
	SUBQ $128, AX // x pointers are 256 per pair past their start; block 1 is 128 past it
	SUBQ AX, DI
	SUBQ AX, R8
	SUBQ AX, R10
	SUBQ AX, R11
	SUBQ AX, R12
	MOVQ row+0(FP), SI
	ADDQ $34, SI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    q88odd

q88oddloop:
	Q8CONV(0)
	Q8ROWS8(0)
	ADDQ $68, SI
	ADVANCE8(256)
	DECQ CX
	JNZ  q88oddloop

q88odd:
	// even + odd, as REDUCE4 adds Y0 and Y1.
	VADDPS 0(SP), Y0, Y0
	VADDPS 32(SP), Y1, Y1
	VADDPS 64(SP), Y2, Y2
	VADDPS 96(SP), Y3, Y3
	VADDPS 128(SP), Y4, Y4
	VADDPS 160(SP), Y5, Y5
	VADDPS 192(SP), Y6, Y6
	VADDPS 224(SP), Y7, Y7

	// The last block when nb is odd: it is 34 bytes before SI and 128
	// before the x pointers. Its products go into a zeroed accumulator,
	// which gets the fourth (zero) accumulator added, as in REDUCE4.
	MOVQ nb+24(FP), CX
	TESTQ $1, CX
	JZ    q88notail
	Q8CONV(-34)
	TAIL8(DI, Y0)
	TAILX8(DI, BX*1, Y1)
	TAILX8(DI, BX*2, Y2)
	TAIL8(R8, Y3)
	TAILX8(DI, BX*4, Y4)
	TAIL8(R10, Y5)
	TAIL8(R11, Y6)
	TAIL8(R12, Y7)
	JMP   q88sum

q88notail:
	VXORPS Y15, Y15, Y15
	VADDPS Y15, Y15, Y15
	VADDPS Y15, Y0, Y0
	VADDPS Y15, Y1, Y1
	VADDPS Y15, Y2, Y2
	VADDPS Y15, Y3, Y3
	VADDPS Y15, Y4, Y4
	VADDPS Y15, Y5, Y5
	VADDPS Y15, Y6, Y6
	VADDPS Y15, Y7, Y7

q88sum:
	MOVQ out+32(FP), DX
	HSUM(Y0, X0, 0)
	HSUM(Y1, X1, 4)
	HSUM(Y2, X2, 8)
	HSUM(Y3, X3, 12)
	HSUM(Y4, X4, 16)
	HSUM(Y5, X5, 20)
	HSUM(Y6, X6, 24)
	HSUM(Y7, X7, 28)
	VZEROUPPER
	RET
