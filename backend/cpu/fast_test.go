package cpu_test

import (
	"github.com/golem-llm/golem/backend/quant"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// fillLeaves returns random data for every leaf of g not in fixed: floats
// uniform in [−1, 1] encoded in the leaf's dtype.
func fillLeaves(t testing.TB, r *rand.Rand, g *graph.Graph, fixed map[string][]byte) map[string][]byte {
	t.Helper()
	data := map[string][]byte{}
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			continue
		}
		if d, ok := fixed[n.Name]; ok {
			data[n.Name] = d
			continue
		}
		require.NotEqual(t, graph.I32, n.DType, "I32 leaf %s needs fixed data", n.Name)
		data[n.Name] = encode(t, n.DType, randF32(r, int(n.Shape.NumElements()), 1))
	}
	return data
}

type tierCase struct {
	name  string
	build func(b *graph.Builder) []*graph.Node
	fixed map[string][]byte
	tol   float64 // NMSE
}

func runTiers(t *testing.T, c tierCase, threads int) (fast, refOut [][]float32) {
	b := graph.NewBuilder()
	outs := c.build(b)
	g, err := b.Build(outs...)
	require.NoError(t, err)
	data := fillLeaves(t, rand.New(rand.NewPCG(11, uint64(len(c.name)))), g, c.fixed)
	// Build the same graph again for each device.
	run := func(dev string) [][]float32 {
		b := graph.NewBuilder()
		return runGraph(t, dev, threads, b, data, c.build(b)...)
	}
	return run("cpu"), run(ref)
}

// intActTol is the NMSE bound of a product with 16-bit activations
// (quant.QuantizeAct) against the float64 reference: each activation is
// off by up to half of its block's step (max|x|/65534), an NMSE of about
// 1e-9 for normal data; the parity suite allows 5e-4.
const intActTol = 1e-8

