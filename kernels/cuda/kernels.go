// Package cudakernels embeds golem's CUDA kernels: the PTX that `make
// kernels` compiles with clang-19 from the CUDA C sources (*.cu) next to
// this file, one module per source file. backend/cuda loads them by name;
// docs/cuda.md is the contract. The kernels under testdata/ are not

package cudakernels

import "embed"

// FS holds every compiled kernel file as <name>.ptx.
//
//go:embed *.ptx
var FS embed.FS
