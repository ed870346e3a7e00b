//go:build !linux

package cpu

// releasePages leaves the pages alone: there is no madvise here.
func releasePages([]byte) {}

// releaseAdvice has no advice to give here.
func releaseAdvice([]byte) int { return 0 }

// releaseWith leaves the pages alone.
func releaseWith([]byte, int) {}

// hugePage is the chunk granularity of packedArena.
const hugePage = 2 << 20

// packedMem is a chunk of memory for packed weights (see pages_linux.go):
// here the Go heap's.
type packedMem struct {
	b    []byte
	live int // allocations not released (packedArena.mu)
}

// newPackedMem returns size bytes of zeroed memory.
func newPackedMem(size int) (*packedMem, error) { return &packedMem{b: alignedBytes(size)}, nil }

// free drops the memory for the garbage collector.
func (m *packedMem) free() { m.b = nil }
