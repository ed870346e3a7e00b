//go:build cgo

package vulkan

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/graph"
)

// This file is the Go half of the kernel contract (docs/vulkan.md): the op
// registry, the compiler and the launch builder that ops_*.go files use.

// variant is one implementation of an op.
type variant struct {
	// name identifies the variant ("default", "flash", "split_kv").
	name string
	// available reports whether the device can run the variant at all (a
	// missing feature); nil means every device.
	available func(d *deviceInfo) error
	// supports reports whether the variant can compute n on the device; nil
	// means every node the generic checks accept.
	supports func(d *deviceInfo, n *graph.Node) error
	// launch adds n's dispatches to the program being compiled.
	launch func(c *compiler, n *graph.Node) error
}

// ops is the op registry, filled by the init functions of ops_*.go.
var ops = map[graph.Op][]variant{}

// registerOp adds variants of op; the first variant ever registered for an
// op is its default. It panics on a duplicate name (a programming error
// found by every test run).
func registerOp(op graph.Op, vs ...variant) {
	for _, v := range vs {
		for _, have := range ops[op] {
			if have.name == v.name {
				panic(fmt.Sprintf("vulkan: variant %q of %s registered twice", v.name, op))
			}
		}
		if v.launch == nil {
			panic(fmt.Sprintf("vulkan: variant %q of %s has no launch", v.name, op))
		}
		ops[op] = append(ops[op], v)
	}
}

// findVariant returns op's variant by name ("" is the default).
func findVariant(op graph.Op, name string) (variant, bool) {
	vs := ops[op]
	if len(vs) == 0 {
		return variant{}, false
	}
	if name == "" {
		return vs[0], true
	}
	for _, v := range vs {
		if v.name == name {
			return v, true
		}
	}
	return variant{}, false
}

// check runs v's availability and support checks for n.
func (v variant) check(d *deviceInfo, n *graph.Node) error {
	if v.available != nil {
		if err := v.available(d); err != nil {
			return err
		}
	}
	if v.supports != nil {
		return v.supports(d, n)
	}
	return nil
}

// argKind says what an argument binds.
type argKind uint8

const (
	argNode    argKind = iota // a node's bytes (or a window of them)
	argStatus                 // the program's status buffer
	argScratch                // a scratch region of the program
	argConst                  // a constant region of the program
)

// arg is one binding of a dispatch.
type arg struct {
	kind   argKind
	node   *graph.Node
	ranged bool  // a window [lo, hi) of bytes from the node's element 0
	lo, hi int64 // the window
	region int   // scratch or constant region index
}

// wordKind says what a push-constant word holds.
type wordKind uint8

const (
	wordValue  wordKind = iota // a constant
	wordOffset                 // an argument's offset inside its binding, in units
)

// word is one 32-bit push constant.
type word struct {
	kind wordKind
	v    uint32
	arg  int
	unit int64
}

// spec is one specialization constant.
type spec struct{ id, v uint32 }

// launch is one dispatch being described by an op's launch function.
type launch struct {
	c      *compiler
	node   *graph.Node
	shader string
	args   []arg
	words  []word
	specs  []spec
	grid   [3]uint32
	err    error
	pipe   *pipeline
}

// fail records the first error of the launch.
func (l *launch) fail(format string, a ...any) {
	if l.err == nil {
		l.err = fmt.Errorf(format, a...)
	}
}

// In binds the whole of node n (every element it addresses, views included)
// as the next argument and returns its index.
func (l *launch) In(n *graph.Node) int {
	l.args = append(l.args, arg{kind: argNode, node: n})
	return len(l.args) - 1
}

// Out binds the output node n; it is In, named for the reader.
func (l *launch) Out(n *graph.Node) int { return l.In(n) }

// InRange binds bytes [lo, hi) of contiguous node n, counted from its
// element 0, and returns the argument index. Offset then locates byte lo.
func (l *launch) InRange(n *graph.Node, lo, hi int64) int {
	if lo < 0 || hi <= lo || hi > n.Bytes() {
		l.fail("window [%d, %d) outside the %d bytes of %s", lo, hi, n.Bytes(), n)
	}
	l.args = append(l.args, arg{kind: argNode, node: n, ranged: true, lo: lo, hi: hi})
	return len(l.args) - 1
}

// OutRange binds a window of an output; it is InRange, named for the reader.
func (l *launch) OutRange(n *graph.Node, lo, hi int64) int { return l.InRange(n, lo, hi) }

// Status binds the program's status buffer as the next argument and pushes
// the node's status slot as one uint (see report_error in common.glsl).
func (l *launch) Status() int {
	l.args = append(l.args, arg{kind: argStatus})
	l.U32(uint32(l.c.slot(l.node)))
	return len(l.args) - 1
}

// Scratch binds scratch region s (from compiler.scratch) as the next argument.
func (l *launch) Scratch(s int) int {
	l.args = append(l.args, arg{kind: argScratch, region: s})
	return len(l.args) - 1
}

