//go:build !cgo

package cuda

import (
	"errors"

	"github.com/golem-llm/golem/backend"
)

// built reports whether this build can open CUDA devices.
const built = false

// reasonNoCgo is why CUDA is unavailable without cgo.
const reasonNoCgo = "cuda: built without cgo"

// probe reports that CUDA needs cgo (to dlopen the driver).
func probe() []backend.Status { return unavailable(reasonNoCgo) }

// open is never reached: probe lists no available device.
func open(backend.Status, backend.Options) (backend.Backend, error) {
	return nil, errors.New(reasonNoCgo)
}
