//go:build cgo

package cuda

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// regionAlign is the alignment of the program's arena and regions (what
// cuMemAlloc guarantees; 16 is what vector loads need).
const regionAlign = 256

// program is a compiled graph: the GPU program layer's half (graph,
// bindings, memory plan, launches, timings) and CUDA's: its functions,
// memory, a stream, and the launches packed once after binding and
// captured into a CUDA graph that every run replays. It implements
// backend.AsyncRunner: Start enqueues the graph, and the status words it
// copies to pinned memory in the same stream are checked at the next
// synchronising call.
type program struct {
	b     *cudaBackend
	core  *gpu.Program[*cuBuffer]
	fns   []cfunction      // the function of each launch
	calls []unsafe.Pointer // the cuBLASLt plan of each cublaslt launch (nil for kernels)
	names []string         // each launch's kernel and node, for errors

	arena, scratch, consts, status devicePtr // 0 when absent
	stream                         *stream

	packed *launchList
	graph  *capturedGraph
	dirty  bool // bindings changed: pack and capture again
	closed bool
	// inflight: a run was started (Start) and its status words have not
	// been checked yet; the backend lists the program in b.inflight.
	inflight bool

	profile bool // time every node with events (no graph) on each run
	ends    []int
	nodes   []*graph.Node

	// remap maps the nodes of the caller's graph to those of the compiled
	// graph when it was fused (graph.Fuse); nil otherwise.
	remap map[*graph.Node]*graph.Node
}

// compile checks g, plans its memory, runs the ops' launch functions and
// allocates the program's memory.
func (b *cudaBackend) compile(g *graph.Graph, op graph.Op, variant string) (backend.Program, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("cuda: compile: %w", err)
	}
	var remap map[*graph.Node]*graph.Node
	fused := 0
	if b.fuse && g != nil && len(g.Nodes) > 0 && (op == graph.OpInvalid || op.IsFused()) {
		// A compile for another op's variant is not fused, so that every
		// node of that op runs the variant asked for.
		fg, err := graph.Fuse(g, func(n *graph.Node) bool { return ops.Supports(&b.info, n) == nil })
		if err != nil {
			return nil, fmt.Errorf("cuda: compile: %w", err)
		}
		g, remap, fused = fg.Graph, fg.Map, fg.Count
	}
	core, err := gpu.Prepare[*cuBuffer](g, ops.Validate, regionAlign)
	if err != nil {
		return nil, fmt.Errorf("cuda: compile: %w", err)
	}
	p := &program{b: b, core: core, dirty: true, remap: remap, profile: b.profile}
	list, err := gpu.NewCompiler(&b.info, g).Compile(ops, op, variant, func(l *launch) error {
		if err := checkLaunch(&b.info, l); err != nil {
			return err
		}
		p.names = append(p.names, fmt.Sprintf("%s for %s", l.Kernel, l.Node))
		if l.Kernel == cublasLtKernel {
			plan, err := b.cublasLtPlan(l)
			p.fns = append(p.fns, nil)
			p.calls = append(p.calls, plan)
			return err
		}
		fn, err := b.function(l.Kernel, dynamicShared(l))
		p.fns = append(p.fns, fn)
		p.calls = append(p.calls, nil)
		return err
	})
	if err != nil {
		p.freeCalls()
		return nil, fmt.Errorf("cuda: compile: %w", err)
	}
	core.SetLaunches(list, regionAlign)
	b.progs[p] = struct{}{}
	if err := p.allocate(); err != nil {
		p.releaseLocked()
		return nil, fmt.Errorf("cuda: compile: %w", err)
	}
	p.ends, p.nodes = timingSegments(list)
	b.log.Debug("cuda: compiled graph", "backend", b.name, "nodes", len(g.Nodes), "fused", fused, "launches", len(list.Launches),
		"arena_bytes", core.Plan.Size)
	return p, nil
}

// timingSegments turns the layer's node ends into the launch counts after
// which runTimed records an event, one per node with launches.
func timingSegments(list *gpu.LaunchList) (ends []int, nodes []*graph.Node) {
	marks, nodes := list.NodeEnds()
	for i, k := range marks {
		if k >= 0 {
			ends = append(ends, i+1)
		}
	}
	return ends, nodes
}

