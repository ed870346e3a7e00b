#version 450
// layer_norm: (x - mean) / sqrt(var + eps) per row.
#define NORM_MEAN 1
#include "norm.glsl"
