//go:build cgo

package vulkan

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// runTimeout bounds one program run; a run that takes longer leaves the
// device unusable (the work cannot be cancelled).
const runTimeout = 10 * time.Minute

// program is a compiled graph: the GPU program layer's half (graph,
// bindings, memory plan, launches, timings) and Vulkan's (the memory,
// pipelines, descriptor sets and command buffer).
type program struct {
	b     *vkBackend
	core  *gpu.Program[*vkBuffer]
	pipes []*pipeline // the pipeline of each launch

	// arena is the program's one device-local allocation: the planned
	// intermediates at 0, the scratch regions at scratchAt, the constants
	// at constsAt.
	arena               *cbuf
	scratchAt, constsAt int64
	status              *cbuf

	rec    *crecord
	cp     *cprog
	dirty  bool
	closed bool
	// barriers is how many barriers between dispatches the recorded
	// command buffer holds (gpu.PlanBarriers).
	barriers int
	// written are the caller's buffers the program writes; copies the
	// outputs it copies into their buffers' read-back memory at the end of
	// each run (set when recording).
	written []*vkBuffer
	copies  []outputCopy

	// remap maps the nodes of the caller's graph to those of the compiled
	// (fused) graph: Bind takes the caller's leaves and outputs.
	remap map[*graph.Node]*graph.Node
	// fusedNodes is how many fused nodes graph.Fuse made.
	fusedNodes int

	// Timing: timestamp query 0 is the start, query i+1 follows the last
	// dispatch of tsNodes[i].
	tsNodes []*graph.Node
	ticks   []uint64
	secs    []float64 // per tsNodes entry, in the last run
}

// regionAlign is the alignment of the program's arena and regions.
func (b *vkBackend) regionAlign() int64 { return int64(max(b.info.Limits.MinOffsetAlignment, 16)) }