// allocate makes the arena, scratch, constant and status memory and the
// program's stream. The caller holds b.mu.
func (p *program) allocate() error {
	b, core, list := p.b, p.core, p.core.List
	var err error
	if core.Plan.Size > 0 {
		if p.arena, err = b.dev.alloc(core.Plan.Size); err != nil {
			return fmt.Errorf("arena: %w", b.note(err))
		}
	}
	if len(list.Scratch) > 0 {
		if p.scratch, err = b.dev.alloc(core.Scratch.Total); err != nil {
			return fmt.Errorf("scratch: %w", b.note(err))
		}
	}
	if len(list.Consts) > 0 {
		if p.consts, err = b.dev.alloc(core.Consts.Total); err != nil {
			return fmt.Errorf("constants: %w", b.note(err))
		}
		for i, k := range list.Consts {
			if err := b.dev.write(p.consts+devicePtr(core.Consts.Offsets[i]), k); err != nil {
				return fmt.Errorf("constants: %w", b.note(err))
			}
		}
	}
	if len(list.Slots) > 0 {
		if p.status, err = b.dev.alloc(list.StatusBytes()); err != nil {
			return fmt.Errorf("status: %w", b.note(err))
		}
	}
	p.stream = b.dev.transfer()
	return nil
}

// Bind implements backend.Program.
func (p *program) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if p.closed {
		return fmt.Errorf("cuda: bind: program is %w", backend.ErrClosed)
	}
	if m, ok := p.remap[n]; ok {
		n = m // the caller's node as the fused graph holds it
	}
	if err := p.core.CheckBindable(n); err != nil {
		return fmt.Errorf("cuda: bind %s: %w", n, err)
	}
	cb, ok := buf.(*cuBuffer)
	if !ok || cb == nil || cb.owner != p.b {
		return fmt.Errorf("cuda: bind %s: buffer belongs to another backend", n)
	}
	if !cb.live {
		return fmt.Errorf("cuda: bind %s: buffer is %w (freed)", n, backend.ErrClosed)
	}
	if err := p.core.Bind(n, cb, cb.size, off); err != nil {
		return fmt.Errorf("cuda: bind %s: %w", n, err)
	}
	p.dirty = true
	return nil
}

// address returns the device address of an argument placed by the layer.
func (p *program) address(pl gpu.Place[*cuBuffer]) devicePtr {
	var base devicePtr
	switch pl.In {
	case gpu.InBuffer:
		base = pl.Buf.ptr
	case gpu.InArena:
		base = p.arena
	case gpu.InStatus:
		base = p.status
	case gpu.InScratch:
		base = p.scratch
	case gpu.InConsts:
		base = p.consts
	}
	return base + devicePtr(pl.Target)
}

// resolve packs every launch's parameters (pointers, then words) and
// captures the launches into a graph. The caller holds b.mu.
func (p *program) resolve() error {
	list := p.core.List
	ls := make([]kernelLaunch, len(list.Launches))
	skew := []int64{}
	for i, l := range list.Launches {
		var pr params
		skew = skew[:0]
		for _, a := range l.Args {
			pl, err := p.core.Place(a)
			if err != nil {
				return fmt.Errorf("cuda: run: node %s: %w", l.Node, err)
			}
			pr.Ptr(p.address(pl))
			skew = append(skew, 0) // the pointer is the argument's index 0
		}
		for _, w := range l.Words {
			v, err := w.Resolve(skew)
			if err != nil {
				return fmt.Errorf("cuda: run: node %s: %w", l.Node, err)
			}
			pr.U32(v)
		}
		ls[i] = kernelLaunch{fn: p.fns[i], grid: l.Groups, block: l.LocalSize(), shared: dynamicShared(l), params: pr, call: p.calls[i]}
	}
	ll := pack(ls)
	if p.profile {
		p.releaseGraph()
		p.packed = ll
		return nil
	}
	if p.packed != nil {
		p.packed.free() // the captured graph holds copies of the parameters
	}
	p.packed = ll
	if p.graph != nil {
		// A binding changed: the same launches with other pointers update
		// the executable graph instead of instantiating a new one.
		if _, err := p.b.dev.recapture(p.stream, p.packed, p.names, p.graph); err != nil {
			p.releaseGraph()
			return fmt.Errorf("cuda: run: %w", p.b.note(err))
		}
		return nil
	}
	g, err := p.b.dev.capture(p.stream, p.packed, p.names, p.status, int(list.StatusBytes()/4))
	if err != nil {
		return fmt.Errorf("cuda: run: %w", p.b.note(err))
	}
	p.graph = g
	return nil
}

// releaseGraph frees the packed launches and the graph.
func (p *program) releaseGraph() {
	if p.graph != nil {
		p.b.dev.destroyGraph(p.graph)
		p.graph = nil
	}
	if p.packed != nil {
		p.packed.free()
		p.packed = nil
	}
}

// Profile turns per-node timing on or off for the following runs. A
// profiled run launches every kernel itself, with an event after each
// node's last launch, instead of replaying the captured graph; Timings then
// reports the nodes' times.
func (p *program) Profile(on bool) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if on != p.profile {
		p.profile = on
		p.dirty = true
	}
}

