package gpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// newLaunch returns a launch of a fresh compiler, for tests of the builder.
func newLaunch(n *graph.Node) *Launch {
	return NewCompiler(&testDev{}, nil).Launch(n, "k")
}

func TestLaunchWords(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 8)
	require.NoError(t, b.Err())
	l := newLaunch(x)
	ax := l.In(x)
	ad := l.Out(x)
	l.U32(7)
	l.I32(-2)
	l.F32(1.5)
	l.Int(1<<32 - 1)
	l.Stride(-3)
	l.Offset(ad, 2)
	require.NoError(t, l.Err())
	require.Equal(t, []Arg{{Kind: ArgNode, Node: x}, {Kind: ArgNode, Node: x, Write: true}}, l.Args)
	require.Equal(t, 0, ax)
	require.Equal(t, []Word{
		{Value: 7},
		{Value: uint32(0xfffffffe)},
		{Value: math.Float32bits(1.5)},
		{Value: 1<<32 - 1},
		{Value: uint32(0xfffffffd)},
		{Kind: WordOffset, Arg: 1, Unit: 2},
	}, l.Words)
}

func TestLaunchErrors(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 8) // 128 bytes
	require.NoError(t, b.Err())
	tests := []struct {
		name string
		do   func(l *Launch)
		want string
	}{
		{"int too large", func(l *Launch) { l.Int(1 << 32) }, "value 4294967296 does not fit a 32-bit push constant"},
		{"negative int", func(l *Launch) { l.Int(-1) }, "value -1 does not fit"},
		{"stride too large", func(l *Launch) { l.Stride(1 << 31) }, "stride 2147483648 does not fit"},
		{"window past the end", func(l *Launch) { l.InRange(x, 64, 129) }, "window [64, 129) outside the 128 bytes of"},
		{"empty window", func(l *Launch) { l.OutRange(x, 8, 8) }, "window [8, 8)"},
		{"offset of a missing argument", func(l *Launch) { l.Offset(0, 4) }, "offset of argument 0 (unit 4) of 0"},
		{"offset unit", func(l *Launch) { l.Offset(l.In(x), 0) }, "offset of argument 0 (unit 0) of 1"},
		{"empty grid", func(l *Launch) { l.Grid1D(0) }, "grid of 0 workgroups"},
		{"grid too large", func(l *Launch) { l.Grid1D(MaxGrid1D*MaxGrid1D + 1) }, "exceeds 4294836225"},
		{"first error kept", func(l *Launch) { l.Int(-5); l.Int(-6) }, "value -5 does not fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLaunch(x)
			tt.do(l)
			require.ErrorContains(t, l.Err(), tt.want)
		})
	}
}

func TestLaunchGrid1D(t *testing.T) {
	tests := []struct {
		groups int64
		want   [3]uint32
	}{
		{1, [3]uint32{1, 1, 1}},
		{65535, [3]uint32{65535, 1, 1}},
		{65536, [3]uint32{65535, 2, 1}},
		{3 * 65535, [3]uint32{65535, 3, 1}},
	}
	for _, tt := range tests {
		l := newLaunch(nil)
		l.Grid1D(tt.groups)
		require.NoError(t, l.Err())
		require.Equal(t, tt.want, l.Groups, "%d groups", tt.groups)
		require.GreaterOrEqual(t, int64(l.Groups[0])*int64(l.Groups[1]), tt.groups)
	}
}

func TestLaunchSpecs(t *testing.T) {
	l := newLaunch(nil)
	require.Equal(t, [3]uint32{1, 1, 1}, l.LocalSize())
	l.Spec(3, 9)
	l.Local(128, 2, 1)
	l.Spec(3, 10) // replaces
	require.Equal(t, [3]uint32{128, 2, 1}, l.LocalSize())
	require.Equal(t, []Spec{{3, 10}, {0, 128}, {1, 2}, {2, 1}}, l.Specs)
}

