#version 450
// concat of 16-bit elements.
#define CONCAT_16 1
#include "concat.glsl"
