//go:build !unix

package safetensors

import "os"

// mapFile reads the whole file where memory mapping is not available.
func mapFile(path string) (data []byte, unmap func() error, err error) {
	data, err = os.ReadFile(path)
	return data, nil, err
}
