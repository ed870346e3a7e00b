// attention_naive_scores.glsl: pass 1 of 3 of the naive attention: every
// score s[b,h,i,j] = scale·q·k + mask into the scratch rows
// ((b·Hq + h)·Sq + i)·Sk + j, or −inf for a key query i may not see (that
// key is not read). One invocation per score, 1-D grid folded into x·y.
// The includer defines ATTN_S16 for the 16-bit storage kernel.

#define ATTN_SCRATCH 1
#include "attention_common.glsl"

void main() {
	uint idx = GLOBAL_ID();
	uint total = pc.b * pc.hq * pc.sq * pc.sk;
	if (idx >= total) {
		return;
	}
	uint j = idx % pc.sk;
	uint r = idx / pc.sk; // (b·Hq + h)·Sq + i
	uint i = r % pc.sq;
	uint bh = r / pc.sq;
	uint h = bh % pc.hq;
	uint bi = bh / pc.hq;
	uint g = h / (pc.hq / pc.hkv);
	float s = NEG_INF;
	if (j < nvis(i)) {
		uint qo = pc.q_off + q_row(bi, i, h);
		uint ko = k_row(bi, j, g);
		float dot = 0.0;
		for (uint t = 0u; t < pc.d; t++) {
			dot += q[qo + t] * k_at(ko + t);
		}
		s = pc.scale * dot + mask_at(i, j);
	}
	scr[pc.s_off + idx] = s;
}
