#version 450
// copy bf16 -> f32, strided source.
#define LOAD(e) floatBitsToUint(bf16_to_f32(S16(e)))
#include "copy.glsl"
