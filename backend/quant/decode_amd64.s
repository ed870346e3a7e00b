//go:build amd64 && !purego

#include "textflag.h"
#include "quant_amd64.h"

// AVX2+F16C decoders and float32 vector updates. Each output is computed with
// the same float32 operations, in the same order, as the Go code, so the
// results are bit-identical to it. Counts are whole groups of 8 (or whole
// blocks) and greater than zero.

// func decodeF16AVX2(dst *float32, src unsafe.Pointer, n int)
//
// VCVTPH2PS is exact but quiets signalling NaNs; F16ToF32 keeps the quiet
// bit as it was, so lanes holding a NaN get bit 22 from bit 9 of the source.
TEXT ·decodeF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	BCAST32(0x00400000, X13, Y13)

f16loop:
	VCVTPH2PS (SI), Y0
	VCMPPS    $3, Y0, Y0, Y1 // unordered: NaN lanes
	VPTEST    Y1, Y1
	JNZ       f16nan

f16store:
	VMOVUPS Y0, (DI)
	ADDQ    $16, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     f16loop
	VZEROUPPER
	RET

f16nan:
	VPMOVZXWD (SI), Y2
	VPSLLD    $13, Y2, Y2
	VPAND     Y13, Y2, Y2
	VANDNPS   Y0, Y13, Y3
	VORPS     Y2, Y3, Y3
	VBLENDVPS Y1, Y3, Y0, Y0
	JMP       f16store

// func decodeBF16AVX2(dst *float32, src unsafe.Pointer, n int)
TEXT ·decodeBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

bf16loop:
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       bf16loop
	VZEROUPPER
	RET

// func dequantQ8_0AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ8_0AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX

q8loop:
	F16BCAST(0, X8, Y8)
	VPMOVSXBD 2(SI), Y4
	VPMOVSXBD 10(SI), Y5
	VPMOVSXBD 18(SI), Y6
	VPMOVSXBD 26(SI), Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VMULPS    Y8, Y4, Y4
	VMULPS    Y8, Y5, Y5
	VMULPS    Y8, Y6, Y6
	VMULPS    Y8, Y7, Y7
	VMOVUPS   Y4, (DI)
	VMOVUPS   Y5, 32(DI)
	VMOVUPS   Y6, 64(DI)
	VMOVUPS   Y7, 96(DI)
	ADDQ      $34, SI
	ADDQ      $128, DI
	DECQ      CX
	JNZ       q8loop
	VZEROUPPER
	RET

// func dequantQ4_0AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ4_0AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	BCAST32(0x0f, X15, Y15)
	BCAST32(8, X14, Y14)

q4loop:
	F16BCAST(0, X8, Y8)
	VPMOVZXBD 2(SI), Y4
	VPMOVZXBD 10(SI), Y5
	VPSRLD    $4, Y4, Y6
	VPSRLD    $4, Y5, Y7
	VPAND     Y15, Y4, Y4
	VPAND     Y15, Y5, Y5
	VPSUBD    Y14, Y4, Y4
	VPSUBD    Y14, Y5, Y5
	VPSUBD    Y14, Y6, Y6
	VPSUBD    Y14, Y7, Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VMULPS    Y8, Y4, Y4
	VMULPS    Y8, Y5, Y5
	VMULPS    Y8, Y6, Y6
	VMULPS    Y8, Y7, Y7
	VMOVUPS   Y4, (DI)
	VMOVUPS   Y5, 32(DI)
	VMOVUPS   Y6, 64(DI)
	VMOVUPS   Y7, 96(DI)
	ADDQ      $18, SI
	ADDQ      $128, DI
	DECQ      CX
	JNZ       q4loop
	VZEROUPPER
	RET

// Q4K_DEQ_GROUP decodes 8 bytes of Q4_K quants at qoff(SI): low nibbles to
// doff(DI) (sub-block scale Y12, min Y14), high nibbles to doff+128(DI)
// (scale Y13, min Y15), as (d*sc)*q - dmin*m with two roundings like the Go
// code. Y8 must hold 0x0f in every dword; it uses Y4 and Y5.
#define Q4K_DEQ_GROUP(qoff, doff) \
	VPMOVZXBD (qoff)(SI), Y4 \
	VPSRLD $4, Y4, Y5 \
	VPAND Y8, Y4, Y4 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VMULPS Y12, Y4, Y4 \
	VMULPS Y13, Y5, Y5 \
	VSUBPS Y14, Y4, Y4 \
	VSUBPS Y15, Y5, Y5 \
	VMOVUPS Y4, (doff)(DI) \
	VMOVUPS Y5, ((doff)+128)(DI)

