//go:build !unix

package safefile

import "os"

// openNonblock opens path read-only (systems without FIFOs need no care).
func openNonblock(path string) (*os.File, error) { return os.Open(path) }

// clearNonblock does nothing where openNonblock opened normally.
func clearNonblock(*os.File) error { return nil }
