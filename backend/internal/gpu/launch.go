package gpu

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
)

// ArgKind says what an argument of a launch binds.
type ArgKind uint8

const (
	// ArgNode is a node's bytes, or a window of them (Arg.Ranged).
	ArgNode ArgKind = iota
	// ArgStatus is the program's status region (see LaunchList.CheckStatus).
	ArgStatus
	// ArgScratch is a scratch region of the program (Compiler.Scratch).
	ArgScratch
	// ArgConst is a constant region of the program (Compiler.Constants).
	ArgConst
)

// Arg is one argument of a launch: a tensor, a window of a tensor or a
// program region. Kernels see their arguments in the order the launch
// added them.
type Arg struct {
	Kind ArgKind
	// Node is the tensor of an ArgNode argument.
	Node *graph.Node
	// Ranged marks a window: bytes [Lo, Hi) counted from Node's element 0
	// (contiguous nodes only). Otherwise the argument is every element
	// Node addresses, views included (see Span).
	Ranged bool
	Lo, Hi int64
	// Region is the index of an ArgScratch or ArgConst region.
	Region int
	// Write marks an argument the kernel writes (Out, OutRange); see
	// Writes for program regions.
	Write bool
}

// WordKind says what a parameter word holds.
type WordKind uint8

const (
	// WordValue is a constant.
	WordValue WordKind = iota
	// WordOffset is an argument's offset inside what the kernel is given
	// for it, in units: known only when the program is bound (see
	// Word.Resolve).
	WordOffset
)

// Word is one 32-bit parameter of a launch (a Vulkan push constant, a
// CUDA kernel parameter).
type Word struct {
	Kind WordKind
	// Value is the word of a WordValue.
	Value uint32
	// Arg and Unit define a WordOffset: the offset of argument Arg divided
	// by Unit bytes.
	Arg  int
	Unit int64
}

// Resolve returns the word's value. skew[k] is, in bytes, how far into
// what the kernel is given for argument k (a Vulkan binding that starts at
// an aligned offset; a pointer) the argument's index 0 lies (see
// Place.Target). A skew that is not a whole number of units is an error.
func (w Word) Resolve(skew []int64) (uint32, error) {
	if w.Kind != WordOffset {
		return w.Value, nil
	}
	d := skew[w.Arg]
	if d%w.Unit != 0 {
		return 0, fmt.Errorf("argument %d starts %d bytes into its binding, not a multiple of %d (bind it at an aligned offset)",
			w.Arg, d, w.Unit)
	}
	return uint32(d / w.Unit), nil
}

// Spec is a kernel constant fixed when the backend makes the kernel object
// (a Vulkan specialization constant). IDs 0, 1 and 2 hold the workgroup
// size (Launch.Local); a backend without such constants takes the
// workgroup size from Launch.LocalSize and must refuse other IDs it cannot
// honour in its finish function.
type Spec struct{ ID, Value uint32 }

// Launch is one kernel launch of a node, described by the node's launch
// function through its methods. The first error (a value that does not
// fit, a window outside the tensor) is kept in Err, and later calls still
// record, so that launch functions read straight.
type Launch struct {
	// Node is the node the launch computes (or part of it).
	Node *graph.Node
	// Kernel names the kernel (kernels/vulkan/<Kernel>.spv).
	Kernel string
	// Args are the arguments in binding order.
	Args []Arg
	// Words are the parameter words in order.
	Words []Word
	// Specs are the kernel constants, the workgroup size included.
	Specs []Spec
	// Groups is the number of workgroups in each dimension (Grid).
	Groups [3]uint32

	err  error
	list *LaunchList
	// statusWord is 1 + the index in Words of the status slot word
	// (Status), 0 without one.
	statusWord int
}

// Err returns the first error of the launch description.
func (l *Launch) Err() error { return l.err }

// Fail records an error for the launch unless it already has one.
func (l *Launch) Fail(format string, a ...any) {
	if l.err == nil {
		l.err = fmt.Errorf(format, a...)
	}
}

// In binds the whole of node n (every element it addresses, views
// included) as the next argument and returns its index.
func (l *Launch) In(n *graph.Node) int {
	l.Args = append(l.Args, Arg{Kind: ArgNode, Node: n})
	return len(l.Args) - 1
}