// Const binds constant region k (from compiler.constants) as the next argument.
func (l *launch) Const(k int) int {
	l.args = append(l.args, arg{kind: argConst, region: k})
	return len(l.args) - 1
}

// U32 pushes a uint.
func (l *launch) U32(v uint32) { l.words = append(l.words, word{v: v}) }

// I32 pushes an int.
func (l *launch) I32(v int32) { l.U32(uint32(v)) }

// F32 pushes a float.
func (l *launch) F32(v float32) { l.U32(f32bits(v)) }

// Int pushes a non-negative Go int as a uint, failing when it does not fit.
func (l *launch) Int(v int64) {
	if v < 0 || v > 1<<32-1 {
		l.fail("value %d does not fit a 32-bit push constant", v)
	}
	l.U32(uint32(v))
}

// Stride pushes an element stride as an int, failing when it does not fit.
func (l *launch) Stride(v int64) {
	if v < -(1<<31) || v > 1<<31-1 {
		l.fail("stride %d does not fit a 32-bit push constant", v)
	}
	l.I32(int32(v))
}

// Offset pushes argument a's offset inside its binding divided by unit:
// the position of the node's element 0 (of the window's first byte for
// ranged arguments). Scratch, constant and status arguments have offset 0.
func (l *launch) Offset(a int, unit int64) {
	if a < 0 || a >= len(l.args) || unit <= 0 {
		l.fail("offset of argument %d (unit %d) of %d", a, unit, len(l.args))
	}
	l.words = append(l.words, word{kind: wordOffset, arg: a, unit: unit})
}

// Local sets the workgroup size (specialization constants 0, 1, 2).
func (l *launch) Local(x, y, z uint32) {
	l.Spec(0, x)
	l.Spec(1, y)
	l.Spec(2, z)
}

// Spec sets specialization constant id.
func (l *launch) Spec(id, v uint32) {
	for i := range l.specs {
		if l.specs[i].id == id {
			l.specs[i].v = v
			return
		}
	}
	l.specs = append(l.specs, spec{id, v})
}

// Grid sets the number of workgroups in each dimension.
func (l *launch) Grid(x, y, z uint32) { l.grid = [3]uint32{x, y, z} }

// Grid1D sets a 1-D grid of groups workgroups, folded into x·y with x ≤
// 65535 (shaders compute the group index as GROUP_ID() in common.glsl).
func (l *launch) Grid1D(groups int64) {
	if groups <= 0 {
		l.fail("grid of %d workgroups", groups)
		return
	}
	const maxX = 65535
	x := min(groups, maxX)
	y := (groups + x - 1) / x
	if y > maxX {
		l.fail("grid of %d workgroups exceeds %d", groups, int64(maxX)*maxX)
		return
	}
	l.Grid(uint32(x), uint32(y), 1)
}

// local returns the workgroup size set by Local (1 for unset dimensions).
func (l *launch) local() [3]uint32 {
	out := [3]uint32{1, 1, 1}
	for _, s := range l.specs {
		if s.id < 3 {
			out[s.id] = s.v
		}
	}
	return out
}

// groups returns ⌈n / per⌉.
func groups(n, per int64) int64 { return (n + per - 1) / per }

// compiler turns a graph into launches.
type compiler struct {
	b        *vkBackend
	dev      *deviceInfo
	g        *graph.Graph
	launches []*launch
	slots    map[*graph.Node]int
	slotList []*graph.Node
	scratchs []int64
	consts   [][]byte
}

// dispatch starts a dispatch of shader (kernels/vulkan/<shader>.spv) for n.
func (c *compiler) dispatch(n *graph.Node, shader string) *launch {
	l := &launch{c: c, node: n, shader: shader}
	c.launches = append(c.launches, l)
	return l
}

// slot returns n's status slot, assigning one on first use.
func (c *compiler) slot(n *graph.Node) int {
	if s, ok := c.slots[n]; ok {
		return s
	}
	s := len(c.slotList)
	c.slots[n] = s
	c.slotList = append(c.slotList, n)
	return s
}

// scratch reserves bytes of device scratch for the program and returns its
// region index (bind it with launch.Scratch). Its content is undefined at
// the start of every run.
func (c *compiler) scratch(bytes int64) int {
	c.scratchs = append(c.scratchs, max(bytes, 4))
	return len(c.scratchs) - 1
}

// constants stores data in a read-only device region uploaded once at
// compile time and returns its index (bind it with launch.Const).
func (c *compiler) constants(data []byte) int {
	c.consts = append(c.consts, append([]byte(nil), data...))
	return len(c.consts) - 1
}

// maxWindow is the largest byte window a binding can take whatever its
// start: maxStorageBufferRange less the alignment slack.
func (c *compiler) maxWindow() int64 {
	r := c.dev.Limits.MaxStorageBufferRange
	a := max(c.dev.Limits.MinOffsetAlignment, 4)
	if r > 1<<40 {
		r = 1 << 40
	}
	if r <= a+4 {
		return 0
	}
	return int64(r - a - 4)
}

