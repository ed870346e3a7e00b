//go:build unix

package mmap

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestOpenFIFO checks that a named pipe with no writer is refused at once
// instead of blocking in open(2) (a model path pointing at a FIFO used to
// hang golem run and golem info).
func TestOpenFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.gguf")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	f, err := Open(fifo)
	require.Nil(t, f)
	require.ErrorContains(t, err, "a named pipe (FIFO)")
	require.ErrorContains(t, err, fifo)
}
