// matmul_gemm_coopmat.glsl: d = x·wᵀ on cooperative matrices (feature
// kernels): f16 A (x) and B (dequantized w) tiles in shared memory, f32
// accumulators, shape 16×8×16 (M×N×K). Written with GL_NV_cooperative_matrix,
// which Debian 12's glslc compiles; make kernels rewrites the module to
// SPV_KHR_cooperative_matrix (internal/spirv/nv2khr), so A (16×16), B
// (16×8) and C (16×8) must stay distinct types.
//
// A workgroup of exactly four subgroups (the launch sets 4 × the device's
// subgroup size) computes a 32×32 output tile as 2×4 accumulator tiles, two
// per subgroup; per step of 16 along k every invocation stages part of the
// x and w tiles. Grid: ceil(columns/32) × ceil(m/32) × batches; the
// bindings and push constants are matmul_io.glsl's (those of the GEMM).

#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require

#include "matmul_io.glsl"

const uint BM = 32u, BN = 32u, BK = 16u;

shared float16_t As[BM * BK]; // x tile, row-major [m][k]
shared float16_t Bs[BN * BK]; // w tile [n][k]: B (k × n) column-major
shared float Cs[BM * BN];     // results, row-major

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint wg = gl_WorkGroupSize.x;
	uint n0t = gl_WorkGroupID.x * BN;
	uint m0t = gl_WorkGroupID.y * BM;
	uint b = gl_WorkGroupID.z;
	uint xb = pc.x_off + b * pc.x_bs;
	uint wb = pc.w_off + b * pc.w_bs;
	uint db = pc.d_off + b * pc.d_bs;
	uint sg = gl_SubgroupID;
	// Tiles t = 2sg and 2sg+1 of the 2×4 grid: rows (t/4)·16, columns (t%4)·8.
	uint t0 = 2u * sg, t1 = 2u * sg + 1u;
	fcoopmatNV<32, gl_ScopeSubgroup, 16, 8> c0 = fcoopmatNV<32, gl_ScopeSubgroup, 16, 8>(0.0);
	fcoopmatNV<32, gl_ScopeSubgroup, 16, 8> c1 = fcoopmatNV<32, gl_ScopeSubgroup, 16, 8>(0.0);
	fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a;
	fcoopmatNV<16, gl_ScopeSubgroup, 16, 8> bm;
	for (uint k0 = 0u; k0 < pc.k; k0 += BK) {
		for (uint e = tid; e < BM * BK; e += wg) {
			uint r = e / BK, kk = e % BK;
			uint row = m0t + r;
			float v = row < pc.m && k0 + kk < pc.k ? x[xb + row * pc.k + k0 + kk] : 0.0;
			As[e] = float16_t(v);
		}
#ifdef W_FLOAT
		for (uint e = tid; e < BN * BK; e += wg) {
			uint cn = e / BK, kk = e % BK;
			uint col = n0t + cn;
			float v = col < pc.nc && k0 + kk < pc.k ? w_at(wb + col * pc.w_row + k0 + kk) : 0.0;
			Bs[e] = float16_t(v);
		}
#else
		for (uint g = tid; g < BN * BK / 8u; g += wg) {
			uint cn = g / (BK / 8u), kh = (g % (BK / 8u)) * 8u;
			uint col = n0t + cn;
			vec4 lo = vec4(0.0), hi = vec4(0.0);
			if (col < pc.nc && k0 + kh < pc.k) {
				w_dequant8(wb + col * pc.w_row, k0 + kh, lo, hi);
			}
			uint o = cn * BK + kh;
			for (uint j = 0u; j < 4u; j++) {
				Bs[o + j] = float16_t(lo[j]);
				Bs[o + 4u + j] = float16_t(hi[j]);
			}
		}
#endif
		barrier();
		coopMatLoadNV(a, As, (t0 / 4u) * 16u * BK, BK, false);
		coopMatLoadNV(bm, Bs, (t0 % 4u) * 8u * BK, BK, true);
		c0 = coopMatMulAddNV(a, bm, c0);
		coopMatLoadNV(a, As, (t1 / 4u) * 16u * BK, BK, false);
		coopMatLoadNV(bm, Bs, (t1 % 4u) * 8u * BK, BK, true);
		c1 = coopMatMulAddNV(a, bm, c1);
		barrier();
	}
	coopMatStoreNV(c0, Cs, (t0 / 4u) * 16u * BN + (t0 % 4u) * 8u, BN, false);
	coopMatStoreNV(c1, Cs, (t1 / 4u) * 16u * BN + (t1 % 4u) * 8u, BN, false);
	barrier();
	for (uint e = tid; e < BM * BN; e += wg) {
		uint r = e / BN, cn = e % BN;
		if (m0t + r < pc.m && n0t + cn < pc.nc) {
			d[db + (m0t + r) * pc.n + pc.n0 + n0t + cn] = Cs[e];
		}
	}
}
