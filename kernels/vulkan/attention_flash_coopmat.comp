// attention_flash_coopmat.comp: fused attention on cooperative matrices (feature
// kernel: VK_KHR_cooperative_matrix, shaderFloat16, 16-bit storage; body in
// include/attention_flash_coopmat.glsl).
#version 450
#include "common.glsl"
#include "attention_flash_coopmat.glsl"
