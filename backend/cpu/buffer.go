package cpu

import (
	"errors"
	"fmt"
	"sync"
)

// hostBuffer is a range of host memory: allocated by the backend (zero
// filled) or wrapping a caller's bytes without copying them.
type hostBuffer struct {
	owner   *cpuBackend
	wrapped bool

	mu    sync.RWMutex
	data  []byte
	freed bool
}

// Size implements backend.Buffer.
func (h *hostBuffer) Size() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return int64(len(h.data))
}

// checkRange validates [off, off+n) against the buffer; callers hold mu.
func (h *hostBuffer) checkRange(what string, off int64, n int) error {
	if h.freed {
		return fmt.Errorf("cpu: buffer %s: buffer was freed", what)
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
func (h *hostBuffer) Free() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.freed {
		return errors.New("cpu: buffer freed twice")
	}
	h.freed = true
	h.data = nil
	return nil
}

// bytes returns the buffer's memory and whether it is still live.
func (h *hostBuffer) bytes() ([]byte, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.data, !h.freed
}
