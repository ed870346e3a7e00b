// matmul_fused.glsl: matmul_fused (graph.Builder.MatMulFused) for few rows
// of x (decode): up to three weights of one dtype multiplied by the same
// x, with the RMS-norm prologue, the SwiGLU or concatenation of the
// products and the residual add in one dispatch.
//
// A workgroup computes NR consecutive output columns of one weight for
// every row of x (MR rows per pass): the weight a workgroup reads is
// uniform over it, picked by wsel(), so one set of decoders (matmul_w.glsl
// with QREAD / W_F32_AT / W_HALF) serves the three bindings. Each
// invocation walks a strided slice of the inner dimension; the partial dot
// products, and the sums of squares of x for the norm, are then reduced
// over the workgroup: through subgroupAdd and shared memory with
// SG_REDUCE (feature kernels), through a shared-memory tree otherwise.
//
// With the norm, h = x / sqrt(mean(x²) + eps) ⊙ g, so h·w = inv · ((x ⊙ g)·w):
// x ⊙ g is multiplied in on load and inv applied to the reduced sums.
//
// Grid (folded, bounds-checked): swiglu ceil(n0 / NR) workgroups; a
// concatenation g0 = ceil(n0 / NR) workgroups for weight 0, then up to
// g1 for weight 1, then weight 2's.

