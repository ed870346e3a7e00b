package parity_test

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// storiesPrompt is the prompt of the model-level tests.
const storiesPrompt = "Once upon a time, there was a little girl named Lily."

// openStories opens stories260K, the CPU fast tier and the reference, and
// encodes the prompt.
func openStories(t *testing.T) (runtime.Source, backend.Backend, backend.Backend, []int32) {
	t.Helper()
	src, err := runtime.OpenGGUF(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, src.Close()) })
	fast, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fast.Close()) })
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	tok, err := src.Tokenizer()
	require.NoError(t, err)
	return src, fast, ref, tok.Encode(storiesPrompt, true, false)
}

func TestCompareModelStoriesPasses(t *testing.T) {
	src, fast, ref, ids := openStories(t)
	r, err := parity.CompareModel(t.Context(), src, fast, ref, ids, parity.ModelOptions{Layers: true})
	require.NoError(t, err)
	require.True(t, r.Pass, "failures: %v", r.Failures)
	require.Empty(t, r.Failures)
	require.Equal(t, "cpu", r.A)
	require.Equal(t, parity.ReferenceDevice, r.B)
	require.Len(t, r.Positions, len(ids))
	require.LessOrEqual(t, float64(r.MeanKL), parity.DefaultMaxMeanKL)
	require.Equal(t, 1.0, r.Top1)
	for _, p := range r.Positions {
		require.True(t, p.Top1, "position %d", p.Pos)
		require.Less(t, float64(p.MaxAbs), 1e-3, "position %d", p.Pos)
	}
	// Greedy continuations: identical, full length, and the known story.
	require.Len(t, r.GenA.Tokens, parity.DefaultGenerate)
	require.Equal(t, r.GenA.Tokens, r.GenB.Tokens)
	require.Equal(t, r.GenA.Text, r.GenB.Text)
	require.Equal(t, -1, r.GenMismatch)
	require.Contains(t, r.GenA.Text, "She loved to play outside in the park.")
	// Every activation compared, in graph order, all within threshold.
	require.Nil(t, r.FirstDivergence)
	require.Empty(t, r.Divergence())
	seen := map[string]bool{}
	prev := -1
	for _, n := range r.Nodes {
		require.Greater(t, n.Index, prev)
		prev = n.Index
		require.True(t, n.Pass, "%s", n.Describe())
		seen[n.Name] = true
	}
	for _, name := range []string{"inp_embd", "blk.0.attn_q", "blk.2.kqv", "blk.2.ffn_out", "blk.4.l_out", "logits"} {
		require.True(t, seen[name], "node %s not compared", name)
	}
	require.Equal(t, "input", r.Nodes[0].Layer)
	require.Equal(t, "output", r.Nodes[len(r.Nodes)-1].Layer)
}

// TestCompareModelStories16BitCaches runs stories260K with F16 and BF16 KV
// caches on both CPU tiers: the logits, the greedy text and (with Layers)
// every activation must pass the gates.
func TestCompareModelStories16BitCaches(t *testing.T) {
	src, fast, ref, ids := openStories(t)
	for _, kv := range []graph.DType{graph.F16, graph.BF16} {
		t.Run(kv.String(), func(t *testing.T) {
			r, err := parity.CompareModel(t.Context(), src, fast, ref, ids, parity.ModelOptions{Layers: true, KVType: kv})
			require.NoError(t, err)
			require.True(t, r.Pass, "failures: %v", r.Failures)
			require.Equal(t, -1, r.GenMismatch, "greedy texts differ:\ncpu:     %q\ncpu:ref: %q", r.GenA.Text, r.GenB.Text)
			require.Nil(t, r.FirstDivergence)
			require.Contains(t, r.GenA.Text, "She loved to play")
			t.Logf("%s cache: mean KL %.2e, max |Δlogit| %.2e, greedy %q", kv, float64(r.MeanKL), float64(r.MaxAbs), r.GenA.Text)
		})
	}
}

