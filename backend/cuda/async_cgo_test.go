//go:build cgo

package cuda

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/runtime"
)

// embedProgram compiles get_rows of an 8×4 F32 table by 3 ids (node
// "embed") and binds the table, the ids and the output.
func embedProgram(t *testing.T, be *cudaBackend) (prog *program, ids, out backend.Buffer) {
	t.Helper()
	b := graph.NewBuilder()
	table := b.Weight("tok_embd", graph.F32, 8, 4)
	in := b.Input("ids", graph.I32, 3)
	rows := b.SetName(b.GetRows(table, in), "embed")
	g, err := b.Build(rows)
	require.NoError(t, err)
	p, err := be.Compile(g)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	vals := make([]float32, 32)
	for i := range vals {
		vals[i] = float32(i)
	}
	ids = upload(t, be, i32bytes(1, 2, 3))
	out = upload(t, be, make([]byte, 48))
	require.NoError(t, p.Bind(table, upload(t, be, f32bytes(vals...)), 0))
	require.NoError(t, p.Bind(in, ids, 0))
	require.NoError(t, p.Bind(rows, out, 0))
	return p.(*program), ids, out
}

// TestAsyncRun checks the backend.AsyncRunner contract: Start returns
// before the run's errors are known; the next synchronising call (a Read
// of a bound buffer, Wait, Start, Run) reports them once, naming the node;
// a Read of another buffer does not.
func TestAsyncRun(t *testing.T) {
	be := cudaDevice(t)
	ctx := context.Background()
	const bad = `cuda: run: get_rows "embed" [3 4] f32: id 70 at index 1 is outside the table's rows [0, 8)`
	t.Run("read", func(t *testing.T) {
		p, ids, out := embedProgram(t, be)
		require.NoError(t, ids.Write(0, i32bytes(1, 70, 2)))
		require.NoError(t, p.Start(ctx))
		buf := make([]byte, 48)
		require.EqualError(t, out.Read(0, buf), bad)
		require.NoError(t, p.Wait(), "reported once")
		require.NoError(t, out.Read(0, buf))
		// Good ids: the same program runs on.
		require.NoError(t, ids.Write(0, i32bytes(7, 0, 3)))
		require.NoError(t, p.Start(ctx))
		require.NoError(t, out.Read(0, buf))
		require.Equal(t, []float32{28, 29, 30, 31, 0, 1, 2, 3, 12, 13, 14, 15}, f32s(buf))
	})
	t.Run("wait", func(t *testing.T) {
		p, ids, out := embedProgram(t, be)
		other := upload(t, be, make([]byte, 8))
		require.NoError(t, ids.Write(0, i32bytes(1, 70, 2)))
		require.NoError(t, p.Start(ctx))
		require.NoError(t, other.Read(0, make([]byte, 8)), "a buffer the program does not use")
		require.EqualError(t, p.Wait(), bad)
		require.NoError(t, p.Wait())
		require.NoError(t, out.Read(0, make([]byte, 48)))
	})
	t.Run("next start", func(t *testing.T) {
		p, ids, _ := embedProgram(t, be)
		require.NoError(t, ids.Write(0, i32bytes(1, 70, 2)))
		require.NoError(t, p.Start(ctx))
		require.NoError(t, ids.Write(0, i32bytes(1, 2, 3)), "ordered after the run")
		require.EqualError(t, p.Start(ctx), bad, "the previous run's error; nothing enqueued")
		require.NoError(t, p.Wait())
		require.NoError(t, p.Start(ctx))
		require.NoError(t, p.Run(ctx))
	})
	t.Run("close in flight", func(t *testing.T) {
		p, ids, _ := embedProgram(t, be)
		require.NoError(t, ids.Write(0, i32bytes(1, 70, 2)))
		require.NoError(t, p.Start(ctx))
		require.NoError(t, p.Close())
		require.Empty(t, be.inflight)
		require.ErrorIs(t, p.Start(ctx), backend.ErrClosed)
	})
	t.Run("backend close in flight", func(t *testing.T) {
		be := cudaDevice(t) // a backend of its own, closed here
		p, ids, out := embedProgram(t, be)
		require.NoError(t, ids.Write(0, i32bytes(1, 70, 2)))
		require.NoError(t, p.Start(ctx))
		require.ErrorIs(t, be.Close(), backend.ErrInUse, "the program and its buffers were open")
		require.Empty(t, be.inflight)
		require.NoError(t, p.Wait(), "the run's error was dropped with the program")
		require.ErrorIs(t, p.Start(ctx), backend.ErrClosed)
		require.ErrorIs(t, out.Read(0, make([]byte, 48)), backend.ErrClosed)
	})
	t.Run("start errors", func(t *testing.T) {
		p, _, _ := embedProgram(t, be)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, p.Start(cctx), context.Canceled)
		require.NoError(t, p.Wait(), "nothing was enqueued")
	})
}

