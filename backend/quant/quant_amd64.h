// Macros shared by the AVX2 kernels of dot_amd64.s, decode_amd64.s,
// act_amd64.s and actgemm_avx2_amd64.s.
// Macro arguments are byte offsets or register names; every argument is
// parenthesised where it is used because the expansion is textual.

// AHEAD is how far ahead of the step being multiplied the integer GEMVs
// and the AVX2 GEMMs prefetch their weights.
#define AHEAD 4096

// BCAST32 sets the eight dwords of Y register y to the immediate imm,
// through the general register AX and the low half x of y.
#define BCAST32(imm, x, y) \
	MOVL $(imm), AX \
	VMOVD AX, x \
	VPBROADCASTD x, y

// F16BCAST sets all eight floats of Y register y to the f16 value at off(SI)
// (x is the low half of y).
#define F16BCAST(off, x, y) \
	VPBROADCASTW (off)(SI), x \
	VCVTPH2PS x, y

// REDUCE4 adds the eight lanes of Y0..Y3, leaves the sum in the low float
// of X0 and clears the upper halves of the Y registers. It uses Y1.
#define REDUCE4 \
	VADDPS Y1, Y0, Y0 \
	VADDPS Y3, Y2, Y2 \
	VADDPS Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VMOVHLPS X0, X0, X1 \
	VADDPS X1, X0, X0 \
	VMOVSHDUP X0, X1 \
	VADDSS X1, X0, X0 \
	VZEROUPPER

// VNNIW is VPDPWSSD Y(d), Y(v), Y(r) in its VEX (AVX-VNNI) encoding, given
// the registers' numbers: Y(d) += the 16-bit products of Y(v) and Y(r),
// summed in pairs into its int32 lanes (VPMADDWD and VPADDD in one). The
// Go assembler encodes VPDPWSSD on Y registers as EVEX, which needs
// AVX-512 VL.
#define VNNIW(r, v, d) \
	BYTE $0xC4; \
	BYTE $(0x42 | ((((d)>>3)&1)^1)<<7 | ((((r)>>3)&1)^1)<<5); \
	BYTE $((((v)^15)<<3) | 5); \
	BYTE $0x52; \
	BYTE $(0xC0 | (((d)&7)<<3) | ((r)&7))

// Q4_0_UNPACK2 unpacks blocks h2 and h2+1 (h2 = 0 or 2) of the Q4_0 group
// at SI for the AVX2 integer kernels: w0..w3 the low nibbles of the even
// and of the odd bytes and the high nibbles of the even and of the odd
// bytes as words (mask: 0x000f in every word; t, low half xt, is
// clobbered), ys (low half xs) the two blocks' f16 scales as floats over
// their four lanes each (r1, r2: general registers, clobbered).
#define Q4_0_UNPACK2(h2, t, xt, w0, w1, w2, w3, mask, ys, xs, r1, r2) \
	VMOVDQU (2+18*(h2))(SI), xt \
	VINSERTI128 $1, (20+18*(h2))(SI), t, t \
	VPAND mask, t, w0 \
	VPSRLW $8, t, w1 \
	VPAND mask, w1, w1 \
	VPSRLW $4, t, w2 \
	VPAND mask, w2, w2 \
	VPSRLW $12, t, w3 \
	MOVWLZX (18*(h2))(SI), r1 \
	MOVWLZX (18+18*(h2))(SI), r2 \
	SHLL $16, r2 \
	ORL r2, r1 \
	VMOVD r1, xs \
	VPSHUFB ·shufD2(SB), xs, xs \
	VCVTPH2PS xs, ys

// Q4K_SCALES decodes the scales of the Q4_K super-block at SI into the
// stack: 0(SP) holds the eight floats d*sc[j], 32(SP) the eight floats
// dmin*m[j], each product rounded to float32 as in the Go code. The 12
// packed bytes are read as little-endian words u0, u1, u2:
//
//	sc[0..3] = u0 & 0x3f3f3f3f
//	sc[4..7] = u2 & 0x0f0f0f0f | (u0>>6 & 0x03030303) << 4
//	m[0..3]  = u1 & 0x3f3f3f3f
//	m[4..7]  = u2>>4 & 0x0f0f0f0f | (u1>>6 & 0x03030303) << 4
//
// It uses AX, BX, DX, R8, R9, R10 and Y9..Y12.
#define Q4K_SCALES \
	F16BCAST(0, X9, Y9) \
	F16BCAST(2, X10, Y10) \
	MOVL 4(SI), AX \
	MOVL 8(SI), BX \
	MOVL 12(SI), DX \
	MOVL AX, R8 \
	ANDL $0x3f3f3f3f, R8 \
	SHRL $6, AX \
	ANDL $0x03030303, AX \
	SHLL $4, AX \
	MOVL DX, R9 \
	ANDL $0x0f0f0f0f, R9 \
	ORL R9, AX \
	SHLQ $32, AX \
	ORQ AX, R8 \
	MOVL BX, R10 \
	ANDL $0x3f3f3f3f, R10 \
	SHRL $6, BX \
	ANDL $0x03030303, BX \
	SHLL $4, BX \
	SHRL $4, DX \
	ANDL $0x0f0f0f0f, DX \
	ORL DX, BX \
	SHLQ $32, BX \
	ORQ BX, R10 \
	VMOVQ R8, X11 \
	VPMOVZXBD X11, Y11 \
	VCVTDQ2PS Y11, Y11 \
	VMULPS Y9, Y11, Y11 \
	VMOVUPS Y11, 0(SP) \
	VMOVQ R10, X12 \
	VPMOVZXBD X12, Y12 \
	VCVTDQ2PS Y12, Y12 \
	VMULPS Y10, Y12, Y12 \
	VMOVUPS Y12, 32(SP)