// Out binds the output node n (every element it addresses) as the next
// argument, which the kernel writes, and returns its index.
func (l *Launch) Out(n *graph.Node) int {
	a := l.In(n)
	l.Args[a].Write = true
	return a
}

// InRange binds bytes [lo, hi) of contiguous node n, counted from its
// element 0, and returns the argument index. Offset then locates byte lo.
func (l *Launch) InRange(n *graph.Node, lo, hi int64) int {
	if lo < 0 || hi <= lo || hi > n.Bytes() {
		l.Fail("window [%d, %d) outside the %d bytes of %s", lo, hi, n.Bytes(), n)
	}
	l.Args = append(l.Args, Arg{Kind: ArgNode, Node: n, Ranged: true, Lo: lo, Hi: hi})
	return len(l.Args) - 1
}

// OutRange binds a window of an output, which the kernel writes; it is
// InRange otherwise.
func (l *Launch) OutRange(n *graph.Node, lo, hi int64) int {
	a := l.InRange(n, lo, hi)
	l.Args[a].Write = true
	return a
}

// Status binds the program's status region as the next argument and
// pushes the node's status slot as one word (see LaunchList.CheckStatus
// for the layout a kernel writes).
func (l *Launch) Status() int {
	l.Args = append(l.Args, Arg{Kind: ArgStatus})
	l.U32(uint32(l.list.slot(l.Node)))
	l.statusWord = len(l.Words)
	return len(l.Args) - 1
}

// StatusWord returns the index in Words of the word Status pushed (the
// node's status slot), and false when the launch has no status argument. A
// backend that binds each launch only its own slot rewrites that word.
func (l *Launch) StatusWord() (int, bool) { return l.statusWord - 1, l.statusWord > 0 }

// Scratch binds scratch region s (from Compiler.Scratch) as the next
// argument.
func (l *Launch) Scratch(s int) int {
	l.Args = append(l.Args, Arg{Kind: ArgScratch, Region: s})
	return len(l.Args) - 1
}

// Const binds constant region k (from Compiler.Constants) as the next
// argument.
func (l *Launch) Const(k int) int {
	l.Args = append(l.Args, Arg{Kind: ArgConst, Region: k})
	return len(l.Args) - 1
}

// U32 pushes a uint.
func (l *Launch) U32(v uint32) { l.Words = append(l.Words, Word{Value: v}) }

// I32 pushes an int.
func (l *Launch) I32(v int32) { l.U32(uint32(v)) }

// F32 pushes a float.
func (l *Launch) F32(v float32) { l.U32(math.Float32bits(v)) }

// Int pushes a non-negative Go integer as a uint, failing when it does not
// fit.
func (l *Launch) Int(v int64) {
	if v < 0 || v > 1<<32-1 {
		l.Fail("value %d does not fit a 32-bit push constant", v)
	}
	l.U32(uint32(v))
}

// Stride pushes an element stride as an int, failing when it does not fit.
func (l *Launch) Stride(v int64) {
	if v < -(1<<31) || v > 1<<31-1 {
		l.Fail("stride %d does not fit a 32-bit push constant", v)
	}
	l.I32(int32(v))
}

// Offset pushes argument a's offset inside its binding divided by unit:
// the position of the node's element 0 (of the window's first byte for
// ranged arguments). Scratch, constant and status arguments have offset 0.
func (l *Launch) Offset(a int, unit int64) {
	if a < 0 || a >= len(l.Args) || unit <= 0 {
		l.Fail("offset of argument %d (unit %d) of %d", a, unit, len(l.Args))
	}
	l.Words = append(l.Words, Word{Kind: WordOffset, Arg: a, Unit: unit})
}

// Local sets the workgroup size (constants 0, 1, 2).
func (l *Launch) Local(x, y, z uint32) {
	l.Spec(0, x)
	l.Spec(1, y)
	l.Spec(2, z)
}

// Spec sets kernel constant id.
func (l *Launch) Spec(id, v uint32) {
	for i := range l.Specs {
		if l.Specs[i].ID == id {
			l.Specs[i].Value = v
			return
		}
	}
	l.Specs = append(l.Specs, Spec{id, v})
}