// TestAsyncRunOneHostWait counts the host waits (cuStreamSynchronize,
// cuEventSynchronize, cuCtxSynchronize) and the allocations (device and
// pinned memory through the driver, Go heap) of a step that writes the
// inputs, starts the program and reads the output: one wait, the read, and
// no allocation.
func TestAsyncRunOneHostWait(t *testing.T) {
	be := cudaDevice(t)
	p, ids, out := embedProgram(t, be)
	ctx := context.Background()
	buf := make([]byte, 48)
	in := make([]byte, 12)
	lib := be.dev.lib
	// The first run captures the graph (and allocates its status copy).
	require.NoError(t, p.Run(ctx))
	for i := range 40 { // more steps than the 16 slots of the write ring
		syncs, allocs := lib.syncs(), lib.allocs()
		copy(in, i32bytes(int32(i%8), 1, 2))
		require.NoError(t, ids.Write(0, in))
		require.NoError(t, p.Start(ctx))
		require.NoError(t, out.Read(0, buf))
		require.Equal(t, uint64(1), lib.syncs()-syncs, "step %d", i)
		require.Equal(t, allocs, lib.allocs(), "step %d", i)
		require.Equal(t, float32(4*(i%8)), f32s(buf)[0])
	}
	var err error
	heap := testing.AllocsPerRun(50, func() {
		if err == nil {
			err = ids.Write(0, in)
		}
		if err == nil {
			err = p.Start(ctx)
		}
		if err == nil {
			err = out.Read(0, buf)
		}
	})
	require.NoError(t, err)
	require.Zero(t, heap, "Go heap allocations per step")
	// Run waits by itself: one more.
	before := lib.syncs()
	require.NoError(t, p.Run(ctx))
	require.Equal(t, uint64(1), lib.syncs()-before)
}

// loadStories loads stories260K on be.
func loadStories(t *testing.T, be backend.Backend) *runtime.Model {
	t.Helper()
	src, err := runtime.OpenSource(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = src.Close() })
	m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// TestDecodeOneHostWait runs stories260K's decode on CUDA through the
// runtime: a session's decode step (one Feed of one token) and an
// engine's batched decode step wait on the host once each, for the
// logits, allocate no device or pinned memory, and a session's step
// allocates nothing on the Go heap either.
func TestDecodeOneHostWait(t *testing.T) {
	be := cudaDevice(t)
	m := loadStories(t, be)
	ctx := context.Background()
	lib := be.dev.lib

	s, err := m.NewSession(runtime.SessionOptions{Context: 256})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Feed(ctx, []int32{1, 403, 407}))
	require.NoError(t, s.Feed(ctx, []int32{299})) // compiles the decode program
	before := graphCounts(be)
	tok := make([]int32, 1)
	for i := range 20 {
		syncs, allocs := lib.syncs(), lib.allocs()
		tok[0] = int32(300 + i)
		require.NoError(t, s.Feed(ctx, tok))
		require.Equal(t, uint64(1), lib.syncs()-syncs, "session decode step %d", i)
		require.Equal(t, allocs, lib.allocs(), "session decode step %d", i)
	}
	require.Equal(t, before, graphCounts(be), "every step replays the captured graph as it is")
	heap := testing.AllocsPerRun(50, func() {
		if err == nil {
			err = s.Feed(ctx, tok)
		}
	})
	require.NoError(t, err)
	require.Zero(t, heap, "Go heap allocations per session decode step")

	// An engine of two sequences: once warm (programs compiled, caches
	// allocated), a request of a 4-token prompt (one prefill piece) and n
	// tokens costs one wait for the prefill and one per decode step.
	e, err := runtime.NewEngine(m, runtime.EngineOptions{Parallel: 2, Context: 64})
	require.NoError(t, err)
	defer e.Close()
	gen := func(n int) []int32 {
		st, err := e.Submit(ctx, runtime.Request{Prompt: []int32{1, 403, 407, 261}, MaxTokens: n, IgnoreEOS: true})
		require.NoError(t, err)
		return drain(t, st)
	}
	want := gen(12)
	syncs, allocs := lib.syncs(), lib.allocs()
	require.Equal(t, want, gen(12))
	require.Equal(t, uint64(1+11), lib.syncs()-syncs, "prefill, then 11 decode steps")
	require.Equal(t, allocs, lib.allocs())
}

