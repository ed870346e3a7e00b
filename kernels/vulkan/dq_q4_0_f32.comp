#version 450
// dequantize q4_0 -> f32.
#define SRC_Q dq_q4_0
#define LOAD(e) floatBitsToUint(SQ(e))
#include "copy.glsl"
