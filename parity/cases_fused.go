package parity

import "github.com/golem-llm/golem/graph"

// Cases of the fused ops (graph/fused.go): each compared with the float64
// reference of the fused op, and "block" cases: a transformer block's
// decode or prefill step written with unfused ops, which backends that
// compile through graph.Fuse run fused, so the rewrite itself is checked
// against the unfused reference.

func fusedCases() []Case {
	var cs []Case
	for i, x := range [][]int{{1, 64}, {7, 80}, {3, 4, 33}} {
		name := caseName(graph.OpRMSNormMul, "x", x)
		c := newCase(graph.OpRMSNormMul, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
			in := g.inputStd("x", 3, x...)
			w := g.weight("w", graph.F32, x[len(x)-1])
			return []*graph.Node{g.b.RMSNormMul(in, w, 1e-5)}
		})
		if i == 1 {
			c = short(c)
		}
		cs = append(cs, c)
	}
	type rkv struct {
		cache []int // [Ctx, H, D]
		s     int
		dims  int
		mode  graph.RoPEMode
		ff    bool
	}
	for _, dt := range graph.KVTypes() {
		for _, k := range []rkv{
			{[]int{16, 2, 64}, 1, 64, graph.RoPENormal, false},
			{[]int{32, 4, 80}, 7, 80, graph.RoPENeoX, false},
			{[]int{24, 2, 64}, 3, 32, graph.RoPENormal, true},
			{[]int{8, 3, 8}, 5, 8, graph.RoPENeoX, true},
		} {
			name := caseName(graph.OpRoPEKVWrite, "type", dt, "cache", k.cache, "s", k.s, "dims", k.dims, "mode", k.mode, "ff", k.ff)
			cs = append(cs, newCase(graph.OpRoPEKVWrite, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
				ctx := k.cache[0]
				cache := g.state("cache", dt, g.normals(numel(k.cache), 1), k.cache...)
				x := g.input("x", graph.F32, k.s, k.cache[1], k.cache[2])
				pos := g.i32("pos", g.distinct(k.s, ctx), k.s)
				var ff *graph.Node
				if k.ff {
					ff = g.inputVals("freq_factors", graph.F32, g.uniforms(k.dims/2, 1, 8), k.dims/2)
				}
				w := g.b.RoPEKVWrite(cache, x, pos, ff, graph.RoPEParams{Mode: k.mode, Dims: k.dims, Theta: 10000, FreqScale: 1})
				return []*graph.Node{g.b.Copy(w, graph.F32)}
			}))
		}
	}
	type mf struct {
		rows   int
		n      []int
		norm   bool
		swiglu bool
		res    bool
	}
	specs := []mf{
		{1, []int{64, 32, 32}, true, false, false}, // QKV of a decode step
		{1, []int{96, 96}, true, true, false},      // gate and up
		{1, []int{48}, false, false, true},         // output projection + residual
		{3, []int{17, 5}, true, false, true},
		{8, []int{33}, true, false, false},
	}
	for _, dt := range weightTypes {
		k := 64
		if dt.BlockSize() == 256 {
			k = 256
		}
		for i, s := range specs {
			name := caseName(graph.OpMatMulFused, "type_w", dt, "rows", s.rows, "n", s.n, "k", k, "norm", s.norm, "swiglu", s.swiglu, "residual", s.res)
			c := newCase(graph.OpMatMulFused, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
				x := g.inputStd("x", 2, s.rows, k)
				var ws []*graph.Node
				for j, n := range s.n {
					ws = append(ws, g.weight(string(rune('a'+j)), dt, n, k))
				}
				o := graph.FusedMatMulOpts{SwiGLU: s.swiglu, Eps: 1e-5}
				if s.norm {
					o.Norm = g.input("g", graph.F32, k)
				}
				if s.res {
					cols := 0
					for _, n := range s.n {
						cols += n
					}
					o.Residual = g.input("r", graph.F32, s.rows, cols)
				}
				return []*graph.Node{g.b.MatMulFused(x, ws, o)}
			})
			if i == 0 && (dt == graph.F32 || dt == graph.Q8_0) {
				c = short(c)
			}
			cs = append(cs, c)
		}
	}
	for _, dt := range []graph.DType{graph.F32, graph.Q8_0} {
		for _, s := range []int{1, 5} {
			cs = append(cs, blockCase(dt, s))
		}
	}
	return cs
}

// blockCase is one Llama block over s tokens written with unfused ops
// (norms as RMSNorm ⊙ w, separate q/k/v, gate and up projections, rope
// then kv_write, residual adds), reading a KV cache of 16 rows. It is
// filed under matmul, the op most of its nodes have.
func blockCase(dt graph.DType, s int) Case {
	const (
		d, heads, kvHeads, hd, ffn, ctx = 64, 4, 2, 16, 96, 16
	)
	name := caseName(graph.OpMatMul, "block", "llama", "type_w", dt, "s", s)
	c := newCase(graph.OpMatMul, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
		b := g.b
		x := g.input("x", graph.F32, s, d)
		pos := g.i32("pos", g.distinct(s, ctx), s)
		rope := graph.RoPEParams{Theta: 10000}
		norm := func(v *graph.Node, w string) *graph.Node {
			return b.Mul(b.RMSNorm(v, 1e-5), g.input(w, graph.F32, d))
		}
		h := norm(x, "attn_norm")
		q := b.MatMul(h, g.weight("wq", dt, heads*hd, d))
		k := b.MatMul(h, g.weight("wk", dt, kvHeads*hd, d))
		v := b.MatMul(h, g.weight("wv", dt, kvHeads*hd, d))
		q = b.RoPE(b.Reshape(q, s, heads, hd), pos, nil, rope)
		k = b.RoPE(b.Reshape(k, s, kvHeads, hd), pos, nil, rope)
		kc := g.state("cache_k", graph.F32, g.normals(ctx*kvHeads*hd, 1), ctx, kvHeads, hd)
		vc := g.state("cache_v", graph.F32, g.normals(ctx*kvHeads*hd, 1), ctx, kvHeads, hd)
		kw := b.KVWrite(kc, k, pos)
		vw := b.KVWrite(vc, b.Reshape(v, s, kvHeads, hd), pos)
		a := b.Reshape(b.Attention(q, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos}), s, heads*hd)
		x = b.Add(x, b.MatMul(a, g.weight("wo", dt, d, heads*hd)))
		h = norm(x, "ffn_norm")
		f := b.SwiGLU(b.MatMul(h, g.weight("wg", dt, ffn, d)), b.MatMul(h, g.weight("wu", dt, ffn, d)))
		x = b.Add(x, b.MatMul(f, g.weight("wd", dt, d, ffn)))
		return []*graph.Node{norm(x, "out_norm")}
	})
	c.Threshold = MatMulThreshold
	return c
}
