//go:build linux

package cpu

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestReleasePages: a shared mapping of a file is told apart from other
// memory, and releasing pages keeps the contents of both (the file's
// come back from it; heap memory is paged out, never zeroed).
func TestReleasePages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.bin")
	want := make([]byte, 1<<20)
	for i := range want {
		want[i] = byte(i*7 + 3)
	}
	require.NoError(t, os.WriteFile(path, want, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(m)
	lo := uintptr(unsafe.Pointer(&m[0]))
	require.True(t, sharedFileMapping(lo, lo+uintptr(len(m))))
	heap := append([]byte(nil), want...)
	hl := uintptr(unsafe.Pointer(&heap[0]))
	require.False(t, sharedFileMapping(hl, hl+uintptr(len(heap))))
	releasePages(m)
	releasePages(heap)
	require.Equal(t, want, m)
	require.Equal(t, want, heap)
}
