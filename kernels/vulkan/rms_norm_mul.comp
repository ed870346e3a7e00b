#version 450
// rms_norm_mul: x / sqrt(mean(x^2) + eps) * w per row.
#define NORM_WEIGHT 1
#include "norm.glsl"
