package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// fixedPeaks skips the ceiling measurement in tests that do not test it.
var fixedPeaks = CeilingOptions{Override: Override{FLOPS: 5e10, Bandwidth: 1e10}}

func testOptions() Options {
	return Options{
		Devices:  []string{"cpu"},
		Reps:     1,
		Warmup:   -1,
		Env:      Env{GolemVersion: "test", GitCommit: "abc", GoVersion: "go", CPUModel: CPUModel()},
		Ceilings: fixedPeaks,
	}
}

func TestCPUVariants(t *testing.T) {
	be, err := backend.Open("cpu", backend.Options{Threads: 2})
	require.NoError(t, err)
	defer be.Close()
	vc, ok := be.(backend.VariantCompiler)
	require.True(t, ok, "the CPU backend implements VariantCompiler")
	require.Equal(t, []string{"fused", "ref"}, vc.Variants(graph.OpAttention))
	require.Nil(t, vc.Variants(graph.OpMatMul))

	ref, err := backend.Open("cpu:ref", backend.Options{})
	require.NoError(t, err)
	defer ref.Close()
	require.Equal(t, []string{"ref", "fused"}, ref.(backend.VariantCompiler).Variants(graph.OpAttention))

	s, err := ParseAttnShape("prefill:b2,h4,kv2,d64,s8,skv12,causal")
	require.NoError(t, err)
	c := attentionCase(s)
	b := graph.NewBuilder()
	fx, err := c.build(b, parity.NewRand(1, "variants"))
	require.NoError(t, err)
	g, err := b.Build(fx.Outputs...)
	require.NoError(t, err)
	_, err = vc.CompileVariant(g, graph.OpAttention, "flash")
	require.ErrorContains(t, err, "fused, ref")
	_, err = vc.CompileVariant(g, graph.OpMatMul, "fused")
	require.Error(t, err)
	for _, v := range []string{"fused", "ref"} {
		p, err := prepare(be, variantBackend{Backend: be, op: graph.OpAttention, variant: v}.Compile, g, fx.Data)
		require.NoError(t, err, v)
		_, _, err = p.run(context.Background())
		require.NoError(t, err, v)
		require.NoError(t, p.close())
	}
}

func TestAttentionQuickEndToEnd(t *testing.T) {
	shapes, err := AttnPreset("quick")
	require.NoError(t, err)
	if testing.Short() {
		shapes = shapes[:2]
	}
	var progress []Progress
	o := testOptions()
	o.Progress = func(p Progress) { progress = append(progress, p) }
	rows, err := RunAttention(context.Background(), shapes, o)
	require.NoError(t, err)
	require.Len(t, rows, 2*len(shapes), "fused and ref for every shape")
	for _, r := range rows {
		require.Empty(t, r.Error, r.Case)
		require.Equal(t, CheckOK, r.Check, "%s %s", r.Variant, r.Case)
		require.GreaterOrEqual(t, r.NMSE, 0.0)
		require.Less(t, r.NMSE, 5e-4)
		require.NotEmpty(t, r.CheckCase)
		require.Equal(t, 1, r.Reps)
		require.Positive(t, r.MedianS)
		require.Positive(t, r.TFLOPS)
		require.Positive(t, r.GBps)
		require.Positive(t, r.RooflinePct)
		require.Equal(t, "cpu", r.Device)
		require.Equal(t, SuiteAttention, r.Suite)
		require.Equal(t, "override", r.PeakSource)
		require.Equal(t, "test", r.GolemVersion)
		require.NotEmpty(t, r.DeviceName)
	}
	require.Equal(t, "done", progress[len(progress)-1].Phase)
	require.Equal(t, len(rows), progress[len(progress)-1].Done)

	// Only the selected variant runs.
	o.Variants = []string{"fused"}
	rows, err = RunAttention(context.Background(), shapes[:1], o)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "fused", rows[0].Variant)

	o.Variants = []string{"nope"}
	_, err = RunAttention(context.Background(), shapes[:1], o)
	require.Error(t, err)
}

