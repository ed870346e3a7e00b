// quantize_x_q8.comp: the activations of matmul's gemv_q8 and gemv_dp4
// variants: each block of 32 elements of each row of x (F32, [rows, k],
// batches of m rows x_bs apart) becomes 32 signed bytes q = round(x/d),
// d = max|x|/127 (rounded half away from zero), written to the scratch region as in matmul_gemv4.glsl
// (eight words per block, then (d, Σq) per block). One invocation per
// block, 1-D grid folded into x·y.
#version 450
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) writeonly buffer XQB { uint xq[]; };
layout(set = 0, binding = 1, std430) writeonly buffer XQF { float xqf[]; };

layout(push_constant) uniform PC {
	uint m;      // rows of x per batch
	uint k;      // inner dimension (a multiple of 32)
	uint x_off;  // element offset of x
	uint x_bs;   // batch stride of x (elements)
	uint rows;   // m·batches
	uint xq_off; // word offset of the quantized activations
} pc;

void main() {
	uint nb = pc.k >> 5;
	uint blk = GLOBAL_ID();
	if (blk >= pc.rows * nb) {
		return;
	}
	uint row = blk / nb, g = blk - row * nb;
	uint bi = row / pc.m, r = row - bi * pc.m;
	uint xo = pc.x_off + bi * pc.x_bs + r * pc.k + (g << 5);
	float v[32];
	float amax = 0.0;
	for (uint e = 0u; e < 32u; e++) {
		v[e] = x[xo + e];
		amax = max(amax, abs(v[e]));
	}
	float dq = amax / 127.0;
	float id = dq != 0.0 ? 1.0 / dq : 0.0;
	int sum = 0;
	for (uint w = 0u; w < 8u; w++) {
		uint packed = 0u;
		for (uint t = 0u; t < 4u; t++) {
			float f = v[4u * w + t] * id;
			int q = clamp(int(sign(f) * floor(abs(f) + 0.5)), -127, 127); // half away from zero
			sum += q;
			packed |= (uint(q) & 0xffu) << (8u * t);
		}
		xq[pc.xq_off + 8u * blk + w] = packed;
	}
	uint fo = pc.xq_off + 8u * pc.rows * nb + 2u * blk;
	xqf[fo] = dq;
	xqf[fo + 1u] = float(sum);
}
