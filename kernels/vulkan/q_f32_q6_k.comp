#version 450
// quantize f32 -> q6_k (body in include/quantize_k.glsl).
#define Q6_K 1
#define LOADF(e) uintBitsToFloat(S32(e))
#include "quantize_k.glsl"