func TestAttentionCancelled(t *testing.T) {
	shapes, err := AttnPreset("quick")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	o := testOptions()
	o.Progress = func(p Progress) {
		if p.Done == 1 && p.Phase == "check" {
			cancel() // stop after the first case
		}
	}
	rows, err := RunAttention(ctx, shapes, o)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, rows, 1, "the finished case is returned")
	require.Positive(t, rows[0].MedianS)
}

func TestMatMulEndToEnd(t *testing.T) {
	shapes := []MatMulShape{
		{M: 1, N: 64, K: 256, W: graph.Q4_K},
		{M: 16, N: 64, K: 256, W: graph.F16},
	}
	rows, err := RunMatMul(context.Background(), shapes, testOptions())
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for _, r := range rows {
		require.Equal(t, CheckOK, r.Check, r.Case)
		require.Equal(t, DefaultVariant, r.Variant)
		require.Positive(t, r.MedianS)
		require.Positive(t, r.TFLOPS)
		require.Zero(t, r.DeviceS, "no device time without DeviceTime (the default)")
	}
	require.Equal(t, "gemv", rows[0].Kind)
	require.Equal(t, 256, rows[1].K)

	o := testOptions()
	o.DeviceTime = true
	rows, err = RunMatMul(context.Background(), shapes[:1], o)
	require.NoError(t, err)
	require.Positive(t, rows[0].MedianS)
	require.Positive(t, rows[0].DeviceS, "the CPU backend times its ops when profiling")
}

func TestUnknownDevice(t *testing.T) {
	o := testOptions()
	o.Devices = []string{"nosuch:0"}
	_, err := RunAttention(context.Background(), nil, o)
	require.Error(t, err)
}

func TestCeilingsCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	path, err := CeilingCachePath("")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(os.Getenv("XDG_CACHE_HOME"), "golem", "ceilings.json"), path)

	_, ok, err := LoadCachedCeilings(path, "k")
	require.NoError(t, err)
	require.False(t, ok, "no file yet")

	c := Ceilings{Device: "cpu", Name: "n", Bandwidth: 1e10, FLOPS: map[string]float64{"f32": 4e10, "f16": 2e10},
		MeasuredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	require.NoError(t, SaveCachedCeilings(path, "k", c))
	require.NoError(t, SaveCachedCeilings(path, "other", Ceilings{Bandwidth: 1}))
	got, ok, err := LoadCachedCeilings(path, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, c, got)

	// DeviceCeilings finds the entry under the device's key without measuring.
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	key := CeilingKey(be.Name(), be.Device(), "v-test")
	require.NoError(t, SaveCachedCeilings(path, key, c))
	got, err = DeviceCeilings(context.Background(), be, CeilingOptions{Version: "v-test"})
	require.NoError(t, err)
	require.Equal(t, "cached", got.Source)
	require.Equal(t, 1e10, got.Bandwidth)
	require.Equal(t, 4e10, got.Peak(graph.F32))
	require.Equal(t, 4e10, got.Peak(graph.F32, graph.F16))
	require.Equal(t, 4e10, got.Peak(graph.Q4_0), "unmeasured dtypes fall back to f32")

	// A partial override keeps the cached bandwidth.
	got, err = DeviceCeilings(context.Background(), be, CeilingOptions{Version: "v-test", Override: Override{FLOPS: 1e12}})
	require.NoError(t, err)
	require.Equal(t, "cached+override", got.Source)
	require.Equal(t, 1e12, got.Peak(graph.F16))
	require.Equal(t, 1e10, got.Bandwidth)

	// A corrupt cache is reported, then rewritten.
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o644))
	_, _, err = LoadCachedCeilings(path, key)
	require.Error(t, err)
	require.NoError(t, SaveCachedCeilings(path, key, c))
	_, ok, err = LoadCachedCeilings(path, key)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestMeasureCeilingsCPU(t *testing.T) {
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	// Short runs and two dtypes keep this quick; MeasureCeilings does all.
	c, err := measureCeilings(context.Background(), be, []graph.DType{graph.F32, graph.Q4_K}, 5*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, "measured", c.Source)
	require.Positive(t, c.Bandwidth)
	require.GreaterOrEqual(t, c.CopyBytes, int64(4*ceilStartElems))
	for _, dt := range []string{"f32", "q4_k"} {
		require.Positive(t, c.FLOPS[dt], dt)
		require.GreaterOrEqual(t, c.GEMMSize[dt], ceilStartGEMM)
	}
	require.Len(t, c.FLOPS, 2)
	require.Equal(t, c.FLOPS["f32"], c.Peak(graph.Q8_0), "an unmeasured dtype falls back to f32")
	require.Equal(t, max(c.FLOPS["f32"], c.FLOPS["q4_k"]), c.MaxPeak())
}

