#version 450
// rms_norm: x / sqrt(mean(x^2) + eps) per row.
#include "norm.glsl"
