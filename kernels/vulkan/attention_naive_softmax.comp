// attention_naive_softmax.comp: pass 2 of 3 of the naive attention: each
// scratch row of Sk scores becomes its softmax, in place (a row of −inf
// becomes zeros). One workgroup per row (b, h, i), 1-D grid folded into x·y;
// maximum and sum are reduced in shared memory (power-of-two workgroup).
#version 450
#include "common.glsl"
#define ATTN_SCRATCH 1

#include "attention_common.glsl"

const uint WG = gl_WorkGroupSize.x;
shared float red[WG];

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint row = GROUP_ID();
	if (row >= pc.b * pc.hq * pc.sq) {
		return; // uniform over the workgroup
	}
	uint base = pc.s_off + row * pc.sk;

	float mx = NEG_INF;
	for (uint j = tid; j < pc.sk; j += WG) {
		mx = max(mx, scr[base + j]);
	}
	red[tid] = mx;
	barrier();
	for (uint s = WG >> 1; s > 0u; s >>= 1) {
		if (tid < s) {
			red[tid] = max(red[tid], red[tid + s]);
		}
		barrier();
	}
	mx = red[0];
	barrier();

	float sum = 0.0;
	for (uint j = tid; j < pc.sk; j += WG) {
		float v = scr[base + j];
		float e = (v == NEG_INF) ? 0.0 : exp(v - mx);
		scr[base + j] = e;
		sum += e;
	}
	red[tid] = sum;
	barrier();
	for (uint s = WG >> 1; s > 0u; s >>= 1) {
		if (tid < s) {
			red[tid] += red[tid + s];
		}
		barrier();
	}
	sum = red[0];
	float inv = sum > 0.0 ? 1.0 / sum : 0.0;
	for (uint j = tid; j < pc.sk; j += WG) {
		scr[base + j] *= inv;
	}
}