// rowChunks splits rows rows of rowBytes bytes each into ranges [lo, hi)
// whose windows fit in one binding.
func (c *compiler) rowChunks(rows int, rowBytes int64) ([][2]int, error) {
	if rowBytes <= 0 || rows <= 0 {
		return nil, fmt.Errorf("%d rows of %d bytes", rows, rowBytes)
	}
	per := c.maxWindow() / rowBytes
	if per == 0 {
		return nil, fmt.Errorf("a row of %d bytes exceeds the device's maxStorageBufferRange %d", rowBytes, c.dev.Limits.MaxStorageBufferRange)
	}
	var out [][2]int
	for lo := 0; lo < rows; lo += int(per) {
		out = append(out, [2]int{lo, min(rows, lo+int(per))})
	}
	return out, nil
}

// compileLaunches runs every node's launch (variant chosen for op) and
// checks the results against the device limits.
func (c *compiler) compileLaunches(op graph.Op, name string) error {
	for _, n := range c.g.Nodes {
		if n.Op.IsLeaf() {
			continue
		}
		vname := ""
		if n.Op == op {
			vname = name
		}
		v, ok := findVariant(n.Op, vname)
		if !ok {
			if vname != "" {
				return fmt.Errorf("vulkan: compile: node %s: op %s has no variant %q", n, n.Op, vname)
			}
			return fmt.Errorf("vulkan: compile: node %s: op %s is not supported by the vulkan backend", n, n.Op)
		}
		if err := v.check(c.dev, n); err != nil {
			return fmt.Errorf("vulkan: compile: node %s: %s: %w", n, variantLabel(n.Op, v.name), err)
		}
		first := len(c.launches)
		if err := v.launch(c, n); err != nil {
			return fmt.Errorf("vulkan: compile: node %s: %w", n, err)
		}
		for _, l := range c.launches[first:] {
			if err := c.finish(l); err != nil {
				return fmt.Errorf("vulkan: compile: node %s: shader %s: %w", n, l.shader, err)
			}
		}
	}
	return nil
}

// variantLabel names a variant for messages.
func variantLabel(op graph.Op, name string) string {
	return op.String() + " variant " + strconv.Quote(name)
}

// finish checks a launch against the device and creates its pipeline.
func (c *compiler) finish(l *launch) error {
	if l.err != nil {
		return l.err
	}
	lim := c.dev.Limits
	if len(l.words) > 32 || uint32(4*len(l.words)) > lim.MaxPushConstants {
		return fmt.Errorf("%d push-constant words exceed the limit of %d bytes", len(l.words), min(128, lim.MaxPushConstants))
	}
	loc := l.local()
	inv := uint64(1)
	for i, v := range loc {
		if v == 0 || v > lim.MaxWorkgroupSize[i] {
			return fmt.Errorf("workgroup size %v exceeds the device's %v", loc, lim.MaxWorkgroupSize)
		}
		inv *= uint64(v)
	}
	if inv > uint64(lim.MaxInvocations) {
		return fmt.Errorf("workgroup of %d invocations exceeds the device's %d", inv, lim.MaxInvocations)
	}
	for i, v := range l.grid {
		if v == 0 || v > lim.MaxWorkgroupCount[i] {
			return fmt.Errorf("grid %v exceeds the device's %v (or is empty)", l.grid, lim.MaxWorkgroupCount)
		}
	}
	mw := c.maxWindow()
	for i, a := range l.args {
		if a.kind != argNode {
			continue
		}
		first, end, _ := span(a.node)
		size := end - first
		if a.ranged {
			size = a.hi - a.lo
		}
		if size > mw {
			return fmt.Errorf("argument %d (%s) spans %d bytes, more than the device's maxStorageBufferRange %d allows in one binding; the op must split it",
				i, a.node, size, lim.MaxStorageBufferRange)
		}
	}
	p, err := c.b.pipeline(l.shader, len(l.args), 4*len(l.words), l.specs)
	if err != nil {
		return err
	}
	l.pipe = p
	return nil
}

// span returns the bytes node n addresses in its storage: [first, end),
// and the byte position of its element 0, all from the storage's start.
func span(n *graph.Node) (first, end, elem0 int64) {
	if n.DType.IsQuantized() {
		return 0, n.Bytes(), 0
	}
	es := int64(n.DType.BlockBytes())
	lo, hi := extent(n)
	return lo * es, (hi + 1) * es, n.Offset * es
}

// pipelineKey identifies a cached pipeline.
func pipelineKey(shader string, bindings, pushBytes int, specs []spec) string {
	s := append([]spec(nil), specs...)
	sort.Slice(s, func(i, j int) bool { return s[i].id < s[j].id })
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d/%d", shader, bindings, pushBytes)
	for _, x := range s {
		fmt.Fprintf(&b, "/%d=%d", x.id, x.v)
	}
	return b.String()
}

// errNoShader is returned for a shader name with no embedded SPIR-V.
var errNoShader = errors.New("no such shader")
