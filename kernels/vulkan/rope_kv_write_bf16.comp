#version 450
// rope_kv_write into a BF16 cache.
#define KV_BF16 1
#include "rope_kv_write.glsl"
