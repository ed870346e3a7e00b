#version 450
// quantize f32 -> q8_0.
#define Q8_0 1
#define LOADF(e) uintBitsToFloat(S32(e))
#include "quantize.glsl"
