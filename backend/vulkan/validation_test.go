//go:build cgo

package vulkan

import (
	"context"
	"io/fs"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/spirv"
	vulkankernels "github.com/golem-llm/golem/kernels/vulkan"
)

// TestValidationMessages checks the path that makes validation fail tests:
// under the validation layer, an invalid call is reported by the next
// backend call and by Close; without it, nothing is collected. It runs
// only when the layer is asked for (make test sets GOLEM_VULKAN_VALIDATION).
func TestValidationMessages(t *testing.T) {
	if os.Getenv(ValidationEnv) != "1" {
		t.Skipf("%s is not 1: the validation layer is not in use", ValidationEnv)
	}
	be := vkDevice(t)
	be.mu.Lock()
	be.dev.invalidCall()
	be.mu.Unlock()
	_, err := be.Alloc(64)
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "VUID-VkBufferCreateInfo-size-00912")
	// Reported once: the next call is clean.
	buf, err := be.Alloc(64)
	require.NoError(t, err)
	require.NoError(t, buf.Free())

	// Close reports messages not yet returned by another call.
	other, err := backend.Open(be.Name(), backend.Options{})
	require.NoError(t, err)
	ob := other.(*vkBackend)
	ob.mu.Lock()
	ob.dev.invalidCall()
	ob.mu.Unlock()
	err = other.Close()
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "size-00912")
}

// TestShaderInterfaces: every embedded kernel's bindings and push-constant
// block are readable, and checkInterface (run for every pipeline a launch
// makes) rejects a launch that pushes a word more or less, or binds fewer
// arguments than the shader declares.
func TestShaderInterfaces(t *testing.T) {
	names, err := fs.Glob(vulkankernels.FS, "*.spv")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, name := range names {
		code, err := fs.ReadFile(vulkankernels.FS, name)
		require.NoError(t, err)
		m, err := spirv.Parse(code)
		require.NoError(t, err, name)
		in, err := m.Reflect()
		require.NoError(t, err, name)
		require.NotEmpty(t, in.Bindings, name)
		require.LessOrEqual(t, in.PushBytes, 128, name)
	}
	code, err := fs.ReadFile(vulkankernels.FS, "add.spv")
	require.NoError(t, err)
	// add: x, y, d; x_off, y_off, d_off, rank, n, then shapes and strides.
	m, err := spirv.Parse(code)
	require.NoError(t, err)
	in, err := m.Reflect()
	require.NoError(t, err)
	require.NoError(t, checkInterface(in, 3, in.PushBytes))
	require.ErrorContains(t, checkInterface(in, 3, in.PushBytes+4), "push constants")
	require.ErrorContains(t, checkInterface(in, 3, in.PushBytes-4), "push constants")
	require.ErrorContains(t, checkInterface(in, 2, in.PushBytes), "declares binding 2")
	// add writes its third binding only: an output bound with In fails.
	require.Equal(t, []uint32{2}, in.Writable)
	node := &graph.Node{}
	require.NoError(t, checkWrites(in, []gpu.Arg{{Node: node}, {Node: node}, {Node: node, Write: true}}))
	require.ErrorContains(t, checkWrites(in, []gpu.Arg{{Node: node}, {Node: node}, {Node: node}}), "may write binding 2")
}

// TestBarriersFromDependencies runs a graph with a chain (a → b → c), an
// independent branch and a buffer reused after a read (the memory plan
// reuses the arena), checks the result and the barrier count, and, under
// the validation layer, that the same program recorded without barriers
// is reported by synchronization validation: the hazards the planner
// orders are real, and validation sees them.
func TestBarriersFromDependencies(t *testing.T) {
	build := func() (*graph.Graph, *graph.Node, *graph.Node) {
		b := graph.NewBuilder()
		x := b.Input("x", graph.F32, 64)
		y := b.Input("y", graph.F32, 64)
		a := b.Add(x, y)      // reads x, y
		s := b.Scale(x, 2)    // independent of a
		c := b.Mul(a, a)      // depends on a
		d := b.Add(c, s)      // depends on c and s
		out := b.Scale(d, .5) // depends on d
		g, err := b.Build(out)
		require.NoError(t, err)
		return g, x, y
	}
	run := func(be *vkBackend) ([]float32, int, error) {
		g, x, y := build()
		p, err := be.Compile(g)
		require.NoError(t, err)
		defer p.Close()
		xv, yv := make([]float32, 64), make([]float32, 64)
		for i := range xv {
			xv[i], yv[i] = float32(i), float32(2*i)
		}
		bx, by := upload(t, be, f32Bytes(xv...)), upload(t, be, f32Bytes(yv...))
		ob, err := be.Alloc(256)
		require.NoError(t, err)
		defer ob.Free()
		require.NoError(t, p.Bind(x, bx, 0))
		require.NoError(t, p.Bind(y, by, 0))
		require.NoError(t, p.Bind(g.Outputs[0], ob, 0))
		err = p.Run(context.Background())
		return bytesF32(readAll(t, ob)), p.(*program).barriers, err
	}
	be := vkDevice(t)
	got, bars, err := run(be)
	require.NoError(t, err)
	for i, v := range got {
		a := float32(3 * i)
		require.Equal(t, (a*a+float32(2*i))/2, v, "element %d", i)
	}
	// add and scale together, then mul, add, scale: three barriers.
	require.Equal(t, 3, bars)

	if os.Getenv(ValidationEnv) != "1" {
		t.Skipf("%s is not 1: the validation layer is not in use", ValidationEnv)
	}
	other := vkDevice(t)
	other.noBarriers = true
	_, bars, err = run(other)
	require.Zero(t, bars)
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "SYNC-HAZARD-READ-AFTER-WRITE")
}
