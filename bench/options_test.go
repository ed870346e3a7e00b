package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/runtime"
)

// TestOptionsValidate: every suite refuses out-of-range options before it
// opens a device.
func TestOptionsValidate(t *testing.T) {
	src, err := runtime.OpenGGUF(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	ctx := context.Background()
	shapes, err := ParseAttnShapes("quick")
	require.NoError(t, err)
	for _, tc := range []struct {
		edit func(o *Options)
		want string
	}{
		{func(o *Options) { o.Reps = -1 }, "bench: Options.Reps -1: want 0 or more"},
		{func(o *Options) { o.MinTime = -time.Second }, "bench: Options.MinTime -1s: want 0 or more"},
		{func(o *Options) { o.Threads = -3 }, "bench: Options.Threads -3: want 0 or more"},
	} {
		o := testOptions()
		tc.edit(&o)
		require.EqualError(t, o.Validate(), tc.want)
		_, err := RunAttention(ctx, shapes, o)
		require.EqualError(t, err, tc.want)
		_, err = RunMatMul(ctx, MatMulGrid(256, []graph.DType{graph.F32}), o)
		require.EqualError(t, err, tc.want)
		_, err = RunModel(ctx, src, ModelOptions{Prompt: 4, Gen: -1}, o)
		require.EqualError(t, err, tc.want)
	}
	_, err = RunModel(ctx, src, ModelOptions{Prompt: 4, Gen: -1, KVType: graph.Q8_0}, testOptions())
	require.EqualError(t, err, "bench: ModelOptions.KVType q8_0: want f32, f16 or bf16")
}