func TestLaunchCheckShape(t *testing.T) {
	lim := Limits{MaxLocal: [3]uint32{256, 256, 64}, MaxInvocations: 256, MaxGroups: [3]uint32{65535, 65535, 65535}}
	tests := []struct {
		name        string
		local, grid [3]uint32
		want        string
	}{
		{"fits", [3]uint32{256, 1, 1}, [3]uint32{65535, 2, 1}, ""},
		{"local too large", [3]uint32{512, 1, 1}, [3]uint32{1, 1, 1}, "workgroup size [512 1 1] exceeds the device's [256 256 64]"},
		{"too many invocations", [3]uint32{16, 32, 1}, [3]uint32{1, 1, 1}, "workgroup of 512 invocations exceeds the device's 256"},
		{"grid too large", [3]uint32{1, 1, 1}, [3]uint32{1, 1, 65536}, "grid [1 1 65536] exceeds the device's"},
		{"empty grid", [3]uint32{1, 1, 1}, [3]uint32{0, 1, 1}, "(or is empty)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLaunch(nil)
			l.Local(tt.local[0], tt.local[1], tt.local[2])
			l.Grid(tt.grid[0], tt.grid[1], tt.grid[2])
			err := l.CheckShape(lim)
			if tt.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.want)
			}
		})
	}
}

func TestWordResolve(t *testing.T) {
	skew := []int64{0, 12, 6}
	for _, tt := range []struct {
		w    Word
		want uint32
		err  string
	}{
		{Word{Value: 5}, 5, ""},
		{Word{Kind: WordOffset, Arg: 0, Unit: 4}, 0, ""},
		{Word{Kind: WordOffset, Arg: 1, Unit: 4}, 3, ""},
		{Word{Kind: WordOffset, Arg: 1, Unit: 1}, 12, ""},
		{Word{Kind: WordOffset, Arg: 2, Unit: 4}, 0, "argument 2 starts 6 bytes into its binding, not a multiple of 4"},
	} {
		v, err := tt.w.Resolve(skew)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.want, v)
	}
}

func TestSpan(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F16, 4, 6)                    // 48 bytes
	v := b.View(x, graph.Shape{2, 3}, []int64{6, 1}, 7)   // elements 7..15
	p := b.Permute(b.Input("y", graph.F32, 2, 3), 1, 0)   // every element
	q := b.Weight("q", graph.Q8_0, 2, 64)                 // 2 rows of 2 blocks of 34 bytes
	r := b.View(x, graph.Shape{2, 2}, []int64{-6, 1}, 12) // rows 2 and 1: elements 6..13
	require.NoError(t, b.Err())
	for _, tt := range []struct {
		n                 *graph.Node
		first, end, elem0 int64
		bytes             int64
	}{
		{x, 0, 48, 0, 48},
		{v, 14, 32, 14, 18},
		{p, 0, 24, 0, 24},
		{q, 0, 136, 0, 136},
		{r, 12, 28, 24, 16},
	} {
		first, end, elem0 := Span(tt.n)
		require.Equal(t, [3]int64{tt.first, tt.end, tt.elem0}, [3]int64{first, end, elem0}, "%s", tt.n)
		require.Equal(t, tt.bytes, ArgBytes(Arg{Kind: ArgNode, Node: tt.n}))
	}
	require.Equal(t, int64(10), ArgBytes(Arg{Kind: ArgNode, Node: x, Ranged: true, Lo: 6, Hi: 16}))
	require.Equal(t, int64(0), ArgBytes(Arg{Kind: ArgScratch}))
}

func TestPad4(t *testing.T) {
	require.Equal(t, [4]int64{1, 1, 2, 3}, Pad4(graph.Shape{2, 3}))
	require.Equal(t, [4]int64{5, 4, 2, 3}, Pad4(graph.Shape{5, 4, 2, 3}))
	require.Equal(t, [4]int64{0, 0, 3, 1}, Pad4Strides([]int64{3, 1}))
	require.Equal(t, [4]int64{1, 1, 1, 1}, Pad4(nil))
}
