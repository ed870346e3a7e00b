#version 450
// dequantize q4_k -> f32.
#define SRC_Q dq_q4_k
#define LOAD(e) floatBitsToUint(SQ(e))
#include "copy.glsl"