#ifdef SG_REDUCE
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(constant_id = 3) const uint NR = 2;    // output columns per workgroup
layout(constant_id = 4) const uint MR = 4;    // rows of x per pass
layout(constant_id = 5) const uint SGMIN = 1; // the device's smallest subgroup (SG_REDUCE)

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer G { float gw[]; };  // norm weight (or a dummy)
layout(set = 0, binding = 2, std430) readonly buffer W0 { uint wt0[]; };
layout(set = 0, binding = 3, std430) readonly buffer W1 { uint wt1[]; }; // (or a dummy)
layout(set = 0, binding = 4, std430) readonly buffer W2 { uint wt2[]; }; // (or a dummy)
layout(set = 0, binding = 5, std430) readonly buffer R { float res[]; }; // residual (or a dummy)
layout(set = 0, binding = 6, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform PC {
	uint rows;    // rows of x
	uint k;       // inner dimension
	uint cols;    // columns of d
	uint n0, n1, n2; // rows of each weight (0: absent)
	uint g0, g1;  // workgroups of weight 0; of weights 0 and 1
	uint x_off, g_off, w0_off, w1_off, w2_off, r_off, d_off;
	uint w_row;   // row stride of the weights: elements (float types) or bytes (quantized)
	float eps;
	uint flags;   // 1: norm, 2: swiglu, 4: residual
} pc;

uint g_seg; // the weight wsel reads: uniform over the workgroup

uint wsel(uint i) {
	if (g_seg == 0u) {
		return wt0[i];
	}
	if (g_seg == 1u) {
		return wt1[i];
	}
	return wt2[i];
}

#define QREAD(i) wsel(i)
#define W_F32_AT(i) uintBitsToFloat(wsel(i))
#define W_HALF(i) ((wsel((i) >> 1) >> (((i) & 1u) * 16u)) & 0xffffu)
#include "matmul_w.glsl"

const uint WG = gl_WorkGroupSize.x; // a power of two
const uint NQ = 2u * NR * MR + MR;  // reduced values: products, up products, sums of squares

#ifdef SG_REDUCE
shared float red[NQ * (WG / SGMIN)];
#else
shared float red[NQ * WG];
#endif
shared float tot[NQ]; // the workgroup's totals

// reduce sums each v[q] over the workgroup into tot[q].
void reduce(float v[NQ]) {
	uint tid = gl_LocalInvocationID.x;
#ifdef SG_REDUCE
	uint nsg = gl_NumSubgroups;
	for (uint q = 0u; q < NQ; q++) {
		float s = subgroupAdd(v[q]);
		if (subgroupElect()) {
			red[q * nsg + gl_SubgroupID] = s;
		}
	}
	barrier();
	for (uint q = tid; q < NQ; q += WG) {
		float s = 0.0;
		for (uint i = 0u; i < nsg; i++) {
			s += red[q * nsg + i];
		}
		tot[q] = s;
	}
	barrier();
#else
	for (uint q = 0u; q < NQ; q++) {
		red[q * WG + tid] = v[q];
	}
	barrier();
	for (uint s = WG >> 1; s > 0u; s >>= 1) {
		if (tid < s) {
			for (uint q = 0u; q < NQ; q++) {
				red[q * WG + tid] += red[q * WG + tid + s];
			}
		}
		barrier();
	}
	for (uint q = tid; q < NQ; q += WG) {
		tot[q] = red[q * WG];
	}
	barrier();
#endif
}

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint grp = GROUP_ID();
	bool norm = (pc.flags & 1u) != 0u;
	bool swiglu = (pc.flags & 2u) != 0u;
	uint seg, j0, ncol, cbase, woff;
	if (swiglu || grp < pc.g0) {
		seg = 0u;
		j0 = grp * NR;
		ncol = pc.n0;
		cbase = 0u;
		woff = pc.w0_off;
	} else if (grp < pc.g1) {
		seg = 1u;
		j0 = (grp - pc.g0) * NR;
		ncol = pc.n1;
		cbase = pc.n0;
		woff = pc.w1_off;
	} else {
		seg = 2u;
		j0 = (grp - pc.g1) * NR;
		ncol = pc.n2;
		cbase = pc.n0 + pc.n1;
		woff = pc.w2_off;
	}
	if (j0 >= ncol) {
		return; // uniform over the workgroup
	}
	uint nr = min(NR, ncol - j0);

	for (uint m0 = 0u; m0 < pc.rows; m0 += MR) {
		uint mr = min(MR, pc.rows - m0);
		float v[NQ];
		for (uint q = 0u; q < NQ; q++) {
			v[q] = 0.0;
		}
#ifdef W_FLOAT
		for (uint i = tid; i < pc.k; i += WG) {
			float xv[MR];
			float gi = norm ? gw[pc.g_off + i] : 1.0;
			for (uint mi = 0u; mi < MR; mi++) {
				float xr = mi < mr ? x[pc.x_off + (m0 + mi) * pc.k + i] : 0.0;
				v[2u * NR * MR + mi] += xr * xr;
				xv[mi] = xr * gi;
			}
			for (uint r = 0u; r < nr; r++) {
				g_seg = seg;
				float wv = w_at(woff + (j0 + r) * pc.w_row + i);
				float wu = 0.0;
				if (swiglu) {
					g_seg = 1u;
					wu = w_at(pc.w1_off + (j0 + r) * pc.w_row + i);
				}
				for (uint mi = 0u; mi < MR; mi++) {
					v[r * MR + mi] += wv * xv[mi];
					v[NR * MR + r * MR + mi] += wu * xv[mi];
				}
			}
		}
#else
		uint groups = pc.k >> 3;
		for (uint gi = tid; gi < groups; gi += WG) {
			vec4 xl[MR], xh[MR];
			uint e = gi << 3;
			vec4 gl = vec4(1.0), gh = vec4(1.0);
			if (norm) {
				uint go = pc.g_off + e;
				gl = vec4(gw[go], gw[go + 1u], gw[go + 2u], gw[go + 3u]);
				gh = vec4(gw[go + 4u], gw[go + 5u], gw[go + 6u], gw[go + 7u]);
			}
			for (uint mi = 0u; mi < MR; mi++) {
				if (mi < mr) {
					uint xo = pc.x_off + (m0 + mi) * pc.k + e;
					vec4 a = vec4(x[xo], x[xo + 1u], x[xo + 2u], x[xo + 3u]);
					vec4 b = vec4(x[xo + 4u], x[xo + 5u], x[xo + 6u], x[xo + 7u]);
					v[2u * NR * MR + mi] += dot(a, a) + dot(b, b);
					xl[mi] = a * gl;
					xh[mi] = b * gh;
				} else {
					xl[mi] = vec4(0.0);
					xh[mi] = vec4(0.0);
				}
			}
			for (uint r = 0u; r < nr; r++) {
				vec4 lo, hi, ulo = vec4(0.0), uhi = vec4(0.0);
				g_seg = seg;
				w_dequant8(woff + (j0 + r) * pc.w_row, e, lo, hi);
				if (swiglu) {
					g_seg = 1u;
					w_dequant8(pc.w1_off + (j0 + r) * pc.w_row, e, ulo, uhi);
				}
				for (uint mi = 0u; mi < MR; mi++) {
					v[r * MR + mi] += dot(lo, xl[mi]) + dot(hi, xh[mi]);
					v[NR * MR + r * MR + mi] += dot(ulo, xl[mi]) + dot(uhi, xh[mi]);
				}
			}
		}
#endif
		reduce(v);
		if (tid < NR * MR) {
			uint r = tid / MR, mi = tid % MR;
			if (r < nr && mi < mr) {
				float inv = norm ? 1.0 / sqrt(tot[2u * NR * MR + mi] / float(pc.k) + pc.eps) : 1.0;
				float a = tot[tid] * inv;
				if (swiglu) {
					float u = tot[NR * MR + tid] * inv;
					a = a / (1.0 + exp(-a)) * u;
				}
				uint o = (m0 + mi) * pc.cols + cbase + j0 + r;
				if ((pc.flags & 4u) != 0u) {
					a += res[pc.r_off + o];
				}
				d[pc.d_off + o] = a;
			}
		}
		barrier();
	}
}
