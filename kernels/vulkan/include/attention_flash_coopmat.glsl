// attention_flash_coopmat.glsl: fused attention on cooperative matrices
// (feature kernel): f16 Q, K, V and probabilities, f32 scores and output,
// shape 16×8×16 (M×N×K). Written with GL_NV_cooperative_matrix, which
// Debian 12's glslc compiles; make kernels rewrites the module to
// SPV_KHR_cooperative_matrix (internal/spirv/nv2khr), so A (16×16 f16),
// B (16×8 f16) and C (16×8 f32) stay distinct types.
//
// One workgroup of exactly four subgroups per (tile of 16 queries, head,
// batch): grid x = ceil(Sq/16), y = Hq, z = B. The query tile is staged
// once as f16. Per tile of 32 keys (up to the largest nvis of the tile's
// queries): K and V rows are staged as f16 (consecutive invocations on
// consecutive elements, read through 16-bit storage); subgroup s computes
// the 16×8 scores of keys 8s..8s+7 as Q·Kᵀ over D in steps of 16 (K is
// B in column-major order, row stride D); one invocation per query row
// masks (causality from the positions, the additive mask), scales, takes
// the row maximum, rescales the running sum and writes the row's
// probabilities as f16; the subgroups then compute P·V, output columns
// 8t..8t+7 for t = s, s+4, ..., over the tile's two 16-key halves, into
// shared memory, and every invocation updates the f32 output tile kept
// in shared memory (O = O·corr + P·V). Finally O/l is written; rows that
// see no key are zeros. No key row at or past the tile's largest nvis is
// read; a query's scores past its own nvis are −inf.
//
// D must be a multiple of 16 and Dv of 8 (the launch checks). Spec
// constants: 0 workgroup size (4 subgroups), 3 D, 4 Dv.

#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require

layout(constant_id = 3) const uint HD = 64;  // head dim of q and k
layout(constant_id = 4) const uint HDV = 64; // head dim of v

#define ATTN_S16 1
#include "attention_common.glsl"

const uint BQ = 16u, BK = 32u;

shared float16_t Qs[BQ * HD];  // [query][d]
shared float16_t Ks[BK * HD];  // [key][d]
shared float16_t Vs[BK * HDV]; // [key][dv]
shared float Ss[BQ * BK];      // scores [query][key]
shared float16_t Ps[BQ * BK];  // probabilities [query][key]
shared float PVs[BQ * HDV];    // this tile's P·V [query][dv]
shared float Os[BQ * HDV];     // running output [query][dv]
shared float row_m[BQ], row_l[BQ], row_c[BQ];
shared uint row_n[BQ];         // nvis of each query (0 past Sq)

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	uint sg = gl_SubgroupID;
	uint i0 = gl_WorkGroupID.x * BQ, h = gl_WorkGroupID.y, bi = gl_WorkGroupID.z;
	if (i0 >= pc.sq || h >= pc.hq || bi >= pc.b) {
		return; // uniform over the workgroup
	}
	uint g = h / (pc.hq / pc.hkv);

	for (uint e = tid; e < BQ * HD; e += wg) {
		uint r = e / HD, c = e - r * HD;
		float v = i0 + r < pc.sq ? q[pc.q_off + q_row(bi, i0 + r, h) + c] : 0.0;
		Qs[e] = float16_t(v);
	}
	for (uint e = tid; e < BQ * HDV; e += wg) {
		Os[e] = 0.0;
	}
	if (tid < BQ) {
		row_m[tid] = NEG_INF;
		row_l[tid] = 0.0;
		row_n[tid] = i0 + tid < pc.sq ? nvis(i0 + tid) : 0u;
	}
	barrier();
	uint jmax = 0u;
	for (uint r = 0u; r < BQ; r++) {
		jmax = max(jmax, row_n[r]);
	}

	fcoopmatNV<32, gl_ScopeSubgroup, 16, 8> acc;
	fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a;
	fcoopmatNV<16, gl_ScopeSubgroup, 16, 8> b;
	for (uint j0 = 0u; j0 < jmax; j0 += BK) {
		uint nk = min(BK, jmax - j0);
		for (uint e = tid; e < BK * HD; e += wg) {
			uint r = e / HD, c = e - r * HD;
			Ks[e] = r < nk ? float16_t(k_at(k_row(bi, j0 + r, g) + c)) : float16_t(0.0);
		}
		for (uint e = tid; e < BK * HDV; e += wg) {
			uint r = e / HDV, c = e - r * HDV;
			Vs[e] = r < nk ? float16_t(v_at(v_row(bi, j0 + r, g) + c)) : float16_t(0.0);
		}
		barrier();
		// Scores of keys 8·sg .. 8·sg+7 (four subgroups, 32 keys).
		acc = fcoopmatNV<32, gl_ScopeSubgroup, 16, 8>(0.0);
		for (uint dc = 0u; dc < HD; dc += 16u) {
			coopMatLoadNV(a, Qs, dc, HD, false);
			coopMatLoadNV(b, Ks, 8u * sg * HD + dc, HD, true);
			acc = coopMatMulAddNV(a, b, acc);
		}
		coopMatStoreNV(acc, Ss, 8u * sg, BK, false);
		barrier();
		if (tid < BQ) {
			uint n = row_n[tid];
			float mt = NEG_INF;
			for (uint jj = 0u; jj < BK; jj++) {
				uint j = j0 + jj;
				float s = NEG_INF;
				if (jj < nk && j < n) {
					s = pc.scale * Ss[tid * BK + jj] + mask_at(i0 + tid, j);
				}
				Ss[tid * BK + jj] = s;
				mt = max(mt, s);
			}
			float m = row_m[tid];
			float mn = max(m, mt);
			float corr = (m == NEG_INF || mn == NEG_INF) ? 0.0 : exp(m - mn);
			float sum = 0.0;
			for (uint jj = 0u; jj < BK; jj++) {
				float s = Ss[tid * BK + jj];
				float p = (s == NEG_INF || mn == NEG_INF) ? 0.0 : exp(s - mn);
				Ps[tid * BK + jj] = float16_t(p);
				sum += p;
			}
			row_m[tid] = mn;
			row_l[tid] = row_l[tid] * corr + sum;
			row_c[tid] = corr;
		}
		barrier();
		// P·V: output columns 8t .. 8t+7 for t = sg, sg+4, ...
		for (uint t = sg; t < HDV / 8u; t += 4u) {
			acc = fcoopmatNV<32, gl_ScopeSubgroup, 16, 8>(0.0);
			for (uint kc = 0u; kc < BK; kc += 16u) {
				coopMatLoadNV(a, Ps, kc, BK, false);
				coopMatLoadNV(b, Vs, kc * HDV + 8u * t, HDV, false);
				acc = coopMatMulAddNV(a, b, acc);
			}
			coopMatStoreNV(acc, PVs, 8u * t, HDV, false);
		}
		barrier();
		for (uint e = tid; e < BQ * HDV; e += wg) {
			uint r = e / HDV;
			Os[e] = Os[e] * row_c[r] + PVs[e];
		}
		barrier();
	}

	for (uint e = tid; e < BQ * HDV; e += wg) {
		uint r = e / HDV, c = e - r * HDV;
		if (i0 + r < pc.sq && c < pc.dv) {
			float l = row_l[r];
			o[pc.o_off + o_row(bi, i0 + r, h) + c] = l > 0.0 ? Os[e] / l : 0.0;
		}
	}
}
