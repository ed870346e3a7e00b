package runtime_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/runtime"
)

// TestCloseOrder checks the close order a caller can get wrong (issue 8):
// the backend closed before the session and the model. Closing the
// backend reports them as still in use; using or closing them afterwards is
// an error wrapping backend.ErrClosed, not nil and not a crash.
func TestCloseOrder(t *testing.T) {
	for _, device := range []string{"cpu", "cpu:ref"} {
		t.Run(device, func(t *testing.T) {
			src, err := runtime.OpenGGUF(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
			require.NoError(t, err)
			defer src.Close()
			be, err := backend.Open(device, backend.Options{})
			require.NoError(t, err)
			m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
			require.NoError(t, err)
			s, err := m.NewSession(runtime.SessionOptions{Context: 16})
			require.NoError(t, err)
			require.NoError(t, s.Feed(context.Background(), []int32{1, 403}))

			err = be.Close()
			require.ErrorIs(t, err, backend.ErrInUse, "the backend reports the model and session")
			require.ErrorContains(t, err, "program")

			err = s.Feed(context.Background(), []int32{407})
			require.ErrorIs(t, err, backend.ErrClosed)
			err = s.Close()
			require.ErrorIs(t, err, backend.ErrClosed)
			require.ErrorContains(t, err, "runtime: close session: ")
			err = m.Close()
			require.ErrorIs(t, err, backend.ErrClosed)
			require.ErrorContains(t, err, "runtime: free ")
		})
	}
}

// TestCloseInOrder is the right order: session, model, backend, each
// without error, and the backend has nothing left to report.
func TestCloseInOrder(t *testing.T) {
	src, err := runtime.OpenGGUF(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
	require.NoError(t, err)
	s, err := m.NewSession(runtime.SessionOptions{Context: 16, Chunk: 2})
	require.NoError(t, err)
	require.NoError(t, s.Feed(context.Background(), []int32{1, 403, 407}))
	require.NoError(t, s.Close())
	require.NoError(t, m.Close())
	require.NoError(t, be.Close())
}
