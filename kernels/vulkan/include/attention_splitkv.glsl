// attention_splitkv.glsl: pass 1 of 2 of the split-KV (decode) attention.
//
// The visible keys of each (batch, query, head) row are split into chunks
// of pc.chunk keys (a multiple of the workgroup size); one workgroup per
// (split, head, batch·query): grid x = nsplit, y = Hq, z = B·Sq. It walks its
// chunk a workgroup-size tile at a time, one key per invocation (keys past
// nvis are not read), with an online softmax whose tile maximum and sum are
// reduced in shared memory, and writes to the scratch buffer its partial
// maximum m and sum l (at 2·part) and its unnormalised output row (at
// 2·parts + part·Dv), part = row·nsplit + split. A split with no visible key
// writes m = −inf, l = 0 and no row. Spec constants: 0 workgroup size (a
// power of two), 3 D, 4 NC = ceil(Dv / workgroup size).

layout(constant_id = 3) const uint HD = 64;
layout(constant_id = 4) const uint NC = 1;

#include "attention_common.glsl"

const uint WG = gl_WorkGroupSize.x;

shared float qs[HD];
shared float ps[WG];
shared float red[WG];

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint sp = gl_WorkGroupID.x, h = gl_WorkGroupID.y, bs = gl_WorkGroupID.z;
	if (sp >= pc.nsplit || h >= pc.hq || bs >= pc.b * pc.sq) {
		return; // uniform over the workgroup
	}
	uint i = bs % pc.sq, bi = bs / pc.sq;
	uint g = h / (pc.hq / pc.hkv);
	uint row = bs * pc.hq + h;
	uint part = row * pc.nsplit + sp;
	uint parts = pc.b * pc.sq * pc.hq * pc.nsplit;
	uint mlo = pc.s_off + 2u * part;
	uint ob = pc.s_off + 2u * parts + part * pc.dv;

	uint jb = sp * pc.chunk;
	uint je = min(jb + pc.chunk, nvis(i));
	if (jb >= je) {
		if (tid == 0u) {
			scr[mlo] = NEG_INF;
			scr[mlo + 1u] = 0.0;
		}
		return; // uniform over the workgroup
	}

	uint qb = pc.q_off + q_row(bi, i, h);
	for (uint t = tid; t < HD; t += WG) {
		qs[t] = q[qb + t];
	}
	barrier();

	float m = NEG_INF, l = 0.0;
	float acc[NC];
	for (uint c = 0u; c < NC; c++) {
		acc[c] = 0.0;
	}
	for (uint j0 = jb; j0 < je; j0 += WG) {
		uint j = j0 + tid;
		float s = NEG_INF;
		if (j < je) {
			uint kb = k_row(bi, j, g);
			float dot = 0.0;
			for (uint t = 0u; t < HD; t++) {
				dot += qs[t] * k_at(kb + t);
			}
			s = pc.scale * dot + mask_at(i, j);
		}
		red[tid] = s;
		barrier();
		for (uint st = WG >> 1; st > 0u; st >>= 1) {
			if (tid < st) {
				red[tid] = max(red[tid], red[tid + st]);
			}
			barrier();
		}
		float mn = max(m, red[0]);
		barrier();
		if (mn == NEG_INF) {
			continue; // uniform: every key of the tile is masked out
		}
		float p = s == NEG_INF ? 0.0 : exp(s - mn);
		ps[tid] = p;
		red[tid] = p;
		barrier();
		for (uint st = WG >> 1; st > 0u; st >>= 1) {
			if (tid < st) {
				red[tid] += red[tid + st];
			}
			barrier();
		}
		float corr = m == NEG_INF ? 0.0 : exp(m - mn);
		l = l * corr + red[0];
		uint nj = min(WG, je - j0);
		for (uint c = 0u; c < NC; c++) {
			uint t = tid + WG * c;
			if (t < pc.dv) {
				float a = acc[c] * corr;
				for (uint jj = 0u; jj < nj; jj++) {
					float pj = ps[jj];
					if (pj != 0.0) {
						a += pj * v_at(v_row(bi, j0 + jj, g) + t);
					}
				}
				acc[c] = a;
			}
		}
		m = mn;
		barrier();
	}

	if (tid == 0u) {
		scr[mlo] = m;
		scr[mlo + 1u] = l;
	}
	for (uint c = 0u; c < NC; c++) {
		uint t = tid + WG * c;
		if (t < pc.dv) {
			scr[ob + t] = acc[c];
		}
	}
}
