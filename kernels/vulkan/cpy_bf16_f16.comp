#version 450
// copy bf16 -> f16, strided source.
#define DST_16 1
#define LOAD(e) f32_to_f16(bf16_to_f32(S16(e)))
#include "copy.glsl"
