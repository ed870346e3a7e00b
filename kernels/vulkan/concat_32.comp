#version 450
// concat of 32-bit elements.
#include "concat.glsl"
