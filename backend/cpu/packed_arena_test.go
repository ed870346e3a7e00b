package cpu

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestPackedArena: weights share chunks, a chunk is unmapped once nothing
// in it is live and a newer one is being filled, a weight larger than a
// chunk gets one of its own, and every allocation is aligned and writable.
func TestPackedArena(t *testing.T) {
	var a packedArena
	r1, err := a.alloc(1000)
	require.NoError(t, err)
	r2, err := a.alloc(3000)
	require.NoError(t, err)
	require.Same(t, r1.mem, r2.mem, "small weights share a chunk")
	require.Len(t, r2.b, 3000)
	a1, a2 := uintptr(unsafe.Pointer(&r1.b[0])), uintptr(unsafe.Pointer(&r2.b[0]))
	require.Zero(t, a1%packedAlign)
	require.Equal(t, uintptr(1024), a2-a1, "the second weight starts at the next aligned byte")
	for _, r := range []packedRef{r1, r2} {
		for i := range r.b {
			r.b[i] = 0xa5
		}
	}
	big, err := a.alloc(packedChunk + 1)
	require.NoError(t, err)
	require.NotSame(t, r1.mem, big.mem, "a weight larger than a chunk gets its own")
	require.GreaterOrEqual(t, len(big.mem.b), packedChunk+1)
	require.Same(t, big.mem, a.cur)
	first := r1.mem
	a.release(r1)
	require.NotNil(t, first.b, "a chunk stays while a weight in it is live")
	a.release(r2)
	require.Nil(t, first.b, "an old chunk is unmapped when nothing in it is live")
	a.release(big)
	require.NotNil(t, big.mem.b, "the chunk being filled stays")
	r3, err := a.alloc(64)
	require.NoError(t, err)
	require.Same(t, big.mem, r3.mem)
	a.release(r3)
	a.release(packedRef{}) // nothing to release
	cur := a.cur
	a.close()
	require.Nil(t, cur.b, "closing unmaps the chunk being filled once it is unused")
	require.Nil(t, a.cur)

	// Closed with a weight still live: the chunk goes with its last weight.
	var b packedArena
	r4, err := b.alloc(100)
	require.NoError(t, err)
	b.close()
	require.NotNil(t, r4.mem.b)
	b.release(r4)
	require.Nil(t, r4.mem.b, "after close, a chunk goes when its last weight does")
}
