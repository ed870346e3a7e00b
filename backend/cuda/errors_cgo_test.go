//go:build cgo

package cuda

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

func i32bytes(vals ...int32) []byte {
	out := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
	}
	return out
}

// upload allocates a buffer holding data.
// upload allocates a buffer holding data, freed when the test ends (unless
// the test freed it, or closed its backend, first).
func upload(t *testing.T, be backend.Backend, data []byte) backend.Buffer {
	t.Helper()
	buf, err := be.Alloc(int64(len(data)))
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := buf.Free(); !errors.Is(err, backend.ErrClosed) {
			require.NoError(t, err)
		}
	})
	require.NoError(t, buf.Write(0, data))
	return buf
}

func readAll(t *testing.T, buf backend.Buffer) []byte {
	t.Helper()
	out := make([]byte, buf.Size())
	require.NoError(t, buf.Read(0, out))
	return out
}

func TestBufferRoundTrip(t *testing.T) {
	be := cudaDevice(t)
	// Sizes around the staging buffer's halves (8 MiB) and odd ones.
	for _, size := range []int64{0, 1, 3, 4097, 8 << 20, 16<<20 + 5} {
		buf, err := be.Alloc(size)
		require.NoError(t, err)
		require.Equal(t, make([]byte, size), readAll(t, buf), "a new buffer is zero-filled")
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + i>>11)
		}
		require.NoError(t, buf.Write(0, data))
		require.Equal(t, data, readAll(t, buf), "size %d", size)
		if size > 10 {
			part := make([]byte, 5)
			require.NoError(t, buf.Read(size-7, part))
			require.Equal(t, data[size-7:size-2], part)
		}
		require.NoError(t, buf.Free())
	}
}

func TestBufferErrors(t *testing.T) {
	be := cudaDevice(t)
	_, err := be.Alloc(-1)
	require.ErrorContains(t, err, "cuda: alloc: negative size -1")
	_, err = be.Alloc(1 << 60)
	require.ErrorContains(t, err, "cuda: alloc: cuMemAlloc_v2(1152921504606846976): CUDA_ERROR_OUT_OF_MEMORY (out of memory; asked 1.0 EiB, ")

	buf, err := be.Alloc(16)
	require.NoError(t, err)
	require.ErrorContains(t, buf.Write(10, make([]byte, 8)), "cuda: write: 8 bytes at offset 10 do not fit the 16-byte buffer")
	require.ErrorContains(t, buf.Read(-1, make([]byte, 1)), "cuda: read: 1 bytes at offset -1 do not fit the 16-byte buffer")
	require.NoError(t, buf.Free())
	require.ErrorContains(t, buf.Write(0, []byte{1}), "cuda: write: buffer is closed (freed)")
	require.ErrorContains(t, buf.Read(0, []byte{1}), "cuda: read: buffer is closed (freed)")
	require.ErrorIs(t, buf.Free(), backend.ErrClosed, "freed twice")
	require.ErrorContains(t, buf.Free(), "already closed (freed twice)")
}

// addGraph builds out = silu(x + y) over [rows, cols] F32.
func addGraph(t *testing.T, rows, cols int) (g *graph.Graph, x, y, out *graph.Node) {
	t.Helper()
	b := graph.NewBuilder()
	x = b.Input("x", graph.F32, rows, cols)
	y = b.Input("y", graph.F32, cols)
	s := b.SiLU(b.Add(x, y))
	g, err := b.Build(s)
	require.NoError(t, err)
	return g, x, y, g.Outputs[0]
}

func TestBindAndRunErrors(t *testing.T) {
	be := cudaDevice(t)
	g, x, y, out := addGraph(t, 2, 3)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()
	small := upload(t, be, make([]byte, 8))
	big := upload(t, be, make([]byte, 64))

	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, cpu.Close()) }()
	foreign, err := cpu.Alloc(64)
	require.NoError(t, err)
	defer func() { require.NoError(t, foreign.Free()) }()
	require.ErrorContains(t, prog.Bind(x, foreign, 0), `cuda: bind input "x" [2 3] f32: buffer belongs to another backend`)

	other := graph.NewBuilder().Input("z", graph.F32, 1)
	require.ErrorContains(t, prog.Bind(other, big, 0), "not a node of this program's graph")
	require.ErrorContains(t, prog.Bind(g.Nodes[2], big, 0), "only leaves and outputs are bound")
	require.ErrorContains(t, prog.Bind(x, small, 0), "24 bytes at offset 0 do not fit the 8-byte buffer")
	require.ErrorContains(t, prog.Bind(x, big, 2), "offset 2 is not aligned to its 4-byte elements")

	require.NoError(t, prog.Bind(x, big, 0))
	require.ErrorContains(t, prog.Run(context.Background()), `cuda: run: input "y" [3] f32 is not bound`)
	require.NoError(t, prog.Bind(y, big, 24))
	require.NoError(t, prog.Bind(out, big, 36))
	require.NoError(t, prog.Run(context.Background()))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorContains(t, prog.Run(ctx), "context canceled")

	gone, err := be.Alloc(64)
	require.NoError(t, err)
	require.NoError(t, prog.Bind(out, gone, 0))
	require.NoError(t, gone.Free())
	require.ErrorContains(t, prog.Run(context.Background()), "the buffer bound to silu")
	require.ErrorContains(t, prog.Bind(out, gone, 0), "buffer is closed (freed)")
	require.ErrorIs(t, prog.Bind(out, gone, 0), backend.ErrClosed)
}

