#version 450
// copy of 32-bit elements (f32, i32), bit-exact, strided source.
#define LOAD(e) S32(e)
#include "copy.glsl"
