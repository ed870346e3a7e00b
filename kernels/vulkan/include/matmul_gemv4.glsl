// matmul_gemv4.glsl: d = x·wᵀ for few rows of x (decode) with 16-byte
// loads, for F32, F16, BF16, Q8_0 and Q4_0 weights; with XQ, for Q8_0 and
// Q4_0 weights, against activations quantized to int8 per block of 32 by
// quantize_x_q8.comp (integer dot products: OpSDot of
// SPV_KHR_integer_dot_product with DP4, plain integer arithmetic
// otherwise).
//
// Work is shared as in matmul_gemv.glsl: a workgroup computes NR output
// columns for every row of x, MR rows per pass; each invocation walks a
// strided slice of the inner dimension in units of 8 elements (float
// weights: two vec4 of F32, one uvec4 of eight F16/BF16) or one block of
// 32 (quantized weights, whose 34- and 18-byte blocks sit at any even
// byte: their bytes come from the 16-byte-aligned uvec4s covering them),
// and the NR·MR sums are reduced in shared memory.
//
// Loads are uvec4/vec4 through aliases of the bindings. Where an offset
// breaks their alignment (x at an element offset that is not a multiple
// of 4, F32 weights likewise, 16-bit weights at a half offset that is not
// a multiple of 8) the kernel reads words instead, uniformly. A uvec4 that
// would reach past the end of a binding is read word by word, bounds-
// checked.
//
// Bindings: x, w, d; with XQ the quantized activations (scratch) as
// binding 3: per row r and block b, eight words of int8 at word
// 8·(r·nb + b) and (d, Σq) at float 8·rows·nb + 2·(r·nb + b) of the region
// (nb = k/32, rows = m·batches), from word xq_off. Grid as matmul_gemv.

#extension GL_EXT_control_flow_attributes : require
#ifdef DP4
#extension GL_EXT_spirv_intrinsics : require
// OpSDot with PackedVectorFormat4x8Bit: the dot product of the four signed
// bytes of a and b.
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int sdot4(uint a, uint b, spirv_literal int fmt);
#define DOT4(a, b) sdot4(a, b, 0)
#else
// The same in plain integer arithmetic.
int DOT4(uint a, uint b) {
	ivec4 x = ivec4(bitfieldExtract(int(a), 0, 8), bitfieldExtract(int(a), 8, 8), bitfieldExtract(int(a), 16, 8),
	                bitfieldExtract(int(a), 24, 8));
	ivec4 y = ivec4(bitfieldExtract(int(b), 0, 8), bitfieldExtract(int(b), 8, 8), bitfieldExtract(int(b), 16, 8),
	                bitfieldExtract(int(b), 24, 8));
	return x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
}
#endif

layout(constant_id = 3) const uint NR = 2; // output columns per workgroup
layout(constant_id = 4) const uint MR = 4; // rows of x per pass

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 0, std430) readonly buffer X4 { vec4 xv[]; };
layout(set = 0, binding = 1, std430) readonly buffer W { uint wt[]; };
layout(set = 0, binding = 1, std430) readonly buffer W4 { uvec4 wv[]; };
layout(set = 0, binding = 2, std430) writeonly buffer D { float d[]; };
#ifdef XQ
layout(set = 0, binding = 3, std430) readonly buffer XQB { uint xq[]; };
layout(set = 0, binding = 3, std430) readonly buffer XQ4 { uvec4 xqv[]; };
layout(set = 0, binding = 3, std430) readonly buffer XQF { float xqf[]; };
#endif

layout(push_constant) uniform PC {
	uint m;       // rows of x per batch
	uint n;       // columns of d
	uint k;       // inner dimension
	uint n0;      // first output column of this dispatch
	uint nc;      // output columns of this dispatch
	uint x_off;   // element offset of x
	uint w_off;   // offset of w's window: elements (f32), halves (f16, bf16), bytes (quantized)
	uint d_off;   // element offset of d
	uint x_bs;    // batch stride of x (elements)
	uint w_bs;    // batch stride of w (same unit as w_off)
	uint d_bs;    // batch stride of d (elements)
	uint w_row;   // row stride of w: elements (float types) or bytes (quantized)
#ifdef XQ
	uint xq_off;  // word offset of the quantized activations
	uint rows;    // rows of x in all batches (m·batches)
#endif
} pc;

#define QBUF wt
#include "quant.glsl"

// wvec returns uvec4 i of the weight binding, word by word (zeros past
// the end) when it is not wholly inside the binding.
uvec4 wvec(uint i) {
	if (i < uint(wv.length())) {
		return wv[i];
	}
	uvec4 r = uvec4(0u);
	uint n = uint(wt.length());
	for (uint t = 0u; t < 4u; t++) {
		if (4u * i + t < n) {
			r[t] = wt[4u * i + t];
		}
	}
	return r;
}

