#version 450
// silu: d = x * sigmoid(x).
#define OP(v) silu(v)
#include "unary.glsl"
