package cpu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
)

// arenaAlign is the alignment of every intermediate tensor in the arena.
const arenaAlign = 64

// kernel computes node n of program p.
type kernel func(p *program, n *graph.Node) error

// tier is one set of kernels: reference or fast.
type tier struct {
	name    string
	kernels map[graph.Op]kernel
	// scratch returns the float32 and float64 scratch elements each
	// thread needs for node n.
	scratch func(n *graph.Node) (f32, f64 int)
	// shared returns the bytes of scratch node n's kernel shares between
	// its threads (nil: none).
	shared func(n *graph.Node) int
}

// binding is where a leaf or output lives.
type binding struct {
	buf *hostBuffer
	off int64
}

// program is a compiled graph.
type program struct {
	b    *cpuBackend
	g    *graph.Graph
	tier *tier

	idx      map[*graph.Node]int // node → index in g.Nodes
	byID     []int32             // node ID → index in g.Nodes (-1: none), checked by index
	root     []int               // index of each node's storage node
	bindable []bool              // leaves and outputs
	arena    []byte

	mu        sync.Mutex // serialises Run, Bind and Close
	closed    bool
	binds     []binding
	mem       [][]byte // storage bytes of each storage node during a run
	scratch   [][]float32
	scratch64 [][]float64
	shared    []byte       // scratch shared by the threads of one node (see tier.shared)
	quantized quantKey     // what shared holds: the x rows a matmul quantized this run
	rope      ropeTable    // the RoPE angles' cosines and sines computed this run
	tasks     []any        // per node: the kernel's reusable loop state (see taskFor)
	deferred  []bool       // per node: computed by the group of a later node (see group.go)
	groups    []*nodeGroup // per node: the group computed at its step (nil: none)
	multi     multiTask    // the loop of the group in flight
	packable  []bool       // per node: a weight multiplied packed (see packed.go)
	packedMM  []bool       // per node: a matmul over packed weights
	packed    []packedRef  // per node: a packed weight's copy (see resolvePacked)
	packedGen []uint64     // per node: its buffer's packGen when packed was set
	timings   []backend.OpTiming
	hasTimes  bool
}