// Run implements backend.Program: Start, then Wait.
func (p *program) Run(ctx context.Context) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.startLocked(ctx); err != nil {
		return err
	}
	return p.waitLocked()
}

// Start implements backend.AsyncRunner: the replay of the captured graph
// (captured again after Bind, updating the executable graph), enqueued on
// the transfer stream without a host wait. The status words, copied to
// pinned memory by the graph itself, are checked by the next synchronising
// call: Wait, Start, Run, or a Read of a buffer bound to the program.
// Profiled runs (Profile) run to completion in Start.
func (p *program) Start(ctx context.Context) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return p.startLocked(ctx)
}

// Wait implements backend.AsyncRunner.
func (p *program) Wait() error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return p.waitLocked()
}

// startLocked is Start; the caller holds b.mu.
func (p *program) startLocked(ctx context.Context) error {
	b := p.b
	if p.closed {
		return fmt.Errorf("cuda: run: program is %w", backend.ErrClosed)
	}
	if err := p.waitLocked(); err != nil {
		return err // the previous run's error, reported once
	}
	if err := b.usable(); err != nil {
		return fmt.Errorf("cuda: run: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cuda: run: %w", err)
	}
	if err := p.core.CheckBound(func(cb *cuBuffer) bool { return cb.live }); err != nil {
		return fmt.Errorf("cuda: run: %w", err)
	}
	if p.dirty {
		if err := p.resolve(); err != nil {
			return err
		}
		p.dirty = false
	}
	p.core.ClearTimings()
	if p.profile {
		return p.runProfiled()
	}
	if len(p.core.List.Launches) == 0 {
		return nil
	}
	if err := b.dev.launchGraph(p.stream, p.graph); err != nil {
		return fmt.Errorf("cuda: run: %w", b.note(err))
	}
	p.inflight = true
	b.inflight[p] = struct{}{}
	return nil
}

// waitLocked waits for the run in flight, if any, and checks its status
// words. The caller holds b.mu.
func (p *program) waitLocked() error {
	if !p.inflight {
		return nil
	}
	if err := p.b.dev.wait(p.stream); err != nil {
		p.b.settled(err)
		return fmt.Errorf("cuda: run: %w", p.b.note(err))
	}
	return p.check()
}

// check checks the status words of the run in flight, which the stream
// has finished, and marks it done. The caller holds b.mu.
func (p *program) check() error {
	p.inflight = false
	delete(p.b.inflight, p)
	if err := p.core.List.CheckStatus(p.graph.status()); err != nil {
		return fmt.Errorf("cuda: run: %w", err)
	}
	return nil
}

// runProfiled runs every launch with an event after each node's last one
// and waits. The caller holds b.mu.
func (p *program) runProfiled() error {
	b, list := p.b, p.core.List
	st, err := b.dev.newCapturedGraph(p.status, int(list.StatusBytes()/4))
	if err != nil {
		return fmt.Errorf("cuda: run: %w", b.note(err))
	}
	defer b.dev.destroyGraph(st)
	secs, err := b.dev.runTimed(p.stream, p.packed, p.names, p.ends, st)
	if err != nil {
		return fmt.Errorf("cuda: run: %w", b.note(err))
	}
	if err := list.CheckStatus(st.status()); err != nil {
		return fmt.Errorf("cuda: run: %w", err)
	}
	p.core.SetTimings(p.nodes, secs)
	return nil
}

// Timings implements backend.Profiler: the time of each compute node in the
// last run when it was profiled (see Profile), else nil.
func (p *program) Timings() []backend.OpTiming {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return p.core.Timings()
}

// Close implements backend.Program.
func (p *program) Close() error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if p.closed {
		return fmt.Errorf("cuda: close: program is already %w", backend.ErrClosed)
	}
	p.releaseLocked()
	return nil
}

// releaseLocked frees the program's device resources, after its run in
// flight (whose error is dropped). The caller holds b.mu.
func (p *program) releaseLocked() {
	if p.closed {
		return
	}
	if p.inflight {
		_ = p.waitLocked()
	}
	p.closed = true
	d := p.b.dev
	p.releaseGraph()
	p.stream = nil // the device's transfer stream
	for _, a := range []devicePtr{p.arena, p.scratch, p.consts, p.status} {
		if a != 0 {
			_ = d.free(a)
		}
	}
	p.arena, p.scratch, p.consts, p.status = 0, 0, 0, 0
	p.freeCalls()
	p.core.Unbind()
	delete(p.b.progs, p)
}

// freeCalls releases the program's cuBLASLt plans.
func (p *program) freeCalls() {
	for i, c := range p.calls {
		if c != nil {
			destroyCublasLtPlan(c)
			p.calls[i] = nil
		}
	}
}

var _ backend.AsyncRunner = (*program)(nil)
