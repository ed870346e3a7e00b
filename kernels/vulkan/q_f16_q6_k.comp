#version 450
// quantize f16 -> q6_k (body in include/quantize_k.glsl).
#define Q6_K 1
#define LOADF(e) f16_to_f32(S16(e))
#include "quantize_k.glsl"
