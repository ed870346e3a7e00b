// Row normalisation: one workgroup per row (a power-of-two size), partial
// sums per invocation, then a tree reduction in shared memory. NORM_MEAN
// set: layer_norm (subtract the mean); unset: rms_norm. NORM_WEIGHT set:
// rms_norm_mul (the result multiplied by the weight vector w).
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
#ifdef NORM_WEIGHT
layout(set = 0, binding = 1, std430) readonly buffer W { float w[]; };
layout(set = 0, binding = 2, std430) writeonly buffer D { float d[]; };
#else
layout(set = 0, binding = 1, std430) writeonly buffer D { float d[]; };
#endif

layout(push_constant) uniform PC {
	uint x_off;
#ifdef NORM_WEIGHT
	uint w_off;
#endif
	uint d_off;
	uint cols;
	uint rows;
	float eps;
} pc;

shared float red[gl_WorkGroupSize.x];

// reduce_sum returns the sum of v over the workgroup.
float reduce_sum(float v) {
	uint t = gl_LocalInvocationID.x;
	red[t] = v;
	barrier();
	for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
		if (t < s) {
			red[t] += red[t + s];
		}
		barrier();
	}
	float r = red[0];
	barrier();
	return r;
}

void main() {
	uint row = GROUP_ID();
	if (row >= pc.rows) {
		return;
	}
	uint t = gl_LocalInvocationID.x;
	uint base = pc.x_off + row * pc.cols;
	float mean = 0.0;
#ifdef NORM_MEAN
	float s = 0.0;
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
		s += x[base + j];
	}
	mean = reduce_sum(s) / float(pc.cols);
#endif
	float ss = 0.0;
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
		float v = x[base + j] - mean;
		ss += v * v;
	}
	float inv = 1.0 / sqrt(reduce_sum(ss) / float(pc.cols) + pc.eps);
	uint ob = pc.d_off + row * pc.cols;
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
#ifdef NORM_WEIGHT
		d[ob + j] = (x[base + j] - mean) * inv * w[pc.w_off + j];
#else
		d[ob + j] = (x[base + j] - mean) * inv;
#endif
	}
}
