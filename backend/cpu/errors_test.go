package cpu_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
)

func TestProbeAndOpen(t *testing.T) {
	var devs []string
	for _, st := range backend.Probe() {
		if st.Info.Backend == "cpu" {
			devs = append(devs, st.Device)
			require.True(t, st.Available, st.Device)
			require.NotEmpty(t, st.Info.Name)
			require.NotEmpty(t, st.Info.Caps)
		}
	}
	require.Equal(t, []string{"cpu", "cpu:ref"}, devs)
	for dev, name := range map[string]string{"cpu": "cpu", "cpu:0": "cpu", "cpu:fast": "cpu", "cpu:ref": "cpu:ref"} {
		be := open(t, dev, 2)
		require.Equal(t, name, be.Name(), dev)
		require.Equal(t, "cpu", be.Device().Backend)
	}
	require.Contains(t, open(t, "cpu", 2).Device().Caps, "2 threads")
	require.Contains(t, open(t, "cpu:ref", 0).Device().Caps, "float64")
	_, err := backend.Open("cpu:gpu", backend.Options{})
	require.ErrorIs(t, err, backend.ErrNoDevice)
	require.ErrorContains(t, err, `cpu: no such device "gpu"`)
}

func TestDeviceTypes(t *testing.T) {
	types := map[string]backend.DeviceType{}
	var cpuOnly []backend.Status
	for _, st := range backend.Probe() {
		if st.Info.Backend == "cpu" {
			types[st.Device] = st.Info.Type
			cpuOnly = append(cpuOnly, st)
		}
	}
	require.Equal(t, map[string]backend.DeviceType{"cpu": backend.DeviceCPU, "cpu:ref": backend.DeviceReference}, types)
	require.Equal(t, []int{1, 0}, backend.Rank(cpuOnly), "auto never takes the reference")
	require.Equal(t, backend.DeviceCPU, open(t, "cpu", 1).Device().Type)
	require.Equal(t, backend.DeviceReference, open(t, "cpu:ref", 1).Device().Type)
}

func TestBuffers(t *testing.T) {
	be := open(t, "cpu", 1)
	buf, err := be.Alloc(8)
	require.NoError(t, err)
	require.Equal(t, int64(8), buf.Size())
	got := make([]byte, 8)
	require.NoError(t, buf.Read(0, got))
	require.Equal(t, make([]byte, 8), got, "zero filled")
	require.NoError(t, buf.Write(6, []byte{1, 2}))
	require.Error(t, buf.Write(7, []byte{1, 2}))
	require.Error(t, buf.Read(-1, got[:1]))
	require.Error(t, buf.Read(1, got))
	require.NoError(t, buf.Free())
	require.ErrorIs(t, buf.Read(0, got[:1]), backend.ErrClosed)
	require.ErrorIs(t, buf.Write(0, got[:1]), backend.ErrClosed)
	require.ErrorIs(t, buf.Free(), backend.ErrClosed, "a second Free")
	require.Equal(t, int64(8), buf.Size(), "Size keeps its value")
	_, err = be.Alloc(-1)
	require.Error(t, err)

	hw, ok := be.(backend.HostWrapper)
	require.True(t, ok)
	host := []byte{1, 2, 3, 4}
	wb, err := hw.WrapHost(host)
	require.NoError(t, err)
	require.NoError(t, wb.Write(1, []byte{9}))
	require.Equal(t, []byte{1, 9, 3, 4}, host, "writes go to the wrapped bytes")
	host[3] = 7
	require.NoError(t, wb.Read(0, got[:4]))
	require.Equal(t, []byte{1, 9, 3, 7}, got[:4], "reads see the wrapped bytes")
	require.NoError(t, wb.Free())
	require.Equal(t, []byte{1, 9, 3, 7}, host, "freeing leaves the wrapped bytes to their owner")
}

// smallGraph is x [2 4] → get_rows-free pipeline used by the error tests.
func smallGraph(t *testing.T) (*graph.Graph, *graph.Node, *graph.Node) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 4)
	w := b.Weight("w", graph.F32, 3, 4)
	y := b.MatMul(b.RMSNorm(x, 1e-5), w)
	g, err := b.Build(y)
	require.NoError(t, err)
	return g, x, w
}