// Q4K_DEQ_CHUNK decodes chunk c (64 elements) of the Q4_K super-block at SI.
#define Q4K_DEQ_CHUNK(c) \
	VBROADCASTSS (8*(c))(SP), Y12 \
	VBROADCASTSS (8*(c)+4)(SP), Y13 \
	VBROADCASTSS (32+8*(c))(SP), Y14 \
	VBROADCASTSS (36+8*(c))(SP), Y15 \
	Q4K_DEQ_GROUP(16+32*(c), 256*(c)) \
	Q4K_DEQ_GROUP(24+32*(c), 256*(c)+32) \
	Q4K_DEQ_GROUP(32+32*(c), 256*(c)+64) \
	Q4K_DEQ_GROUP(40+32*(c), 256*(c)+96)

// func dequantQ4KAVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ4KAVX2(SB), NOSPLIT, $64-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	BCAST32(0x0f, X8, Y8)

q4kloop:
	Q4K_SCALES
	Q4K_DEQ_CHUNK(0)
	Q4K_DEQ_CHUNK(1)
	Q4K_DEQ_CHUNK(2)
	Q4K_DEQ_CHUNK(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  q4kloop
	VZEROUPPER
	RET

// Q6K_DEQ8 stores the 8 quants at qoff(SP) (bytes from Q6K_BYTES) times the
// scale in sc to doff(DI). It uses Y4.
#define Q6K_DEQ8(qoff, sc, doff) \
	VPMOVSXBD (qoff)(SP), Y4 \
	VCVTDQ2PS Y4, Y4 \
	VMULPS sc, Y4, Y4 \
	VMOVUPS Y4, (doff)(DI)

// Q6K_DEQK decodes the 32 elements 32k..32k+31 of half h as
// (d*scale)*(q-32), like the Go code.
#define Q6K_DEQK(h, k) \
	VBROADCASTSS (32*(h)+8*(k))(SP), Y12 \
	VBROADCASTSS (32*(h)+8*(k)+4)(SP), Y13 \
	Q6K_DEQ8(64+32*(k), Y12, 512*(h)+128*(k)) \
	Q6K_DEQ8(72+32*(k), Y12, 512*(h)+128*(k)+32) \
	Q6K_DEQ8(80+32*(k), Y13, 512*(h)+128*(k)+64) \
	Q6K_DEQ8(88+32*(k), Y13, 512*(h)+128*(k)+96)

// Q6K_DEQHALF decodes the 128 elements of half h.
#define Q6K_DEQHALF(h) \
	Q6K_BYTES(h) \
	Q6K_DEQK(h, 0) \
	Q6K_DEQK(h, 1) \
	Q6K_DEQK(h, 2) \
	Q6K_DEQK(h, 3)

// func dequantQ6KAVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ6KAVX2(SB), NOSPLIT, $192-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nb+16(FP), CX
	BCAST32(0x0f0f0f0f, X8, Y8)
	BCAST32(0x30303030, X9, Y9)
	BCAST32(0x20202020, X10, Y10)

q6kloop:
	Q6K_SCALES
	Q6K_DEQHALF(0)
	Q6K_DEQHALF(1)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ CX
	JNZ  q6kloop
	VZEROUPPER
	RET

// func axpyAVX2(a float32, x, y *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y15
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JLT  axpytail

axpyloop:
	VMULPS  (SI), Y15, Y0
	VMULPS  32(SI), Y15, Y1
	VMULPS  64(SI), Y15, Y2
	VMULPS  96(SI), Y15, Y3
	VADDPS  (DI), Y0, Y0
	VADDPS  32(DI), Y1, Y1
	VADDPS  64(DI), Y2, Y2
	VADDPS  96(DI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     axpyloop

axpytail:
	TESTQ   CX, CX
	JZ      axpydone
	VMULPS  (SI), Y15, Y0
	VADDPS  (DI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     axpytail

axpydone:
	VZEROUPPER
	RET

// func scaleAVX2(dst *float32, a float32, src *float32, n int)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y15
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JLT  scaletail

scaleloop:
	VMULPS  (SI), Y15, Y0
	VMULPS  32(SI), Y15, Y1
	VMULPS  64(SI), Y15, Y2
	VMULPS  96(SI), Y15, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     scaleloop

scaletail:
	TESTQ   CX, CX
	JZ      scaledone
	VMULPS  (SI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     scaletail

scaledone:
	VZEROUPPER
	RET
