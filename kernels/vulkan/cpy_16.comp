#version 450
// copy of 16-bit elements (f16, bf16), bit-exact, strided source.
#define DST_16 1
#define LOAD(e) S16(e)
#include "copy.glsl"
