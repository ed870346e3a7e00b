//go:build !amd64 || purego

package cpu

// cpuPause is a spin-wait hint; without assembly it does nothing.
func cpuPause() {}
