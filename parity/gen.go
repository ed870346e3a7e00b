package parity

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// gen declares a case's leaves on a builder and draws their data. Float data
// is generated as F32 and encoded with quant.Quantize, so every backend gets
// identical bytes. The first error is kept and returned by fixture.
type gen struct {
	b    *graph.Builder
	rng  *rand.Rand
	data map[string][]byte
	err  error
}

func newGen(b *graph.Builder, rng *rand.Rand) *gen {
	return &gen{b: b, rng: rng, data: map[string][]byte{}}
}

// fixture returns the outputs and the leaf data, or the first error.
func (g *gen) fixture(outs ...*graph.Node) (Fixture, error) {
	if g.err != nil {
		return Fixture{}, g.err
	}
	if err := g.b.Err(); err != nil {
		return Fixture{}, err
	}
	return Fixture{Outputs: outs, Data: g.data}, nil
}

func numel(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// normals returns n draws of N(0, std²), none of them zero.
func (g *gen) normals(n int, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		v := float32(g.rng.NormFloat64() * std)
		for v == 0 {
			v = float32(g.rng.NormFloat64() * std)
		}
		out[i] = v
	}
	return out
}

// uniforms returns n draws of U[lo, hi), none of them zero.
func (g *gen) uniforms(n int, lo, hi float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		v := float32(lo + (hi-lo)*g.rng.Float64())
		for v == 0 {
			v = float32(lo + (hi-lo)*g.rng.Float64())
		}
		out[i] = v
	}
	return out
}

// leaf declares a leaf of kind op and stores vals encoded as dt.
func (g *gen) leaf(op graph.Op, name string, dt graph.DType, vals []float32, dims []int) *graph.Node {
	var n *graph.Node
	switch op {
	case graph.OpWeight:
		n = g.b.Weight(name, dt, dims...)
	case graph.OpState:
		n = g.b.State(name, dt, dims...)
	default:
		n = g.b.Input(name, dt, dims...)
	}
	if g.err != nil || g.b.Err() != nil {
		return n
	}
	if len(vals) != numel(dims) {
		g.err = fmt.Errorf("leaf %q: %d values for shape %v", name, len(vals), dims)
		return n
	}
	size, err := dt.RowBytes(int64(len(vals)))
	if err != nil {
		g.err = fmt.Errorf("leaf %q: %w", name, err)
		return n
	}
	buf := make([]byte, size)
	if dt == graph.I32 {
		for i, v := range vals {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(int32(v)))
		}
	} else if err := quant.Quantize(dt, vals, buf); err != nil {
		g.err = fmt.Errorf("leaf %q: %w", name, err)
		return n
	}
	g.data[name] = buf
	return n
}

// input declares an input of N(0,1) values encoded as dt.
func (g *gen) input(name string, dt graph.DType, dims ...int) *graph.Node {
	return g.leaf(graph.OpInput, name, dt, g.normals(numel(dims), 1), dims)
}

// inputStd declares an F32 input of N(0, std²) values.
func (g *gen) inputStd(name string, std float64, dims ...int) *graph.Node {
	return g.leaf(graph.OpInput, name, graph.F32, g.normals(numel(dims), std), dims)
}

// inputVals declares an input holding vals encoded as dt.
func (g *gen) inputVals(name string, dt graph.DType, vals []float32, dims ...int) *graph.Node {
	return g.leaf(graph.OpInput, name, dt, vals, dims)
}

// weight declares a weight of N(0,1) values generated as F32 and encoded as dt.
func (g *gen) weight(name string, dt graph.DType, dims ...int) *graph.Node {
	return g.leaf(graph.OpWeight, name, dt, g.normals(numel(dims), 1), dims)
}

// weightVals declares a weight holding vals encoded as dt.
func (g *gen) weightVals(name string, dt graph.DType, vals []float32, dims ...int) *graph.Node {
	return g.leaf(graph.OpWeight, name, dt, vals, dims)
}

// state declares a state leaf holding vals encoded as dt.
func (g *gen) state(name string, dt graph.DType, vals []float32, dims ...int) *graph.Node {
	return g.leaf(graph.OpState, name, dt, vals, dims)
}

// ids declares an I32 input of uniform draws from [0, hi).
func (g *gen) ids(name string, hi int, dims ...int) *graph.Node {
	vals := make([]float32, numel(dims))
	for i := range vals {
		vals[i] = float32(g.rng.IntN(hi))
	}
	return g.leaf(graph.OpInput, name, graph.I32, vals, dims)
}

// i32 declares an I32 input holding vals.
func (g *gen) i32(name string, vals []int, dims ...int) *graph.Node {
	f := make([]float32, len(vals))
	for i, v := range vals {
		f[i] = float32(v)
	}
	return g.leaf(graph.OpInput, name, graph.I32, f, dims)
}

// distinct returns n distinct values from [0, hi) in random order.
func (g *gen) distinct(n, hi int) []int {
	return g.rng.Perm(hi)[:n]
}

// mask returns an additive [sq, sk] mask: about a quarter −Inf, the rest
// uniform in [−2, 0); column 0 is always finite so no row is fully masked.
func (g *gen) mask(sq, sk int) []float32 {
	m := make([]float32, sq*sk)
	for i := range m {
		if i%sk != 0 && g.rng.IntN(4) == 0 {
			m[i] = float32(math.Inf(-1))
		} else {
			m[i] = float32(-2 * g.rng.Float64())
		}
	}
	return m
}

// caseName formats a llama.cpp-style name: op(k1=v1,k2=v2,...). Values are
// formatted with %v, except []int as [a,b,c] and dtypes by name.
func caseName(op graph.Op, kv ...any) string {
	var sb strings.Builder
	sb.WriteString(op.String())
	sb.WriteByte('(')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%v=", kv[i])
		switch v := kv[i+1].(type) {
		case []int:
			parts := make([]string, len(v))
			for j, d := range v {
				parts[j] = fmt.Sprint(d)
			}
			sb.WriteString("[" + strings.Join(parts, ",") + "]")
		default:
			fmt.Fprintf(&sb, "%v", v)
		}
	}
	sb.WriteByte(')')
	return sb.String()
}

// newCase makes a Case whose Build runs build on a fresh gen and whose
// threshold comes from Threshold.
func newCase(op graph.Op, dts []graph.DType, name string, build func(g *gen) []*graph.Node) Case {
	c := Case{
		Name:   name,
		Op:     op,
		DTypes: dts,
		Build: func(b *graph.Builder, rng *rand.Rand) (Fixture, error) {
			g := newGen(b, rng)
			outs := build(g)
			for i, o := range outs {
				if len(outs) == 1 {
					b.SetName(o, "out")
				} else {
					b.SetName(o, fmt.Sprintf("out%d", i))
				}
			}
			return g.fixture(outs...)
		},
	}
	c.Threshold = Threshold(c)
	return c
}
