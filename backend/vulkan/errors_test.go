//go:build cgo

package vulkan

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// f32Bytes encodes vals little-endian.
func f32Bytes(vals ...float32) []byte {
	out := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// i32Bytes encodes vals little-endian.
func i32Bytes(vals ...int32) []byte {
	out := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
	}
	return out
}

// bytesF32 decodes little-endian float32s.
func bytesF32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// upload allocates a buffer holding data, freed when the test ends.
func upload(t *testing.T, be backend.Backend, data []byte) backend.Buffer {
	t.Helper()
	buf, err := be.Alloc(int64(len(data)))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, buf.Free()) })
	require.NoError(t, buf.Write(0, data))
	return buf
}

// readAll reads a whole buffer.
func readAll(t *testing.T, buf backend.Buffer) []byte {
	t.Helper()
	out := make([]byte, buf.Size())
	require.NoError(t, buf.Read(0, out))
	return out
}

func TestBufferRoundTrip(t *testing.T) {
	sizes := []int64{0, 1, 3, 4097, 16<<20 + 5}
	if !testing.Short() {
		sizes = append(sizes, 136<<20) // more than lavapipe's maxStorageBufferRange
	}
	for _, staging := range []bool{false, true} {
		be := vkDevice(t)
		if staging {
			be.mu.Lock()
			require.NoError(t, be.dev.forceStaging())
			be.mu.Unlock()
		}
		for _, size := range sizes {
			name := map[bool]string{false: "mapped", true: "staging"}[staging]
			t.Run(name, func(t *testing.T) {
				buf, err := be.Alloc(size)
				require.NoError(t, err)
				defer func() { require.NoError(t, buf.Free()) }()
				require.Equal(t, size, buf.Size())
				got := readAll(t, buf)
				require.True(t, bytes.Equal(got, make([]byte, size)), "a new buffer is zero-filled")
				data := make([]byte, size)
				rng := rand.New(rand.NewPCG(uint64(size), 1))
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				require.NoError(t, buf.Write(0, data))
				require.True(t, bytes.Equal(readAll(t, buf), data))
				if size >= 3 {
					// Unaligned partial transfers.
					require.NoError(t, buf.Write(1, []byte{7, 8}))
					part := make([]byte, 2)
					require.NoError(t, buf.Read(1, part))
					require.Equal(t, []byte{7, 8}, part)
				}
			})
		}
	}
}

func TestBufferErrors(t *testing.T) {
	be := vkDevice(t)
	_, err := be.Alloc(-1)
	require.ErrorContains(t, err, "vulkan: alloc: negative size -1")
	_, err = be.Alloc(1 << 60)
	require.ErrorContains(t, err, "vulkan: alloc: ")

	buf, err := be.Alloc(16)
	require.NoError(t, err)
	require.ErrorContains(t, buf.Write(10, make([]byte, 8)), "vulkan: write: 8 bytes at offset 10 do not fit the 16-byte buffer")
	require.ErrorContains(t, buf.Read(-1, make([]byte, 1)), "vulkan: read: 1 bytes at offset -1 do not fit the 16-byte buffer")
	require.NoError(t, buf.Free())
	for _, err := range []error{buf.Write(0, []byte{1}), buf.Read(0, []byte{1}), buf.Free()} {
		require.ErrorIs(t, err, backend.ErrClosed)
	}
	require.EqualError(t, buf.Write(0, []byte{1}), "vulkan: write: buffer is closed (freed)")
	require.EqualError(t, buf.Free(), "vulkan: free: buffer is already closed (freed twice)")
	require.Equal(t, int64(16), buf.Size())
}

// addGraph builds out = x + y over [rows, cols] F32.
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
	be := vkDevice(t)
	g, x, y, out := addGraph(t, 2, 3)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()

	small, err := be.Alloc(8)
	require.NoError(t, err)
	defer func() { require.NoError(t, small.Free()) }()
	big, err := be.Alloc(64)
	require.NoError(t, err)
	defer func() { require.NoError(t, big.Free()) }()

	// A buffer of another backend.
	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, cpu.Close()) }()
	foreign, err := cpu.Alloc(64)
	require.NoError(t, err)
	defer func() { require.NoError(t, foreign.Free()) }()
	require.ErrorContains(t, prog.Bind(x, foreign, 0), `vulkan: bind input "x" [2 3] f32: buffer belongs to another backend`)

	other := graph.NewBuilder().Input("z", graph.F32, 1)
	require.ErrorContains(t, prog.Bind(other, big, 0), "not a node of this program's graph")
	add := g.Nodes[2]
	require.Equal(t, graph.OpAdd, add.Op)
	require.ErrorContains(t, prog.Bind(add, big, 0), "only leaves and outputs are bound")
	require.ErrorContains(t, prog.Bind(x, small, 0), "24 bytes at offset 0 do not fit the 8-byte buffer")
	require.ErrorContains(t, prog.Bind(x, big, 2), "offset 2 is not aligned to its 4-byte elements")

	require.NoError(t, prog.Bind(x, big, 0))
	require.ErrorContains(t, prog.Run(context.Background()), `vulkan: run: input "y" [3] f32 is not bound`)
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
	require.ErrorIs(t, prog.Run(context.Background()), backend.ErrClosed)
	require.ErrorContains(t, prog.Bind(out, gone, 0), "buffer is closed (freed)")
	require.ErrorIs(t, prog.Bind(out, gone, 0), backend.ErrClosed)
}