// syncOnly is a CUDA backend whose programs are only backend.Programs:
// the runtime finds no backend.AsyncRunner and runs them synchronously.
type syncOnly struct{ *cudaBackend }

// runOnly hides every method of a program beyond backend.Program.
type runOnly struct{ backend.Program }

func (s syncOnly) Compile(g *graph.Graph) (backend.Program, error) {
	p, err := s.cudaBackend.Compile(g)
	if err != nil {
		return nil, err
	}
	return runOnly{p}, nil
}

// TestAsyncDecodeMatchesSync generates with stories260K on the same device
// through the runtime's asynchronous path (Start, then the logits read)
// and its synchronous one (Run, then the read, as on the backends without
// backend.AsyncRunner): a session's greedy text, its logits at every step,
// and an engine's sampled tokens for two concurrent requests are
// identical, and the synchronous path waits twice per token where the
// asynchronous one waits once.
func TestAsyncDecodeMatchesSync(t *testing.T) {
	be := cudaDevice(t)
	ctx := context.Background()
	prompt := []int32{1, 403, 407, 261}
	type result struct {
		text   string
		logits [][]float32
		tokens [2][]int32
		syncs  uint64 // host waits of the session's last 8 steps
	}
	run := func(b backend.Backend) result {
		m := loadStories(t, b)
		var r result
		s, err := m.NewSession(runtime.SessionOptions{Context: 128})
		require.NoError(t, err)
		defer s.Close()
		r.text, _, err = runtime.Generate(ctx, s, prompt, runtime.GenerateOptions{MaxTokens: 48})
		require.NoError(t, err)
		require.NotEmpty(t, r.text)
		for i := range 8 {
			syncs := be.dev.lib.syncs()
			require.NoError(t, s.Feed(ctx, []int32{int32(280 + i)}))
			r.syncs += be.dev.lib.syncs() - syncs
			r.logits = append(r.logits, append([]float32(nil), s.Logits()...))
		}
		e, err := runtime.NewEngine(m, runtime.EngineOptions{Parallel: 2, Context: 64})
		require.NoError(t, err)
		defer e.Close()
		var sts [2]*runtime.Stream
		for i := range sts {
			sts[i], err = e.Submit(ctx, runtime.Request{Prompt: prompt[:2+i], MaxTokens: 16, IgnoreEOS: true,
				Sampler: runtime.SamplerConfig{Temperature: 0.9, Seed: uint64(7 + i)}})
			require.NoError(t, err)
		}
		for i, st := range sts {
			r.tokens[i] = drain(t, st)
		}
		return r
	}
	async := run(be)
	want := run(syncOnly{be})
	require.Equal(t, want.text, async.text)
	require.Equal(t, want.logits, async.logits)
	require.Equal(t, want.tokens, async.tokens)
	require.Equal(t, uint64(8), async.syncs)
	require.Equal(t, uint64(16), want.syncs)
	t.Logf("greedy: %q", async.text)
}