func TestFastMatchesRef(t *testing.T) {
	seqPos := func(n, start int) []byte {
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(start + i)
		}
		return i32s(v...)
	}
	var cases []tierCase
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K} {
		// Quantized weights multiply activations quantized to 16 bits
		// (quant.QuantizeAct): within intActTol, not float32 rounding.
		tol := 1e-11
		if quant.ActBytes(dt, 512) > 0 {
			tol = intActTol
		}
		for _, m := range []int{1, 2, 7} {
			cases = append(cases, tierCase{
				name: "matmul/" + dt.String() + "/m" + string(rune('0'+m)),
				build: func(b *graph.Builder) []*graph.Node {
					return []*graph.Node{b.MatMul(b.Input("x", graph.F32, m, 512), b.Weight("w", dt, 37, 512))}
				},
				tol: tol,
			})
		}
	}
	cases = append(cases,
		tierCase{name: "matmul/batched-f16", build: func(b *graph.Builder) []*graph.Node {
			return []*graph.Node{b.MatMul(b.Input("x", graph.F32, 2, 3, 9, 64), b.Weight("w", graph.F16, 2, 3, 13, 64))}
		}, tol: 1e-11},
		tierCase{name: "matmul/small-n-many-rows", build: func(b *graph.Builder) []*graph.Node {
			return []*graph.Node{b.MatMul(b.Input("x", graph.F32, 2, 33, 64), b.Weight("w", graph.Q8_0, 5, 64))}
		}, tol: 1e-11},
		tierCase{name: "matmul/batched-bf16-gemv", build: func(b *graph.Builder) []*graph.Node {
			return []*graph.Node{b.MatMul(b.Input("x", graph.F32, 3, 1, 64), b.Weight("w", graph.BF16, 3, 13, 64))}
		}, tol: 1e-11},
		tierCase{name: "elementwise", build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 3, 5, 70)
			y := b.Input("y", graph.F32, 3, 5, 70)
			return []*graph.Node{
				b.SiLU(x), b.GELU(x), b.SwiGLU(x, y), b.Scale(x, -1.5),
				b.Add(x, b.Input("row", graph.F32, 70)), b.Mul(x, b.Input("col", graph.F32, 5, 1)),
				b.Add(x, b.Input("s", graph.F32, 1)), b.Mul(x, b.Input("mid", graph.F32, 3, 1, 70)), b.Add(x, y),
			}
		}, tol: 1e-12},
		tierCase{name: "norms", build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 6, 4096)
			return []*graph.Node{b.RMSNorm(x, 1e-6), b.LayerNorm(x, 1e-5)}
		}, tol: 1e-12},
		tierCase{name: "softmax", build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 4, 9, 33)
			m := b.Input("m", graph.F32, 9, 33)
			return []*graph.Node{
				b.Softmax(x, graph.SoftmaxOpts{Scale: 0.3, Causal: true, Mask: m}),
				b.Softmax(x, graph.SoftmaxOpts{}),
			}
		}, tol: 1e-12},
		tierCase{name: "rope", build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 2, 9, 4, 64)
			pos := b.Input("pos", graph.I32, 9)
			ff := b.Weight("ff", graph.F32, 24)
			return []*graph.Node{
				b.RoPE(x, pos, nil, graph.RoPEParams{Mode: graph.RoPENormal, Theta: 10000}),
				b.RoPE(x, pos, ff, graph.RoPEParams{Mode: graph.RoPENeoX, Dims: 48, Theta: 500000, FreqScale: 0.25}),
			}
		}, fixed: map[string][]byte{"pos": seqPos(9, 1000)}, tol: 1e-12},
	)
	for _, kvt := range []graph.DType{graph.F32, graph.F16} {
		cases = append(cases,
			tierCase{name: "attention/prefill/" + kvt.String(), build: func(b *graph.Builder) []*graph.Node {
				q := b.Input("q", graph.F32, 9, 8, 64)
				k := b.Input("k", kvt, 33, 2, 64)
				v := b.Input("v", kvt, 33, 2, 48)
				m := b.Input("m", graph.F32, 9, 33)
				pos := b.Input("pos", graph.I32, 9)
				return []*graph.Node{
					b.Attention(q, k, v, graph.AttentionOpts{Causal: true}),
					b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos, Mask: m, Scale: 0.2}),
					b.Attention(q, k, v, graph.AttentionOpts{}),
				}
			}, fixed: map[string][]byte{"pos": seqPos(9, 20)}, tol: 1e-11},
			tierCase{name: "attention/long/" + kvt.String(), build: func(b *graph.Builder) []*graph.Node {
				// One head per kv head, keys across several blocks, a
				// query block that straddles the causal diagonal.
				q := b.Input("q", graph.F32, 70, 3, 32)
				k := b.Input("k", kvt, 150, 3, 32)
				v := b.Input("v", kvt, 150, 3, 16)
				m := b.Input("m", graph.F32, 70, 150)
				pos := b.Input("pos", graph.I32, 70)
				return []*graph.Node{
					b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos}),
					b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Mask: m}),
					b.Attention(q, k, v, graph.AttentionOpts{}),
				}
			}, fixed: map[string][]byte{"pos": seqPos(70, 45)}, tol: 1e-11},
			tierCase{name: "attention/decode/" + kvt.String(), build: func(b *graph.Builder) []*graph.Node {
				// One query over a long cache: the split path, with a
				// position (590 keys visible), a mask and none.
				q := b.Input("q", graph.F32, 1, 8, 64)
				k := b.Input("k", kvt, 700, 2, 64)
				v := b.Input("v", kvt, 700, 2, 32)
				m := b.Input("m", graph.F32, 1, 700)
				pos := b.Input("pos", graph.I32, 1)
				return []*graph.Node{
					b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos}),
					b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos, Mask: m}),
					b.Attention(q, k, v, graph.AttentionOpts{}),
				}
			}, fixed: map[string][]byte{"pos": i32s(589)}, tol: 1e-11},
			tierCase{name: "attention/batch/" + kvt.String(), build: func(b *graph.Builder) []*graph.Node {
				q := b.Input("q", graph.F32, 2, 1, 4, 32)
				k := b.Input("k", kvt, 2, 17, 4, 32)
				v := b.Input("v", kvt, 2, 17, 4, 32)
				return []*graph.Node{b.Attention(q, k, v, graph.AttentionOpts{Causal: true})}
			}, tol: 1e-11},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fast, refOut := runTiers(t, c, 3)
			for i := range fast {
				for _, v := range fast[i] {
					require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "output %d has %v", i, v)
				}
				e := nmse(fast[i], refOut[i])
				t.Logf("output %d: nmse %.3g", i, e)
				require.LessOrEqual(t, e, c.tol, "output %d: nmse %g", i, e)
			}
		})
	}
}