func TestRunResultsAndRebind(t *testing.T) {
	be := vkDeviceWith(t, backend.Options{Profile: true})
	g, x, y, out := addGraph(t, 2, 3)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()
	xa := upload(t, be, f32Bytes(1, 2, 3, 4, 5, 6))
	xb := upload(t, be, f32Bytes(-1, -2, -3, -4, -5, -6))
	yb := upload(t, be, f32Bytes(0.5, 0, -0.5))
	ob := upload(t, be, make([]byte, 24))
	require.NoError(t, prog.Bind(x, xa, 0))
	require.NoError(t, prog.Bind(y, yb, 0))
	require.NoError(t, prog.Bind(out, ob, 0))

	silu := func(v float64) float32 { return float32(v / (1 + math.Exp(-v))) }
	check := func(xs []float32) {
		require.NoError(t, prog.Run(context.Background()))
		got := bytesF32(readAll(t, ob))
		ys := []float64{0.5, 0, -0.5}
		for i, v := range xs {
			require.InDelta(t, silu(float64(v)+ys[i%3]), got[i], 1e-6, "element %d", i)
		}
	}
	check([]float32{1, 2, 3, 4, 5, 6})
	// Writing an input between runs needs no rebinding.
	require.NoError(t, xa.Write(0, f32Bytes(6, 5, 4, 3, 2, 1)))
	check([]float32{6, 5, 4, 3, 2, 1})
	// Rebinding records the program again.
	require.NoError(t, prog.Bind(x, xb, 0))
	check([]float32{-1, -2, -3, -4, -5, -6})

	p := prog.(backend.Profiler)
	ts := p.Timings()
	require.Len(t, ts, 2)
	for _, tm := range ts {
		require.GreaterOrEqual(t, tm.Seconds, 0.0)
		require.Equal(t, 1, tm.Launches)
	}
	require.Equal(t, graph.OpAdd, ts[0].Node.Op)
}

// TestTimingsOnlyWhenProfiling: programs of a backend opened without
// Profile write no timestamps and report no timings, even after a run;
// with it, none before the first run.
func TestTimingsOnlyWhenProfiling(t *testing.T) {
	for _, profile := range []bool{false, true} {
		be := vkDeviceWith(t, backend.Options{Profile: profile})
		g, x, y, out := addGraph(t, 1, 4)
		prog, err := be.Compile(g)
		require.NoError(t, err)
		require.Nil(t, prog.(backend.Profiler).Timings())
		require.Equal(t, profile, len(prog.(*program).tsNodes) > 0, "timestamps recorded")
		for _, n := range []*graph.Node{x, y, out} {
			require.NoError(t, prog.Bind(n, upload(t, be, make([]byte, n.Bytes())), 0))
		}
		require.NoError(t, prog.Run(context.Background()))
		require.Equal(t, profile, prog.(backend.Profiler).Timings() != nil)
		require.NoError(t, prog.Close())
	}
}

