#version 450
// get_rows from a q4_k table.
#define DQ dq_q4_k
#include "get_rows.glsl"
