#version 450
// quantize bf16 -> q8_0.
#define Q8_0 1
#define LOADF(e) bf16_to_f32(S16(e))
#include "quantize.glsl"