// Q6K_SCALES stores the sixteen floats d*scales[j] of the Q6_K super-block
// at SI at 0(SP)..63(SP). It uses Y4, Y5 and Y7.
#define Q6K_SCALES \
	F16BCAST(208, X7, Y7) \
	VPMOVSXBD 192(SI), Y4 \
	VPMOVSXBD 200(SI), Y5 \
	VCVTDQ2PS Y4, Y4 \
	VCVTDQ2PS Y5, Y5 \
	VMULPS Y7, Y4, Y4 \
	VMULPS Y7, Y5, Y5 \
	VMOVUPS Y4, 0(SP) \
	VMOVUPS Y5, 32(SP)

// Q6K_BYTES decodes the 128 quants of half h of the Q6_K super-block at SI
// to signed bytes q-32 at 64(SP)..191(SP): 32 bytes for each of the four
// element ranges l, l+32, l+64, l+96 (l < 32) of the half, in that order.
// For l < 32, with ql and qh the half's bytes:
//
//	q(l)    = ql[l]&0xf    | (qh[l]<<4)&0x30
//	q(l+32) = ql[l+32]&0xf | (qh[l]<<2)&0x30
//	q(l+64) = ql[l]>>4     | qh[l]&0x30
//	q(l+96) = ql[l+32]>>4  | (qh[l]>>2)&0x30
//
// The shifts are 16-bit; the bits they move across bytes are masked off. Y8
// must hold 0x0f, Y9 0x30 and Y10 32 in every byte; it uses Y4..Y7 and Y11.
#define Q6K_BYTES(h) \
	VMOVDQU (64*(h))(SI), Y4 \
	VMOVDQU (64*(h)+32)(SI), Y5 \
	VMOVDQU (128+32*(h))(SI), Y6 \
	VPAND Y8, Y4, Y7 \
	VPSLLW $4, Y6, Y11 \
	VPAND Y9, Y11, Y11 \
	VPOR Y11, Y7, Y7 \
	VPSUBB Y10, Y7, Y7 \
	VMOVDQU Y7, 64(SP) \
	VPAND Y8, Y5, Y7 \
	VPSLLW $2, Y6, Y11 \
	VPAND Y9, Y11, Y11 \
	VPOR Y11, Y7, Y7 \
	VPSUBB Y10, Y7, Y7 \
	VMOVDQU Y7, 96(SP) \
	VPSRLW $4, Y4, Y7 \
	VPAND Y8, Y7, Y7 \
	VPAND Y9, Y6, Y11 \
	VPOR Y11, Y7, Y7 \
	VPSUBB Y10, Y7, Y7 \
	VMOVDQU Y7, 128(SP) \
	VPSRLW $4, Y5, Y7 \
	VPAND Y8, Y7, Y7 \
	VPSRLW $2, Y6, Y11 \
	VPAND Y9, Y11, Y11 \
	VPOR Y11, Y7, Y7 \
	VPSUBB Y10, Y7, Y7 \
	VMOVDQU Y7, 160(SP)

// ROWSUM4 reduces the four accumulators a, b, c, d of one x row to the
// four floats [Σa, Σb, Σc, Σd] in the low quarter of a, using Z24..Z27:
// interleave and add pairs within each 128-bit lane, then add the four
// lanes.
#define ROWSUM4(a, b, c, d, xa, ya) \
	VUNPCKLPS b, a, Z24 \
	VUNPCKHPS b, a, Z25 \
	VADDPS Z25, Z24, Z24 \
	VUNPCKLPS d, c, Z26 \
	VUNPCKHPS d, c, Z27 \
	VADDPS Z27, Z26, Z26 \
	VUNPCKLPD Z26, Z24, a \
	VUNPCKHPD Z26, Z24, Z25 \
	VADDPS Z25, a, a \
	VEXTRACTF64X4 $1, a, Y25 \
	VADDPS Y25, ya, ya \
	VEXTRACTF32X4 $1, ya, X25 \
	VADDPS X25, xa, xa