// TestRebindUpdatesGraph rebinds a program's input to another buffer (as
// the batching engine rebinds a row to another sequence's cache): the
// next run captures the launches again and updates the executable graph
// with cuGraphExecUpdate instead of instantiating a new one, and reads the
// new buffer. A capture of other launches into the same graph is refused
// by the driver and instantiated anew.
func TestRebindUpdatesGraph(t *testing.T) {
	be := cudaDevice(t)
	p, ids, out := embedProgram(t, be)
	ctx := context.Background()
	buf := make([]byte, 48)
	require.NoError(t, p.Run(ctx))
	g := p.graph
	require.Equal(t, 1, g.instantiations)
	require.Equal(t, 0, g.updates)
	exec := g.p.exec

	ids2 := upload(t, be, i32bytes(5, 6, 7))
	in := p.core.Graph.Leaves(graph.OpInput)[0]
	for i, b := range []backend.Buffer{ids2, ids, ids2} {
		require.NoError(t, p.Bind(in, b, 0))
		require.NoError(t, p.Start(ctx))
		require.NoError(t, out.Read(0, buf))
		first := []float32{20, 4, 20}[i] // row 5 of ids2, row 1 of ids
		require.Equal(t, first, f32s(buf)[0], "run %d", i)
	}
	require.Same(t, g, p.graph)
	require.Equal(t, exec, g.p.exec, "the executable graph was updated in place")
	require.Equal(t, 1, g.instantiations)
	require.Equal(t, 3, g.updates)

	// Other launches (another program's: another kernel, no status words,
	// so fewer nodes) into this graph: the emulator, like the driver,
	// refuses the update (the topology changed); the graph is instantiated
	// anew.
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4)
	sum := b.Add(x, x)
	ag, err := b.Build(sum)
	require.NoError(t, err)
	other, err := be.Compile(ag)
	require.NoError(t, err)
	defer other.Close()
	xb, ob := upload(t, be, f32bytes(1, 2, 3, 4)), upload(t, be, make([]byte, 16))
	require.NoError(t, other.Bind(x, xb, 0))
	require.NoError(t, other.Bind(sum, ob, 0))
	require.NoError(t, other.Run(ctx))
	op := other.(*program)
	be.mu.Lock()
	updated, err := be.dev.recapture(p.stream, op.packed, op.names, g)
	be.mu.Unlock()
	require.NoError(t, err)
	require.False(t, updated)
	require.Equal(t, 2, g.instantiations)
	require.Equal(t, 3, g.updates)
}

// TestModelGraphUpdateOnRebind decodes two sequences with the engine on
// stories260K, then two others in the same rows: the programs' rows are
// rebound to the new sequences' caches, and their graphs are updated, not
// instantiated again.
func TestModelGraphUpdateOnRebind(t *testing.T) {
	be := cudaDevice(t)
	m := loadStories(t, be)
	ctx := context.Background()
	e, err := runtime.NewEngine(m, runtime.EngineOptions{Parallel: 2, Context: 32})
	require.NoError(t, err)
	defer e.Close()
	// A caller's caches stay theirs: each new pair of requests binds the
	// decode program's rows to other caches.
	var caches []*runtime.Cache
	for range 4 {
		c, err := e.NewCache()
		require.NoError(t, err)
		defer c.Close()
		caches = append(caches, c)
	}
	pair := func(a, b *runtime.Cache) {
		var sts []*runtime.Stream
		for _, c := range []*runtime.Cache{a, b} {
			st, err := e.Submit(ctx, runtime.Request{Prompt: []int32{1, 403}, MaxTokens: 3, IgnoreEOS: true, Cache: c})
			require.NoError(t, err)
			sts = append(sts, st)
		}
		for _, st := range sts {
			drain(t, st)
		}
	}
	// Two rounds compile the programs the pairs need (the second runs the
	// prompts' last token again: the caches hold them). Which programs a
	// pair needs depends on whether the engine starts the first request
	// before the second arrives, so a measured round that needed a new
	// program is a warm-up round too, and is run again (at most 5 times).
	for range 2 {
		pair(caches[0], caches[1])
		pair(caches[2], caches[3])
	}
	var before, after map[*program][2]int
	for try := 0; ; try++ {
		before = graphCounts(be)
		pair(caches[0], caches[1])
		pair(caches[2], caches[3])
		after = graphCounts(be)
		if len(before) == len(after) || try == 4 {
			break
		}
	}
	require.Equal(t, len(before), len(after), "no new program")
	updated := 0
	for p, c := range before {
		require.Equal(t, c[0], after[p][0], "program %v: no new instantiation", p.core.Graph.Outputs)
		updated += after[p][1] - c[1]
	}
	require.Positive(t, updated, "rebinding rows updated the graphs")
}

// drain reads a stream to its end and returns the tokens generated.
func drain(t *testing.T, st *runtime.Stream) []int32 {
	t.Helper()
	var ids []int32
	for {
		tok, err := st.Next()
		if tok.End != nil {
			require.NoError(t, err)
			if tok.ID >= 0 {
				ids = append(ids, tok.ID)
			}
			return ids
		}
		require.NoError(t, err)
		ids = append(ids, tok.ID)
	}
}

// graphCounts returns the instantiations and updates of the graph of each
// of be's programs.
func graphCounts(be *cudaBackend) map[*program][2]int {
	be.mu.Lock()
	defer be.mu.Unlock()
	out := map[*program][2]int{}
	for p := range be.progs {
		if p.graph != nil {
			out[p] = [2]int{p.graph.instantiations, p.graph.updates}
		}
	}
	return out
}