func TestCompareModelLayersFindsFaultyNode(t *testing.T) {
	src, fast, ref, ids := openStories(t)
	faulty := &nodeFaultBackend{Backend: fast, node: "blk.2.ffn_out", factor: 1.5}
	r, err := parity.CompareModel(t.Context(), src, faulty, ref, ids, parity.ModelOptions{Layers: true, Generate: 4})
	require.NoError(t, err)
	require.False(t, r.Pass)
	require.NotNil(t, r.FirstDivergence)
	d := r.FirstDivergence
	require.Equal(t, "blk.2", d.Layer)
	require.Equal(t, "blk.2.ffn_out", d.Name)
	require.Equal(t, "matmul", d.Op)
	require.InDelta(t, 0.25, float64(d.NMSE), 1e-3) // (1.5 − 1)²
	require.Equal(t, `first divergence: blk.2 matmul "blk.2.ffn_out" NMSE 2.5e-01 > 2e-03`, r.Divergence())
	require.Contains(t, r.Failures, r.Divergence())
	for _, n := range r.Nodes {
		if n.Index < d.Index {
			require.True(t, n.Pass, "%s fails before the corrupted node", n.Describe())
		}
	}
}

func TestCompareModelBadInput(t *testing.T) {
	src, fast, ref, _ := openStories(t)
	_, err := parity.CompareModel(t.Context(), src, fast, ref, nil, parity.ModelOptions{})
	require.ErrorContains(t, err, "no prompt tokens")
	_, err = parity.CompareModel(t.Context(), src, fast, ref, []int32{1, 1 << 20}, parity.ModelOptions{Generate: -1})
	require.ErrorContains(t, err, "outside the vocabulary")
	for _, tc := range []struct {
		o    parity.ModelOptions
		want string
	}{
		{parity.ModelOptions{KVType: graph.Q4_0}, "parity: ModelOptions.KVType q4_0: want f32, f16 or bf16"},
		{parity.ModelOptions{MaxMeanKL: math.NaN()}, "parity: ModelOptions.MaxMeanKL NaN: want a finite number > 0"},
		{parity.ModelOptions{MaxMeanKL: -1}, "parity: ModelOptions.MaxMeanKL -1: want a finite number > 0"},
		{parity.ModelOptions{MaxMeanKL: math.Inf(1)}, "MaxMeanKL +Inf"},
		{parity.ModelOptions{MinTop1: 1.5}, "parity: ModelOptions.MinTop1 1.5: want a fraction in (0, 1]"},
		{parity.ModelOptions{MinTop1: math.NaN()}, "MinTop1 NaN"},
	} {
		_, err = parity.CompareModel(t.Context(), src, fast, ref, []int32{1}, tc.o)
		require.ErrorContains(t, err, tc.want)
		_, err = parity.CompareNodes(t.Context(), src, fast, ref, []int32{1}, tc.o)
		require.ErrorContains(t, err, tc.want)
	}
	require.EqualError(t, parity.ModelTableOptions{Positions: -2}.Validate(), "parity: ModelTableOptions.Positions -2: want 0 or more")
}

func TestCompareModelGatesOverridable(t *testing.T) {
	src, fast, ref, ids := openStories(t)
	// A gate no real comparison can meet: a KL gate far below the float
	// rounding between two devices fails.
	r, err := parity.CompareModel(t.Context(), src, fast, ref, ids, parity.ModelOptions{MaxMeanKL: 1e-300, Generate: -1})
	require.NoError(t, err)
	require.False(t, r.Pass)
	require.Len(t, r.Failures, 1)
	require.Contains(t, r.Failures[0], "mean KL")
	require.Empty(t, r.GenA.Tokens)
}

func TestWithAllOutputsExposesEveryActivation(t *testing.T) {
	src, fast, _, _ := openStories(t)
	built, err := llama.Build(src.Config(), src.Weights(), llama.BuildOptions{Tokens: 3, Context: 3, AllLogits: true})
	require.NoError(t, err)
	g, err := parity.WithAllOutputs(built.Graph)
	require.NoError(t, err)
	require.Equal(t, built.Graph.Nodes, g.Nodes)
	require.Equal(t, built.Logits, g.Outputs[0])
	want := 0
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() && !n.Op.IsAlias() {
			want++
			require.True(t, g.IsOutput(n), "%s", n)
		}
	}
	require.Len(t, g.Outputs, want)
	require.Len(t, built.Graph.Outputs, 1, "the model's graph is left alone")
	prog, err := fast.Compile(g)
	require.NoError(t, err)
	require.NoError(t, prog.Close())
}

