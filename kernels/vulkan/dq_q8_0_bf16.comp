#version 450
// dequantize q8_0 -> bf16.
#define SRC_Q dq_q8_0
#define DST_16 1
#define LOAD(e) f32_to_bf16(SQ(e))
#include "copy.glsl"