func TestDeviceCeilingsMeasuresOnce(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	calls := 0
	o := CeilingOptions{Version: "v", measure: func(context.Context, backend.Backend) (Ceilings, error) {
		calls++
		return Ceilings{Device: "cpu", Bandwidth: float64(calls), FLOPS: map[string]float64{"f32": 1e9}}, nil
	}}
	c, err := DeviceCeilings(context.Background(), be, o)
	require.NoError(t, err)
	require.Equal(t, "measured", c.Source)
	require.Equal(t, 1.0, c.Bandwidth)
	c, err = DeviceCeilings(context.Background(), be, o)
	require.NoError(t, err)
	require.Equal(t, "cached", c.Source)
	require.Equal(t, 1.0, c.Bandwidth)
	require.Equal(t, 1, calls)
	o.Remeasure = true
	c, err = DeviceCeilings(context.Background(), be, o)
	require.NoError(t, err)
	require.Equal(t, 2.0, c.Bandwidth)
	o.Remeasure, o.Version = false, "v2" // another golem version measures again
	_, err = DeviceCeilings(context.Background(), be, o)
	require.NoError(t, err)
	require.Equal(t, 3, calls)
	o.Override = Override{FLOPS: 1, Bandwidth: 1} // a full override measures nothing
	c, err = DeviceCeilings(context.Background(), be, o)
	require.NoError(t, err)
	require.Equal(t, "override", c.Source)
	require.Equal(t, 3, calls)
}

