package backend

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of every driver, matched with errors.Is. Each is wrapped
// once, by the layer that finds the condition, with the context that names
// the device, buffer or program.
var (
	// ErrNoDevice: no device matches the device string: no driver of that
	// name, no device with that index or id, a selector the driver does not
	// know, or a malformed device string.
	ErrNoDevice = errors.New("no such device")
	// ErrUnavailable: the device (or its driver) exists but cannot be used:
	// its library is missing, golem was built without cgo, the device is too
	// old or lacks what golem needs, opening it failed. The message carries
	// the reason Probe gives.
	ErrUnavailable = errors.New("device unavailable")
	// ErrClosed: a backend, or a buffer or program of it, is used after its
	// Close (or Free), including a second Close or Free, or a buffer or
	// program is used after its backend was closed.
	ErrClosed = errors.New("closed")
	// ErrInUse: Backend.Close found buffers or programs still open. Close
	// has released them all the same (their later use returns ErrClosed);
	// the error says how many there were, since they are a leak in the
	// caller or a close in the wrong order.
	ErrInUse = errors.New("still in use")
)

// Err returns nil when the device is available, and otherwise an error
// wrapping ErrUnavailable that gives the reason.
func (s Status) Err() error {
	if s.Available {
		return nil
	}
	reason := s.Reason
	if reason == "" {
		reason = s.Device + ": no reason given"
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, reason)
}

// InUseError is the error a backend's Close returns when buffers or
// programs were still open, or nil when none were. It wraps ErrInUse and
// reads "vulkan:0: close: still in use: 2 buffers (1.5 KiB) and 1 program
// (released)"; name is the backend's device string.
func InUseError(name string, buffers int, bufferBytes int64, programs int) error {
	var parts []string
	if buffers > 0 {
		parts = append(parts, fmt.Sprintf("%s (%s)", plural(buffers, "buffer"), formatBytes(bufferBytes)))
	}
	if programs > 0 {
		parts = append(parts, plural(programs, "program"))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("%s: close: %w: %s (released)", name, ErrInUse, strings.Join(parts, " and "))
}

// plural writes "1 buffer", "2 buffers".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// formatBytes writes n in binary units: "512 B", "1.5 KiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
