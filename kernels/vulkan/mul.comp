#version 450
// mul: d = x * y (y broadcast).
#define OP(a, b) ((a) * (b))
#include "binary.glsl"
