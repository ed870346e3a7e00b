// attention_splitkv.glsl: pass 1 of 2 of the split-KV (decode) attention.
//
// One workgroup per (split, head, batch·query): grid x = pc.nsplit (the
// most splits a row can use), y = Hq, z = B·Sq. The number of splits a row
// uses is chosen here, at run time, from the keys it sees (nvis, from the
// positions): ns = clamp(ceil(nvis / pc.chunk), 1, pc.nsplit), each split
// taking ceil(nvis / ns) keys rounded up to whole tiles; workgroups past
// ns write an empty partial result and exit. So a decode step at position
// p walks p+1 keys spread over as many workgroups as they fill, whatever
// the cache's size.
//
// A split walks its keys BK at a time. The tile's key rows are staged in
// shared memory with consecutive invocations reading consecutive elements
// of a row (coalesced), then TPK = WG/BK invocations per key sum strided
// parts of its dot product with the query, reading the staged rows with a
// row stride KP chosen so that KP ≡ TPK (mod 32): the 32/TPK keys and TPK
// parts a group of 32 invocations reads fall in 32 different banks. The
// scores, their maximum and the probabilities go through shared memory
// with an online softmax (invocation 0 takes the tile's maximum and keeps
// the running sum); each invocation keeps NC output columns
// (t = tid + WG·c), reading value rows coalesced too.
//
// Results go to the scratch buffer: the partial maximum m and sum l (at
// 2·part) and the unnormalised output row (at 2·parts + part·Dv),
// part = row·nsplit + split; a split with no key writes m = −inf, l = 0.
// Spec constants: 0 workgroup size, 3 HD = D, 4 NC = ceil(Dv / WG),
// 5 BK (a power of two dividing WG), 6 KP ≥ HD.

layout(constant_id = 3) const uint HD = 64;
layout(constant_id = 4) const uint NC = 1;
layout(constant_id = 5) const uint BK = 32;
layout(constant_id = 6) const uint KP = 65;

#include "attention_common.glsl"

const uint WG = gl_WorkGroupSize.x;

shared float qs[HD];
shared float kt[BK * KP]; // the tile's key rows, row stride KP
shared float part[WG];    // partial dot products
shared float sc[BK];      // scores
shared float pr[BK];      // probabilities
shared float new_m;       // the running maximum after this tile (from invocation 0)

void main() {
	uint tid = gl_LocalInvocationID.x;
	uint sp = gl_WorkGroupID.x, h = gl_WorkGroupID.y, bs = gl_WorkGroupID.z;
	if (sp >= pc.nsplit || h >= pc.hq || bs >= pc.b * pc.sq) {
		return; // uniform over the workgroup
	}
	uint i = bs % pc.sq, bi = bs / pc.sq;
	uint g = h / (pc.hq / pc.hkv);
	uint row = bs * pc.hq + h;
	uint part_i = row * pc.nsplit + sp;
	uint parts = pc.b * pc.sq * pc.hq * pc.nsplit;
	uint mlo = pc.s_off + 2u * part_i;
	uint ob = pc.s_off + 2u * parts + part_i * pc.dv;

	// This row's splits, from the keys it sees.
	uint nv = nvis(i);
	uint ns = clamp((nv + pc.chunk - 1u) / pc.chunk, 1u, pc.nsplit);
	uint per = ((nv + ns - 1u) / ns + BK - 1u) / BK * BK;
	uint jb = sp * per;
	uint je = min(jb + per, nv);
	if (sp >= ns || jb >= je) {
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

	const uint TPK = WG / BK;
	uint key = tid / TPK, sub = tid % TPK;
	float m = NEG_INF, l = 0.0;
	float acc[NC];
	for (uint c = 0u; c < NC; c++) {
		acc[c] = 0.0;
	}
	for (uint j0 = jb; j0 < je; j0 += BK) {
		uint nk = min(BK, je - j0);
		// Stage the key rows: invocation e reads element e % HD of row e / HD.
		for (uint e = tid; e < nk * HD; e += WG) {
			uint r = e / HD, c = e - r * HD;
			kt[r * KP + c] = k_at(k_row(bi, j0 + r, g) + c);
		}
		barrier();
		float dot = 0.0;
		if (key < nk) {
			for (uint c = sub; c < HD; c += TPK) {
				dot += qs[c] * kt[key * KP + c];
			}
		}
		part[tid] = dot;
		barrier();
		if (tid < BK) {
			float s = NEG_INF;
			if (tid < nk) {
				float d = 0.0;
				for (uint u = 0u; u < TPK; u++) {
					d += part[tid * TPK + u];
				}
				s = pc.scale * d + mask_at(i, j0 + tid);
			}
			sc[tid] = s;
		}
		barrier();
		if (tid == 0u) {
			float mt = NEG_INF;
			for (uint jj = 0u; jj < nk; jj++) {
				mt = max(mt, sc[jj]);
			}
			new_m = max(m, mt);
		}
		barrier();
		float mn = new_m;
		if (mn == NEG_INF) {
			continue; // uniform: every key of the tile is masked out
		}
		if (tid < nk) {
			float s = sc[tid];
			pr[tid] = s == NEG_INF ? 0.0 : exp(s - mn);
		}
		barrier();
		float corr = m == NEG_INF ? 0.0 : exp(m - mn);
		if (tid == 0u) {
			float ls = 0.0;
			for (uint jj = 0u; jj < nk; jj++) {
				ls += pr[jj];
			}
			l = l * corr + ls; // only invocation 0 keeps the sum
		}
		for (uint c = 0u; c < NC; c++) {
			uint t = tid + WG * c;
			if (t < pc.dv) {
				float a = acc[c] * corr;
				for (uint jj = 0u; jj < nk; jj++) {
					float pj = pr[jj];
					if (pj != 0.0) {
						a += pj * v_at(v_row(bi, j0 + jj, g) + t);
					}
				}
				acc[c] = a;
			}
		}
		m = mn;
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