// compile checks g, plans its memory, runs the ops' launch functions and
// prepares the descriptor sets and command buffer.
func (b *vkBackend) compile(g *graph.Graph, op graph.Op, variant string) (backend.Program, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	align := b.regionAlign()
	var remap map[*graph.Node]*graph.Node
	fusedNodes := 0
	if b.fuse && (op == graph.OpInvalid || op == graph.OpRMSNormMul || op == graph.OpRoPEKVWrite || op == graph.OpMatMulFused) {
		// A compile for another op's variant is not fused, so that every
		// node of that op runs the variant asked for.
		if g == nil || len(g.Nodes) == 0 {
			return nil, fmt.Errorf("vulkan: compile: empty graph")
		}
		fg, err := graph.Fuse(g, func(n *graph.Node) bool { return b.supportErr(n) == nil })
		if err != nil {
			return nil, fmt.Errorf("vulkan: compile: %w", err)
		}
		g, remap, fusedNodes = fg.Graph, fg.Map, fg.Count
	}
	core, err := gpu.Prepare[*vkBuffer](g, validateNode, align)
	if err != nil {
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	p := &program{b: b, core: core, dirty: true, remap: remap, fusedNodes: fusedNodes}
	list, err := gpu.NewCompiler(&b.info, g).Compile(ops, op, variant, func(l *launch) error {
		pipe, err := b.finish(l)
		p.pipes = append(p.pipes, pipe)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	core.SetLaunches(list, align)
	if err := p.allocate(); err != nil {
		p.releaseLocked()
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	b.progs[p] = struct{}{}
	if err := b.validation(); err != nil {
		p.releaseLocked()
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	b.log.Debug("vulkan: compiled graph", "backend", b.name, "nodes", len(g.Nodes), "fused", fusedNodes, "dispatches", len(list.Launches),
		"arena_bytes", core.Plan.Size)
	return p, nil
}

// allocate creates the arena (intermediates, scratch and constants in one
// buffer) and the status buffer and the C-side program (descriptor sets,
// command buffer, queries).
func (p *program) allocate() error {
	b, core, list := p.b, p.core, p.core.List
	align := b.regionAlign()
	p.scratchAt = (core.Plan.Size + align - 1) / align * align
	p.constsAt = p.scratchAt + core.Scratch.Total
	var err error
	if total := p.constsAt + core.Consts.Total; total > 0 {
		if p.arena, err = b.allocLocked(total, 0); err != nil {
			return fmt.Errorf("arena of %d bytes (intermediates %d, scratch %d, constants %d): %w",
				total, core.Plan.Size, core.Scratch.Total, core.Consts.Total, err)
		}
	}
	for i, k := range list.Consts {
		if err := b.dev.write(p.arena, p.constsAt+core.Consts.Offsets[i], k); err != nil {
			b.noteFailure(err)
			return fmt.Errorf("constants: %w", err)
		}
	}
	if len(list.Slots) > 0 {
		if p.status, err = b.allocLocked(int64(len(list.Slots))*b.statusStride(), 1); err != nil {
			return fmt.Errorf("status buffer: %w", err)
		}
	}
	nb, nw := 0, 0
	for _, l := range list.Launches {
		nb += len(l.Args)
		nw += len(l.Words)
	}
	if p.rec, err = newRecord(len(list.Launches), nb, nw); err != nil {
		return err
	}
	// Timestamps after the last dispatch of each node, when profiling.
	ends, nodes := list.NodeEnds()
	timed := b.profile && b.info.Limits.TimestampBits > 0
	tsOf := make([]int, len(list.Launches))
	for i := range tsOf {
		tsOf[i] = -1
		if timed && ends[i] >= 0 {
			tsOf[i] = ends[i] + 1
		}
	}
	if timed {
		p.tsNodes = nodes
	}
	fb, fw := 0, 0
	for i, l := range list.Launches {
		p.rec.setDispatch(i, p.pipes[i].c, fb, fw, l.Groups, tsOf[i])
		fb += len(l.Args)
		fw += len(l.Words)
	}
	nq := 0
	if len(p.tsNodes) > 0 {
		nq = len(p.tsNodes) + 1
		p.ticks = make([]uint64, nq)
		p.secs = make([]float64, len(p.tsNodes))
	}
	if p.cp, err = b.dev.newProgram(p.rec, nq); err != nil {
		b.noteFailure(err)
		return err
	}
	return nil
}

// Bind implements backend.Program.
func (p *program) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if err := p.usable(); err != nil {
		return fmt.Errorf("vulkan: bind %s: %w", n, err)
	}
	if m, ok := p.remap[n]; ok {
		n = m // the caller's node as the fused graph holds it
	}
	if err := p.core.CheckBindable(n); err != nil {
		return fmt.Errorf("vulkan: bind %s: %w", n, err)
	}
	vb, ok := buf.(*vkBuffer)
	if !ok || vb == nil || vb.owner != p.b {
		return fmt.Errorf("vulkan: bind %s: buffer belongs to another backend", n)
	}
	if vb.c == nil {
		return fmt.Errorf("vulkan: bind %s: buffer is %w (freed)", n, backend.ErrClosed)
	}
	if err := p.core.Bind(n, vb, vb.size, off); err != nil {
		return fmt.Errorf("vulkan: bind %s: %w", n, err)
	}
	p.dirty = true
	return nil
}

// memory returns the device buffer an argument placed by the program
// layer lives in, and where in it that memory starts. The caller holds
// b.mu and has checked the bindings.
func (p *program) memory(pl gpu.Place[*vkBuffer]) (*cbuf, int64) {
	switch pl.In {
	case gpu.InBuffer:
		return pl.Buf.c, 0
	case gpu.InArena:
		return p.arena, 0
	case gpu.InStatus:
		return p.status, 0
	case gpu.InScratch:
		return p.arena, p.scratchAt
	}
	return p.arena, p.constsAt
}

// statusStride is the distance between two status slots in the status
// buffer: each launch binds only its node's slot, at an aligned offset, so
// that launches reporting errors do not depend on each other.
func (b *vkBackend) statusStride() int64 { return max(b.regionAlign(), 4*gpu.StatusWords) }

// resolve computes every binding and push constant, the barriers between
// dependent dispatches, and records the command buffer. The caller holds
// b.mu.
func (p *program) resolve() error {
	lim := p.b.info.Limits
	align := int64(max(lim.MinOffsetAlignment, 4))
	bi, wi := 0, 0
	var skew []int64
	launches := p.core.List.Launches
	acc := make([][]gpu.Access[*cbuf], len(launches))
	for li, l := range launches {
		skew = skew[:0]
		statusWord, hasStatus := l.StatusWord()
		for k, a := range l.Args {
			pl, err := p.core.Place(a)
			if err != nil {
				return fmt.Errorf("vulkan: run: node %s: %w", l.Node, err)
			}
			if a.Kind == gpu.ArgStatus && hasStatus {
				// Only the node's own slot, which the kernel then finds at
				// index 0 (the slot word is pushed as 0 below).
				slot := int64(l.Words[statusWord].Value)
				pl.Start = slot * p.b.statusStride()
				pl.End, pl.Target = pl.Start+4*gpu.StatusWords, pl.Start
			}
			buf, base := p.memory(pl)
			if buf == nil {
				return fmt.Errorf("vulkan: run: node %s: argument %d has no device memory", l.Node, k)
			}
			pl.Start, pl.End, pl.Target = pl.Start+base, pl.End+base, pl.Target+base
			aligned := pl.Start / align * align
			rng := (pl.End - aligned + 3) / 4 * 4
			if room := int64(buf.b.size) - aligned; rng > room {
				rng = room
			}
			if uint64(rng) > lim.MaxStorageBufferRange {
				return fmt.Errorf("vulkan: run: node %s: argument %d spans %d bytes, more than maxStorageBufferRange %d",
					l.Node, k, rng, lim.MaxStorageBufferRange)
			}
			p.rec.setBinding(bi, buf, uint64(aligned), uint64(rng))
			acc[li] = append(acc[li], gpu.Access[*cbuf]{Mem: buf, Lo: aligned, Hi: aligned + rng, Write: a.Writes()})
			skew = append(skew, pl.Target-aligned)
			bi++
		}
		for k, w := range l.Words {
			v, err := w.Resolve(skew)
			if err != nil {
				return fmt.Errorf("vulkan: run: node %s: %w", l.Node, err)
			}
			if hasStatus && k == statusWord {
				v = 0
			}
			p.rec.setWord(wi, v)
			wi++
		}
	}
	p.written = p.written[:0]
	for _, l := range launches {
		for _, a := range l.Args {
			if !a.Writes() || a.Kind != gpu.ArgNode {
				continue
			}
			if pl, err := p.core.Place(a); err == nil && pl.In == gpu.InBuffer && !slices.Contains(p.written, pl.Buf) {
				p.written = append(p.written, pl.Buf)
			}
		}
	}
	copies, err := p.outputCopies()
	if err != nil {
		return err
	}
	var bars []barrierRec
	plan := gpu.PlanBarriers(acc)
	if p.b.noBarriers {
		plan = nil // tests: show that synchronization validation notices
	}
	for _, b := range plan {
		br := barrierRec{before: b.Before}
		for _, f := range b.Flush {
			br.ranges = append(br.ranges, rangeRec{b: f.Mem, off: uint64(f.Lo), len: uint64(f.Hi - f.Lo)})
		}
		bars = append(bars, br)
	}
	var recCopies [][2]rangeRec
	for _, c := range copies {
		n := uint64(c.hi - c.lo)
		recCopies = append(recCopies, [2]rangeRec{{b: c.buf.c, off: uint64(c.lo), len: n}, {b: c.buf.rb, off: uint64(c.lo), len: n}})
	}
	p.copies = copies
	if err := p.rec.setLinks(bars, recCopies); err != nil {
		return fmt.Errorf("vulkan: run: %w", err)
	}
	n, err := p.b.dev.record(p.cp, p.rec)
	if err != nil {
		p.b.noteFailure(err)
		return fmt.Errorf("vulkan: run: %w", err)
	}
	p.barriers = n
	return nil
}

// outputCopy is an output the program copies into its buffer's read-back
// memory: bytes [lo, hi) of buf.
type outputCopy struct {
	buf    *vkBuffer
	lo, hi int64
}

// readbackMax bounds the buffers that get read-back memory.
const readbackMax = 64 << 20

// outputCopies returns the outputs to copy into read-back memory at the
// end of each run: those bound to unmapped buffers (discrete GPUs) of at
// most readbackMax bytes, whose host-visible shadow it allocates on first
// use, so that reading them after a run is a memcpy, not another
// submission (vkBuffer.Read). Without host memory for a shadow an output
// is read the usual way. The caller holds b.mu.
func (p *program) outputCopies() ([]outputCopy, error) {
	var out []outputCopy
	for _, o := range p.core.Graph.Outputs {
		pl, err := p.core.Place(gpu.Arg{Kind: gpu.ArgNode, Node: o})
		if err != nil {
			return nil, fmt.Errorf("vulkan: run: %w", err)
		}
		vb := pl.Buf
		if pl.In != gpu.InBuffer || vb.c.mapped() != nil || vb.size > readbackMax || pl.End <= pl.Start {
			continue
		}
		if vb.rb == nil {
			rb, err := p.b.dev.newBuffer(uint64(vb.size), 2)
			if err != nil || rb.mapped() == nil {
				if rb != nil {
					p.b.dev.freeBuffer(rb)
				}
				p.b.log.Debug("vulkan: no read-back memory for an output", "node", o.String(), "err", err)
				continue
			}
			vb.rb = rb
		}
		out = append(out, outputCopy{buf: vb, lo: pl.Start, hi: min(pl.End, vb.size)})
	}
	return out, nil
}

// ran notes what a submitted run changed: every caller buffer it writes
// has new contents, and the read-back memory of the copied outputs holds
// them.
func (p *program) ran() {
	for _, w := range p.written {
		w.gen++
		w.rbValid = w.rbValid[:0]
	}
	for _, c := range p.copies {
		c.buf.rbGen = c.buf.gen
		c.buf.rbValid = append(c.buf.rbValid, [2]int64{c.lo, c.hi})
	}
}

// Run implements backend.Program: one submission of the recorded command
// buffer (recorded again only after Bind), then the status check.
func (p *program) Run(ctx context.Context) error {
	b := p.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := p.usable(); err != nil {
		return fmt.Errorf("vulkan: run: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vulkan: run: %w", err)
	}
	if err := p.core.CheckBound(func(vb *vkBuffer) bool { return vb.c != nil }); err != nil {
		return fmt.Errorf("vulkan: run: %w", err)
	}
	if p.dirty {
		if err := p.resolve(); err != nil {
			return err
		}
		p.dirty = false
	}
	p.core.ClearTimings()
	list := p.core.List
	if err := b.dev.run(p.cp, p.status, len(list.Slots)*int(b.statusStride()), uint64(runTimeout), p.ticks); err != nil {
		b.noteFailure(err)
		return fmt.Errorf("vulkan: run: %w", err)
	}
	p.ran()
	if err := b.validation(); err != nil {
		return fmt.Errorf("vulkan: run: %w", err)
	}
	if err := p.checkStatus(); err != nil {
		return err
	}
	p.storeTimings()
	return nil
}

// checkStatus turns the first flagged status slot into an error.
func (p *program) checkStatus() error {
	if p.status == nil {
		return nil
	}
	list := p.core.List
	stride := int(p.b.statusStride() / 4)
	all := statusWords(p.status, stride*len(list.Slots))
	words := make([]uint32, 0, gpu.StatusWords*len(list.Slots))
	for i := range list.Slots {
		words = append(words, all[stride*i:stride*i+gpu.StatusWords]...)
	}
	if err := list.CheckStatus(words); err != nil {
		return fmt.Errorf("vulkan: run: %w", err)
	}
	return nil
}

// storeTimings converts the timestamps of the last run into timings.
func (p *program) storeTimings() {
	if len(p.tsNodes) == 0 {
		return
	}
	lim := p.b.info.Limits
	mask := uint64(1)<<lim.TimestampBits - 1
	if lim.TimestampBits >= 64 {
		mask = ^uint64(0)
	}
	for i := range p.tsNodes {
		d := (p.ticks[i+1] - p.ticks[i]) & mask
		p.secs[i] = float64(d) * lim.TimestampPeriod * 1e-9
	}
	p.core.SetTimings(p.tsNodes, p.secs)
}

// Timings implements backend.Profiler: the device time and dispatches of
// each compute node of the compiled (fused) graph in the last successful
// run, in execution order; nil before one, without
// backend.Options.Profile, or when the device has no timestamps. Views
// take no time.
func (p *program) Timings() []backend.OpTiming {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	return p.core.Timings()
}

// usable returns an error, for the caller to prefix, when the backend is
// closed or lost, or the program closed. The caller holds b.mu.
func (p *program) usable() error {
	if err := p.b.usable(); err != nil {
		return err
	}
	if p.closed {
		return fmt.Errorf("program is %w", backend.ErrClosed)
	}
	return nil
}

// Close implements backend.Program. Closing twice, or after the backend
// was closed (which released the program), is an error wrapping
// backend.ErrClosed.
func (p *program) Close() error {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if p.closed {
		if p.b.closed {
			return fmt.Errorf("vulkan: close program: backend %s is %w (it released the program)", p.b.name, backend.ErrClosed)
		}
		return fmt.Errorf("vulkan: close program: program is already %w", backend.ErrClosed)
	}
	p.releaseLocked()
	return nil
}

// releaseLocked frees the program's device resources. The caller holds b.mu.
func (p *program) releaseLocked() {
	if p.closed {
		return
	}
	p.closed = true
	d := p.b.dev
	if p.cp != nil {
		d.freeProgram(p.cp)
		p.cp = nil
	}
	if p.rec != nil {
		p.rec.free()
		p.rec = nil
	}
	for _, c := range []*cbuf{p.arena, p.status} {
		if c != nil {
			d.freeBuffer(c)
		}
	}
	p.arena, p.status = nil, nil
	p.core.Unbind()
	delete(p.b.progs, p)
}
