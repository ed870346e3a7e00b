//go:build !purego

package cpu

// cpuPause is a spin-wait hint: a few PAUSE instructions (no system
// call, no scheduler involvement).
//
//go:noescape
func cpuPause()

// cycles reads the time-stamp counter.
//
//go:noescape
func cycles() uint64
