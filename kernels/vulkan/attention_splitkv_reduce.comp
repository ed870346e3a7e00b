// attention_splitkv_reduce.comp: pass 2 of 2 of the split-KV attention:
// combines the nsplit partial (m, l, row) of each (batch, query, head) row
// written by attention_splitkv into out = Σ row_s·e^(m_s−M) / Σ l_s·e^(m_s−M),
// M = max m_s over the splits that saw a key (zeros when none did). One
// workgroup per row, 1-D grid folded into x·y, invocations over Dv.
#version 450
#include "common.glsl"
#define ATTN_SCRATCH 1

#include "attention_common.glsl"

void main() {
	uint row = GROUP_ID();
	uint rows = pc.b * pc.sq * pc.hq;
	if (row >= rows) {
		return;
	}
	uint parts = rows * pc.nsplit;
	uint p0 = row * pc.nsplit;
	float mx = NEG_INF;
	for (uint s = 0u; s < pc.nsplit; s++) {
		uint mlo = pc.s_off + 2u * (p0 + s);
		if (scr[mlo + 1u] > 0.0) {
			mx = max(mx, scr[mlo]);
		}
	}
	float sum = 0.0;
	if (mx != NEG_INF) {
		for (uint s = 0u; s < pc.nsplit; s++) {
			uint mlo = pc.s_off + 2u * (p0 + s);
			float l = scr[mlo + 1u];
			if (l > 0.0) {
				sum += l * exp(scr[mlo] - mx);
			}
		}
	}
	float inv = sum > 0.0 ? 1.0 / sum : 0.0;
	uint ob = pc.o_off + row * pc.dv;
	for (uint t = gl_LocalInvocationID.x; t < pc.dv; t += gl_WorkGroupSize.x) {
		float a = 0.0;
		if (sum > 0.0) {
			for (uint s = 0u; s < pc.nsplit; s++) {
				uint mlo = pc.s_off + 2u * (p0 + s);
				if (scr[mlo + 1u] > 0.0) {
					a += scr[pc.s_off + 2u * parts + (p0 + s) * pc.dv + t] * exp(scr[mlo] - mx);
				}
			}
		}
		o[ob + t] = a * inv;
	}
}
