#version 450
// dequantize q4_0 -> f16.
#define SRC_Q dq_q4_0
#define DST_16 1
#define LOAD(e) f32_to_f16(SQ(e))
#include "copy.glsl"
