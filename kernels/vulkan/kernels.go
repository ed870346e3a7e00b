// Package vulkankernels embeds golem's Vulkan compute kernels: the SPIR-V
// that `make kernels` compiles from the GLSL sources (*.comp) next to this
// file. backend/vulkan loads them by name; docs/vulkan.md is the contract.
package vulkankernels

import "embed"

// FS holds every compiled kernel as <name>.spv.
//
//go:embed *.spv
var FS embed.FS
