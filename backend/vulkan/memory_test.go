//go:build cgo

package vulkan

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMemoryPools: small buffers are sub-allocated from shared memory
// blocks (not one device allocation each); a buffer larger than half a
// block gets its own; freeing every buffer releases the blocks; a
// program's intermediates, scratch and constants are one allocation.
func TestMemoryPools(t *testing.T) {
	be := vkDevice(t)
	var bufs []*vkBuffer
	for i := 0; i < 64; i++ {
		buf, err := be.Alloc(int64(1000 + 37*i))
		require.NoError(t, err)
		bufs = append(bufs, buf.(*vkBuffer))
	}
	be.mu.Lock()
	used, held := be.dev.memoryInUse()
	blocks := 0
	for _, pl := range be.dev.pools {
		blocks += len(pl.blocks)
	}
	be.mu.Unlock()
	require.Equal(t, 1, blocks, "64 small buffers share one block")
	require.GreaterOrEqual(t, used, int64(64*1000))
	require.Equal(t, be.dev.blockBytes, held)
	for i, b := range bufs {
		require.NotNil(t, b.c.pool, "buffer %d is pooled", i)
		require.Same(t, bufs[0].c.blk, b.c.blk)
	}
	// Contents stay apart.
	for i, b := range bufs {
		require.NoError(t, b.Write(0, bytes.Repeat([]byte{byte(i + 1)}, int(b.size))))
	}
	for i, b := range bufs {
		require.Equal(t, bytes.Repeat([]byte{byte(i + 1)}, int(b.size)), readAll(t, b), "buffer %d", i)
	}

	big, err := be.Alloc(be.dev.blockBytes/2 + 16)
	require.NoError(t, err)
	require.Nil(t, big.(*vkBuffer).c.pool, "a large buffer has its own memory")
	require.NoError(t, big.Free())

	for _, b := range bufs {
		require.NoError(t, b.Free())
	}
	be.mu.Lock()
	used, held = be.dev.memoryInUse()
	be.mu.Unlock()
	require.Zero(t, used)
	require.Zero(t, held, "empty blocks are released")

	// One arena per program: intermediates, scratch and constants.
	g, x, y, out := addGraph(t, 3, 40)
	p, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	require.NotNil(t, p.(*program).arena)
	bx, by := upload(t, be, make([]byte, x.Bytes())), upload(t, be, make([]byte, y.Bytes()))
	ob := upload(t, be, make([]byte, out.Bytes()))
	require.NoError(t, p.Bind(x, bx, 0))
	require.NoError(t, p.Bind(y, by, 0))
	require.NoError(t, p.Bind(out, ob, 0))
	require.NoError(t, p.Run(context.Background()))
}

// TestStagingRing: with unmapped buffers (the discrete-GPU path), writes
// of several ring chunks come back intact at every ring depth, a write is
// one submission per chunk and returns before its copies finish (freeing
// the buffer right after waits for them), and a read is one submission
// per chunk.
func TestStagingRing(t *testing.T) {
	be := vkDevice(t)
	be.mu.Lock()
	require.NoError(t, be.dev.forceStaging())
	be.mu.Unlock()
	const ringBytes = 8 << 20
	size := int64(2*ringBytes + 12345)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, depth := range []int{1, 2, 4} {
		be.mu.Lock()
		be.dev.setRing(depth)
		be.mu.Unlock()
		buf, err := be.Alloc(size)
		require.NoError(t, err)
		require.Nil(t, buf.(*vkBuffer).c.mapped())
		s0 := be.dev.submits()
		require.NoError(t, buf.Write(0, data))
		require.Equal(t, uint64(3), be.dev.submits()-s0, "depth %d: three chunks", depth)
		got := make([]byte, size)
		require.NoError(t, buf.Read(0, got))
		require.True(t, bytes.Equal(data, got), "depth %d", depth)
		require.Equal(t, uint64(6), be.dev.submits()-s0)
		require.NoError(t, buf.Write(5, []byte{1, 2, 3}))
		require.NoError(t, buf.Free(), "freeing right after a write")
	}
}

// TestOutputReadBack: on unmapped memory, an output is copied into
// host-visible memory in the run's own submission, so reading it after
// the run submits nothing; a write to the buffer (or a later run) makes
// that copy stale, and Read goes to the device again.
func TestOutputReadBack(t *testing.T) {
	be := vkDevice(t)
	be.mu.Lock()
	require.NoError(t, be.dev.forceStaging())
	be.mu.Unlock()
	g, x, y, out := addGraph(t, 2, 8)
	p, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	xs := make([]float32, 16)
	for i := range xs {
		xs[i] = float32(i) - 8
	}
	bx := upload(t, be, f32Bytes(xs...))
	by := upload(t, be, make([]byte, 32))
	ob := upload(t, be, make([]byte, out.Bytes()))
	require.NoError(t, p.Bind(x, bx, 0))
	require.NoError(t, p.Bind(y, by, 0))
	require.NoError(t, p.Bind(out, ob, 0))
	require.NoError(t, p.Run(context.Background()))

	s0 := be.dev.submits()
	got := bytesF32(readAll(t, ob))
	require.Equal(t, s0, be.dev.submits(), "reading the output submits nothing")
	for i, v := range got {
		require.InDelta(t, float64(xs[i])/(1+math.Exp(-float64(xs[i]))), float64(v), 1e-5, "silu(x) %d", i)
	}

	require.NoError(t, ob.Write(0, f32Bytes(42)))
	part := make([]byte, 4)
	require.NoError(t, ob.Read(0, part))
	require.Equal(t, f32Bytes(42), part, "a write makes the copy stale")
	require.Greater(t, be.dev.submits(), s0+1)

	require.NoError(t, p.Run(context.Background()))
	s1 := be.dev.submits()
	require.Equal(t, got, bytesF32(readAll(t, ob)))
	require.Equal(t, s1, be.dev.submits())
}
