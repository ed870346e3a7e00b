package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf/gguftest"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/runtime"
)

// weightsOf is a source whose Weights are another's: its graph names a
// tensor its TensorData does not have.
type weightsOf struct {
	runtime.Source
	w llama.WeightInfo
}

func (s weightsOf) Weights() llama.WeightInfo { return s.w }

// TestLoadNamesFileOnce checks that a tensor missing at upload time is
// reported with the file and the tensor named once each.
func TestLoadNamesFileOnce(t *testing.T) {
	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	const missing = "blk.2.ffn_up.weight"
	dropped := gguftest.Rewrite(t, stories, gguftest.Edit{DropTensor: func(n string) bool { return n == missing }})
	full, err := runtime.OpenGGUF(stories)
	require.NoError(t, err)
	defer full.Close()
	src, err := runtime.OpenGGUF(dropped)
	require.NoError(t, err)
	defer src.Close()
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	_, err = runtime.Load(context.Background(), weightsOf{src, full.Weights()}, be, runtime.LoadOptions{})
	require.ErrorContains(t, err, missing)
	require.Equal(t, 1, strings.Count(err.Error(), dropped), "%v", err)
	require.Equal(t, 1, strings.Count(err.Error(), missing), "%v", err)
}
