//go:build !amd64 || purego

package cpu

import "time"

// cpuPause is a spin-wait hint; without assembly it does nothing.
func cpuPause() {}

// cycles is a cheap clock for per-node timings: here the monotonic clock
// in nanoseconds.
func cycles() uint64 { return uint64(time.Since(cyclesBase)) }

// cyclesBase is the origin of cycles.
var cyclesBase = time.Now()
