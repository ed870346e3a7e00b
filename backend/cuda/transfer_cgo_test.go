//go:build cgo

package cuda

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmallWrites: writes of at most ringSlot bytes return before their
// copy is done (through a ring of pinned slots); reads, runs and frees
// still see them in order, also when more writes than slots are in
// flight, and a write just over the slot size takes the waiting path.
func TestSmallWrites(t *testing.T) {
	be := cudaDevice(t)
	buf, err := be.Alloc(64 * 1024)
	require.NoError(t, err)
	defer buf.Free()
	want := make([]byte, 64*1024)
	for i := 0; i < 40; i++ { // 40 writes over 16 slots
		chunk := make([]byte, 100+i)
		for j := range chunk {
			chunk[j] = byte(i*7 + j)
		}
		off := int64(i * 1000)
		require.NoError(t, buf.Write(off, chunk))
		copy(want[off:], chunk)
	}
	big := make([]byte, ringSlot+1)
	for j := range big {
		big[j] = byte(j * 3)
	}
	require.NoError(t, buf.Write(50000, big))
	copy(want[50000:], big)
	require.True(t, be.dev.pending)
	got := make([]byte, len(want))
	require.NoError(t, buf.Read(0, got))
	require.Equal(t, want, got)
	tmp, err := be.Alloc(16)
	require.NoError(t, err)
	require.NoError(t, tmp.Write(0, []byte{1, 2, 3}))
	require.NoError(t, tmp.Free())
	require.False(t, be.dev.pending, "a free waits for the writes in flight")
}
