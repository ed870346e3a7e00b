//go:build cgo

package vulkan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
)

// runTimeout bounds one program run; a run that takes longer leaves the
// device unusable (the work cannot be cancelled).
const runTimeout = 10 * time.Minute

// statusWordsPerSlot is the size of one node's status slot (common.glsl).
const statusWordsPerSlot = 4

// binding is where a leaf or output lives.
type binding struct {
	buf *vkBuffer
	off int64
}

// program is a compiled graph.
type program struct {
	b        *vkBackend
	g        *graph.Graph
	idx      map[*graph.Node]int
	bindable []bool
	binds    []binding
	plan     *graph.Plan

	launches []*launch
	slots    []*graph.Node
	arena    *cbuf
	scratch  *cbuf
	scrOffs  []int64
	consts   *cbuf
	conOffs  []int64
	status   *cbuf

	rec    *crecord
	cp     *cprog
	dirty  bool
	closed bool

	// Timing: timestamp query 0 is the start, query i+1 follows the last
	// dispatch of tsNodes[i].
	tsNodes  []*graph.Node
	ticks    []uint64
	timings  []backend.OpTiming
	hasTimes bool
}

// compile checks g, plans its memory, runs the ops' launch functions and
// prepares the descriptor sets and command buffer.
func (b *vkBackend) compile(g *graph.Graph, op graph.Op, variant string) (backend.Program, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	if g == nil || len(g.Nodes) == 0 {
		return nil, errors.New("vulkan: compile: empty graph")
	}
	if len(g.Outputs) == 0 {
		return nil, errors.New("vulkan: compile: graph has no outputs")
	}
	p := &program{b: b, g: g, idx: make(map[*graph.Node]int, len(g.Nodes)), dirty: true}
	for i, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("vulkan: compile: node %d is nil", i)
		}
		if _, dup := p.idx[n]; dup {
			return nil, fmt.Errorf("vulkan: compile: node %s is listed twice", n)
		}
		if err := validateNode(n); err != nil {
			return nil, fmt.Errorf("vulkan: compile: node %s: %w", n, err)
		}
		for _, in := range n.Inputs {
			if _, ok := p.idx[in]; !ok {
				return nil, fmt.Errorf("vulkan: compile: node %s reads %s, which is not before it in the graph", n, in)
			}
		}
		p.idx[n] = i
	}
	if err := g.Topological(); err != nil {
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	p.bindable = make([]bool, len(g.Nodes))
	p.binds = make([]binding, len(g.Nodes))
	for i, o := range g.Outputs {
		j, ok := p.idx[o]
		if !ok {
			return nil, fmt.Errorf("vulkan: compile: output %d (%s) is not a node of the graph", i, o)
		}
		if o.Op.IsLeaf() || o.Op.IsAlias() {
			return nil, fmt.Errorf("vulkan: compile: output %d (%s) must be a compute node that owns its memory", i, o)
		}
		if p.bindable[j] {
			return nil, fmt.Errorf("vulkan: compile: output %s is listed twice", o)
		}
		p.bindable[j] = true
	}
	for i, n := range g.Nodes {
		if n.Op.IsLeaf() {
			p.bindable[i] = true
		}
		r := storageRoot(n)
		if r == nil {
			return nil, fmt.Errorf("vulkan: compile: node %s: malformed alias chain", n)
		}
		if _, ok := p.idx[r]; !ok {
			return nil, fmt.Errorf("vulkan: compile: node %s lives in %s, which is not in the graph", n, r)
		}
		if lo, hi := extent(n); lo < 0 || hi >= r.Shape.NumElements() {
			return nil, fmt.Errorf("vulkan: compile: node %s addresses elements [%d, %d] outside its storage %s", n, lo, hi, r)
		}
		if r.DType != n.DType {
			return nil, fmt.Errorf("vulkan: compile: node %s has dtype %s but its storage %s has %s", n, n.DType, r, r.DType)
		}
	}
	align := int64(max(b.info.Limits.MinOffsetAlignment, 16))
	plan, err := graph.PlanMemory(g, align)
	if err != nil {
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	p.plan = plan

	c := &compiler{b: b, dev: &b.info, g: g, slots: map[*graph.Node]int{}}
	if err := c.compileLaunches(op, variant); err != nil {
		return nil, err
	}
	p.launches, p.slots = c.launches, c.slotList
	if err := p.allocate(c); err != nil {
		p.releaseLocked()
		return nil, fmt.Errorf("vulkan: compile: %w", err)
	}
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			p.timings = append(p.timings, backend.OpTiming{Node: n})
		}
	}
	b.progs[p] = struct{}{}
	b.log.Debug("vulkan: compiled graph", "backend", b.name, "nodes", len(g.Nodes), "dispatches", len(p.launches),
		"arena_bytes", plan.Size)
	return p, nil
}

