//go:build cgo

package vulkan

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/spirv"
)

// This file is the Vulkan half of the kernel contract (docs/vulkan.md): the
// op registry, and what a launch becomes on Vulkan (a pipeline, checked
// against the device's limits). The registry, the compiler and the launch
// builder that ops_*.go files use are the GPU program layer's
// (backend/internal/gpu).

// maxElements is the vulkan backend's bound on the element count of every
// tensor it handles, lower than the graph's own (1<<50).
const maxElements = 1 << 40

// ops is the op registry, filled by the init functions of ops_*.go.
var ops = gpu.NewRegistry[*deviceInfo](gpu.Config{Backend: "vulkan", Kernel: "shader", MaxElements: maxElements})

// variant is one implementation of an op; compiler turns a graph into
// launches; launch is one dispatch being described (docs/vulkan.md).
type (
	variant  = gpu.Variant[*deviceInfo]
	compiler = gpu.Compiler[*deviceInfo]
	launch   = gpu.Launch
)

// validateNode checks that n is well formed, within the backend's size
// limit and of an op the backend implements (gpu.Registry.Validate).
func validateNode(n *graph.Node) error { return ops.Validate(n) }

// groups returns ⌈n / per⌉.
func groups(n, per int64) int64 { return (n + per - 1) / per }

// maxWindow is the largest byte window a binding can take whatever its
// start: maxStorageBufferRange less the alignment slack.
func (d *deviceInfo) maxWindow() int64 {
	r := d.Limits.MaxStorageBufferRange
	a := max(d.Limits.MinOffsetAlignment, 4)
	if r > 1<<40 {
		r = 1 << 40
	}
	if r <= a+4 {
		return 0
	}
	return int64(r - a - 4)
}

// rowChunks splits rows rows of rowBytes bytes each into ranges [lo, hi)
// whose windows fit in one binding.
func (d *deviceInfo) rowChunks(rows int, rowBytes int64) ([][2]int, error) {
	if rowBytes <= 0 || rows <= 0 {
		return nil, fmt.Errorf("%d rows of %d bytes", rows, rowBytes)
	}
	per := d.maxWindow() / rowBytes
	if per == 0 {
		return nil, fmt.Errorf("a row of %d bytes exceeds the device's maxStorageBufferRange %d", rowBytes, d.Limits.MaxStorageBufferRange)
	}
	var out [][2]int
	for lo := 0; lo < rows; lo += int(per) {
		out = append(out, [2]int{lo, min(rows, lo+int(per))})
	}
	return out, nil
}

// finish checks a launch against the device and returns its pipeline. The
// caller holds b.mu.
func (b *vkBackend) finish(l *launch) (*pipeline, error) {
	lim := b.info.Limits
	if err := checkLimits(lim, len(l.Args), len(l.Words)); err != nil {
		return nil, err
	}
	if err := l.CheckShape(gpu.Limits{
		MaxLocal:       lim.MaxWorkgroupSize,
		MaxInvocations: lim.MaxInvocations,
		MaxGroups:      lim.MaxWorkgroupCount,
	}); err != nil {
		return nil, err
	}
	mw := b.info.maxWindow()
	for i, a := range l.Args {
		if size := gpu.ArgBytes(a); size > mw {
			return nil, fmt.Errorf("argument %d (%s) spans %d bytes, more than the device's maxStorageBufferRange %d allows in one binding; the op must split it",
				i, a.Node, size, lim.MaxStorageBufferRange)
		}
	}
	pipe, err := b.pipeline(l.Kernel, len(l.Args), 4*len(l.Words), l.Specs)
	if err != nil {
		return nil, err
	}
	_, in, err := b.shader(l.Kernel)
	if err != nil {
		return nil, err
	}
	return pipe, checkWrites(in, l.Args)
}

// checkWrites fails when the shader may write a binding that the launch
// binds as an input (In, Const): barriers between dispatches are placed
// from what launches declare they write (gpu.PlanBarriers), so a write the
// launch does not declare would race with later dispatches. A shader
// declares its inputs readonly.
func checkWrites(in spirv.Interface, args []gpu.Arg) error {
	for _, b := range in.Writable {
		if int(b) < len(args) && !args[b].Writes() {
			return fmt.Errorf("the shader may write binding %d, which the launch binds as an input (bind outputs with Out; declare inputs readonly)", b)
		}
	}
	return nil
}

// checkLimits checks a launch's bindings and push-constant words against
// the device's maxPerStageDescriptorStorageBuffers and
// maxPushConstantsSize (and the contract's 32 words). Workgroup sizes and
// counts are Launch.CheckShape's; shared memory is each launch function's
// own check against Limits.MaxSharedMemory (not read from the SPIR-V).
func checkLimits(lim limits, bindings, words int) error {
	if lim.MaxStorageBuffers > 0 && uint32(bindings) > lim.MaxStorageBuffers {
		return fmt.Errorf("%d storage-buffer bindings exceed the device's maxPerStageDescriptorStorageBuffers %d", bindings, lim.MaxStorageBuffers)
	}
	if words > 32 || uint32(4*words) > lim.MaxPushConstants {
		return fmt.Errorf("%d push-constant words exceed the limit of %d bytes", words, min(128, lim.MaxPushConstants))
	}
	return nil
}

// pipelineKey identifies a cached pipeline.
func pipelineKey(shader string, bindings, pushBytes int, specs []gpu.Spec) string {
	s := append([]gpu.Spec(nil), specs...)
	sort.Slice(s, func(i, j int) bool { return s[i].ID < s[j].ID })
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d/%d", shader, bindings, pushBytes)
	for _, x := range s {
		fmt.Fprintf(&b, "/%d=%d", x.ID, x.Value)
	}
	return b.String()
}

// checkInterface compares what a launch binds and pushes with what the
// shader's SPIR-V declares: storage buffers of set 0 at bindings below
// bindings (the compiler drops a buffer the shader never reads, and two
// declarations may share a binding: a 16-bit alias), and a push-constant
// block of exactly pushBytes bytes. Launches and shaders otherwise
// match by position only, so this catches an argument or word added on
// one side and not the other.
func checkInterface(in spirv.Interface, bindings, pushBytes int) error {
	for _, b := range in.Bindings {
		if int(b) >= bindings {
			return fmt.Errorf("declares binding %d, the launch binds %d arguments", b, bindings)
		}
	}
	if in.PushBytes != pushBytes {
		return fmt.Errorf("declares %d bytes of push constants, the launch pushes %d", in.PushBytes, pushBytes)
	}
	return nil
}

// reflectShader parses SPIR-V code and returns its interface.
func reflectShader(code []byte) (spirv.Interface, error) {
	m, err := spirv.Parse(code)
	if err != nil {
		return spirv.Interface{}, err
	}
	return m.Reflect()
}

// errNoShader is returned for a shader name with no embedded SPIR-V.
var errNoShader = errors.New("no such shader")
