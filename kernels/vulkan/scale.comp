#version 450
// scale: d = s * x.
#define OP(v) (pc.scale * (v))
#include "unary.glsl"