func TestRunErrors(t *testing.T) {
	t.Run("unbound", func(t *testing.T) {
		be := open(t, "cpu", 1)
		g, x, _ := smallGraph(t)
		prog, err := be.Compile(g)
		require.NoError(t, err)
		defer prog.Close()
		buf, err := be.Alloc(x.Bytes())
		require.NoError(t, err)
		defer buf.Free()
		require.NoError(t, prog.Bind(x, buf, 0))
		err = prog.Run(context.Background())
		require.ErrorContains(t, err, `"w"`)
		require.ErrorContains(t, err, "not bound")
	})
	t.Run("bind", func(t *testing.T) {
		be := open(t, "cpu", 1)
		other := open(t, "cpu", 1)
		g, x, _ := smallGraph(t)
		prog, err := be.Compile(g)
		require.NoError(t, err)
		defer prog.Close()
		foreign, err := other.Alloc(64)
		require.NoError(t, err)
		defer foreign.Free()
		require.ErrorContains(t, prog.Bind(x, foreign, 0), "another backend")
		small, err := be.Alloc(x.Bytes() - 1)
		require.NoError(t, err)
		defer small.Free()
		require.ErrorContains(t, prog.Bind(x, small, 0), `"x"`)
		big, err := be.Alloc(64)
		require.NoError(t, err)
		defer big.Free()
		require.Error(t, prog.Bind(x, big, 40), "range past the end")
		require.Error(t, prog.Bind(x, big, -4))
		require.ErrorContains(t, prog.Bind(x, big, 2), "aligned")
		inner := g.Outputs[0].Inputs[0] // the rms_norm intermediate
		require.ErrorContains(t, prog.Bind(inner, big, 0), "rms_norm")
		g2, x2, _ := smallGraph(t)
		_ = g2
		require.ErrorContains(t, prog.Bind(x2, big, 0), "not a node")
	})
	t.Run("cancelled", func(t *testing.T) {
		be := open(t, "cpu", 1)
		g, _, _ := smallGraph(t)
		p := prepare(t, be, g, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := p.prog.Run(ctx)
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	})
	t.Run("closed", func(t *testing.T) {
		be := open(t, "cpu", 1)
		g, _, _ := smallGraph(t)
		prog, err := be.Compile(g)
		require.NoError(t, err)
		require.NoError(t, prog.Close())
		require.Error(t, prog.Run(context.Background()))
	})
	for _, dev := range []string{"cpu", "cpu:ref"} {
		t.Run("id-out-of-range/"+dev, func(t *testing.T) {
			b := graph.NewBuilder()
			emb := b.Weight("emb", graph.F32, 4, 2)
			rows := b.GetRows(emb, b.Input("ids", graph.I32, 2))
			b.SetName(rows, "embed")
			g, err := b.Build(rows)
			require.NoError(t, err)
			p := prepare(t, open(t, dev, 2), g, map[string][]byte{"ids": i32s(1, 4)})
			err = p.prog.Run(context.Background())
			require.ErrorContains(t, err, `"embed"`)
			require.ErrorContains(t, err, "id 4")
			p.set("ids", i32s(-1, 0))
			require.ErrorContains(t, p.prog.Run(context.Background()), "id -1")
			p.set("ids", i32s(3, 0))
			p.run()
		})
		t.Run("position-out-of-range/"+dev, func(t *testing.T) {
			b := graph.NewBuilder()
			cache := b.State("cache", graph.F16, 4, 2)
			w := b.KVWrite(cache, b.Input("k", graph.F32, 1, 2), b.Input("pos", graph.I32, 1))
			b.SetName(w, "kv")
			y := b.Copy(w, graph.F32)
			g, err := b.Build(y)
			require.NoError(t, err)
			p := prepare(t, open(t, dev, 2), g, map[string][]byte{"pos": i32s(4)})
			err = p.prog.Run(context.Background())
			require.ErrorContains(t, err, `"kv"`)
			require.ErrorContains(t, err, "position 4")
		})
	}
}

func TestCompileErrors(t *testing.T) {
	be := open(t, "cpu", 1)
	x := &graph.Node{ID: 0, Op: graph.OpInput, Name: "x", Shape: graph.Shape{2}, Strides: []int64{1}, DType: graph.F32}
	cases := []struct {
		name string
		node *graph.Node
		want string
	}{
		{"invalid-op", &graph.Node{ID: 1, Op: graph.OpInvalid, Name: "bogus", Inputs: []*graph.Node{x}, Shape: graph.Shape{2}, Strides: []int64{1}}, "bogus"},
		{"bad-dtype", &graph.Node{ID: 1, Op: graph.OpSiLU, Name: "act", Inputs: []*graph.Node{x}, Shape: graph.Shape{2}, Strides: []int64{1}, DType: graph.I32}, "act"},
		{"bad-shape", &graph.Node{ID: 1, Op: graph.OpSiLU, Name: "act2", Inputs: []*graph.Node{x}, Shape: graph.Shape{3}, Strides: []int64{1}}, "act2"},
		{"bad-arity", &graph.Node{ID: 1, Op: graph.OpAdd, Name: "sum", Inputs: []*graph.Node{x}, Shape: graph.Shape{2}, Strides: []int64{1}}, "sum"},
		{"unknown-op", &graph.Node{ID: 1, Op: graph.Op(200), Name: "alien", Inputs: []*graph.Node{x}, Shape: graph.Shape{2}, Strides: []int64{1}}, "alien"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &graph.Graph{Nodes: []*graph.Node{x, c.node}, Outputs: []*graph.Node{c.node}}
			require.False(t, be.Supports(c.node))
			_, err := be.Compile(g)
			require.ErrorContains(t, err, c.want)
		})
	}
	_, err := be.Compile(nil)
	require.Error(t, err)
	// A view reaching past its storage is refused at compile time.
	v := &graph.Node{ID: 1, Op: graph.OpView, Name: "peek", Inputs: []*graph.Node{x}, Shape: graph.Shape{2}, Strides: []int64{1}, Offset: 1, DType: graph.F32}
	c := &graph.Node{ID: 2, Op: graph.OpContiguous, Name: "c", Inputs: []*graph.Node{v}, Shape: graph.Shape{2}, Strides: []int64{1}, DType: graph.F32}
	_, err = be.Compile(&graph.Graph{Nodes: []*graph.Node{x, v, c}, Outputs: []*graph.Node{c}})
	require.ErrorContains(t, err, "peek")
	// Every node the builder makes is supported.
	b := graph.NewBuilder()
	in := b.Input("in", graph.F32, 2, 4)
	for _, n := range []*graph.Node{in, b.SiLU(in), b.Argmax(in), b.Copy(in, graph.BF16)} {
		require.True(t, be.Supports(n), n.String())
	}
}

