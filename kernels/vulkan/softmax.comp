#version 450
// softmax(scale·x + mask) over each row, one workgroup (power-of-two size)
// per row. Causal: query row i (of sq) sees keys j ≤ i + cols − sq. A row
// with nothing visible is all zeros.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer M { float mask[]; };
layout(set = 0, binding = 2, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform PC {
	uint x_off, m_off, d_off;
	uint cols;  // keys
	uint sq;    // query rows per matrix
	uint rows;
	float scale;
	uint flags; // 1: causal, 2: mask
} pc;

shared float red[gl_WorkGroupSize.x];

float logit(uint base, uint i, uint j) {
	if ((pc.flags & 1u) != 0u && int(j) > int(i) + int(pc.cols) - int(pc.sq)) {
		return NEG_INF;
	}
	float l = pc.scale * x[base + j];
	if ((pc.flags & 2u) != 0u) {
		l += mask[pc.m_off + i * pc.cols + j];
	}
	return l;
}

void main() {
	uint row = GROUP_ID();
	if (row >= pc.rows) {
		return;
	}
	uint t = gl_LocalInvocationID.x;
	uint i = row % pc.sq;
	uint base = pc.x_off + row * pc.cols;
	uint ob = pc.d_off + row * pc.cols;

	float mx = NEG_INF;
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
		mx = max(mx, logit(base, i, j));
	}
	red[t] = mx;
	barrier();
	for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
		if (t < s) {
			red[t] = max(red[t], red[t + s]);
		}
		barrier();
	}
	mx = red[0];
	barrier();
	if (mx == NEG_INF) {
		for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
			d[ob + j] = 0.0;
		}
		return;
	}
	float sum = 0.0;
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
		sum += exp(logit(base, i, j) - mx);
	}
	red[t] = sum;
	barrier();
	for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
		if (t < s) {
			red[t] += red[t + s];
		}
		barrier();
	}
	float inv = 1.0 / red[0];
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
		d[ob + j] = exp(logit(base, i, j) - mx) * inv;
	}
}