func TestNodeThresholds(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 32)
	wq := b.Weight("wq", graph.Q4_0, 8, 32)
	mm := b.MatMul(x, wq)
	add := b.Add(mm, mm)
	sm := b.Softmax(add, graph.SoftmaxOpts{})
	cp := b.Copy(add, graph.F16)
	require.NoError(t, b.Err())
	for _, tc := range []struct {
		n       *graph.Node
		op, def float64
	}{
		{mm, parity.MatMulThreshold, parity.LayerThreshold},
		{add, parity.ElementwiseThreshold, parity.LayerThreshold},
		{sm, parity.SoftmaxThreshold, parity.LayerThreshold},
		{cp, parity.MatMulThreshold, parity.LayerThreshold},
	} {
		require.Equal(t, tc.op, parity.OpNodeThreshold(tc.n), "%s", tc.n)
		require.Equal(t, tc.def, parity.NodeThreshold(tc.n), "%s", tc.n)
	}
}

// nodeFaultBackend is the CPU backend with one deliberate bug: whenever the
// node named node is an output of a compiled graph, its values come back
// multiplied by factor.
type nodeFaultBackend struct {
	backend.Backend
	node   string
	factor float32
}

func (f *nodeFaultBackend) Name() string { return "faulty" }

func (f *nodeFaultBackend) Compile(g *graph.Graph) (backend.Program, error) {
	p, err := f.Backend.Compile(g)
	if err != nil {
		return nil, err
	}
	fp := &nodeFaultProgram{Program: p, factor: f.factor}
	for _, o := range g.Outputs {
		if o.Name == f.node {
			fp.target = o
		}
	}
	return fp, nil
}

type nodeFaultProgram struct {
	backend.Program
	target *graph.Node
	factor float32
	buf    backend.Buffer
	off    int64
}

func (p *nodeFaultProgram) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	if n == p.target {
		p.buf, p.off = buf, off
	}
	return p.Program.Bind(n, buf, off)
}

func (p *nodeFaultProgram) Run(ctx context.Context) error {
	if err := p.Program.Run(ctx); err != nil || p.buf == nil {
		return err
	}
	raw := make([]byte, p.target.Bytes())
	if err := p.buf.Read(p.off, raw); err != nil {
		return err
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))
		binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(v*p.factor))
	}
	return p.buf.Write(p.off, raw)
}

// TestCompareModelReportsProgress checks that a comparison tells its
// Progress callback of every stage on each device, with token counts that
// only grow and end at the stage's total.
func TestCompareModelReportsProgress(t *testing.T) {
	src, fast, ref, ids := openStories(t)
	type key struct{ device, stage string }
	last := map[key]parity.ModelProgress{}
	o := parity.ModelOptions{Layers: true, Generate: 8, Progress: func(p parity.ModelProgress) {
		k := key{p.Device, p.Stage}
		if prev, ok := last[k]; ok {
			require.GreaterOrEqual(t, p.Done, prev.Done, "%+v after %+v", p, prev)
		}
		require.LessOrEqual(t, p.Done, p.Total, "%+v", p)
		last[k] = p
	}}
	_, err := parity.CompareModel(t.Context(), src, fast, ref, ids, o)
	require.NoError(t, err)
	for _, dev := range []string{fast.Name(), ref.Name()} {
		for _, stage := range []string{"load", "prefill", "generate", "layers"} {
			_, ok := last[key{dev, stage}]
			require.True(t, ok, "no progress of %s on %s", stage, dev)
		}
		require.Equal(t, 8, last[key{dev, "generate"}].Done, "generation on %s ends at its total", dev)
	}
}