// allocate creates the arena, scratch, constant and status buffers and the
// C-side program (descriptor sets, command buffer, queries).
func (p *program) allocate(c *compiler) error {
	b := p.b
	var err error
	if p.plan.Size > 0 {
		if p.arena, err = b.allocLocked(p.plan.Size, 0); err != nil {
			return fmt.Errorf("arena: %w", err)
		}
	}
	align := int64(max(b.info.Limits.MinOffsetAlignment, 16))
	place := func(sizes []int64) ([]int64, int64) {
		offs := make([]int64, len(sizes))
		var total int64
		for i, s := range sizes {
			offs[i] = total
			total += (s + align - 1) / align * align
		}
		return offs, total
	}
	if len(c.scratchs) > 0 {
		offs, total := place(c.scratchs)
		p.scrOffs = offs
		if p.scratch, err = b.allocLocked(total, 0); err != nil {
			return fmt.Errorf("scratch: %w", err)
		}
	}
	if len(c.consts) > 0 {
		sizes := make([]int64, len(c.consts))
		for i, k := range c.consts {
			sizes[i] = int64(len(k))
		}
		offs, total := place(sizes)
		p.conOffs = offs
		if p.consts, err = b.allocLocked(total, 0); err != nil {
			return fmt.Errorf("constants: %w", err)
		}
		for i, k := range c.consts {
			if err := b.dev.write(p.consts, offs[i], k); err != nil {
				b.noteFailure(err)
				return fmt.Errorf("constants: %w", err)
			}
		}
	}
	if len(p.slots) > 0 {
		if p.status, err = b.allocLocked(int64(4*statusWordsPerSlot*len(p.slots)), 1); err != nil {
			return fmt.Errorf("status buffer: %w", err)
		}
	}
	nb, nw := 0, 0
	for _, l := range p.launches {
		nb += len(l.args)
		nw += len(l.words)
	}
	if p.rec, err = newRecord(len(p.launches), nb, nw); err != nil {
		return err
	}
	// Timestamps after the last dispatch of each node.
	last := map[*graph.Node]int{}
	for i, l := range p.launches {
		last[l.node] = i
	}
	tsOf := make([]int, len(p.launches))
	for i := range tsOf {
		tsOf[i] = -1
	}
	if b.info.Limits.TimestampBits > 0 {
		for i, l := range p.launches {
			if last[l.node] == i {
				p.tsNodes = append(p.tsNodes, l.node)
				tsOf[i] = len(p.tsNodes)
			}
		}
	}
	fb, fw := 0, 0
	for i, l := range p.launches {
		p.rec.setDispatch(i, l.pipe.c, fb, fw, l.grid, tsOf[i])
		fb += len(l.args)
		fw += len(l.words)
	}
	nq := 0
	if len(p.tsNodes) > 0 {
		nq = len(p.tsNodes) + 1
		p.ticks = make([]uint64, nq)
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
	i, ok := p.idx[n]
	if !ok {
		return fmt.Errorf("vulkan: bind %s: not a node of this program's graph", n)
	}
	if !p.bindable[i] {
		return fmt.Errorf("vulkan: bind %s: only leaves and outputs are bound", n)
	}
	vb, ok := buf.(*vkBuffer)
	if !ok || vb == nil || vb.owner != p.b {
		return fmt.Errorf("vulkan: bind %s: buffer belongs to another backend", n)
	}
	if vb.c == nil {
		return fmt.Errorf("vulkan: bind %s: buffer is %w (freed)", n, backend.ErrClosed)
	}
	size := n.Bytes()
	if off < 0 || off > vb.size || size > vb.size-off {
		return fmt.Errorf("vulkan: bind %s: %d bytes at offset %d do not fit the %d-byte buffer", n, size, off, vb.size)
	}
	if es := elemAlign(n.DType); off%es != 0 {
		return fmt.Errorf("vulkan: bind %s: offset %d is not aligned to its %d-byte elements", n, off, es)
	}
	p.binds[i] = binding{buf: vb, off: off}
	p.dirty = true
	return nil
}

// elemAlign is the alignment a bound tensor of dtype dt needs.
func elemAlign(dt graph.DType) int64 {
	switch dt {
	case graph.F32, graph.I32:
		return 4
	case graph.F16, graph.BF16:
		return 2
	}
	return 2 // quantized blocks start with or contain 16-bit fields
}

// location returns the buffer and byte offset of n's storage element 0.
// The caller holds b.mu and has checked the bindings.
func (p *program) location(n *graph.Node) (*cbuf, int64, error) {
	r := storageRoot(n)
	i := p.idx[r]
	if p.bindable[i] {
		bd := p.binds[i]
		if bd.buf == nil {
			return nil, 0, fmt.Errorf("%s is not bound", r)
		}
		return bd.buf.c, bd.off, nil
	}
	off, ok := p.plan.Offset(r)
	if !ok || p.arena == nil {
		return nil, 0, fmt.Errorf("%s has no place in the memory plan", r)
	}
	return p.arena, off, nil
}

// resolve computes every binding and push constant and records the
// command buffer. The caller holds b.mu.
func (p *program) resolve() error {
	lim := p.b.info.Limits
	align := int64(max(lim.MinOffsetAlignment, 4))
	bi, wi := 0, 0
	for _, l := range p.launches {
		type placed struct{ start, target int64 }
		where := make([]placed, len(l.args))
		for k, a := range l.args {
			var (
				buf                *cbuf
				start, end, target int64
			)
			switch a.kind {
			case argNode:
				base, off, err := p.location(a.node)
				if err != nil {
					return fmt.Errorf("vulkan: run: node %s: %w", l.node, err)
				}
				first, last, elem0 := span(a.node)
				buf = base
				start, end, target = off+first, off+last, off+elem0
				if a.ranged {
					start, end = off+elem0+a.lo, off+elem0+a.hi
					target = start
				}
			case argStatus:
				buf, start, end = p.status, 0, int64(4*statusWordsPerSlot*len(p.slots))
				target = start
			case argScratch:
				buf, start = p.scratch, p.scrOffs[a.region]
				end, target = start+p.b.scratchSize(p, a.region), start
			case argConst:
				buf, start = p.consts, p.conOffs[a.region]
				end, target = start+p.b.constSize(p, a.region), start
			}
			aligned := start / align * align
			rng := (end - aligned + 3) / 4 * 4
			if room := int64(buf.b.size) - aligned; rng > room {
				rng = room
			}
			if uint64(rng) > lim.MaxStorageBufferRange {
				return fmt.Errorf("vulkan: run: node %s: argument %d spans %d bytes, more than maxStorageBufferRange %d",
					l.node, k, rng, lim.MaxStorageBufferRange)
			}
			p.rec.setBinding(bi, buf, uint64(aligned), uint64(rng))
			where[k] = placed{start: aligned, target: target}
			bi++
		}
		for _, w := range l.words {
			v := w.v
			if w.kind == wordOffset {
				d := where[w.arg].target - where[w.arg].start
				if d%w.unit != 0 {
					return fmt.Errorf("vulkan: run: node %s: argument %d starts %d bytes into its binding, not a multiple of %d (bind it at an aligned offset)",
						l.node, w.arg, d, w.unit)
				}
				v = uint32(d / w.unit)
			}
			p.rec.setWord(wi, v)
			wi++
		}
	}
	if err := p.b.dev.record(p.cp, p.rec); err != nil {
		p.b.noteFailure(err)
		return fmt.Errorf("vulkan: run: %w", err)
	}
	return nil
}

// scratchSize and constSize return the size of a program region.
func (b *vkBackend) scratchSize(p *program, region int) int64 {
	if region+1 < len(p.scrOffs) {
		return p.scrOffs[region+1] - p.scrOffs[region]
	}
	return int64(p.scratch.b.size) - p.scrOffs[region]
}

func (b *vkBackend) constSize(p *program, region int) int64 {
	if region+1 < len(p.conOffs) {
		return p.conOffs[region+1] - p.conOffs[region]
	}
	return int64(p.consts.b.size) - p.conOffs[region]
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
	for i, n := range p.g.Nodes {
		if !p.bindable[i] {
			continue
		}
		bd := p.binds[i]
		if bd.buf == nil {
			return fmt.Errorf("vulkan: run: %s is not bound", n)
		}
		if bd.buf.c == nil {
			return fmt.Errorf("vulkan: run: the buffer bound to %s is %w (freed)", n, backend.ErrClosed)
		}
	}
	if p.dirty {
		if err := p.resolve(); err != nil {
			return err
		}
		p.dirty = false
	}
	p.hasTimes = false
	if err := b.dev.run(p.cp, p.status, 4*statusWordsPerSlot*len(p.slots), uint64(runTimeout), p.ticks); err != nil {
		b.noteFailure(err)
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
	w := statusWords(p.status, statusWordsPerSlot*len(p.slots))
	for i, n := range p.slots {
		s := w[statusWordsPerSlot*i:]
		if s[0] == 0 {
			continue
		}
		return fmt.Errorf("vulkan: run: %s: %s", n, statusMessage(n, s[0], int32(s[1]), s[2]))
	}
	return nil
}

// statusMessage describes a status slot: count errors, the first bad value
// and the row it was found at.
func statusMessage(n *graph.Node, count uint32, value int32, row uint32) string {
	var what string
	switch n.Op {
	case graph.OpGetRows:
		what = fmt.Sprintf("id %d at index %d is outside the table's rows [0, %d)", value, row, n.Inputs[0].Shape[0])
	case graph.OpKVWrite:
		what = fmt.Sprintf("position %d at index %d is outside the cache's rows [0, %d)", value, row, n.Inputs[0].Shape[0])
	default:
		what = fmt.Sprintf("bad value %d at index %d", value, row)
	}
	if count > 1 {
		what += fmt.Sprintf(" (%d bad elements in all)", count)
	}
	return what
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
	secs := map[*graph.Node]float64{}
	for i, n := range p.tsNodes {
		d := (p.ticks[i+1] - p.ticks[i]) & mask
		secs[n] = float64(d) * lim.TimestampPeriod * 1e-9
	}
	for i := range p.timings {
		p.timings[i].Seconds = secs[p.timings[i].Node]
	}
	p.hasTimes = true
}

// Timings implements backend.Profiler: the device time of each compute node
// in the last successful run, in execution order (nil before one, or when
// the device has no timestamps). Views take no time.
func (p *program) Timings() []backend.OpTiming {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	if !p.hasTimes {
		return nil
	}
	return append([]backend.OpTiming(nil), p.timings...)
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
	for _, c := range []*cbuf{p.arena, p.scratch, p.consts, p.status} {
		if c != nil {
			d.freeBuffer(c)
		}
	}
	p.arena, p.scratch, p.consts, p.status = nil, nil, nil, nil
	p.binds = nil
	delete(p.b.progs, p)
}
