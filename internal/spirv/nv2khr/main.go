// Command nv2khr rewrites a SPIR-V kernel compiled from GLSL with
// GL_NV_cooperative_matrix into SPV_KHR_cooperative_matrix (see
// spirv.NVToKHR): nv2khr IN.spv OUT.spv. make kernels runs it on the
// *_coopmat kernels.
package main

import (
	"fmt"
	"os"

	"github.com/golem-llm/golem/internal/spirv"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: nv2khr IN.spv OUT.spv")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "nv2khr: %v\n", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	code, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	m, err := spirv.Parse(code)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	k, err := spirv.NVToKHR(m)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return os.WriteFile(out, k.Bytes(), 0o644)
}
