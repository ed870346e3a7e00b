//go:build cgo

package cuda

import (
	"testing"

	"github.com/golem-llm/golem/parity/paritytest"
)

// TestModelParity runs whole models on CUDA (the emulator in CI) and on the CPU
// (paritytest.RunModelParity).
func TestModelParity(t *testing.T) {
	paritytest.RunModelParity(t, cudaDevice(t))
}
