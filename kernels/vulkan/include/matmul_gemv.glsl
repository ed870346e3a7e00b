// matmul_gemv.glsl: d = x·wᵀ for few rows of x (decode), one body for every
// weight dtype (see matmul_w.glsl for the W_* macro the .comp defines).
//
// A workgroup computes NR consecutive output columns (rows of w) for every
// row of x, MR rows of x per pass: each invocation accumulates a strided
// slice of the inner dimension (single elements for float weights, groups of
// eight for quantized ones) and the partial sums are reduced in shared
// memory. No subgroup operations; the workgroup size must be a power of two.
//
// Grid: x·y = ceil(nc / NR) workgroups (folded, bounds-checked), z = batches.

layout(constant_id = 3) const uint NR = 2; // output columns per workgroup
layout(constant_id = 4) const uint MR = 4; // rows of x per pass

#include "matmul_io.glsl"

const uint WG = gl_WorkGroupSize.x; // a power of two

shared float red[NR * MR * WG];

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint grp = GROUP_ID();
	uint j0 = grp * NR;
	if (j0 >= pc.nc) {
		return; // uniform over the workgroup
	}
	uint b = gl_WorkGroupID.z;
	uint xb = pc.x_off + b * pc.x_bs;
	uint wb = pc.w_off + b * pc.w_bs;
	uint db = pc.d_off + b * pc.d_bs;
	uint nr = min(NR, pc.nc - j0);

	for (uint m0 = 0u; m0 < pc.m; m0 += MR) {
		uint mr = min(MR, pc.m - m0);
		float acc[NR * MR];
		for (uint q = 0u; q < NR * MR; q++) {
			acc[q] = 0.0;
		}
#ifdef W_FLOAT
		for (uint i = tid; i < pc.k; i += WG) {
			float xv[MR];
			for (uint mi = 0u; mi < MR; mi++) {
				xv[mi] = mi < mr ? x[xb + (m0 + mi) * pc.k + i] : 0.0;
			}
			for (uint r = 0u; r < nr; r++) {
				float wv = w_at(wb + (j0 + r) * pc.w_row + i);
				for (uint mi = 0u; mi < MR; mi++) {
					acc[r * MR + mi] += wv * xv[mi];
				}
			}
		}
#else
		uint groups = pc.k >> 3;
		for (uint g = tid; g < groups; g += WG) {
			vec4 xl[MR], xh[MR];
			for (uint mi = 0u; mi < MR; mi++) {
				if (mi < mr) {
					uint xo = xb + (m0 + mi) * pc.k + (g << 3);
					xl[mi] = vec4(x[xo], x[xo + 1u], x[xo + 2u], x[xo + 3u]);
					xh[mi] = vec4(x[xo + 4u], x[xo + 5u], x[xo + 6u], x[xo + 7u]);
				} else {
					xl[mi] = vec4(0.0);
					xh[mi] = vec4(0.0);
				}
			}
			for (uint r = 0u; r < nr; r++) {
				vec4 lo, hi;
				w_dequant8(wb + (j0 + r) * pc.w_row, g << 3, lo, hi);
				for (uint mi = 0u; mi < MR; mi++) {
					acc[r * MR + mi] += dot(lo, xl[mi]) + dot(hi, xh[mi]);
				}
			}
		}
#endif
		for (uint q = 0u; q < NR * MR; q++) {
			red[q * WG + tid] = acc[q];
		}
		barrier();
		for (uint s = WG >> 1; s > 0u; s >>= 1) {
			if (tid < s) {
				for (uint q = 0u; q < NR * MR; q++) {
					red[q * WG + tid] += red[q * WG + tid + s];
				}
			}
			barrier();
		}
		if (tid < NR * MR) {
			uint r = tid / MR, mi = tid % MR;
			if (r < nr && mi < mr) {
				d[db + (m0 + mi) * pc.n + pc.n0 + j0 + r] = red[tid * WG];
			}
		}
		barrier();
	}
}
