package cpu

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/golem-llm/golem/backend"
)

// hostBuffer is a range of host memory: allocated by the backend (zero
// filled) or wrapping a caller's bytes without copying them.
type hostBuffer struct {
	owner   *cpuBackend
	wrapped bool
	size    int64 // len(data) until freed, and after

	mu    sync.RWMutex
	data  []byte
	freed bool

	pmu     sync.Mutex              // guards packs
	packs   map[packedKey]packedRef // packed copies of weights in data (see packed.go)
	packGen atomic.Uint64           // changes when a packed copy is dropped
}

// Size implements backend.Buffer.
func (h *hostBuffer) Size() int64 { return h.size }

// checkRange validates [off, off+n) against the buffer; callers hold mu.
func (h *hostBuffer) checkRange(what string, off int64, n int) error {
	if h.freed {
		return fmt.Errorf("cpu: buffer %s: buffer is %w (freed)", what, backend.ErrClosed)
	}
	if err := h.owner.usable(); err != nil {
		return fmt.Errorf("cpu: buffer %s: %w", what, err)
	}
	if off < 0 || off > int64(len(h.data)) || int64(n) > int64(len(h.data))-off {
		return fmt.Errorf("cpu: buffer %s: range [%d, %d) is outside the %d-byte buffer", what, off, off+int64(n), len(h.data))
	}
	return nil
}

// Write implements backend.Buffer.
func (h *hostBuffer) Write(off int64, src []byte) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if err := h.checkRange("write", off, len(src)); err != nil {
		return err
	}
	copy(h.data[off:], src)
	h.dropPacked(off, len(src))
	return nil
}

// Read implements backend.Buffer.
func (h *hostBuffer) Read(off int64, dst []byte) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if err := h.checkRange("read", off, len(dst)); err != nil {
		return err
	}
	copy(dst, h.data[off:])
	return nil
}

// Free implements backend.Buffer. Wrapped bytes are left to their owner.
// Freeing twice, or after the backend was closed, is an error wrapping
// backend.ErrClosed.
func (h *hostBuffer) Free() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.freed {
		return fmt.Errorf("cpu: free: buffer is already %w (freed twice)", backend.ErrClosed)
	}
	err := h.owner.untrack(h.size)
	h.freed = true
	h.data = nil
	h.freePacked()
	return err
}

// bytes returns the buffer's memory and whether it is still live (not
// freed; the caller checks whether the backend is closed).
func (h *hostBuffer) bytes() ([]byte, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.data, !h.freed
}