func TestParseOverride(t *testing.T) {
	tests := []struct {
		in   string
		want Override
		bad  bool
	}{
		{in: "flops=989T,bw=3.35T", want: Override{FLOPS: 989e12, Bandwidth: 3.35e12}},
		{in: "bw=100G", want: Override{Bandwidth: 100e9}},
		{in: " flops = 1.5e11 ", want: Override{FLOPS: 1.5e11}},
		{in: "", want: Override{}},
		{in: "flops", bad: true},
		{in: "flops=-1", bad: true},
		{in: "flops=abc", bad: true},
		{in: "speed=1", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseOverride(tc.in)
		if tc.bad {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.InDelta(t, tc.want.FLOPS, got.FLOPS, tc.want.FLOPS*1e-12, tc.in)
		require.InDelta(t, tc.want.Bandwidth, got.Bandwidth, tc.want.Bandwidth*1e-12, tc.in)
	}
}

func TestModelBench(t *testing.T) {
	path := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	src, err := runtime.OpenGGUF(path)
	require.NoError(t, err)
	defer src.Close()
	o := testOptions()
	o.Reps = 2
	o.DeviceTime = true // the profiles and device times need timed ops
	profiles := map[string][]runtime.ProgramTimings{}
	mo := ModelOptions{Prompt: 32, Gen: 8, Name: "stories260K", Profile: func(device, test string, progs []runtime.ProgramTimings) {
		require.Equal(t, "cpu", device)
		profiles[test] = progs
	}}
	rows, err := RunModel(context.Background(), src, mo, o)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Len(t, profiles["pp32"], 1)
	require.Equal(t, "prefill", profiles["pp32"][0].Kind)
	require.Equal(t, 32, profiles["pp32"][0].Tokens)
	require.NotEmpty(t, profiles["pp32"][0].Timings)
	require.Len(t, profiles["tg8"], 1)
	require.Equal(t, "decode", profiles["tg8"][0].Kind, "the decode step's ops")
	require.NotEmpty(t, profiles["tg8"][0].Timings)

	// Parallel decode tests: the batched step of each test's sequences.
	clear(profiles)
	mo.Prompt, mo.Parallel = -1, []int{1, 3}
	rows, err = RunModel(context.Background(), src, mo, o)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for i, n := range mo.Parallel {
		test := rows[i].Case
		require.Len(t, profiles[test], 1, test)
		require.Equal(t, "decode", profiles[test][0].Kind, test)
		require.Equal(t, n, profiles[test][0].Tokens, test)
		require.NotEmpty(t, profiles[test][0].Timings, test)
	}
	mo.Prompt, mo.Parallel = 32, nil
	rows, err = RunModel(context.Background(), src, mo, o)
	require.NoError(t, err)
	for _, r := range rows {
		// Device time: the summed op times of every run of a repetition,
		// at most its wall time.
		require.Positive(t, r.DeviceS, r.Case)
		require.LessOrEqual(t, r.DeviceS, r.MaxS, r.Case)
	}
	require.Equal(t, "pp32", rows[0].Case)
	require.Equal(t, "tg8", rows[1].Case)
	for _, r := range rows {
		require.Empty(t, r.Error)
		require.Equal(t, SuiteModel, r.Suite)
		require.Equal(t, 2, r.Reps)
		require.Positive(t, r.TokensPerS)
		require.GreaterOrEqual(t, r.TokensPerSStd, 0.0)
		require.Positive(t, r.FLOPs)
		require.Positive(t, r.Bytes)
		require.Equal(t, "stories260K", r.Model)
	}
	// Depth: the cache holds 40 tokens before each timed run; the decode
	// test's session ran the prefill that put them there.
	clear(profiles)
	mo.Depth = 40
	rows, err = RunModel(context.Background(), src, mo, o)
	require.NoError(t, err)
	require.Equal(t, []string{"pp32@d40", "tg8@d40"}, []string{rows[0].Case, rows[1].Case})
	for _, r := range rows {
		require.Empty(t, r.Error)
		require.Positive(t, r.TokensPerS)
	}
	var kinds []string
	for _, p := range profiles["tg8@d40"] {
		kinds = append(kinds, fmt.Sprintf("%s%d", p.Kind, p.Tokens))
	}
	require.Equal(t, []string{"prefill8", "decode1"}, kinds, "the depth's prefill, then the timed decode steps")
	mo.Depth = 0
	require.ErrorContains(t, ModelOptions{Depth: -1}.Validate(), "ModelOptions.Depth -1")
	require.ErrorContains(t, ModelOptions{Depth: 8, Parallel: []int{2}}.Validate(), "ModelOptions.Depth 8")

	_, err = RunModel(context.Background(), src, ModelOptions{Prompt: -1, Gen: -1}, o)
	require.Error(t, err)

	// --parallel: one decode row per count, in the order given, each the
	// aggregate rate of its sequences.
	rows, err = RunModel(context.Background(), src, ModelOptions{Prompt: -1, Gen: 8, Parallel: []int{1, 3}, Name: "stories260K"}, o)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for i, n := range []int{1, 3} {
		r := rows[i]
		require.Empty(t, r.Error)
		require.Equal(t, fmt.Sprintf("tg8x%d", n), r.Case)
		require.Equal(t, n, r.Seqs)
		require.Equal(t, 8, r.Tokens)
		require.Equal(t, 2, r.Reps)
		require.Positive(t, r.TokensPerS)
		require.InDelta(t, float64(8*n)/r.MedianS, r.TokensPerS, r.TokensPerS) // same order as tokens / time
	}
	require.ErrorContains(t, ModelOptions{Parallel: []int{0}}.Validate(), "ModelOptions.Parallel 0")

	// Too few tokens for 3 sequences to decode together: that row says
	// so, and the test of one sequence beside it is still timed.
	rows, err = RunModel(context.Background(), src, ModelOptions{Prompt: -1, Gen: 1, Parallel: []int{1, 3}, Name: "stories260K"}, o)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Empty(t, rows[0].Error)
	require.Positive(t, rows[0].TokensPerS)
	require.Contains(t, rows[1].Error, "the 3 sequences never decoded together")
}

// TestParallelWindow checks the window of a parallel decode test: the
// steps from the last sequence's first token to the first sequence's last.
func TestParallelWindow(t *testing.T) {
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, time.Unix(0, 0).Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	for _, tc := range []struct {
		name   string
		times  [][]time.Time
		sec    float64
		tokens int
		err    string
	}{
		{"one sequence", [][]time.Time{at(0, 10, 20, 30, 40)}, 0.040, 4, ""},
		{"staggered", [][]time.Time{at(0, 10, 20, 30, 40), at(15, 20, 30, 40, 50)}, 0.025, 6, ""},
		{"three, the last ends first", [][]time.Time{at(0, 10, 20, 30, 40, 50), at(5, 10, 20, 30, 40, 50), at(12, 20, 30)}, 0.018, 6, ""},
		{"never together", [][]time.Time{at(0, 10), at(20, 30)}, 0, 0, "never decoded together"},
		{"a prompt only", [][]time.Time{at(0)}, 0, 0, "never decoded together"},
		{"no token", [][]time.Time{at(0, 10), nil}, 0, 0, "sequence 1 gave no token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec, tokens, err := parallelWindow(tc.times)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tc.sec, sec, 1e-12)
			require.Equal(t, tc.tokens, tokens)
		})
	}
}

// fakeDriver registers "benchfake": the CPU fast tier with two attention
// variants, "good" and "wrong" (whose output is negated after each run).
type fakeDriver struct{}

func (fakeDriver) Name() string { return "benchfake" }

func (fakeDriver) Probe() []backend.Status {
	return []backend.Status{{Device: "benchfake", Available: true}}
}

func (fakeDriver) Open(string, backend.Options) (backend.Backend, error) {
	be, err := backend.Open("cpu", backend.Options{Threads: 1})
	if err != nil {
		return nil, err
	}
	return fakeBackend{be}, nil
}

type fakeBackend struct{ backend.Backend }

func (fakeBackend) Name() string { return "benchfake" }

func (fakeBackend) Variants(op graph.Op) []string {
	if op == graph.OpAttention {
		return []string{"good", "wrong"}
	}
	return nil
}

func (b fakeBackend) CompileVariant(g *graph.Graph, op graph.Op, v string) (backend.Program, error) {
	p, err := b.Backend.Compile(g)
	if err != nil || v == "good" {
		return p, err
	}
	return &negated{Program: p, g: g}, nil
}

// negated flips the sign of every F32 output element after each run.
type negated struct {
	backend.Program
	g    *graph.Graph
	outs []func() error
}

func (p *negated) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	if p.g.IsOutput(n) {
		size := n.Bytes()
		p.outs = append(p.outs, func() error {
			data := make([]byte, size)
			if err := buf.Read(off, data); err != nil {
				return err
			}
			for i := 3; i < len(data); i += 4 {
				data[i] ^= 0x80
			}
			return buf.Write(off, data)
		})
	}
	return p.Program.Bind(n, buf, off)
}

