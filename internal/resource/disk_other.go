//go:build !unix

package resource

import "errors"

// diskFree is unknown where statfs is not available.
func diskFree(string) (int64, error) { return 0, errors.New("free disk space unknown") }