func TestOutOfRangeIDsAndPositions(t *testing.T) {
	be := vkDevice(t)
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
	tb := upload(t, be, f32Bytes(vals...))
	ib := upload(t, be, i32Bytes(1, 70, 2))
	cb := upload(t, be, make([]byte, 24))
	sb := upload(t, be, f32Bytes(1, 2, 3, 4, 5, 6))
	pb := upload(t, be, i32Bytes(0, 1))
	o1 := upload(t, be, make([]byte, 48))
	o2 := upload(t, be, make([]byte, 48))
	for n, buf := range map[*graph.Node]backend.Buffer{table: tb, ids: ib, cache: cb, src: sb, pos: pb, g.Outputs[0]: o1, g.Outputs[1]: o2} {
		require.NoError(t, prog.Bind(n, buf, 0))
	}
	err = prog.Run(context.Background())
	require.ErrorContains(t, err, `vulkan: run: get_rows "embed" [3 4] f32: id 70 at index 1 is outside the table's rows [0, 8)`)

	require.NoError(t, ib.Write(0, i32Bytes(1, 7, 2)))
	require.NoError(t, pb.Write(0, i32Bytes(-3, 9)))
	err = prog.Run(context.Background())
	// Both positions are bad; the shader records whichever invocation
	// reports first (common.glsl report_error), so either may be named.
	require.Regexp(t, `kv_write.*: position (-3 at index 0|9 at index 1) is outside the cache's rows \[0, 4\) \(2 bad elements in all\)`, err.Error())

	require.NoError(t, pb.Write(0, i32Bytes(3, 3))) // a repeated position keeps the last row
	require.NoError(t, prog.Run(context.Background()))
	got := bytesF32(readAll(t, o1))
	require.Equal(t, vals[4:8], got[0:4])
	require.Equal(t, vals[28:32], got[4:8])
	cache16 := readAll(t, cb)
	for j, want := range []float32{4, 5, 6} {
		require.Equal(t, quant.F32ToF16(want), binary.LittleEndian.Uint16(cache16[2*(9+j):]), "cache[3][%d]", j)
	}
	require.Equal(t, make([]byte, 6), cache16[12:18], "row 2 was never written")
}

// TestPackedEdges binds 16-bit and quantized outputs at offsets that make
// invocations share words with neighbours, and odd lengths.
func TestPackedEdges(t *testing.T) {
	be := vkDevice(t)
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 1, 7)
	h := b.Copy(x, graph.F16)
	q := b.Copy(b.Input("w", graph.F32, 3, 32), graph.Q8_0)
	g, err := b.Build(h, q)
	require.NoError(t, err)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()
	xs := []float32{1, -2.5, 3.25, 65504, 1e-7, -0, 0.1}
	xb := upload(t, be, f32Bytes(xs...))
	ws := make([]float32, 96)
	for i := range ws {
		ws[i] = float32(math.Sin(float64(i)))
	}
	wb := upload(t, be, f32Bytes(ws...))
	const guard = 0xa5
	region := bytes.Repeat([]byte{guard}, 64)
	hb := upload(t, be, region)
	qregion := bytes.Repeat([]byte{guard}, 3*34+8)
	qb := upload(t, be, qregion)
	require.NoError(t, prog.Bind(g.Leaves(graph.OpInput)[0], xb, 0))
	require.NoError(t, prog.Bind(g.Leaves(graph.OpInput)[1], wb, 0))
	require.NoError(t, prog.Bind(g.Outputs[0], hb, 2)) // starts in the middle of a word
	require.NoError(t, prog.Bind(g.Outputs[1], qb, 2))
	require.NoError(t, prog.Run(context.Background()))

	got := readAll(t, hb)
	require.Equal(t, []byte{guard, guard}, got[:2])
	for i, v := range xs {
		require.Equal(t, quant.F32ToF16(v), binary.LittleEndian.Uint16(got[2+2*i:]), "element %d", i)
	}
	require.Equal(t, bytes.Repeat([]byte{guard}, 64-16), got[16:])

	gotQ := readAll(t, qb)
	want := make([]byte, 3*34)
	require.NoError(t, quant.Quantize(graph.Q8_0, ws, want))
	require.Equal(t, []byte{guard, guard}, gotQ[:2])
	require.Equal(t, want, gotQ[2:2+3*34])
	require.Equal(t, bytes.Repeat([]byte{guard}, 6), gotQ[2+3*34:])
}

// TestGetRowsLargeTable reads a table larger than one binding can address
// on this device, so the rows are read in several windows.
func TestGetRowsLargeTable(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads more than maxStorageBufferRange bytes")
	}
	be := vkDevice(t)
	const cols = 1024
	rng := be.info.Limits.MaxStorageBufferRange
	if rng > 512<<20 {
		t.Skipf("maxStorageBufferRange is %d bytes: a larger table would take too long here", rng)
	}
	rows := int(rng/(4*cols)) + 300
	b := graph.NewBuilder()
	table := b.Weight("big", graph.F32, rows, cols)
	ids := b.Input("ids", graph.I32, 4)
	g, err := b.Build(b.GetRows(table, ids))
	require.NoError(t, err)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()
	require.Greater(t, len(prog.(*program).core.List.Launches), 1, "the table is read in chunks")

	data := make([]byte, 4*cols*rows)
	for r := 0; r < rows; r++ {
		binary.LittleEndian.PutUint32(data[4*cols*r:], math.Float32bits(float32(r)))
		binary.LittleEndian.PutUint32(data[4*cols*r+4*(cols-1):], math.Float32bits(float32(-r)))
	}
	tb := upload(t, be, data)
	want := []int32{0, int32(rows - 1), int32(rows / 2), 5}
	ib := upload(t, be, i32Bytes(want...))
	ob := upload(t, be, make([]byte, 4*4*cols))
	require.NoError(t, prog.Bind(table, tb, 0))
	require.NoError(t, prog.Bind(ids, ib, 0))
	require.NoError(t, prog.Bind(g.Outputs[0], ob, 0))
	require.NoError(t, prog.Run(context.Background()))
	got := bytesF32(readAll(t, ob))
	for i, id := range want {
		require.Equal(t, float32(id), got[i*cols], "row %d first", i)
		require.Equal(t, float32(-id), got[i*cols+cols-1], "row %d last", i)
	}
	require.NoError(t, ib.Write(4, i32Bytes(int32(rows))))
	require.ErrorContains(t, prog.Run(context.Background()), "outside the table's rows")
}

