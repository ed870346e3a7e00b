//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 float32 exponential and the functions built on it: x = n·ln2 + r
// (n rounded to nearest, Cody–Waite split of ln2), Cephes' degree-7
// polynomial for e**r and VSCALEFPS for the exact scaling by 2**n, which
// also gives the subnormal, zero and infinite results. Inputs are clamped
// to [-104, 89] first (NaN kept: the clamps take the other operand when
// the input is NaN), outside of which e**x rounds to 0 or +Inf. The AVX2
// versions (EXPY8) do the same but scale by two multiplies (no VSCALEFPS).

DATA expc<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expc<>+4(SB)/4, $0x3f318000  // ln2 hi 0.693359375
DATA expc<>+8(SB)/4, $0xb95e8083  // ln2 lo -2.12194440e-4
DATA expc<>+12(SB)/4, $0x39506967 // 1.9875691500e-4
DATA expc<>+16(SB)/4, $0x3ab743ce // 1.3981999507e-3
DATA expc<>+20(SB)/4, $0x3c088908 // 8.3334519073e-3
DATA expc<>+24(SB)/4, $0x3d2aa9c1 // 4.1665795894e-2
DATA expc<>+28(SB)/4, $0x3e2aaaaa // 1.6666665459e-1
DATA expc<>+32(SB)/4, $0x3f000000 // 5.0000001201e-1
DATA expc<>+36(SB)/4, $0x3f800000 // 1
DATA expc<>+40(SB)/4, $0xc2d00000 // -104
DATA expc<>+44(SB)/4, $0x42b20000 // 89
GLOBL expc<>(SB), RODATA|NOPTR, $48

// MAX4X0 sets the low float of X0 to the largest of X0's four, using X1.
#define MAX4X0 \
	VMOVHLPS X0, X0, X1 \
	VMAXPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VMAXSS X1, X0, X0

// TAILMASKY sets Y5 to the AVX2 tail mask of CX lanes (0 < CX < 8): lane
// i all ones when i < CX (lanesY<>: the lane indices), using Y4.
#define TAILMASKY \
	VMOVD CX, X5 \
	VPBROADCASTD X5, Y5 \
	VMOVDQU lanesY<>(SB), Y4 \
	VPCMPGTD Y4, Y5, Y5

// EXPCONST loads the constants into Z16..Z27.
#define EXPCONST \
	VBROADCASTSS expc<>+0(SB), Z16 \
	VBROADCASTSS expc<>+4(SB), Z17 \
	VBROADCASTSS expc<>+8(SB), Z18 \
	VBROADCASTSS expc<>+12(SB), Z19 \
	VBROADCASTSS expc<>+16(SB), Z20 \
	VBROADCASTSS expc<>+20(SB), Z21 \
	VBROADCASTSS expc<>+24(SB), Z22 \
	VBROADCASTSS expc<>+28(SB), Z23 \
	VBROADCASTSS expc<>+32(SB), Z24 \
	VBROADCASTSS expc<>+36(SB), Z25 \
	VBROADCASTSS expc<>+40(SB), Z26 \
	VBROADCASTSS expc<>+44(SB), Z27

// EXP sets z = e**z, using t and u.
#define EXP(z, t, u) \
	VMAXPS z, Z26, z \
	VMINPS z, Z27, z \
	VMULPS Z16, z, t \
	VRNDSCALEPS $0, t, t \
	VFNMADD231PS Z17, t, z \
	VFNMADD231PS Z18, t, z \
	VMOVAPS Z19, u \
	VFMADD213PS Z20, z, u \
	VFMADD213PS Z21, z, u \
	VFMADD213PS Z22, z, u \
	VFMADD213PS Z23, z, u \
	VFMADD213PS Z24, z, u \
	VMULPS z, z, Z28 \
	VFMADD213PS z, Z28, u \
	VADDPS Z25, u, u \
	VSCALEFPS t, u, z

