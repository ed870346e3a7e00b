#version 450
// dequantize q8_0 -> f32.
#define SRC_Q dq_q8_0
#define LOAD(e) floatBitsToUint(SQ(e))
#include "copy.glsl"
