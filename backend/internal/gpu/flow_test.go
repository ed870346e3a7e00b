package gpu

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// This file runs the whole contract of the layer with a tiny host
// "device" whose kernels are Go functions: compile, bind, place every
// argument the way Vulkan does (a binding starts at an aligned offset at or
// below the argument, offset words carry the rest), run, read the status
// region and store timings. The results are checked against values
// computed by hand, so a wrong Place, Layout or Word.Resolve fails it.

// hostBuf is the host device's buffer.
type hostBuf struct{ b []byte }

// hostBinding is what a kernel is given for one argument: the memory from
// the (aligned) binding start on.
type hostBinding []byte

func (h hostBinding) f32(i uint32) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(h[4*i:]))
}
func (h hostBinding) setF32(i uint32, v float32) {
	binary.LittleEndian.PutUint32(h[4*i:], math.Float32bits(v))
}
func (h hostBinding) u32(i uint32) uint32       { return binary.LittleEndian.Uint32(h[4*i:]) }
func (h hostBinding) setU32(i uint32, v uint32) { binary.LittleEndian.PutUint32(h[4*i:], v) }

// hostKernels are the device's kernels: arguments and words as the launch
// functions below push them.
var hostKernels = map[string]func(args []hostBinding, w []uint32){
	// get_rows: table, ids, out, status; words: offsets of table, ids,
	// out, cols, count, rows, slot.
	"get_rows": func(a []hostBinding, w []uint32) {
		cols, count, rows, slot := w[3], w[4], w[5], w[6]
		for i := range count {
			id := int32(a[1].u32(w[1] + i))
			for c := range cols {
				v := float32(0)
				if id >= 0 && uint32(id) < rows {
					v = a[0].f32(w[0] + uint32(id)*cols + c)
				}
				a[2].setF32(w[2]+i*cols+c, v)
			}
			if id < 0 || uint32(id) >= rows { // report_error
				st := a[3]
				n := st.u32(StatusWords * slot)
				st.setU32(StatusWords*slot, n+1)
				if n == 0 {
					st.setU32(StatusWords*slot+1, uint32(id))
					st.setU32(StatusWords*slot+2, i)
				}
			}
		}
	},
	// add: x, y, out, scratch; words: offsets of x, y, out, count. The
	// sum goes through the scratch region.
	"add": func(a []hostBinding, w []uint32) {
		for i := range w[3] {
			a[3].setF32(i, a[0].f32(w[0]+i)+a[1].f32(w[1]+i))
		}
		for i := range w[3] {
			a[2].setF32(w[2]+i, a[3].f32(i))
		}
	},
}

func hostRegistry() *Registry[*testDev] {
	r := NewRegistry[*testDev](Config{Backend: "host", Kernel: "kernel"})
	r.Register(graph.OpGetRows, Variant[*testDev]{Name: "default", Launch: func(c *Compiler[*testDev], n *graph.Node) error {
		table, ids := n.Inputs[0], n.Inputs[1]
		l := c.Launch(n, "get_rows")
		at, ai, ao := l.In(table), l.In(ids), l.Out(n)
		l.Offset(at, 4)
		l.Offset(ai, 4)
		l.Offset(ao, 4)
		l.Int(int64(table.Shape[1]))
		l.Int(ids.Shape.NumElements())
		l.Int(int64(table.Shape[0]))
		l.Status()
		l.Grid1D(1)
		return nil
	}})
	r.Register(graph.OpAdd, Variant[*testDev]{Name: "default", Launch: func(c *Compiler[*testDev], n *graph.Node) error {
		s := c.Scratch(4 * n.Shape.NumElements())
		l := c.Launch(n, "add")
		ax, ay, ao := l.In(n.Inputs[0]), l.In(n.Inputs[1]), l.Out(n)
		l.Scratch(s)
		l.Offset(ax, 4)
		l.Offset(ay, 4)
		l.Offset(ao, 4)
		l.Int(n.Shape.NumElements())
		l.Grid1D(1)
		return nil
	}})
	r.Register(graph.OpView, Variant[*testDev]{Name: "default", Launch: func(*Compiler[*testDev], *graph.Node) error { return nil }})
	return r
}

// hostProgram is the host backend's program.
type hostProgram struct {
	core                   *Program[*hostBuf]
	arena, scratch, status []byte
	bindAlign              int64
	resolvedArgs           [][]hostBinding
	resolvedWords          [][]uint32
	kernels                []func([]hostBinding, []uint32)
}

func (p *hostProgram) memory(pl Place[*hostBuf]) []byte {
	switch pl.In {
	case InBuffer:
		return pl.Buf.b
	case InArena:
		return p.arena
	case InStatus:
		return p.status
	case InScratch:
		return p.scratch
	}
	return nil
}

