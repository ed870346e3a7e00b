// matmul_gemm.glsl: d = x·wᵀ for many rows of x (prefill), one body for
// every weight dtype (see matmul_w.glsl for the W_* macro the .comp defines).
//
// A workgroup of 16×16 invocations computes a BM×BN = 64×64 tile of d: per
// step of BK = 32 along the inner dimension it stages the x tile and the
// dequantized w tile in shared memory (16 KiB, the Vulkan minimum), and each
// invocation accumulates a 4×4 block (rows ty+16i, columns tx+16j) in F32.
//
// Grid: x = ceil(nc / 64) column tiles, y = ceil(m / 64) row tiles,
// z = batches; the workgroup size (constant id 0) must be 256.

#include "matmul_io.glsl"

// The loops over constants are unrolled: besides speed, lavapipe ends a
// shader invocation after 65535 loop iterations in all, and unrolled loops
// do not count, so only the k loop (k / 32 iterations) does.

const uint BM = 64u;
const uint BN = 64u;
const uint BK = 32u;

// The tiles are stored [kk][row ^ kk] and [kk][col ^ kk] (an XOR swizzle
// of the row or column by the k index, no padding): the staging stores,
// where 32 consecutive invocations hold one row and 32 values of kk (or
// 8 columns and 4 groups of 8 kk), and the loads of the product loop, where
// they hold 16 columns (or 2 rows) of one kk, all fall in 32 different
// banks of 4 bytes. Unswizzled, the stores hit one bank 32 times (x, float
// w) or 4 times (quantized w). TestGEMMSharedLayout checks the mapping.
shared float xs[BK * BM]; // [kk][row ^ kk]
shared float ws[BK * BN]; // [kk][col ^ kk]

void main() {
	uint tid = gl_LocalInvocationIndex;
	uint tx = tid & 15u, ty = tid >> 4;
	uint c0 = gl_WorkGroupID.x * BN; // first column of the tile (inside the window)
	uint r0 = gl_WorkGroupID.y * BM; // first row of x of the tile
	if (c0 >= pc.nc || r0 >= pc.m) {
		return; // uniform over the workgroup
	}
	uint b = gl_WorkGroupID.z;
	uint xb = pc.x_off + b * pc.x_bs;
	uint wb = pc.w_off + b * pc.w_bs;
	uint db = pc.d_off + b * pc.d_bs;

	float acc[4][4];
	for (uint i = 0u; i < 4u; i++) {
		for (uint j = 0u; j < 4u; j++) {
			acc[i][j] = 0.0;
		}
	}

	for (uint k0 = 0u; k0 < pc.k; k0 += BK) {
		// x tile: 64 rows × 32, consecutive invocations on consecutive k.
		[[unroll]] for (uint u = 0u; u < BM * BK / 256u; u++) {
			uint e = tid + 256u * u;
			uint r = e / BK, kk = e % BK;
			uint row = r0 + r, kq = k0 + kk;
			xs[kk * BM + (r ^ kk)] = (row < pc.m && kq < pc.k) ? x[xb + row * pc.k + kq] : 0.0;
		}
#ifdef W_FLOAT
		[[unroll]] for (uint u = 0u; u < BN * BK / 256u; u++) {
			uint e = tid + 256u * u;
			uint c = e / BK, kk = e % BK;
			uint col = c0 + c, kq = k0 + kk;
			ws[kk * BN + (c ^ kk)] = (col < pc.nc && kq < pc.k) ? w_at(wb + col * pc.w_row + kq) : 0.0;
		}
#else
		{
			// 64 rows × 4 groups of 8: one group per invocation. k is a
			// multiple of the block size (≥ 32), so the group is inside the row.
			uint c = tid >> 2, g = (tid & 3u) << 3;
			uint col = c0 + c;
			vec4 lo = vec4(0.0), hi = vec4(0.0);
			if (col < pc.nc) {
				w_dequant8(wb + col * pc.w_row, k0 + g, lo, hi);
			}
			ws[(g + 0u) * BN + (c ^ (g + 0u))] = lo.x;
			ws[(g + 1u) * BN + (c ^ (g + 1u))] = lo.y;
			ws[(g + 2u) * BN + (c ^ (g + 2u))] = lo.z;
			ws[(g + 3u) * BN + (c ^ (g + 3u))] = lo.w;
			ws[(g + 4u) * BN + (c ^ (g + 4u))] = hi.x;
			ws[(g + 5u) * BN + (c ^ (g + 5u))] = hi.y;
			ws[(g + 6u) * BN + (c ^ (g + 6u))] = hi.z;
			ws[(g + 7u) * BN + (c ^ (g + 7u))] = hi.w;
		}
#endif
		barrier();
		[[unroll]] for (uint kk = 0u; kk < BK; kk++) {
			float a[4], bv[4];
			[[unroll]] for (uint i = 0u; i < 4u; i++) {
				a[i] = xs[kk * BM + ((ty + 16u * i) ^ kk)];
				bv[i] = ws[kk * BN + ((tx + 16u * i) ^ kk)];
			}
			[[unroll]] for (uint i = 0u; i < 4u; i++) {
				[[unroll]] for (uint j = 0u; j < 4u; j++) {
					acc[i][j] += a[i] * bv[j];
				}
			}
		}
		barrier();
	}

	for (uint i = 0u; i < 4u; i++) {
		uint row = r0 + ty + 16u * i;
		if (row >= pc.m) {
			continue;
		}
		for (uint j = 0u; j < 4u; j++) {
			uint col = c0 + tx + 16u * j;
			if (col < pc.nc) {
				d[db + row * pc.n + pc.n0 + col] = acc[i][j];
			}
		}
	}
}
