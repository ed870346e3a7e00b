#version 450
// get_rows from a q6_k table.
#define DQ dq_q6_k
#include "get_rows.glsl"