// compile checks g, plans its memory and prepares a program.
func compile(b *cpuBackend, g *graph.Graph) (*program, error) {
	if g == nil || len(g.Nodes) == 0 {
		return nil, errors.New("cpu: compile: empty graph")
	}
	if len(g.Outputs) == 0 {
		return nil, errors.New("cpu: compile: graph has no outputs")
	}
	t := fastTier
	if b.ref {
		t = refTier
	}
	p := &program{
		b:    b,
		g:    g,
		tier: t,
		idx:  make(map[*graph.Node]int, len(g.Nodes)),
	}
	for i, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("cpu: compile: node %d is nil", i)
		}
		if _, dup := p.idx[n]; dup {
			return nil, fmt.Errorf("cpu: compile: node %s is listed twice", n)
		}
		if err := validateNode(n); err != nil {
			return nil, fmt.Errorf("cpu: compile: node %s: %w", n, err)
		}
		for _, in := range n.Inputs {
			if _, ok := p.idx[in]; !ok {
				return nil, fmt.Errorf("cpu: compile: node %s reads %s, which is not before it in the graph", n, in)
			}
		}
		p.idx[n] = i
		if n.ID >= 0 && n.ID < 1<<24 {
			if n.ID >= len(p.byID) {
				p.byID = append(p.byID, slices.Repeat([]int32{-1}, n.ID+1-len(p.byID))...)
			}
			p.byID[n.ID] = int32(i)
		}
		if !n.Op.IsLeaf() && t.kernels[n.Op] == nil {
			return nil, fmt.Errorf("cpu: compile: node %s: op %s has no %s kernel", n, n.Op, t.name)
		}
	}
	if err := g.Topological(); err != nil {
		return nil, fmt.Errorf("cpu: compile: %w", err)
	}
	p.bindable = make([]bool, len(g.Nodes))
	for i, o := range g.Outputs {
		j, ok := p.idx[o]
		if !ok {
			return nil, fmt.Errorf("cpu: compile: output %d (%s) is not a node of the graph", i, o)
		}
		if o.Op.IsLeaf() || o.Op.IsAlias() {
			return nil, fmt.Errorf("cpu: compile: output %d (%s) must be a compute node that owns its memory", i, o)
		}
		if p.bindable[j] {
			return nil, fmt.Errorf("cpu: compile: output %s is listed twice", o)
		}
		p.bindable[j] = true
	}
	p.root = make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		if n.Op.IsLeaf() {
			p.bindable[i] = true
		}
		r := storageRoot(n)
		if r == nil {
			return nil, fmt.Errorf("cpu: compile: node %s: malformed alias chain", n)
		}
		p.root[i] = p.idx[r]
		if lo, hi := extent(n); lo < 0 || hi >= r.Shape.NumElements() {
			return nil, fmt.Errorf("cpu: compile: node %s addresses elements [%d, %d] outside its storage %s", n, lo, hi, r)
		}
		if r.DType != n.DType {
			return nil, fmt.Errorf("cpu: compile: node %s has dtype %s but its storage %s has %s", n, n.DType, r, r.DType)
		}
	}
	plan, err := graph.PlanMemory(g, arenaAlign)
	if err != nil {
		return nil, fmt.Errorf("cpu: compile: %w", err)
	}
	if plan.Size < 0 {
		return nil, fmt.Errorf("cpu: compile: negative arena size %d", plan.Size)
	}
	if err := b.fits(plan.Size); err != nil {
		return nil, fmt.Errorf("cpu: compile: arena: %w", err)
	}
	p.planPacked()
	p.packed = make([]packedRef, len(g.Nodes))
	p.packedGen = make([]uint64, len(g.Nodes))
	if t == fastTier {
		p.planGroups(plan)
	}
	p.arena = alignedBytes(int(plan.Size))
	p.mem = make([][]byte, len(g.Nodes))
	for i, n := range g.Nodes {
		if p.root[i] != i || p.bindable[i] {
			continue
		}
		off, ok := plan.Offset(n)
		if !ok || off < 0 || off+n.Bytes() > int64(len(p.arena)) {
			return nil, fmt.Errorf("cpu: compile: node %s has no place in the memory plan", n)
		}
		p.mem[i] = p.arena[off : off+n.Bytes() : off+n.Bytes()]
	}
	need, need64 := 0, 0
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			a, b := t.scratch(n)
			need, need64 = max(need, a), max(need64, b)
		}
	}
	if t.shared != nil {
		need := 0
		for _, n := range g.Nodes {
			if !n.Op.IsLeaf() {
				need = max(need, t.shared(n))
			}
		}
		p.shared = alignedBytes(need)
	}
	p.scratch = make([][]float32, b.threads)
	p.scratch64 = make([][]float64, b.threads)
	for i := range p.scratch {
		p.scratch[i] = make([]float32, need)
		p.scratch64[i] = make([]float64, need64)
	}
	p.binds = make([]binding, len(g.Nodes))
	p.tasks = make([]any, len(g.Nodes))
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			p.timings = append(p.timings, backend.OpTiming{Node: n})
		}
	}
	return p, nil
}

// alignedBytes returns n zeroed bytes whose first byte is arenaAlign-aligned.
func alignedBytes(n int) []byte {
	buf := make([]byte, n+arenaAlign)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % arenaAlign); r != 0 {
		skip = arenaAlign - r
	}
	return buf[skip : skip+n : skip+n]
}

// elemSize returns the byte size of one element of a non-quantized dtype.
func elemSize(dt graph.DType) int64 {
	if dt.BlockSize() != 1 {
		return 0
	}
	return int64(dt.BlockBytes())
}

