#version 450
// get_rows from a bf16 table.
#define DQ dq_bf16
#include "get_rows.glsl"
