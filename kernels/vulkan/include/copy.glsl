// copy / contiguous body: dst[e] = convert(src at element e), dst
// contiguous, src strided (4-D, element strides) or a contiguous quantized
// row array. The wrapper defines LOAD(e), which returns element e's bits in
// the destination type, and DST_16 when the destination is 16-bit (then
// each invocation writes one 32-bit word; edge halves atomically).
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer Src { uint src[]; };
layout(set = 0, binding = 1, std430) buffer Dst { uint dst[]; };

layout(push_constant) uniform PC {
	uint s_off;      // source units: words (32-bit), halves (16-bit), bytes (quantized)
	uint d_off;      // destination units: words (32-bit), halves (16-bit)
	uint n;          // elements
	uint s1, s2, s3; // shape dims 1..3 (padded to 4-D)
	int st0, st1, st2, st3; // source element strides
	uint cols;       // quantized source: elements per row
	uint row_bytes;  // quantized source: bytes per row
} pc;

// sidx returns the source element index (from the source's element 0) of
// destination element e.
uint sidx(uint e) {
	uint c3 = e % pc.s3;
	uint t = e / pc.s3;
	uint c2 = t % pc.s2;
	t /= pc.s2;
	uint c1 = t % pc.s1;
	uint c0 = t / pc.s1;
	return uint(int(c0) * pc.st0 + int(c1) * pc.st1 + int(c2) * pc.st2 + int(c3) * pc.st3);
}

#define S32(e) src[pc.s_off + sidx(e)]
#define S16(e) half_of(src, pc.s_off + sidx(e))

#ifdef SRC_Q
#define QBUF src
#include "quant.glsl"
#define SQ(e) SRC_Q(pc.s_off + ((e) / pc.cols) * pc.row_bytes, (e) % pc.cols)
#endif

void main() {
	uint g = GLOBAL_ID();
#ifdef DST_16
	uint end = pc.d_off + pc.n;
	uint w = (pc.d_off >> 1) + g;
	if (2u * w >= end) {
		return;
	}
	uint h0 = 2u * w;
	uint h1 = h0 + 1u;
	bool in0 = h0 >= pc.d_off;
	bool in1 = h1 < end;
	uint v0 = in0 ? (LOAD(h0 - pc.d_off)) & 0xffffu : 0u;
	uint v1 = in1 ? (LOAD(h1 - pc.d_off)) & 0xffffu : 0u;
	if (in0 && in1) {
		dst[w] = v0 | (v1 << 16);
	} else if (in0) {
		store_u16_atomic(dst, h0, v0);
	} else {
		store_u16_atomic(dst, h1, v1);
	}
#else
	if (g >= pc.n) {
		return;
	}
	dst[pc.d_off + g] = LOAD(g);
#endif
}
