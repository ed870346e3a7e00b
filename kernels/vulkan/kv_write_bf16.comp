#version 450
// kv_write into a BF16 cache.
#define KV_BF16 1
#include "kv_write.glsl"
