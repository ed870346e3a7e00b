// attention_naive_out.glsl: pass 3 of 3 of the naive attention:
// out[b,i,h,t] = Σ_j p[b,h,i,j]·v[b,j,g,t] over the keys query i may see
// (no other value row is read). One invocation per output element, 1-D grid
// folded into x·y.
// The includer defines ATTN_S16 for the 16-bit storage kernel.

#define ATTN_SCRATCH 1
#include "attention_common.glsl"

void main() {
	uint idx = GLOBAL_ID();
	if (idx >= pc.b * pc.sq * pc.hq * pc.dv) {
		return;
	}
	uint t = idx % pc.dv;
	uint r = idx / pc.dv; // (b·Sq + i)·Hq + h
	uint h = r % pc.hq;
	uint bs = r / pc.hq;
	uint i = bs % pc.sq;
	uint bi = bs / pc.sq;
	uint g = h / (pc.hq / pc.hkv);
	uint prow = pc.s_off + ((bi * pc.hq + h) * pc.sq + i) * pc.sk;
	uint n = nvis(i);
	float acc = 0.0;
	for (uint j = 0u; j < n; j++) {
		float p = scr[prow + j];
		if (p != 0.0) {
			acc += p * v_at(v_row(bi, j, g) + t);
		}
	}
	o[pc.o_off + idx] = acc;
}