// Bind implements backend.Program.
func (p *program) Bind(n *graph.Node, buf backend.Buffer, off int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("cpu: bind %s: program is %w", n, backend.ErrClosed)
	}
	if err := p.b.usable(); err != nil {
		return fmt.Errorf("cpu: bind %s: %w", n, err)
	}
	i, ok := p.idx[n]
	if !ok {
		return fmt.Errorf("cpu: bind %s: not a node of this program's graph", n)
	}
	if !p.bindable[i] {
		return fmt.Errorf("cpu: bind %s: only leaves and outputs are bound", n)
	}
	h, ok := buf.(*hostBuffer)
	if !ok || h == nil || h.owner != p.b {
		return fmt.Errorf("cpu: bind %s: buffer belongs to another backend", n)
	}
	data, live := h.bytes()
	if !live {
		return fmt.Errorf("cpu: bind %s: buffer is %w (freed)", n, backend.ErrClosed)
	}
	size := n.Bytes()
	if off < 0 || off > int64(len(data)) || size > int64(len(data))-off {
		return fmt.Errorf("cpu: bind %s: %d bytes at offset %d do not fit the %d-byte buffer", n, size, off, len(data))
	}
	if es := elemSize(n.DType); es > 1 && size > 0 {
		if addr := uintptr(unsafe.Pointer(unsafe.SliceData(data))) + uintptr(off); addr%uintptr(es) != 0 {
			return fmt.Errorf("cpu: bind %s: offset %d is not aligned to its %d-byte elements", n, off, es)
		}
	}
	p.binds[i] = binding{buf: h, off: off}
	p.packed[i] = packedRef{}
	return nil
}

// Run implements backend.Program.
func (p *program) Run(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("cpu: run: program is %w", backend.ErrClosed)
	}
	if err := p.b.usable(); err != nil {
		return fmt.Errorf("cpu: run: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := p.resolve(); err != nil {
		return err
	}
	defer p.release()
	if err := p.resolvePacked(); err != nil {
		return err
	}
	p.quantized = quantKey{}
	p.rope.pos = nil
	p.hasTimes = false
	// Node times are read from the cheap cycle counter (one read per node:
	// a node's end is the next one's start) and scaled to the run's wall
	// time, read from the clock twice per run.
	ti := 0
	wall0, c0 := time.Now(), cycles()
	start := c0
	for i, n := range p.g.Nodes {
		if n.Op.IsLeaf() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cpu: run: before %s: %w", n, err)
		}
		if err := p.step(i, n); err != nil {
			return fmt.Errorf("cpu: run: %s: %w", n, err)
		}
		end := cycles()
		p.timings[ti].Seconds = float64(end - start)
		start = end
		ti++
	}
	if c := float64(start - c0); c > 0 {
		scale := time.Since(wall0).Seconds() / c
		for i := range p.timings {
			p.timings[i].Seconds *= scale
		}
	}
	p.hasTimes = true
	return nil
}

// step computes node n (index i): nothing when a later node's group
// computes it, its group when it ends one, its kernel otherwise. A
// group's time is reported as its last node's.
func (p *program) step(i int, n *graph.Node) (err error) {
	if p.deferred != nil && p.deferred[i] {
		return nil
	}
	if g := p.groupAt(i); g != nil {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("internal error: %v", r)
			}
		}()
		if err := p.runGroup(g); err != nil {
			return fmt.Errorf("with the %d nodes deferred to it: %w", len(g.nodes)-1, err)
		}
		return nil
	}
	return p.exec(n)
}

// groupAt returns the group computed at step i, nil for none.
func (p *program) groupAt(i int) *nodeGroup {
	if p.groups == nil {
		return nil
	}
	return p.groups[i]
}

// exec runs n's kernel, turning a panic into an error.
func (p *program) exec(n *graph.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return p.tier.kernels[n.Op](p, n)
}

// resolve points every leaf and output at its bound bytes.
func (p *program) resolve() error {
	for i, n := range p.g.Nodes {
		if !p.bindable[i] {
			continue
		}
		bd := p.binds[i]
		if bd.buf == nil {
			return fmt.Errorf("cpu: run: %s is not bound", n)
		}
		data, live := bd.buf.bytes()
		size := n.Bytes()
		if !live || bd.off+size > int64(len(data)) {
			return fmt.Errorf("cpu: run: the buffer bound to %s is %w (freed)", n, backend.ErrClosed)
		}
		p.mem[i] = data[bd.off : bd.off+size : bd.off+size]
	}
	return nil
}

