//go:build !cgo

package vulkan

import (
	"fmt"

	"github.com/golem-llm/golem/backend"
)

// built reports whether this build can open Vulkan devices.
const built = false

// probe reports that Vulkan needs cgo (to dlopen the loader).
func probe() []backend.Status { return unavailable("vulkan: built without cgo") }

// open is never reached without cgo: no device is ever available.
func open(backend.Status, backend.Options) (backend.Backend, error) {
	return nil, fmt.Errorf("%w: vulkan: built without cgo", backend.ErrUnavailable)
}
