#version 450
// quantize f32 -> q4_0.
#define Q4_0 1
#define LOADF(e) uintBitsToFloat(S32(e))
#include "quantize.glsl"