// TAILMASK sets K1 to the low CX bits (0 < CX < 16), using AX.
#define TAILMASK \
	MOVQ $1, AX \
	SHLQ CX, AX \
	DECQ AX \
	KMOVW AX, K1

// func expSumAVX512(x *float32, n int, m float32) float32
//
// x[i] = e**(x[i]-m) for n (positive) elements; returns their sum. The
// last n%16 elements go through the same vector arithmetic under a mask,
// so that every element's result is the same function of its input
// wherever it sits.
TEXT ·expSumAVX512(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Z29
	EXPCONST
	VXORPS Z30, Z30, Z30
	CMPQ CX, $16
	JLT  estail

esloop:
	VMOVUPS (SI), Z0
	VSUBPS Z29, Z0, Z0
	EXP(Z0, Z1, Z2)
	VMOVUPS Z0, (SI)
	VADDPS Z0, Z30, Z30
	ADDQ $64, SI
	SUBQ $16, CX
	CMPQ CX, $16
	JGE  esloop

estail:
	TESTQ CX, CX
	JZ   esdone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS Z29, Z0, Z0
	EXP(Z0, Z1, Z2)
	VMOVUPS Z0, K1, (SI)
	VADDPS Z0, Z30, K1, Z30

esdone:
	VEXTRACTF64X4 $1, Z30, Y1
	VADDPS Y1, Y30, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func swigluAVX512(out, x, y *float32, n int)
//
// out[i] = x[i]/(1+e**-x[i]) · y[i] (silu when y is nil) for n (positive)
// elements, the last n%16 under a mask (as in expSumAVX512).
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	EXPCONST
	VXORPS Z29, Z29, Z29
	MOVQ $-1, AX
	KMOVW AX, K1
	CMPQ CX, $16
	JGE  swloop
	TAILMASK

swloop:
	VMOVUPS.Z (SI), K1, Z3
	VSUBPS Z3, Z29, Z0
	EXP(Z0, Z1, Z2)
	VADDPS Z25, Z0, Z0
	VDIVPS Z0, Z3, Z0
	TESTQ DX, DX
	JZ   swstore
	VMOVUPS.Z (DX), K1, Z4
	VMULPS Z4, Z0, Z0
	ADDQ $64, DX

swstore:
	VMOVUPS Z0, K1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JLE  swdone
	CMPQ CX, $16
	JGE  swloop
	TAILMASK
	JMP  swloop

swdone:
	VZEROUPPER
	RET

// func mulAVX2(out, x, y *float32, n int)
//
// out[i] = x[i]·y[i] for n (a positive multiple of 8) elements.
TEXT ·mulAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	XORQ AX, AX
	CMPQ CX, $32
	JLT  mul8

mul32:
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMOVUPS 64(SI)(AX*4), Y2
	VMOVUPS 96(SI)(AX*4), Y3
	VMULPS (DX)(AX*4), Y0, Y0
	VMULPS 32(DX)(AX*4), Y1, Y1
	VMULPS 64(DX)(AX*4), Y2, Y2
	VMULPS 96(DX)(AX*4), Y3, Y3
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	VMOVUPS Y2, 64(DI)(AX*4)
	VMOVUPS Y3, 96(DI)(AX*4)
	ADDQ $32, AX
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  mul32

mul8:
	TESTQ CX, CX
	JZ   muldone
	VMOVUPS (SI)(AX*4), Y0
	VMULPS (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	SUBQ $8, CX
	JMP  mul8

muldone:
	VZEROUPPER
	RET

// func encodeF16AVX2(dst *uint16, src *float32, n int)
//
// dst[i] = src[i] as f16, rounded to nearest even (VCVTPS2PH), for n (a
// positive multiple of 8) elements.
TEXT ·encodeF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

ef16:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, X0
	VMOVDQU X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JNZ  ef16
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) (m float32, nan bool)
//
// m = the largest of x[:n] (n a positive multiple of 16) and whether one
// of them is NaN (VMAXPS would drop it), in two chains of VMAXPS.
TEXT ·maxAVX512(SB), NOSPLIT, $0-21
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Z0
	VMOVUPS Z0, Z1
	VCMPPS $3, Z0, Z0, K1 // unordered: NaN lanes
	ADDQ $64, SI
	SUBQ $16, CX
	JZ   mxreduce
	CMPQ CX, $16
	JEQ  mxone

mxloop:
	VMOVUPS (SI), Z2
	VMOVUPS 64(SI), Z3
	VCMPPS $3, Z2, Z2, K2
	VCMPPS $3, Z3, Z3, K3
	KORW K2, K1, K1
	KORW K3, K1, K1
	VMAXPS Z2, Z0, Z0
	VMAXPS Z3, Z1, Z1
	ADDQ $128, SI
	SUBQ $32, CX
	JZ   mxreduce
	CMPQ CX, $16
	JNE  mxloop

mxone:
	VMOVUPS (SI), Z2
	VCMPPS $3, Z2, Z2, K2
	KORW K2, K1, K1
	VMAXPS Z2, Z0, Z0

mxreduce:
	VMAXPS Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	MAX4X0
	VMOVSS X0, m+16(FP)
	KORTESTW K1, K1
	SETNE nan+20(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) (m float32, nan bool)
//
// maxAVX512 on AVX2: n a positive multiple of 8, NaN lanes gathered by
// VCMPPS (unordered) into Y2.
TEXT ·maxAVX2(SB), NOSPLIT, $0-21
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VMOVUPS (SI), Y0
	VCMPPS $3, Y0, Y0, Y2
	ADDQ $32, SI
	SUBQ $8, CX
	JZ   ymxreduce

ymxloop:
	VMOVUPS (SI), Y1
	VCMPPS $3, Y1, Y1, Y3
	VORPS Y3, Y2, Y2
	VMAXPS Y1, Y0, Y0
	ADDQ $32, SI
	SUBQ $8, CX
	JNZ  ymxloop

ymxreduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS X1, X0, X0
	MAX4X0
	VMOVSS X0, m+16(FP)
	VMOVMSKPS Y2, AX
	TESTL AX, AX
	SETNE nan+20(FP)
	VZEROUPPER
	RET

// The AVX2 exponential's constants, eight copies each (expc<>'s order),
// then 127 as int32 lanes for the scaling.
#define EXPY(i, v) \
	DATA expy<>+(32*(i))(SB)/4, v \
	DATA expy<>+(32*(i)+4)(SB)/4, v \
	DATA expy<>+(32*(i)+8)(SB)/4, v \
	DATA expy<>+(32*(i)+12)(SB)/4, v \
	DATA expy<>+(32*(i)+16)(SB)/4, v \
	DATA expy<>+(32*(i)+20)(SB)/4, v \
	DATA expy<>+(32*(i)+24)(SB)/4, v \
	DATA expy<>+(32*(i)+28)(SB)/4, v

EXPY(0, $0x3fb8aa3b)
EXPY(1, $0x3f318000)
EXPY(2, $0xb95e8083)
EXPY(3, $0x39506967)
EXPY(4, $0x3ab743ce)
EXPY(5, $0x3c088908)
EXPY(6, $0x3d2aa9c1)
EXPY(7, $0x3e2aaaaa)
EXPY(8, $0x3f000000)
EXPY(9, $0x3f800000)
EXPY(10, $0xc2d00000)
EXPY(11, $0x42b20000)
EXPY(12, $127)
GLOBL expy<>(SB), RODATA|NOPTR, $416

// EXPY8 sets z = e**z on AVX2 as EXP does on AVX-512 (the same clamps,
// reduction and polynomial), the scaling by 2**n done as two exact
// multiplies by 2**(n>>1) and 2**(n-(n>>1)) built from the exponent bits
// (each within the normal range for n in [-151, 129]), using t, u, v.
#define EXPY8(z, t, u, v) \
	VMOVUPS expy<>+320(SB), t \
	VMAXPS z, t, z \
	VMOVUPS expy<>+352(SB), t \
	VMINPS z, t, z \
	VMULPS expy<>+0(SB), z, t \
	VROUNDPS $0, t, t \
	VFNMADD231PS expy<>+32(SB), t, z \
	VFNMADD231PS expy<>+64(SB), t, z \
	VMOVAPS expy<>+96(SB), u \
	VFMADD213PS expy<>+128(SB), z, u \
	VFMADD213PS expy<>+160(SB), z, u \
	VFMADD213PS expy<>+192(SB), z, u \
	VFMADD213PS expy<>+224(SB), z, u \
	VFMADD213PS expy<>+256(SB), z, u \
	VMULPS z, z, v \
	VFMADD213PS z, v, u \
	VADDPS expy<>+288(SB), u, u \
	VCVTPS2DQ t, t \
	VPSRAD $1, t, v \
	VPSUBD v, t, t \
	VPADDD expy<>+384(SB), v, v \
	VPSLLD $23, v, v \
	VMULPS v, u, u \
	VPADDD expy<>+384(SB), t, t \
	VPSLLD $23, t, t \
	VMULPS t, u, z

// func expSumAVX2(x *float32, n int, m float32) float32
//
// expSumAVX512 on AVX2: the last n%8 elements through the same vector
// arithmetic, loaded and stored under a VMASKMOVPS mask and left out of
// the sum.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS m+16(FP), Y7
	VXORPS Y6, Y6, Y6
	CMPQ CX, $8
	JLT  yestail

yesloop:
	VMOVUPS (SI), Y0
	VSUBPS Y7, Y0, Y0
	EXPY8(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (SI)
	VADDPS Y0, Y6, Y6
	ADDQ $32, SI
	SUBQ $8, CX
	CMPQ CX, $8
	JGE  yesloop

yestail:
	TESTQ CX, CX
	JZ   yesdone
	TAILMASKY
	VMASKMOVPS (SI), Y5, Y0
	VSUBPS Y7, Y0, Y0
	EXPY8(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y0, Y5, (SI)
	VANDPS Y5, Y0, Y0
	VADDPS Y0, Y6, Y6

yesdone:
	VEXTRACTF128 $1, Y6, X1
	VADDPS X1, X6, X0
	VMOVHLPS X0, X0, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Lane indices 0..7 as int32.
DATA lanesY<>+0(SB)/8, $0x0000000100000000
DATA lanesY<>+8(SB)/8, $0x0000000300000002
DATA lanesY<>+16(SB)/8, $0x0000000500000004
DATA lanesY<>+24(SB)/8, $0x0000000700000006
GLOBL lanesY<>(SB), RODATA|NOPTR, $32

// func swigluAVX2(out, x, y *float32, n int)
//
// swigluAVX512 on AVX2 (EXPY8), the last n%8 elements loaded and stored
// under a VMASKMOVPS mask (Y5: all lanes until then).
TEXT ·swigluAVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VXORPS Y7, Y7, Y7
	VPCMPEQD Y5, Y5, Y5
	MOVL $0x3f800000, AX // 1.0
	VMOVD AX, X6
	VBROADCASTSS X6, Y6
	CMPQ CX, $8
	JGE  yswloop

yswmask:
	TAILMASKY

yswloop:
	VMASKMOVPS (SI), Y5, Y3
	VSUBPS Y3, Y7, Y0
	EXPY8(Y0, Y1, Y2, Y4)
	VADDPS Y6, Y0, Y0
	VDIVPS Y0, Y3, Y0
	TESTQ DX, DX
	JZ   yswstore
	VMASKMOVPS (DX), Y5, Y4
	VMULPS Y4, Y0, Y0
	ADDQ $32, DX

yswstore:
	VMASKMOVPS Y0, Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JLE  yswdone
	CMPQ CX, $8
	JGE  yswloop
	JMP  yswmask

yswdone:
	VZEROUPPER
	RET

// func argmaxAVX512(x *float32, n int, out *argmaxLanes)
//
// For n (a positive multiple of 32) elements at x, two chains of 16 lanes
// (even and odd 16-element steps) each keep the first largest value a
// lane saw (strictly greater: a NaN never, -Inf never) and its index,
// and 16 lanes the largest magnitude as bits (an infinity or a NaN:
// 0x7f800000 or more). Z0/Z1 chain A's values and indices, Z8/Z9 chain
// B's, Z2/Z10 the indices of the current step, Z3 32 in every lane, Z5
// the magnitude mask, Z4 the magnitudes.
TEXT ·argmaxAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX // -Inf
	VPBROADCASTD AX, Z0
	VMOVAPS Z0, Z8
	VMOVDQU32 ·pkLane(SB), Z2
	MOVL $16, AX
	VPBROADCASTD AX, Z3
	VPADDD Z3, Z2, Z10
	VMOVDQA32 Z2, Z1
	VMOVDQA32 Z10, Z9
	MOVL $32, AX
	VPBROADCASTD AX, Z3
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z5
	VPXORD Z4, Z4, Z4

amloop:
	VMOVUPS (SI), Z6
	VMOVUPS 64(SI), Z7
	VCMPPS $0x1e, Z0, Z6, K1 // Z6 > Z0, ordered
	VCMPPS $0x1e, Z8, Z7, K2
	VMOVAPS Z6, K1, Z0
	VMOVDQA32 Z2, K1, Z1
	VMOVAPS Z7, K2, Z8
	VMOVDQA32 Z10, K2, Z9
	VPANDD Z5, Z6, Z6
	VPANDD Z5, Z7, Z7
	VPMAXUD Z6, Z4, Z4
	VPMAXUD Z7, Z4, Z4
	VPADDD Z3, Z2, Z2
	VPADDD Z3, Z10, Z10
	ADDQ $128, SI
	SUBQ $32, CX
	JNZ  amloop

	MOVQ out+16(FP), DI
	VMOVUPS Z0, (DI)
	VMOVUPS Z8, 64(DI)
	VMOVDQU32 Z1, 128(DI)
	VMOVDQU32 Z9, 192(DI)
	VMOVDQU32 Z4, 256(DI)
	VZEROUPPER
	RET

// func ropePairsAVX2(out, x, c, s *float32, dims, heads, stride int)
//
// RoPE of neighbouring pairs: for each of heads heads (stride floats
// apart), out[j] = x[j]·c[j] + x[j^1]·s[j] for j < dims (a positive
// multiple of 8), 8 at a time, the products rounded before the sum.
TEXT ·ropePairsAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ c+16(FP), R8
	MOVQ s+24(FP), R9
	MOVQ dims+32(FP), R10
	SHLQ $2, R10
	MOVQ heads+40(FP), R11
	MOVQ stride+48(FP), R12
	SHLQ $2, R12

rphead:
	XORQ AX, AX

rploop:
	VMOVUPS (SI)(AX*1), Y0
	VPERMILPS $0xb1, Y0, Y1 // neighbours swapped
	VMULPS (R8)(AX*1), Y0, Y0
	VMULPS (R9)(AX*1), Y1, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R10
	JLT  rploop
	ADDQ R12, SI
	ADDQ R12, DI
	DECQ R11
	JNZ  rphead
	VZEROUPPER
	RET

// func ropeHalvesAVX2(out, x, c, s *float32, dims, heads, stride int)
//
// RoPE of halves (NeoX): for each head, element j < dims/2 pairs with
// j + dims/2 (dims a positive multiple of 16), 8 pairs at a time: both
// halves are read before either is written.
TEXT ·ropeHalvesAVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ c+16(FP), R8
	MOVQ s+24(FP), R9
	MOVQ dims+32(FP), R10
	SHLQ $1, R10 // half, in bytes
	MOVQ heads+40(FP), R11
	MOVQ stride+48(FP), R12
	SHLQ $2, R12

rhhead:
	XORQ AX, AX
	MOVQ R10, BX

rhloop:
	VMOVUPS (SI)(AX*1), Y0 // x[j]
	VMOVUPS (SI)(BX*1), Y1 // x[j+half]
	VMULPS (R8)(AX*1), Y0, Y2
	VMULPS (R9)(AX*1), Y1, Y3
	VADDPS Y3, Y2, Y2
	VMULPS (R8)(BX*1), Y1, Y4
	VMULPS (R9)(BX*1), Y0, Y5
	VADDPS Y5, Y4, Y4
	VMOVUPS Y2, (DI)(AX*1)
	VMOVUPS Y4, (DI)(BX*1)
	ADDQ $32, AX
	ADDQ $32, BX
	CMPQ AX, R10
	JLT  rhloop
	ADDQ R12, SI
	ADDQ R12, DI
	DECQ R11
	JNZ  rhhead
	VZEROUPPER
	RET

// func prefetchRowsAsm(p unsafe.Pointer, strideBytes int, n int, lines int)
//
// PREFETCHT0 of lines 64-byte lines from each of n rows strideBytes apart
// from p (n ≥ 0, lines ≥ 1).
TEXT ·prefetchRowsAsm(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ strideBytes+8(FP), DX
	MOVQ n+16(FP), CX
	MOVQ lines+24(FP), R8
	TESTQ CX, CX
	JZ   pfdone
pfrow:
	MOVQ SI, DI
	MOVQ R8, R9
pfline:
	PREFETCHT0 (DI)
	ADDQ $64, DI
	DECQ R9
	JNZ  pfline
	ADDQ DX, SI
	DECQ CX
	JNZ  pfrow
pfdone:
	RET

// func argmaxAVX2(x *float32, n int, out *argmaxLanes)
//
// argmaxAVX512 on AVX2: n a positive multiple of 16, two chains of 8
// lanes (out.val and out.idx lanes 0..15; the caller sets the others),
// the compare's mask vector selecting by VBLENDVPS; out.mag lanes 0..7.
// Y0/Y1 chain A's values and indices, Y8/Y9 chain B's, Y2/Y10 the
// current indices, Y3 16 in every lane, Y5 the magnitude mask, Y4 the
// magnitudes.
TEXT ·argmaxAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0xff800000, AX // -Inf
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VMOVAPS Y0, Y8
	VMOVDQU ·pkLane(SB), Y2
	VMOVDQU ·pkLane+32(SB), Y10
	VMOVDQA Y2, Y1
	VMOVDQA Y10, Y9
	MOVL $16, AX
	VMOVD AX, X3
	VPBROADCASTD X3, Y3
	MOVL $0x7fffffff, AX
	VMOVD AX, X5
	VPBROADCASTD X5, Y5
	VPXOR Y4, Y4, Y4

am2loop:
	VMOVUPS (SI), Y6
	VMOVUPS 32(SI), Y7
	VCMPPS $0x1e, Y0, Y6, Y11 // Y6 > Y0, ordered
	VCMPPS $0x1e, Y8, Y7, Y12
	VBLENDVPS Y11, Y6, Y0, Y0
	VBLENDVPS Y11, Y2, Y1, Y1
	VBLENDVPS Y12, Y7, Y8, Y8
	VBLENDVPS Y12, Y10, Y9, Y9
	VANDPS Y5, Y6, Y6
	VANDPS Y5, Y7, Y7
	VPMAXUD Y6, Y4, Y4
	VPMAXUD Y7, Y4, Y4
	VPADDD Y3, Y2, Y2
	VPADDD Y3, Y10, Y10
	ADDQ $64, SI
	SUBQ $16, CX
	JNZ  am2loop

	MOVQ out+16(FP), DI
	VMOVUPS Y0, (DI)
	VMOVUPS Y8, 32(DI)
	VMOVDQU Y1, 128(DI)
	VMOVDQU Y9, 160(DI)
	VMOVDQU Y4, 256(DI)
	VZEROUPPER
	RET
