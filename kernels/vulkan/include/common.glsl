// common.glsl: what every golem Vulkan kernel includes first (after
// #version 450). See docs/vulkan.md, "Kernel contract".
//
// - The workgroup size comes from specialization constants 0, 1, 2.
// - GROUP_ID() / GLOBAL_ID() undo the x·y folding of 1-D grids (Grid1D).
// - Exact conversions between f32 and f16 / bf16 bit patterns, identical
//   to backend/quant (round to nearest even; NaN kept).
// - report_error: the run-time error flag (status buffer).
// - store_u16_atomic / store_u8_atomic: writing part of a 32-bit word that
//   another invocation also writes.
#ifndef GOLEM_COMMON_GLSL
#define GOLEM_COMMON_GLSL

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

// The flat workgroup index of a 1-D grid folded into x and y.
#define GROUP_ID() (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x)
// The flat invocation index of a 1-D grid (workgroups of gl_WorkGroupSize.x).
#define GLOBAL_ID() (GROUP_ID() * gl_WorkGroupSize.x + gl_LocalInvocationID.x)

#define NEG_INF uintBitsToFloat(0xff800000u)

// f16_to_f32 decodes IEEE binary16 bits (low 16 bits of h) exactly.
float f16_to_f32(uint h) {
	uint sign = (h & 0x8000u) << 16;
	uint e = (h >> 10) & 0x1fu;
	uint m = h & 0x3ffu;
	if (e == 0u) {
		// Zero or subnormal: m·2^-24 is exact in f32.
		float v = float(m) * (1.0 / 16777216.0);
		return uintBitsToFloat(floatBitsToUint(v) | sign);
	}
	if (e == 31u) {
		return uintBitsToFloat(sign | 0x7f800000u | (m << 13));
	}
	return uintBitsToFloat(sign | ((e + 112u) << 23) | (m << 13));
}

// f32_to_f16 encodes f as binary16 bits, rounding to nearest even, like
// quant.F32ToF16: overflow to ±Inf, underflow to subnormals or ±0, NaN kept
// quiet with its top payload bits.
uint f32_to_f16(float f) {
	uint b = floatBitsToUint(f);
	uint sign = (b >> 16) & 0x8000u;
	b &= 0x7fffffffu;
	if (b > 0x7f800000u) {
		return sign | 0x7e00u | ((b >> 13) & 0x3ffu);
	}
	if (b >= 0x477ff000u) {
		return sign | 0x7c00u;
	}
	if (b >= 0x38800000u) {
		b -= (127u - 15u) << 23;
		b += 0xfffu + ((b >> 13) & 1u);
		return sign | (b >> 13);
	}
	if (b < 0x33000000u) {
		return sign;
	}
	uint e = b >> 23;
	uint m = (b & 0x7fffffu) | 0x800000u;
	uint shift = 126u - e; // 14..24
	uint q = m >> shift;
	uint rem = m & ((1u << shift) - 1u);
	uint hw = 1u << (shift - 1u);
	if (rem > hw || (rem == hw && (q & 1u) == 1u)) {
		q++;
	}
	return sign | q;
}

// bf16_to_f32 decodes bfloat16 bits exactly.
float bf16_to_f32(uint h) { return uintBitsToFloat((h & 0xffffu) << 16); }

// f32_to_bf16 encodes like quant.F32ToBF16 (nearest even, NaN kept quiet).
uint f32_to_bf16(float f) {
	uint u = floatBitsToUint(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) {
		return (u >> 16) | 0x40u;
	}
	return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// half_of returns 16-bit element h of a uint array (low half first).
#define half_of(buf, h) ((buf[(h) >> 1] >> (((h) & 1u) * 16u)) & 0xffffu)

// store_u16_atomic writes the low 16 bits of bits as 16-bit element h of
// uint array buf, leaving the other half of the word to its owner.
#define store_u16_atomic(buf, h, bits)                                   \
	{                                                                    \
		uint w_ = (h) >> 1;                                              \
		uint s_ = ((h) & 1u) * 16u;                                      \
		atomicAnd(buf[w_], ~(0xffffu << s_));                            \
		atomicOr(buf[w_], ((bits) & 0xffffu) << s_);                     \
	}

// store_u8_atomic writes the low 8 bits of bits as byte b of uint array buf.
#define store_u8_atomic(buf, b, bits)                                    \
	{                                                                    \
		uint w_ = (b) >> 2;                                              \
		uint s_ = ((b) & 3u) * 8u;                                       \
		atomicAnd(buf[w_], ~(0xffu << s_));                              \
		atomicOr(buf[w_], ((bits) & 0xffu) << s_);                       \
	}

// report_error flags a bad element of the node whose status slot is slot:
// the first report records value and row, every report counts. The kernel
// declares its status buffer (last binding) as `uint status[]`.
#define report_error(slot, value, row)                                   \
	{                                                                    \
		if (atomicAdd(status[4u * (slot)], 1u) == 0u) {                  \
			status[4u * (slot) + 1u] = uint(value);                      \
			status[4u * (slot) + 2u] = uint(row);                        \
		}                                                                \
	}

#endif
