#version 450
// Byte copy (same-type copies of quantized tensors): one invocation per
// destination word; bytes of words shared with neighbours are written
// atomically.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer Src { uint src[]; };
layout(set = 0, binding = 1, std430) buffer Dst { uint dst[]; };

layout(push_constant) uniform PC {
	uint s_off; // bytes
	uint d_off; // bytes
	uint n;     // bytes
} pc;

#define QBUF src
#include "quant.glsl"

void main() {
	uint end = pc.d_off + pc.n;
	uint w = (pc.d_off >> 2) + GLOBAL_ID();
	if (4u * w >= end) {
		return;
	}
	uint lo = 4u * w;
	if (lo >= pc.d_off && lo + 4u <= end) {
		dst[w] = qb_u32(pc.s_off + (lo - pc.d_off));
		return;
	}
	for (uint b = lo; b < lo + 4u; b++) {
		if (b >= pc.d_off && b < end) {
			store_u8_atomic(dst, b, qb_u8(pc.s_off + (b - pc.d_off)));
		}
	}
}