// wwords returns in o the NW words at even byte b of the weights, read as
// the 16-byte-aligned uvec4s covering them.
#define NW_MAX 8u
void wwords(uint b, uint nw, out uint o[NW_MAX]) {
	uint base = b >> 4;
	uint s = b & 15u; // even
	uint t[12];
	uvec4 v0 = wvec(base), v1 = wvec(base + 1u);
	t[0] = v0.x; t[1] = v0.y; t[2] = v0.z; t[3] = v0.w;
	t[4] = v1.x; t[5] = v1.y; t[6] = v1.z; t[7] = v1.w;
	t[8] = 0u; t[9] = 0u; t[10] = 0u; t[11] = 0u;
	if (s + 4u * nw > 32u) {
		uvec4 v2 = wvec(base + 2u);
		t[8] = v2.x; t[9] = v2.y; t[10] = v2.z; t[11] = v2.w;
	}
	uint wi = s >> 2;
	bool odd = (s & 2u) != 0u;
	[[unroll]] for (uint q = 0u; q < NW_MAX; q++) {
		uint a = t[min(wi + q, 11u)];
		uint c = t[min(wi + q + 1u, 11u)];
		o[q] = odd ? (a >> 16) | (c << 16) : a;
	}
}

// xvec4 returns x elements e..e+3 (e a multiple of 4).
vec4 xvec4(uint e) {
	if ((pc.x_off & 3u) == 0u) {
		return xv[e >> 2];
	}
	return vec4(x[e], x[e + 1u], x[e + 2u], x[e + 3u]);
}

// sbytes returns the four signed bytes of u.
vec4 sbytes(uint u) {
	int s = int(u);
	return vec4(float(bitfieldExtract(s, 0, 8)), float(bitfieldExtract(s, 8, 8)), float(bitfieldExtract(s, 16, 8)),
	            float(bitfieldExtract(s, 24, 8)));
}

// nibbles returns the four nibbles at bit shift sh of the bytes of u.
vec4 nibbles(uint u, uint sh) {
	return vec4(float((u >> sh) & 15u), float((u >> (sh + 8u)) & 15u), float((u >> (sh + 16u)) & 15u),
	            float((u >> (sh + 24u)) & 15u));
}

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
#if defined(W_F32) || defined(W_F16) || defined(W_BF16)
		// Units of 8 elements; the scalar tail (k not a multiple of 8, or
		// misaligned weights) one element at a time.
#if defined(W_F32)
		bool vec = (pc.k & 7u) == 0u && (wb & 3u) == 0u && (pc.w_row & 3u) == 0u;
#else
		bool vec = (pc.k & 7u) == 0u && (wb & 7u) == 0u && (pc.w_row & 7u) == 0u;
#endif
		bool xvec = vec && (pc.x_off & 3u) == 0u && (pc.x_bs & 3u) == 0u;
		uint units = vec ? pc.k >> 3 : 0u;
		for (uint g = tid; g < units; g += WG) {
			uint e = g << 3;
			vec4 xl[MR], xh[MR];
			for (uint mi = 0u; mi < MR; mi++) {
				uint xo = xb + (m0 + mi) * pc.k + e;
				if (mi >= mr) {
					xl[mi] = vec4(0.0);
					xh[mi] = vec4(0.0);
				} else if (xvec) {
					xl[mi] = xv[xo >> 2];
					xh[mi] = xv[(xo >> 2) + 1u];
				} else {
					xl[mi] = vec4(x[xo], x[xo + 1u], x[xo + 2u], x[xo + 3u]);
					xh[mi] = vec4(x[xo + 4u], x[xo + 5u], x[xo + 6u], x[xo + 7u]);
				}
			}
			for (uint r = 0u; r < nr; r++) {
				uint wo = wb + (j0 + r) * pc.w_row + e; // elements (halves)
				vec4 lo, hi;
#if defined(W_F32)
				uvec4 a = wv[wo >> 2], c = wv[(wo >> 2) + 1u];
				lo = uintBitsToFloat(a);
				hi = uintBitsToFloat(c);
#else
				uvec4 a = wv[wo >> 3];
#if defined(W_F16)
				lo = vec4(unpackHalf2x16(a.x), unpackHalf2x16(a.y));
				hi = vec4(unpackHalf2x16(a.z), unpackHalf2x16(a.w));
#else
				lo = uintBitsToFloat(uvec4(a.x << 16, a.x & 0xffff0000u, a.y << 16, a.y & 0xffff0000u));
				hi = uintBitsToFloat(uvec4(a.z << 16, a.z & 0xffff0000u, a.w << 16, a.w & 0xffff0000u));
#endif
#endif
				for (uint mi = 0u; mi < MR; mi++) {
					acc[r * MR + mi] += dot(lo, xl[mi]) + dot(hi, xh[mi]);
				}
			}
		}
		for (uint i = (vec ? pc.k : 0u) + tid; i < pc.k; i += WG) {
			for (uint r = 0u; r < nr; r++) {
				uint wo = wb + (j0 + r) * pc.w_row + i;
#if defined(W_F32)
				float wv1 = uintBitsToFloat(wt[wo]);
#elif defined(W_F16)
				float wv1 = f16_to_f32(half_of(wt, wo));
#else
				float wv1 = bf16_to_f32(half_of(wt, wo));
#endif
				for (uint mi = 0u; mi < mr; mi++) {
					acc[r * MR + mi] += wv1 * x[xb + (m0 + mi) * pc.k + i];
				}
			}
		}
