//go:build !cgo

package cuda

import "github.com/golem-llm/golem/backend"

// probe reports that CUDA needs cgo (to dlopen the driver).
func probe() []backend.Status { return unavailable("cuda: built without cgo") }
