//go:build !linux

package cpu

import "runtime"

// osYield lets other goroutines run (there is no portable thread yield).
func osYield() { runtime.Gosched() }