#else
		// Quantized weights: one block of 32 per unit.
		uint nb = pc.k >> 5;
		for (uint g = tid; g < nb; g += WG) {
#ifdef XQ
			uvec4 qa[MR], qb[MR];
			vec2 xds[MR];
			for (uint mi = 0u; mi < MR; mi++) {
				if (mi < mr) {
					uint blk = (b * pc.m + m0 + mi) * nb + g;
					qa[mi] = xqv[(pc.xq_off >> 2) + 2u * blk];
					qb[mi] = xqv[(pc.xq_off >> 2) + 2u * blk + 1u];
					uint fo = pc.xq_off + 8u * pc.rows * nb + 2u * blk;
					xds[mi] = vec2(xqf[fo], xqf[fo + 1u]);
				} else {
					qa[mi] = uvec4(0u);
					qb[mi] = uvec4(0u);
					xds[mi] = vec2(0.0);
				}
			}
#else
			vec4 xs[MR][8];
			for (uint mi = 0u; mi < MR; mi++) {
				uint xo = xb + (m0 + mi) * pc.k + (g << 5);
				for (uint u = 0u; u < 8u; u++) {
					xs[mi][u] = mi < mr ? xvec4(xo + 4u * u) : vec4(0.0);
				}
			}
#endif
			for (uint r = 0u; r < nr; r++) {
#if defined(W_Q8_0)
				uint bo = wb + (j0 + r) * pc.w_row + g * 34u;
				float dw = qb_f16(bo);
				uint q[NW_MAX];
				wwords(bo + 2u, 8u, q);
#ifdef XQ
				for (uint mi = 0u; mi < MR; mi++) {
					int s = DOT4(q[0], qa[mi].x) + DOT4(q[1], qa[mi].y) + DOT4(q[2], qa[mi].z) + DOT4(q[3], qa[mi].w) +
					        DOT4(q[4], qb[mi].x) + DOT4(q[5], qb[mi].y) + DOT4(q[6], qb[mi].z) + DOT4(q[7], qb[mi].w);
					acc[r * MR + mi] += dw * xds[mi].x * float(s);
				}
#else
				for (uint mi = 0u; mi < MR; mi++) {
					float s = 0.0;
					for (uint u = 0u; u < 8u; u++) {
						s += dot(sbytes(q[u]), xs[mi][u]);
					}
					acc[r * MR + mi] += dw * s;
				}
#endif
#elif defined(W_Q4_0)
				uint bo = wb + (j0 + r) * pc.w_row + g * 18u;
				float dw = qb_f16(bo);
				uint q[NW_MAX];
				wwords(bo + 2u, 4u, q);
#ifdef XQ
				for (uint mi = 0u; mi < MR; mi++) {
					// Elements 0..15 are the low nibbles, 16..31 the high ones.
					int s = DOT4(q[0] & 0x0f0f0f0fu, qa[mi].x) + DOT4(q[1] & 0x0f0f0f0fu, qa[mi].y) +
					        DOT4(q[2] & 0x0f0f0f0fu, qa[mi].z) + DOT4(q[3] & 0x0f0f0f0fu, qa[mi].w) +
					        DOT4((q[0] >> 4) & 0x0f0f0f0fu, qb[mi].x) + DOT4((q[1] >> 4) & 0x0f0f0f0fu, qb[mi].y) +
					        DOT4((q[2] >> 4) & 0x0f0f0f0fu, qb[mi].z) + DOT4((q[3] >> 4) & 0x0f0f0f0fu, qb[mi].w);
					acc[r * MR + mi] += dw * xds[mi].x * (float(s) - 8.0 * xds[mi].y);
				}
#else
				for (uint mi = 0u; mi < MR; mi++) {
					float s = 0.0;
					for (uint u = 0u; u < 4u; u++) {
						s += dot(nibbles(q[u], 0u) - 8.0, xs[mi][u]) + dot(nibbles(q[u], 4u) - 8.0, xs[mi][u + 4u]);
					}
					acc[r * MR + mi] += dw * s;
				}
#endif
#else
#error "matmul_gemv4.glsl: no weight dtype defined"
#endif
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