// release drops references to bound buffers after a run.
func (p *program) release() {
	for i := range p.mem {
		if p.bindable[i] {
			p.mem[i] = nil
		}
	}
}

// Close implements backend.Program. Closing twice, or after the backend
// was closed, is an error wrapping backend.ErrClosed.
func (p *program) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("cpu: close program: program is already %w", backend.ErrClosed)
	}
	p.closed = true
	p.arena, p.mem, p.scratch, p.scratch64, p.shared, p.binds, p.tasks = nil, nil, nil, nil, nil, nil, nil
	return p.b.programClosed()
}

// Timings implements backend.Profiler: the seconds each compute node took
// in the last successful run, in execution order (nil before one).
func (p *program) Timings() []backend.OpTiming {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hasTimes {
		return nil
	}
	return append([]backend.OpTiming(nil), p.timings...)
}

// parallel runs t over [0, n) on the backend's threads (see pool.parallel).
func (p *program) parallel(n, grain int, t task) error {
	return p.b.pool.parallel(n, grain, t)
}

// taskFor returns node n's loop state of type T, made on the node's first
// run and reused by every later one, so that running a compiled program
// allocates nothing. Kernels fill it, run it with parallel and then clear
// it, so that it holds no reference to bound buffers between runs.
func taskFor[T any](p *program, n *graph.Node) *T {
	i := p.index(n)
	if t, ok := p.tasks[i].(*T); ok {
		return t
	}
	t := new(T)
	p.tasks[i] = t
	return t
}

// bytesOf returns the bytes of n's storage from n's first element to the
// end of the storage.
func (p *program) bytesOf(n *graph.Node) []byte {
	i := p.index(n)
	return p.mem[p.root[i]][n.Offset*max(elemSize(n.DType), 1):]
}

// storage returns n's whole storage bytes (n's elements start at n.Offset).
func (p *program) storage(n *graph.Node) []byte { return p.mem[p.root[p.index(n)]] }

// index returns the index in g.Nodes of n, a node of the graph: by its ID
// when that names n (a slice read instead of a map lookup, several per
// node in a run), else from the map (nodes of a graph rewritten by another
// builder may share IDs; the last of them holds the slot).
func (p *program) index(n *graph.Node) int {
	if uint(n.ID) < uint(len(p.byID)) {
		if i := p.byID[n.ID]; i >= 0 && p.g.Nodes[i] == n {
			return int(i)
		}
	}
	return p.idx[n]
}

// f32 returns the elements of contiguous F32 node n.
func (p *program) f32(n *graph.Node) []float32 {
	return asF32(p.bytesOf(n), int(n.Shape.NumElements()))
}

// i32 returns the elements of contiguous I32 node n.
func (p *program) i32(n *graph.Node) []int32 {
	return asI32(p.bytesOf(n), int(n.Shape.NumElements()))
}

// u16 returns the elements of contiguous F16 or BF16 node n.
func (p *program) u16(n *graph.Node) []uint16 {
	return asU16(p.bytesOf(n), int(n.Shape.NumElements()))
}

// scratchFor returns thread slot's float32 scratch.
func (p *program) scratchFor(slot int) []float32 { return p.scratch[slot] }

// scratch64For returns thread slot's float64 scratch.
func (p *program) scratch64For(slot int) []float64 { return p.scratch64[slot] }

func asF32(b []byte, n int) []float32 {
	if n == 0 {
		return nil
	}
	_ = b[4*n-1]
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

func asI32(b []byte, n int) []int32 {
	if n == 0 {
		return nil
	}
	_ = b[4*n-1]
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

func asU16(b []byte, n int) []uint16 {
	if n == 0 {
		return nil
	}
	_ = b[2*n-1]
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), n)
}
