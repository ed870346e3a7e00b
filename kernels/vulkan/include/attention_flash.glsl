// attention_flash.glsl: fused attention with a tiled online softmax.
//
// One workgroup per (query tile, head, batch): grid x = ceil(Sq / BQ),
// y = Hq, z = B. The workgroup has BQ·TPQ invocations, TPQ per query row.
// The tile's queries are staged in shared memory once; then for each tile of
// BK keys (only up to the largest nvis of the tile's queries: later rows are
// never read) the keys and values are staged in shared memory, each row's
// TPQ invocations compute its BK scores (−inf, without reading, for keys the
// query may not see), every invocation takes its row's maximum, turns its
// own scores into probabilities, and updates the row's running sum and its
// own output columns (vec4 columns lane, lane+TPQ, ..., NC of them) in F32.
//
// Head rows are handled as vec4 (head dims rounded up to a multiple of 4,
// padded with zeros), which also keeps the loop trip counts low: lavapipe
// ends a shader after 65535 loop iterations in all (the Go side checks the
// estimate). Shared memory: 16·(BQ·D4 + BK·D4 + BK·Dv4 + BQ·BK/2) bytes;
// the Go side sizes BQ and BK from the device's limit. Spec constants:
// 0 workgroup size (BQ·TPQ), 3 BQ, 4 BK (a multiple of 4), 5 D4 = ceil(D/4),
// 6 Dv4 = ceil(Dv/4), 7 NC = ceil(Dv4 / TPQ).

layout(constant_id = 3) const uint BQ = 16;
layout(constant_id = 4) const uint BK = 32;
layout(constant_id = 5) const uint D4 = 16;
layout(constant_id = 6) const uint DV4 = 16;
layout(constant_id = 7) const uint NC = 2;

#include "attention_common.glsl"

const uint WG = gl_WorkGroupSize.x;
const uint TPQ = WG / BQ;
const uint BK4 = BK / 4u;

shared vec4 qs[BQ * D4];
shared vec4 ks[BK * D4];
shared vec4 vs[BK * DV4];
shared vec4 ss[BQ * BK4]; // scores, four keys per vec4
shared vec4 ps[BQ * BK4]; // probabilities

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint qt = gl_WorkGroupID.x, h = gl_WorkGroupID.y, bi = gl_WorkGroupID.z;
	uint q0 = qt * BQ;
	if (q0 >= pc.sq || h >= pc.hq || bi >= pc.b) {
		return; // uniform over the workgroup
	}
	uint g = h / (pc.hq / pc.hkv);
	uint qi = tid / TPQ, lane = tid % TPQ;
	uint i = q0 + qi;
	bool valid = i < pc.sq;
	uint nv = valid ? nvis(i) : 0u;
	uint kend = 0u; // keys at or past kend are not read by this workgroup
	for (uint r = 0u; r < BQ && q0 + r < pc.sq; r++) {
		kend = max(kend, nvis(q0 + r));
	}

	for (uint e = tid; e < BQ * D4; e += WG) {
		uint r = e / D4, c = e % D4;
		vec4 v = vec4(0.0);
		if (q0 + r < pc.sq) {
			uint qb = pc.q_off + q_row(bi, q0 + r, h) + 4u * c;
			for (uint t = 0u; t < 4u && 4u * c + t < pc.d; t++) {
				v[t] = q[qb + t];
			}
		}
		qs[e] = v;
	}

	float m = NEG_INF, l = 0.0;
	vec4 acc[NC];
	for (uint c = 0u; c < NC; c++) {
		acc[c] = vec4(0.0);
	}

	for (uint j0 = 0u; j0 < kend; j0 += BK) {
		for (uint e = tid; e < BK * D4; e += WG) {
			uint r = e / D4, c = e % D4;
			ks[e] = j0 + r < kend ? k_vec4(k_row(bi, j0 + r, g), c) : vec4(0.0);
		}
		for (uint e = tid; e < BK * DV4; e += WG) {
			uint r = e / DV4, c = e % DV4;
			vs[e] = j0 + r < kend ? v_vec4(v_row(bi, j0 + r, g), c) : vec4(0.0);
		}
		barrier();
		// This invocation's scores: keys lane, lane+TPQ, ... of the tile.
		for (uint jj = lane; jj < BK; jj += TPQ) {
			uint j = j0 + jj;
			float s = NEG_INF;
			if (j < nv) {
				float d = 0.0;
				for (uint c = 0u; c < D4; c++) {
					d += dot(qs[qi * D4 + c], ks[jj * D4 + c]);
				}
				s = pc.scale * d + mask_at(i, j);
			}
			ss[qi * BK4 + (jj >> 2)][jj & 3u] = s;
		}
		barrier();
		vec4 mx4 = vec4(NEG_INF);
		for (uint c = 0u; c < BK4; c++) {
			mx4 = max(mx4, ss[qi * BK4 + c]);
		}
		float mn = max(m, max(max(mx4.x, mx4.y), max(mx4.z, mx4.w)));
		for (uint jj = lane; jj < BK; jj += TPQ) {
			float s = ss[qi * BK4 + (jj >> 2)][jj & 3u];
			ps[qi * BK4 + (jj >> 2)][jj & 3u] = s == NEG_INF ? 0.0 : exp(s - mn);
		}
		barrier();
		if (mn != NEG_INF) { // else every key so far is masked for this row
			float corr = m == NEG_INF ? 0.0 : exp(m - mn);
			vec4 sum4 = vec4(0.0);
			for (uint c = 0u; c < BK4; c++) {
				sum4 += ps[qi * BK4 + c];
			}
			l = l * corr + (sum4.x + sum4.y) + (sum4.z + sum4.w);
			for (uint c = 0u; c < NC; c++) {
				uint col = lane + TPQ * c;
				if (col < DV4) {
					vec4 a = acc[c] * corr;
					for (uint k4 = 0u; k4 < BK4; k4++) {
						vec4 p = ps[qi * BK4 + k4];
						uint vb = 4u * k4 * DV4 + col;
						a += p.x * vs[vb] + p.y * vs[vb + DV4] + p.z * vs[vb + 2u * DV4] + p.w * vs[vb + 3u * DV4];
					}
					acc[c] = a;
				}
			}
			m = mn;
		}
		barrier();
	}

	if (valid) {
		float inv = l > 0.0 ? 1.0 / l : 0.0;
		uint ob = pc.o_off + o_row(bi, i, h);
		for (uint c = 0u; c < NC; c++) {
			uint col = lane + TPQ * c;
			if (col < DV4) {
				vec4 r = acc[c] * inv;
				for (uint t = 0u; t < 4u && 4u * col + t < pc.dv; t++) {
					o[ob + 4u * col + t] = r[t];
				}
			}
		}
	}
}
