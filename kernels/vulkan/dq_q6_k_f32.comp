#version 450
// dequantize q6_k -> f32.
#define SRC_Q dq_q6_k
#define LOAD(e) floatBitsToUint(SQ(e))
#include "copy.glsl"
