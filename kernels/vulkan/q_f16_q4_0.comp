#version 450
// quantize f16 -> q4_0.
#define Q4_0 1
#define LOADF(e) f16_to_f32(S16(e))
#include "quantize.glsl"
