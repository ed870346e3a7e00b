#version 450
// copy f16 -> bf16, strided source.
#define DST_16 1
#define LOAD(e) f32_to_bf16(f16_to_f32(S16(e)))
#include "copy.glsl"