func TestOutOfRangeIDsAndPositions(t *testing.T) {
	be := cudaDevice(t)
	b := graph.NewBuilder()
	table := b.Weight("tok_embd", graph.F32, 8, 4)
	ids := b.Input("ids", graph.I32, 3)
	rows := b.SetName(b.GetRows(table, ids), "embed")
	cache := b.State("cache", graph.F16, 4, 3)
	src := b.Input("src", graph.F32, 2, 3)
	pos := b.Input("pos", graph.I32, 2)
	kv := b.KVWrite(cache, src, pos)
	g, err := b.Build(rows, b.Copy(b.Reshape(kv, 12), graph.F32))
	require.NoError(t, err)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()

	vals := make([]float32, 32)
	for i := range vals {
		vals[i] = float32(i)
	}
	tb := upload(t, be, f32bytes(vals...))
	ib := upload(t, be, i32bytes(1, 70, 2))
	cb := upload(t, be, make([]byte, 24))
	sb := upload(t, be, f32bytes(1, 2, 3, 4, 5, 6))
	pb := upload(t, be, i32bytes(0, 1))
	o1 := upload(t, be, make([]byte, 48))
	o2 := upload(t, be, make([]byte, 48))
	for n, buf := range map[*graph.Node]backend.Buffer{table: tb, ids: ib, cache: cb, src: sb, pos: pb, g.Outputs[0]: o1, g.Outputs[1]: o2} {
		require.NoError(t, prog.Bind(n, buf, 0))
	}
	err = prog.Run(context.Background())
	require.ErrorContains(t, err, `cuda: run: get_rows "embed" [3 4] f32: id 70 at index 1 is outside the table's rows [0, 8)`)

	// The status region is zeroed at the start of every replay.
	require.NoError(t, ib.Write(0, i32bytes(1, 7, 2)))
	require.NoError(t, pb.Write(0, i32bytes(-3, 9)))
	err = prog.Run(context.Background())
	require.ErrorContains(t, err, "position -3 at index 0 is outside the cache's rows [0, 4) (2 bad elements in all)")
	require.ErrorContains(t, err, "kv_write")

	require.NoError(t, pb.Write(0, i32bytes(3, 3))) // a repeated position keeps the last row
	require.NoError(t, prog.Run(context.Background()))
	got := f32s(readAll(t, o1))
	require.Equal(t, vals[4:8], got[0:4])
	require.Equal(t, vals[28:32], got[4:8])
	cache16 := readAll(t, cb)
	for j, want := range []float32{4, 5, 6} {
		require.Equal(t, quant.F32ToF16(want), binary.LittleEndian.Uint16(cache16[2*(9+j):]), "cache[3][%d]", j)
	}
	require.Equal(t, make([]byte, 6), cache16[12:18], "row 2 was never written")

	// The same errors on a profiled run (no graph).
	prog.(*program).Profile(true)
	require.NoError(t, ib.Write(0, i32bytes(-1, 7, 2)))
	require.ErrorContains(t, prog.Run(context.Background()), "id -1 at index 0 is outside the table's rows [0, 8)")
}