func TestTimings(t *testing.T) {
	be := open(t, "cpu", 2)
	g, _, _ := smallGraph(t)
	p := prepare(t, be, g, nil)
	prof, ok := p.prog.(backend.Profiler)
	require.True(t, ok)
	require.Nil(t, prof.Timings())
	p.run()
	ts := prof.Timings()
	require.Len(t, ts, 2)
	require.Equal(t, graph.OpRMSNorm, ts[0].Node.Op)
	require.Equal(t, graph.OpMatMul, ts[1].Node.Op)
	for _, tm := range ts {
		require.GreaterOrEqual(t, tm.Seconds, 0.0)
	}
}

// TestCloseLifecycle checks the Backend.Close contract (issue 8): Close
// with buffers and programs still open reports them and releases them;
// every later use of them, Free and Close included, and a second Close of
// the backend return ErrClosed; nothing crashes.
func TestCloseLifecycle(t *testing.T) {
	for _, dev := range []string{"cpu", "cpu:ref"} {
		t.Run(dev, func(t *testing.T) {
			be, err := backend.Open(dev, backend.Options{Threads: 2})
			require.NoError(t, err)
			g, x, w := smallGraph(t)
			p := prepare(t, open(t, dev, 1), g, nil) // a program on another backend stays usable
			prog, err := be.Compile(g)
			require.NoError(t, err)
			xb, err := be.Alloc(x.Bytes())
			require.NoError(t, err)
			wb, err := be.(backend.HostWrapper).WrapHost(make([]byte, w.Bytes()))
			require.NoError(t, err)
			freed, err := be.Alloc(16)
			require.NoError(t, err)
			require.NoError(t, freed.Free())
			require.NoError(t, prog.Bind(x, xb, 0))

			err = be.Close()
			require.ErrorIs(t, err, backend.ErrInUse)
			require.EqualError(t, err, dev+": close: still in use: 2 buffers (80 B) and 1 program (released)")

			for name, err := range map[string]error{
				"second close":     be.Close(),
				"alloc":            func() error { _, err := be.Alloc(1); return err }(),
				"wrap":             func() error { _, err := be.(backend.HostWrapper).WrapHost(nil); return err }(),
				"compile":          func() error { _, err := be.Compile(g); return err }(),
				"run":              prog.Run(context.Background()),
				"bind":             prog.Bind(w, wb, 0),
				"read":             xb.Read(0, make([]byte, 4)),
				"write":            xb.Write(0, make([]byte, 4)),
				"free":             xb.Free(),
				"free wrapped":     wb.Free(),
				"close program":    prog.Close(),
				"free after close": freed.Free(),
			} {
				require.ErrorIs(t, err, backend.ErrClosed, name)
			}
			require.ErrorIs(t, prog.Close(), backend.ErrClosed, "program closed twice")
			p.run()
		})
	}
}

func TestCloseCounts(t *testing.T) {
	be, err := backend.Open("cpu", backend.Options{Threads: 1})
	require.NoError(t, err)
	g, _, _ := smallGraph(t)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	buf, err := be.Alloc(1536)
	require.NoError(t, err)
	require.NoError(t, prog.Close())
	require.ErrorIs(t, prog.Close(), backend.ErrClosed)
	require.NoError(t, buf.Free())
	require.NoError(t, be.Close(), "everything was closed first")
	require.ErrorIs(t, be.Close(), backend.ErrClosed)
}

func TestAllocTooLarge(t *testing.T) {
	_, err := open(t, "cpu", 1).Alloc(1 << 62)
	require.Error(t, err)
}
