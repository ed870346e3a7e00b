package cpu_test

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// open opens a CPU device and closes it when the test ends.
func open(t testing.TB, device string, threads int) backend.Backend {
	t.Helper()
	be, err := backend.Open(device, backend.Options{Threads: threads})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, be.Close()) })
	return be
}

// freeAtEnd frees buf when the test ends (before its backend, opened
// earlier, is closed and would report it).
func freeAtEnd(t testing.TB, buf backend.Buffer) {
	t.Cleanup(func() { require.NoError(t, buf.Free()) })
}

// prepared is a compiled graph with every leaf and output bound.
type prepared struct {
	t    testing.TB
	g    *graph.Graph
	prog backend.Program
	bufs map[*graph.Node]backend.Buffer
}

// prepare compiles g on be and binds each leaf to a buffer holding data[name]
// (zeros when absent) and each output to a fresh buffer. The program and
// buffers are closed and freed when the test ends, before be (which reports
// any left open).
func prepare(t testing.TB, be backend.Backend, g *graph.Graph, data map[string][]byte) *prepared {
	t.Helper()
	prog, err := be.Compile(g)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, prog.Close()) })
	p := &prepared{t: t, g: g, prog: prog, bufs: map[*graph.Node]backend.Buffer{}}
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() && !g.IsOutput(n) {
			continue
		}
		buf, err := be.Alloc(n.Bytes())
		require.NoError(t, err)
		freeAtEnd(t, buf)
		if d, ok := data[n.Name]; ok {
			require.Len(t, d, int(n.Bytes()), "data for %s", n.Name)
			require.NoError(t, buf.Write(0, d))
		}
		require.NoError(t, prog.Bind(n, buf, 0))
		p.bufs[n] = buf
	}
	return p
}

func (p *prepared) run() {
	p.t.Helper()
	require.NoError(p.t, p.prog.Run(context.Background()))
}

func (p *prepared) set(name string, data []byte) {
	p.t.Helper()
	n := p.g.Node(name)
	require.NotNil(p.t, n, name)
	require.NoError(p.t, p.bufs[n].Write(0, data))
}

func (p *prepared) raw(n *graph.Node) []byte {
	p.t.Helper()
	out := make([]byte, n.Bytes())
	require.NoError(p.t, p.bufs[n].Read(0, out))
	return out
}

func (p *prepared) f32(n *graph.Node) []float32 { return fromF32(p.raw(n)) }

func (p *prepared) i32(n *graph.Node) []int32 {
	b := p.raw(n)
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// runGraph builds the outputs of b, runs them once on device and returns
// each output's values as float32 (I32 outputs converted).
func runGraph(t testing.TB, device string, threads int, b *graph.Builder, data map[string][]byte, outs ...*graph.Node) [][]float32 {
	t.Helper()
	g, err := b.Build(outs...)
	require.NoError(t, err)
	p := prepare(t, open(t, device, threads), g, data)
	p.run()
	res := make([][]float32, len(g.Outputs))
	for i, o := range g.Outputs {
		if o.DType == graph.I32 {
			for _, v := range p.i32(o) {
				res[i] = append(res[i], float32(v))
			}
			continue
		}
		raw := p.raw(o)
		vals := make([]float32, o.Shape.NumElements())
		require.NoError(t, quant.Dequantize(o.DType, raw, vals))
		res[i] = vals
	}
	return res
}

func f32s(v ...float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

func i32s(v ...int32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
	}
	return out
}

func fromF32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// encode converts v to dtype dt.
func encode(t testing.TB, dt graph.DType, v []float32) []byte {
	t.Helper()
	n, err := dt.RowBytes(int64(len(v)))
	require.NoError(t, err)
	out := make([]byte, n)
	require.NoError(t, quant.Quantize(dt, v, out))
	return out
}

// decode converts dtype dt bytes to float32.
func decode(t testing.TB, dt graph.DType, b []byte, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	require.NoError(t, quant.Dequantize(dt, b, out))
	return out
}

func randF32(r *rand.Rand, n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = (2*r.Float32() - 1) * scale
	}
	return out
}

// requireClose checks |got−want| ≤ atol + rtol·|want| elementwise.
func requireClose(t testing.TB, want []float64, got []float32, atol, rtol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= atol+rtol*math.Abs(want[i])) {
			require.Failf(t, "values differ", "%s: element %d: got %v, want %v (|Δ| %g)", msg, i, got[i], want[i], d)
		}
	}
}

// nmse returns Σ(a−b)²/Σb².
func nmse(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if den == 0 {
		return num
	}
	return num / den
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