// TestClosedAndLost checks a lost device and the Backend.Close contract
// (issue 8): Close with buffers and programs still open releases them and
// reports them; every later use of them, Free and Close included, and a
// second Close return backend.ErrClosed, without touching freed memory.
func TestClosedAndLost(t *testing.T) {
	vkDevice(t) // skips without a device
	o, err := backend.Open("vulkan", backend.Options{})
	require.NoError(t, err)
	be := o.(*vkBackend)
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

	// A lost device fails every later call with the cause.
	be.mu.Lock()
	be.lost = &vkError{what: "run", result: resultDeviceLost}
	be.mu.Unlock()
	require.ErrorContains(t, prog.Run(context.Background()), "VK_ERROR_DEVICE_LOST")
	require.ErrorIs(t, prog.Run(context.Background()), backend.ErrUnavailable)
	_, err = be.Alloc(4)
	require.ErrorContains(t, err, "VK_ERROR_DEVICE_LOST")
	require.ErrorContains(t, buf.Write(0, []byte{1}), "VK_ERROR_DEVICE_LOST")
	be.mu.Lock()
	be.lost = nil
	be.mu.Unlock()

	err = be.Close()
	require.ErrorIs(t, err, backend.ErrInUse)
	require.EqualError(t, err, "vulkan:0: close: still in use: 1 buffer (16 B) and 1 program (released)")
	require.ErrorIs(t, be.Close(), backend.ErrClosed, "a second Close")
	_, err = be.Alloc(4)
	require.EqualError(t, err, "vulkan: alloc: backend vulkan:0 is closed")
	_, err = be.Compile(g)
	require.EqualError(t, err, "vulkan: compile: backend vulkan:0 is closed")
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
	require.EqualError(t, prog.Close(), "vulkan: close program: backend vulkan:0 is closed (it released the program)")
	require.EqualError(t, buf.Free(), "vulkan: free: backend vulkan:0 is closed (it released the buffer)")
	require.Equal(t, int64(16), buf.Size())
}

func TestCompileErrors(t *testing.T) {
	be := vkDevice(t)
	_, err := be.Compile(nil)
	require.ErrorContains(t, err, "vulkan: compile: empty graph")

	b := graph.NewBuilder()
	x := b.Input("x", graph.Q8_0, 1, 256)
	g, err := b.Build(b.Copy(x, graph.Q4_0))
	require.NoError(t, err)
	require.False(t, be.Supports(g.Outputs[0]))
	_, err = be.Compile(g)
	require.ErrorContains(t, err, "converting q8_0 to q4_0 is not implemented")

	require.Nil(t, be.Variants(graph.OpAdd))
	_, err = be.CompileVariant(g, graph.OpAdd, "fast")
	require.ErrorContains(t, err, `op add has no variant "fast"`)
}

func TestOpenSelectors(t *testing.T) {
	be := vkDevice(t)
	for _, sel := range []string{"vulkan:0", "vulkan:" + be.Device().ID} {
		o, err := backend.Open(sel, backend.Options{})
		require.NoError(t, err, sel)
		require.Equal(t, "vulkan:0", o.Name())
		require.NoError(t, o.Close())
	}
	_, err := backend.Open("vulkan:9", backend.Options{})
	require.ErrorIs(t, err, backend.ErrNoDevice)
	require.ErrorContains(t, err, `vulkan: no such device "9"`)
	// This test binary registers cpu and vulkan: auto takes a Vulkan GPU
	// before the CPU, and the CPU before a software Vulkan device
	// (lavapipe, which is what CI has).
	want := "vulkan:0"
	if be.Device().Type == backend.DeviceSoftware {
		want = "cpu"
	}
	a, err := backend.Open("auto", backend.Options{})
	require.NoError(t, err)
	require.Equal(t, want, a.Name(), "vulkan:0 is a %s", be.Device().Type)
	require.NoError(t, a.Close())
}
