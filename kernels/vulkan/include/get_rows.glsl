// get_rows body: out[r, j] = table[ids[r], j] dequantized. Define DQ to a
// dq_<type> function of quant.glsl. One invocation per output element; a
// table larger than one binding is read in row chunks, one dispatch each.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer T { uint tbl[]; };
layout(set = 0, binding = 1, std430) readonly buffer I { int ids[]; };
layout(set = 0, binding = 2, std430) writeonly buffer D { float dst[]; };
layout(set = 0, binding = 3, std430) buffer S { uint status[]; };

layout(push_constant) uniform PC {
	uint t_off;       // bytes: start of row row_lo in binding 0
	uint i_off;       // elements
	uint d_off;       // elements
	uint cols;        // elements per row
	uint row_bytes;   // bytes per table row
	uint n;           // ids × cols
	uint rows;        // table rows
	uint row_lo;      // rows [row_lo, row_hi) are in this dispatch's window
	uint row_hi;
	uint first;       // 1 in the first chunk: it zeroes and reports bad ids
	uint slot;
} pc;

#define QBUF tbl
#include "quant.glsl"

void main() {
	uint g = GLOBAL_ID();
	if (g >= pc.n) {
		return;
	}
	uint r = g / pc.cols;
	uint j = g - r * pc.cols;
	int id = ids[pc.i_off + r];
	if (id < 0 || uint(id) >= pc.rows) {
		if (pc.first != 0u) {
			dst[pc.d_off + g] = 0.0;
			if (j == 0u) {
				report_error(pc.slot, id, r);
			}
		}
		return;
	}
	uint u = uint(id);
	if (u < pc.row_lo || u >= pc.row_hi) {
		return;
	}
	dst[pc.d_off + g] = DQ(pc.t_off + (u - pc.row_lo) * pc.row_bytes, j);
}
