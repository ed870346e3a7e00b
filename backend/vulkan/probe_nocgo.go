//go:build !cgo

package vulkan

import "github.com/golem-llm/golem/backend"

// probe reports that Vulkan needs cgo (to dlopen the loader).
func probe() []backend.Status { return unavailable("vulkan: built without cgo") }