func TestFastDeterministic(t *testing.T) {
	build := func(b *graph.Builder) []*graph.Node {
		x := b.Input("x", graph.F32, 16, 256)
		h := b.RMSNorm(x, 1e-5)
		qkv := b.MatMul(h, b.Weight("wqkv", graph.Q4_0, 3*256, 256))
		q := b.Reshape(b.Contiguous(b.View(qkv, graph.Shape{16, 256}, []int64{768, 1}, 0)), 16, 8, 32)
		k := b.Reshape(b.Contiguous(b.View(qkv, graph.Shape{16, 256}, []int64{768, 1}, 256)), 16, 8, 32)
		v := b.Reshape(b.Contiguous(b.View(qkv, graph.Shape{16, 256}, []int64{768, 1}, 512)), 16, 8, 32)
		pos := b.Input("pos", graph.I32, 16)
		q = b.RoPE(q, pos, nil, graph.RoPEParams{Theta: 10000})
		k = b.RoPE(k, pos, nil, graph.RoPEParams{Theta: 10000})
		a := b.Attention(q, k, v, graph.AttentionOpts{Causal: true})
		o := b.MatMul(b.Reshape(a, 16, 256), b.Weight("wo", graph.Q6_K, 256, 256))
		return []*graph.Node{o, b.Argmax(o)}
	}
	ids := make([]int32, 16)
	for i := range ids {
		ids[i] = int32(i)
	}
	b := graph.NewBuilder()
	g, err := b.Build(build(b)...)
	require.NoError(t, err)
	data := fillLeaves(t, rand.New(rand.NewPCG(1, 1)), g, map[string][]byte{"pos": i32s(ids...)})

	p := prepare(t, open(t, "cpu", 2), g, data)
	p.run()
	first := p.raw(g.Outputs[0])
	for range 3 {
		p.run()
		require.Equal(t, first, p.raw(g.Outputs[0]), "same program, same threads")
	}
	// Items are never split, so other thread counts agree bit for bit too.
	for _, threads := range []int{1, 3} {
		b := graph.NewBuilder()
		got := runGraph(t, "cpu", threads, b, data, build(b)...)
		require.Equal(t, fromF32(first), got[0], "threads %d", threads)
	}
}

// TestFastAttentionDecodeDeterministic checks that the split decode path
// (blocks of keys, then a merge) gives the same bits on any thread count.
func TestFastAttentionDecodeDeterministic(t *testing.T) {
	build := func(b *graph.Builder) []*graph.Node {
		q := b.Input("q", graph.F32, 1, 8, 64)
		k := b.Input("k", graph.F16, 400, 4, 64)
		v := b.Input("v", graph.F16, 400, 4, 64)
		pos := b.Input("pos", graph.I32, 1)
		return []*graph.Node{b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos})}
	}
	b := graph.NewBuilder()
	g, err := b.Build(build(b)...)
	require.NoError(t, err)
	data := fillLeaves(t, rand.New(rand.NewPCG(3, 4)), g, map[string][]byte{"pos": i32s(377)})
	var first []float32
	for _, threads := range []int{1, 2, 3, 5} {
		b := graph.NewBuilder()
		got := runGraph(t, "cpu", threads, b, data, build(b)...)
		if first == nil {
			first = got[0]
			continue
		}
		require.Equal(t, first, got[0], "threads %d", threads)
	}
}