// resolve does what Vulkan's resolve does: aligned binding starts, skews,
// offset words.
func (p *hostProgram) resolve(t *testing.T) {
	p.resolvedArgs, p.resolvedWords = nil, nil
	for _, l := range p.core.List.Launches {
		var args []hostBinding
		var skew []int64
		for _, a := range l.Args {
			pl, err := p.core.Place(a)
			require.NoError(t, err)
			start := pl.Start / p.bindAlign * p.bindAlign
			mem := p.memory(pl)
			require.LessOrEqual(t, pl.End, int64(len(mem)), "the argument lies inside its memory")
			args = append(args, hostBinding(mem[start:pl.End]))
			skew = append(skew, pl.Target-start)
		}
		var words []uint32
		for _, w := range l.Words {
			v, err := w.Resolve(skew)
			require.NoError(t, err)
			words = append(words, v)
		}
		p.resolvedArgs = append(p.resolvedArgs, args)
		p.resolvedWords = append(p.resolvedWords, words)
	}
}

func (p *hostProgram) run() error {
	clear(p.status)
	for i := range p.core.List.Launches {
		p.kernels[i](p.resolvedArgs[i], p.resolvedWords[i])
	}
	words := make([]uint32, len(p.status)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(p.status[4*i:])
	}
	return p.core.List.CheckStatus(words)
}

func f32Bytes(vs ...float32) []byte {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

func TestProgramFlow(t *testing.T) {
	b := graph.NewBuilder()
	table := b.Weight("table", graph.F32, 4, 3)
	ids := b.Input("ids", graph.I32, 2)
	rows := b.GetRows(table, ids)                             // [2 3], in the arena
	tail := b.View(rows, graph.Shape{1, 3}, []int64{3, 1}, 3) // row 1, 12 bytes into rows
	bias := b.Input("bias", graph.F32, 1, 3)
	g, err := b.Build(b.Add(tail, bias))
	require.NoError(t, err)
	reg := hostRegistry()

	const align = 16
	core, err := Prepare[*hostBuf](g, reg.Validate, align)
	require.NoError(t, err)
	p := &hostProgram{core: core, bindAlign: align}
	list, err := NewCompiler(&testDev{}, g).Compile(reg, graph.OpInvalid, "", func(l *Launch) error {
		k, ok := hostKernels[l.Kernel]
		if !ok {
			return errNoFast
		}
		p.kernels = append(p.kernels, k)
		return nil
	})
	require.NoError(t, err)
	core.SetLaunches(list, align)
	p.arena = make([]byte, core.Plan.Size)
	p.scratch = make([]byte, core.Scratch.Total)
	p.status = make([]byte, list.StatusBytes())
	require.Equal(t, int64(16), list.StatusBytes())

	// Leaves and the output at offsets that are not binding-aligned.
	tb := &hostBuf{b: make([]byte, 8+48)}
	copy(tb.b[8:], f32Bytes(0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32))
	ib := &hostBuf{b: make([]byte, 12)}
	binary.LittleEndian.PutUint32(ib.b[4:], 3)
	binary.LittleEndian.PutUint32(ib.b[8:], 2)
	bb := &hostBuf{b: make([]byte, 4+12)}
	copy(bb.b[4:], f32Bytes(0.5, 0.25, 0.125))
	ob := &hostBuf{b: make([]byte, 12+12)}
	out := g.Outputs[0]
	for _, bd := range []struct {
		n   *graph.Node
		buf *hostBuf
		off int64
	}{{table, tb, 8}, {ids, ib, 4}, {bias, bb, 4}, {out, ob, 12}} {
		require.NoError(t, core.CheckBindable(bd.n))
		require.NoError(t, core.Bind(bd.n, bd.buf, int64(len(bd.buf.b)), bd.off))
	}
	require.NoError(t, core.CheckBound(func(*hostBuf) bool { return true }))

	p.resolve(t)
	require.NoError(t, p.run())
	want := f32Bytes(20.5, 21.25, 22.125) // row of id 2, plus bias
	require.Equal(t, want, ob.b[12:])

	// A bad id is clamped (a zero row) and reported, naming the node.
	binary.LittleEndian.PutUint32(ib.b[8:], uint32(0xfffffff9)) // -7
	require.EqualError(t, p.run(), rows.String()+": id -7 at index 1 is outside the table's rows [0, 4)")
	require.Equal(t, f32Bytes(0.5, 0.25, 0.125), ob.b[12:])

	// Per-node timings from the node ends.
	ends, nodes := list.NodeEnds()
	require.Equal(t, []int{0, 1}, ends)
	core.SetTimings(nodes, []float64{0.25, 0.5})
	ts := core.Timings()
	require.Len(t, ts, 3, "get_rows, view, add")
	require.Equal(t, []float64{0.25, 0, 0.5}, []float64{ts[0].Seconds, ts[1].Seconds, ts[2].Seconds})
}
