#version 450
// copy f32 -> f16 (nearest even), strided source.
#define DST_16 1
#define LOAD(e) f32_to_f16(uintBitsToFloat(S32(e)))
#include "copy.glsl"
