#version 450
// dequantize q6_k -> f16.
#define SRC_Q dq_q6_k
#define DST_16 1
#define LOAD(e) f32_to_f16(SQ(e))
#include "copy.glsl"
