#version 450
// add: d = x + y (y broadcast).
#define OP(a, b) ((a) + (b))
#include "binary.glsl"