// LocalSize returns the workgroup size set by Local (1 for unset
// dimensions).
func (l *Launch) LocalSize() [3]uint32 {
	out := [3]uint32{1, 1, 1}
	for _, s := range l.Specs {
		if s.ID < 3 {
			out[s.ID] = s.Value
		}
	}
	return out
}

// Grid sets the number of workgroups in each dimension.
func (l *Launch) Grid(x, y, z uint32) { l.Groups = [3]uint32{x, y, z} }

// MaxGrid1D is the largest x (and y) of a folded 1-D grid: the Vulkan
// minimum of maxComputeWorkGroupCount, and CUDA's limit in y.
const MaxGrid1D = 65535

// Grid1D sets a 1-D grid of groups workgroups, folded into x·y with x ≤
// MaxGrid1D. Kernels compute their flat group index as y·(groups in x) + x
// (GROUP_ID() in kernels/vulkan/include/common.glsl) and bounds-check,
// since x·y may exceed groups.
func (l *Launch) Grid1D(groups int64) {
	if groups <= 0 {
		l.Fail("grid of %d workgroups", groups)
		return
	}
	x := min(groups, MaxGrid1D)
	y := (groups + x - 1) / x
	if y > MaxGrid1D {
		l.Fail("grid of %d workgroups exceeds %d", groups, int64(MaxGrid1D)*MaxGrid1D)
		return
	}
	l.Grid(uint32(x), uint32(y), 1)
}

// Limits are the device limits CheckShape applies.
type Limits struct {
	// MaxLocal is the largest workgroup size in each dimension.
	MaxLocal [3]uint32
	// MaxInvocations bounds the product of the workgroup size.
	MaxInvocations uint32
	// MaxGroups is the largest number of workgroups in each dimension.
	MaxGroups [3]uint32
}

// CheckShape checks the launch's workgroup size and grid against lim.
func (l *Launch) CheckShape(lim Limits) error {
	loc := l.LocalSize()
	inv := uint64(1)
	for i, v := range loc {
		if v == 0 || v > lim.MaxLocal[i] {
			return fmt.Errorf("workgroup size %v exceeds the device's %v", loc, lim.MaxLocal)
		}
		inv *= uint64(v)
	}
	if inv > uint64(lim.MaxInvocations) {
		return fmt.Errorf("workgroup of %d invocations exceeds the device's %d", inv, lim.MaxInvocations)
	}
	for i, v := range l.Groups {
		if v == 0 || v > lim.MaxGroups[i] {
			return fmt.Errorf("grid %v exceeds the device's %v (or is empty)", l.Groups, lim.MaxGroups)
		}
	}
	return nil
}

// Span returns the bytes node n addresses in its storage: [first, end),
// and the byte position of its element 0, all counted from the start of
// the storage node (n.Storage()). Quantized nodes are contiguous at offset
// 0 and span all their bytes.
func Span(n *graph.Node) (first, end, elem0 int64) {
	if n.DType.IsQuantized() {
		return 0, n.Bytes(), 0
	}
	es := int64(n.DType.BlockBytes())
	lo, hi := n.Extent()
	return lo * es, (hi + 1) * es, n.Offset * es
}

// ArgBytes returns how many bytes argument a spans when it is a node or a
// window of one (0 for program regions).
func ArgBytes(a Arg) int64 {
	if a.Kind != ArgNode {
		return 0
	}
	if a.Ranged {
		return a.Hi - a.Lo
	}
	first, end, _ := Span(a.Node)
	return end - first
}

// Pad4 returns shape's dims left-padded with 1 to rank 4, the layout
// kernels take shapes in.
func Pad4(shape graph.Shape) [4]int64 {
	out := [4]int64{1, 1, 1, 1}
	for i, d := range shape {
		out[4-len(shape)+i] = int64(d)
	}
	return out
}

// Pad4Strides returns strides left-padded with 0 to rank 4.
func Pad4Strides(strides []int64) [4]int64 {
	var out [4]int64
	copy(out[4-len(strides):], strides)
	return out
}