// TestStickyFailure makes a kernel fault on the emulator: the context is
// then unusable, so the backend fails every later call with the cause.
func TestStickyFailure(t *testing.T) {
	be := cudaDevice(t)
	if !be.info.Emulated {
		t.Skip("faults a kernel on purpose: the emulator only")
	}
	g, x, _, _ := addGraph(t, 1, 4)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	buf := upload(t, be, make([]byte, 16))
	be.mu.Lock()
	m, err := be.dev.loadModule("selftest", selftestPTX)
	require.NoError(t, err)
	fn, err := be.dev.function(m, "selftest_bad_oob")
	require.NoError(t, err)
	s, err := be.dev.newStream()
	require.NoError(t, err)
	var p params
	p.Ptr(buf.(*cuBuffer).ptr)
	ll := pack([]kernelLaunch{{fn: fn, grid: [3]uint32{4, 1, 1}, block: [3]uint32{1024, 1, 1}, params: p}})
	err = be.note(be.dev.launchAll(s, ll, []string{"selftest_bad_oob"}))
	ll.free()
	be.mu.Unlock()
	require.ErrorContains(t, err, "CUDA_ERROR_ILLEGAL_ADDRESS")
	require.ErrorContains(t, buf.Write(0, []byte{1}), "kernel selftest_bad_oob launch #")
	require.NoError(t, prog.Bind(x, buf, 0), "binding touches no device")
	require.ErrorContains(t, prog.Run(context.Background()), "cuda: run: device unavailable after an earlier failure: cuLaunchKernel(selftest_bad_oob): CUDA_ERROR_ILLEGAL_ADDRESS")
	_, err = be.Alloc(4)
	require.ErrorContains(t, err, "device unavailable after an earlier failure")
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.NoError(t, prog.Close())
	require.NoError(t, buf.Free())
	require.NoError(t, be.Close())
	// A new backend has a new context.
	be2 := cudaDevice(t)
	b2, err := be2.Alloc(4)
	require.NoError(t, err)
	require.NoError(t, b2.Free())
}

// TestClosed checks the Close contract of backend.Backend on CUDA: Close
// releases what is still open and reports it (ErrInUse), and every later
// use of the backend, its buffers and its programs returns ErrClosed.
func TestClosed(t *testing.T) {
	be := cudaDevice(t)
	g, x, _, _ := addGraph(t, 1, 4)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	buf, err := be.Alloc(16)
	require.NoError(t, err)
	freed, err := be.Alloc(1024)
	require.NoError(t, err)
	require.NoError(t, freed.Free())
	closed, err := be.Compile(g)
	require.NoError(t, err)
	require.NoError(t, closed.Close())
	require.ErrorIs(t, closed.Close(), backend.ErrClosed, "a program closed twice")

	err = be.Close()
	require.ErrorIs(t, err, backend.ErrInUse)
	require.EqualError(t, err, be.Name()+": close: still in use: 1 buffer (16 B) and 1 program (released)")
	require.ErrorIs(t, be.Close(), backend.ErrClosed, "a second Close")
	_, err = be.Alloc(4)
	require.EqualError(t, err, "cuda: alloc: backend "+be.Name()+" is closed")
	_, err = be.Compile(g)
	require.ErrorIs(t, err, backend.ErrClosed)
	for name, err := range map[string]error{
		"write":              buf.Write(0, []byte{1}),
		"read":               buf.Read(0, make([]byte, 4)),
		"run":                prog.Run(context.Background()),
		"bind":               prog.Bind(x, buf, 0),
		"close program":      prog.Close(),
		"free":               buf.Free(),
		"free freed buffer":  freed.Free(),
		"close closed again": closed.Close(),
	} {
		require.ErrorIs(t, err, backend.ErrClosed, name)
	}
	require.Equal(t, int64(16), buf.Size())
}

func TestCompileErrors(t *testing.T) {
	be := cudaDevice(t)
	_, err := be.Compile(nil)
	require.ErrorContains(t, err, "cuda: compile: empty graph")

	b := graph.NewBuilder()
	x := b.Input("x", graph.Q4_0, 1, 256)
	g, err := b.Build(b.Copy(x, graph.Q8_0))
	require.NoError(t, err)
	require.False(t, be.Supports(g.Outputs[0]))
	_, err = be.Compile(g)
	require.ErrorContains(t, err, "converting q4_0 to q8_0 is not implemented (dequantize to f32 first)")

	require.Nil(t, be.Variants(graph.OpAdd))
	_, err = be.CompileVariant(g, graph.OpAdd, "fast")
	require.ErrorContains(t, err, `op add has no variant "fast"`)
}

// TestSupportsEveryOp checks that every op of the op set has a kernel;
// fused ops are optional (graph.Fuse emits only those Supports accepts).
func TestSupportsEveryOp(t *testing.T) {
	for _, op := range graph.ComputeOps() {
		if op.IsFused() {
			continue
		}
		_, ok := ops.Find(op, "")
		require.True(t, ok, "op %s has no variant", op)
	}
}

func TestOpenSelectors(t *testing.T) {
	be := cudaDevice(t)
	for _, sel := range []string{"cuda:0", "cuda:" + be.Device().ID} {
		o, err := backend.Open(sel, backend.Options{})
		require.NoError(t, err, sel)
		require.Equal(t, "cuda:0", o.Name())
		require.NoError(t, o.Close())
	}
	_, err := backend.Open("cuda:9", backend.Options{})
	require.ErrorContains(t, err, `cuda: no such device "9"`)
	require.ErrorIs(t, err, backend.ErrNoDevice)
}
