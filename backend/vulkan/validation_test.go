//go:build cgo

package vulkan

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
)

// TestValidationMessages checks the path that makes validation fail tests:
// under the validation layer, an invalid call is reported by the next
// backend call and by Close; without it, nothing is collected. It runs
// only when the layer is asked for (make test sets GOLEM_VULKAN_VALIDATION).
func TestValidationMessages(t *testing.T) {
	if os.Getenv(ValidationEnv) != "1" {
		t.Skipf("%s is not 1: the validation layer is not in use", ValidationEnv)
	}
	be := vkDevice(t)
	be.mu.Lock()
	be.dev.invalidCall()
	be.mu.Unlock()
	_, err := be.Alloc(64)
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "VUID-VkBufferCreateInfo-size-00912")
	// Reported once: the next call is clean.
	buf, err := be.Alloc(64)
	require.NoError(t, err)
	require.NoError(t, buf.Free())

	// Close reports messages not yet returned by another call.
	other, err := backend.Open(be.Name(), backend.Options{})
	require.NoError(t, err)
	ob := other.(*vkBackend)
	ob.mu.Lock()
	ob.dev.invalidCall()
	ob.mu.Unlock()
	err = other.Close()
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "size-00912")
}
