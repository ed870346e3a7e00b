package cuda

import (
	"fmt"

	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// This file is the CUDA half of the kernel contract (docs/cuda.md): the op
// registry and the conventions a launch follows. The registry, the
// compiler and the launch builder the ops_*.go files use are the GPU
// program layer's (backend/internal/gpu).
//
// A CUDA launch's kernel takes, in this order: one pointer per argument
// (l.In, l.Out, l.Scratch, l.Const, l.Status, in the order added), pointing
// at the argument's element 0 (its first byte for a window); then one
// 32-bit value per parameter word (l.U32, l.I32, l.F32, l.Int, l.Stride,
// and the status slot that l.Status pushes), in the order pushed. l.Offset
// words are always 0 here (pointers carry the offset). The block size is
// l.Local, the grid l.Grid; kernel constant specDynamicShared is the
// dynamic shared memory of the launch in bytes; no other constant exists.

// maxElements bounds the element count of every tensor: kernels take
// counts as 32-bit words.
const maxElements = 1<<32 - 1

// specDynamicShared is the kernel constant (gpu.Spec ID) that sets a
// launch's dynamic shared memory in bytes.
const specDynamicShared = 100

// ops is the op registry, filled by the init functions of ops_*.go.
var ops = gpu.NewRegistry[*deviceInfo](gpu.Config{Backend: "cuda", Kernel: "kernel", MaxElements: maxElements})

// variant is one implementation of an op; compiler turns a graph into
// launches; launch is one kernel launch being described.
type (
	variant  = gpu.Variant[*deviceInfo]
	compiler = gpu.Compiler[*deviceInfo]
	launch   = gpu.Launch
)

// groups returns ⌈n / per⌉.
func groups(n, per int64) int64 { return (n + per - 1) / per }

// elemBlock is the block size of element-wise kernels.
const elemBlock = 256

// elementGrid sets a 1-D launch of count threads in blocks of elemBlock.
func elementGrid(l *launch, count int64) {
	l.Local(elemBlock, 1, 1)
	g := groups(count, elemBlock)
	if g > 1<<31-1 {
		l.Fail("grid of %d blocks exceeds CUDA's 2^31-1", g)
		return
	}
	l.Grid(uint32(max(g, 1)), 1, 1)
}

// rowBlock is the block size of a row reduction over cols elements: a
// multiple of 32, at most 256.
func rowBlock(cols int) uint32 {
	b := uint32(32)
	for b < 256 && int(b) < cols {
		b *= 2
	}
	return b
}

// rowGrid sets one block per row; rows beyond 65535 fold into y (kernels
// take the row as blockIdx.y·gridDim.x + blockIdx.x and check it).
func rowGrid(l *launch, rows int64) {
	x := min(rows, 65535)
	y := groups(rows, x)
	if y > 65535 {
		l.Fail("%d rows exceed %d blocks", rows, int64(65535)*65535)
		return
	}
	l.Grid(uint32(max(x, 1)), uint32(max(y, 1)), 1)
}

// checkLaunch checks a launch against the device: the block and grid
// shape, the dynamic shared memory, the kernel constants.
func checkLaunch(d *deviceInfo, l *launch) error {
	if err := l.CheckShape(gpu.Limits{
		MaxLocal:       [3]uint32{1024, 1024, 64},
		MaxInvocations: 1024,
		MaxGroups:      [3]uint32{1<<31 - 1, 65535, 65535},
	}); err != nil {
		return err
	}
	for _, s := range l.Specs {
		switch {
		case s.ID < 3:
		case s.ID == specDynamicShared:
			if lim := max(d.SharedOptin, d.SharedPerBlock); int(s.Value) > lim {
				return fmt.Errorf("%d bytes of dynamic shared memory exceed the device's %d", s.Value, lim)
			}
		default:
			return fmt.Errorf("kernel constant %d: CUDA kernels take none but the block size and dynamic shared memory", s.ID)
		}
	}
	return nil
}

// dynamicShared returns a launch's dynamic shared memory in bytes.
func dynamicShared(l *launch) uint32 {
	for _, s := range l.Specs {
		if s.ID == specDynamicShared {
			return s.Value
		}
	}
	return 0
}

// noKernel is the launch of views, which compute nothing.
func noKernel(*compiler, *graph.Node) error { return nil }
