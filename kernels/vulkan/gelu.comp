#version 450
// gelu: tanh approximation.
#define OP(v) gelu(v)
#include "unary.glsl"
