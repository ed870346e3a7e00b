#version 450
// copy f16 -> f32, strided source.
#define LOAD(e) floatBitsToUint(f16_to_f32(S16(e)))
#include "copy.glsl"