func (p *negated) Run(ctx context.Context) error {
	if err := p.Program.Run(ctx); err != nil {
		return err
	}
	for _, f := range p.outs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func init() { backend.Register(fakeDriver{}) }

func TestWrongVariantIsNotTimed(t *testing.T) {
	s, err := ParseAttnShape("prefill:b1,h4,kv2,d64,s32,causal")
	require.NoError(t, err)
	o := testOptions()
	o.Devices = []string{"benchfake"}
	rows, err := RunAttention(context.Background(), []AttnShape{s}, o)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	good, wrong := rows[0], rows[1]
	require.Equal(t, "good", good.Variant)
	require.Equal(t, CheckOK, good.Check)
	require.Positive(t, good.MedianS)
	require.Equal(t, "wrong", wrong.Variant)
	require.Equal(t, CheckFail, wrong.Check)
	require.Greater(t, wrong.NMSE, 1.0, "a negated output has NMSE 4")
	require.Contains(t, wrong.Error, "sign flips")
	require.Zero(t, wrong.MedianS, "a variant that fails its check is not timed")
	require.Zero(t, wrong.Reps)

	// The default devices never include the fake's reference twin, and do
	// include every available device but cpu:ref.
	devs := DefaultDevices()
	require.Contains(t, devs, "cpu")
	require.NotContains(t, devs, "cpu:ref")
}
