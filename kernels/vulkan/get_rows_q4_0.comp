#version 450
// get_rows from a q4_0 table.
#define DQ dq_q4_0
#include "get_rows.glsl"
