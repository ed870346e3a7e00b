package parity

import (
	"math"

	"github.com/golem-llm/golem/graph"
)

// weightTypes are the dtypes a matmul weight or a get_rows table may have.
var weightTypes = []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}

// quantTypes are the block-quantized dtypes.
var quantTypes = []graph.DType{graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}

// Cases returns the whole op conformance catalogue: every compute op of
// graph.ComputeOps, with every dtype it accepts, over a spread of shapes
// (odd sizes, sizes not divisible by tile widths, decode and prefill, GQA
// ratios, causal, masked and positioned attention, strided views). The
// order and names are stable; each call builds a fresh slice.
func Cases() []Case {
	var cs []Case
	for _, part := range [][]Case{
		getRowsCases(), matMulCases(), binaryCases(), unaryCases(), swiGLUCases(),
		softmaxCases(), ropeCases(), attentionCases(), kvWriteCases(),
		viewCases(), reshapeCases(), permuteCases(), contiguousCases(),
		concatCases(), copyCases(), argmaxCases(), fusedCases(),
	} {
		cs = append(cs, part...)
	}
	return cs
}

func short(c Case) Case {
	c.short = true
	return c
}

// ---- get_rows ----

func getRowsCases() []Case {
	var cs []Case
	for _, dt := range weightTypes {
		d := 64
		if dt.BlockSize() == 256 {
			d = 256
		}
		for _, ids := range [][]int{{1}, {7}, {2, 5}} {
			cs = append(cs, getRowsCase(dt, 37, d, ids))
		}
	}
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16} {
		cs = append(cs, getRowsCase(dt, 11, 17, []int{9}))
	}
	return cs
}

func getRowsCase(dt graph.DType, v, d int, ids []int) Case {
	name := caseName(graph.OpGetRows, "type", dt, "v", v, "d", d, "ids", ids)
	return newCase(graph.OpGetRows, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
		table := g.weight("table", dt, v, d)
		idx := g.ids("ids", v, ids...)
		return []*graph.Node{g.b.GetRows(table, idx)}
	})
}

// ---- matmul ----

func matMulCases() []Case {
	var cs []Case
	for _, dt := range weightTypes {
		k0, k1 := 256, 67 // plain types: a tile-friendly and an odd inner size
		switch dt.BlockSize() {
		case 32:
			k0, k1 = 32, 256
		case 256:
			k0, k1 = 256, 512
		}
		for _, m := range []int{1, 7, 33} {
			for _, n := range []int{1, 17, 96} {
				c := matMulCase(dt, nil, m, n, k0, false)
				if m == 7 && n == 17 {
					c = short(c)
				}
				cs = append(cs, c)
			}
		}
		for _, mn := range [][2]int{{1, 96}, {7, 17}, {33, 96}} {
			cs = append(cs, matMulCase(dt, nil, mn[0], mn[1], k1, false))
		}
		// x with a leading batch dimension and a shared 2-D weight.
		cs = append(cs, matMulCase(dt, []int{2}, 5, 17, k0, false))
	}
	// GEMV with a long inner dimension, as a decode step's projections.
	cs = append(cs,
		matMulCase(graph.Q4_0, nil, 1, 64, 4096, false),
		matMulCase(graph.Q4_K, nil, 1, 64, 4096, false),
	)
	// Batched weights (attention-style products).
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16} {
		cs = append(cs, matMulCase(dt, []int{3}, 7, 17, 64, true))
	}
	cs = append(cs,
		matMulCase(graph.F32, []int{2, 2}, 5, 9, 32, true),
		matMulCase(graph.F16, []int{2, 2}, 1, 9, 80, true),
	)
	return cs
}

func matMulCase(dt graph.DType, batch []int, m, n, k int, batchedW bool) Case {
	kv := []any{"type_w", dt, "m", m, "n", n, "k", k}
	if len(batch) > 0 {
		kv = append(kv, "batch", batch, "w_batched", batchedW)
	}
	name := caseName(graph.OpMatMul, kv...)
	return newCase(graph.OpMatMul, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
		xd := append(append([]int{}, batch...), m, k)
		wd := []int{n, k}
		if batchedW {
			wd = append(append([]int{}, batch...), n, k)
		}
		x := g.input("x", graph.F32, xd...)
		w := g.weight("w", dt, wd...)
		return []*graph.Node{g.b.MatMul(x, w)}
	})
}

// ---- add, mul ----

func binaryCases() []Case {
	shapes := [][2][]int{
		{{7, 33}, {7, 33}},
		{{7, 33}, {33}},
		{{7, 33}, {7, 1}},
		{{2, 5, 17}, {1, 5, 1}},
		{{2, 3, 4, 9}, {3, 1, 9}},
		{{3, 257}, {1}},
	}
	var cs []Case
	for _, op := range []graph.Op{graph.OpAdd, graph.OpMul} {
		for _, s := range shapes {
			x, y := s[0], s[1]
			name := caseName(op, "x", x, "y", y)
			cs = append(cs, newCase(op, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
				a := g.input("x", graph.F32, x...)
				b := g.input("y", graph.F32, y...)
				if op == graph.OpAdd {
					return []*graph.Node{g.b.Add(a, b)}
				}
				return []*graph.Node{g.b.Mul(a, b)}
			}))
		}
	}
	return cs
}

// ---- scale, rms_norm, layer_norm, silu, gelu ----

func unaryCases() []Case {
	f32 := []graph.DType{graph.F32}
	var cs []Case
	for _, sc := range []struct {
		x []int
		s float32
	}{{[]int{7, 33}, 0.125}, {[]int{3, 1000}, -2.5}, {[]int{1, 1}, 3}} {
		name := caseName(graph.OpScale, "x", sc.x, "s", sc.s)
		cs = append(cs, newCase(graph.OpScale, f32, name, func(g *gen) []*graph.Node {
			return []*graph.Node{g.b.Scale(g.input("x", graph.F32, sc.x...), sc.s)}
		}))
	}
	norms := []struct {
		x   []int
		eps float32
	}{{[]int{1, 64}, 1e-5}, {[]int{7, 96}, 1e-6}, {[]int{3, 4096}, 1e-5}, {[]int{2, 3, 17}, 1e-5}, {[]int{5, 1}, 1e-5}}
	for _, op := range []graph.Op{graph.OpRMSNorm, graph.OpLayerNorm} {
		for _, nc := range norms {
			name := caseName(op, "x", nc.x, "eps", nc.eps)
			cs = append(cs, newCase(op, f32, name, func(g *gen) []*graph.Node {
				vals := g.normals(numel(nc.x), 2)
				for i := range vals {
					vals[i] += 3 // an offset: layer_norm must subtract the mean accurately
				}
				x := g.inputVals("x", graph.F32, vals, nc.x...)
				if op == graph.OpRMSNorm {
					return []*graph.Node{g.b.RMSNorm(x, nc.eps)}
				}
				return []*graph.Node{g.b.LayerNorm(x, nc.eps)}
			}))
		}
	}
	for _, op := range []graph.Op{graph.OpSiLU, graph.OpGELU} {
		for _, x := range [][]int{{7, 33}, {1, 4097}, {2, 3, 5, 7}} {
			name := caseName(op, "x", x)
			cs = append(cs, newCase(op, f32, name, func(g *gen) []*graph.Node {
				in := g.inputStd("x", 3, x...)
				if op == graph.OpSiLU {
					return []*graph.Node{g.b.SiLU(in)}
				}
				return []*graph.Node{g.b.GELU(in)}
			}))
		}
	}
	return cs
}

func swiGLUCases() []Case {
	var cs []Case
	for _, x := range [][]int{{7, 96}, {1, 1000}, {2, 5, 17}} {
		name := caseName(graph.OpSwiGLU, "x", x)
		cs = append(cs, newCase(graph.OpSwiGLU, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
			gate := g.inputStd("gate", 3, x...)
			up := g.input("up", graph.F32, x...)
			return []*graph.Node{g.b.SwiGLU(gate, up)}
		}))
	}
	return cs
}

// ---- softmax ----

func softmaxCases() []Case {
	type sm struct {
		x      []int
		scale  float32
		causal bool
		mask   bool
	}
	var cs []Case
	for _, s := range []sm{
		{x: []int{1, 17}, scale: 1},
		{x: []int{7, 96}, scale: 0.125},
		{x: []int{3, 4096}, scale: 1},
		{x: []int{5, 1}, scale: 1},
		{x: []int{4, 7, 33}, scale: 1, causal: true},
		{x: []int{4, 9, 9}, scale: 0.5, causal: true},
		{x: []int{8, 7, 33}, scale: 1, mask: true},
		{x: []int{2, 4, 5, 5}, scale: 0.5, causal: true, mask: true},
	} {
		name := caseName(graph.OpSoftmax, "x", s.x, "scale", s.scale, "causal", s.causal, "mask", s.mask)
		cs = append(cs, newCase(graph.OpSoftmax, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
			x := g.inputStd("x", 4, s.x...)
			o := graph.SoftmaxOpts{Scale: s.scale, Causal: s.causal}
			if s.mask {
				r := len(s.x)
				sq, sk := s.x[r-2], s.x[r-1]
				o.Mask = g.inputVals("mask", graph.F32, g.mask(sq, sk), sq, sk)
			}
			return []*graph.Node{g.b.Softmax(x, o)}
		}))
	}
	return cs
}

// ---- rope ----

type ropeSpec struct {
	x         []int // [S H D] or [B S H D]
	dims      int
	theta     float32
	freqScale float32
	ff        bool   // frequency factors
	pos       string // "decode" (one position < 2048), "prefill" (offset + i), "random" (distinct < 4096)
}

func ropeCases() []Case {
	specs := []ropeSpec{
		{x: []int{1, 4, 64}, dims: 64, theta: 10000, freqScale: 1, pos: "decode"},
		{x: []int{7, 2, 128}, dims: 128, theta: 500000, freqScale: 1, pos: "prefill"},
		{x: []int{5, 3, 80}, dims: 80, theta: 1e6, freqScale: 1, pos: "prefill"},
		{x: []int{4, 2, 64}, dims: 32, theta: 10000, freqScale: 1, pos: "prefill"},
		{x: []int{3, 2, 80}, dims: 20, theta: 10000, freqScale: 1, pos: "prefill"},
		{x: []int{6, 4, 64}, dims: 64, theta: 500000, freqScale: 1, ff: true, pos: "prefill"},
		{x: []int{5, 2, 128}, dims: 64, theta: 500000, freqScale: 1, ff: true, pos: "random"},
		{x: []int{3, 2, 64}, dims: 64, theta: 10000, freqScale: 0.25, pos: "prefill"},
		{x: []int{9, 2, 64}, dims: 64, theta: 10000, freqScale: 1, pos: "random"},
		{x: []int{2, 5, 3, 64}, dims: 64, theta: 10000, freqScale: 1, pos: "prefill"},
	}
	var cs []Case
	for _, mode := range []graph.RoPEMode{graph.RoPENormal, graph.RoPENeoX} {
		for i, s := range specs {
			c := ropeCase(mode, s)
			if i == 5 {
				c = short(c)
			}
			cs = append(cs, c)
		}
	}
	return cs
}

func ropeCase(mode graph.RoPEMode, s ropeSpec) Case {
	name := caseName(graph.OpRoPE, "mode", mode, "x", s.x, "dims", s.dims, "theta", s.theta,
		"freq_scale", s.freqScale, "ff", s.ff, "pos", s.pos)
	return newCase(graph.OpRoPE, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
		r := len(s.x)
		seq := s.x[r-3]
		x := g.input("x", graph.F32, s.x...)
		var pos []int
		switch s.pos {
		case "decode":
			for range seq {
				pos = append(pos, g.rng.IntN(2048))
			}
		case "random":
			pos = g.distinct(seq, 4096)
		default:
			off := g.rng.IntN(100)
			for i := range seq {
				pos = append(pos, off+i)
			}
		}
		p := g.i32("pos", pos, seq)
		var ff *graph.Node
		if s.ff {
			vals := g.uniforms(s.dims/2, 1, 8)
			for i := 0; i < len(vals)/3; i++ {
				vals[i] = 1 // high frequencies unscaled, as Llama 3's factors
			}
			ff = g.inputVals("freq_factors", graph.F32, vals, s.dims/2)
		}
		return []*graph.Node{g.b.RoPE(x, p, ff, graph.RoPEParams{
			Mode: mode, Dims: s.dims, Theta: s.theta, FreqScale: s.freqScale,
		})}
	})
}

// ---- attention ----

type attnSpec struct {
	b, sq, sk, hq, hkv, d, dv int
	causal, mask              bool
	pos                       string // "" (default Sk−Sq+i), "cache" (contiguous run inside a larger cache)
	scale                     float32
	stale                     bool // cache rows past every position hold NaN (must never be read)
	short                     bool
}

func attentionCases() []Case {
	var specs []attnSpec
	for _, hq := range []int{2, 4, 8, 16} { // GQA ratios 1, 2, 4, 8, decode
		specs = append(specs, attnSpec{sq: 1, sk: 37, hq: hq, hkv: 2, d: 64, causal: true, short: hq == 8})
	}
	for _, d := range []int{64, 80, 128} { // head dims, prefill
		specs = append(specs, attnSpec{sq: 7, sk: 7, hq: 4, hkv: 2, d: d, causal: true, short: d == 80})
	}
	specs = append(specs,
		attnSpec{sq: 33, sk: 33, hq: 8, hkv: 1, d: 64, causal: true},
		attnSpec{sq: 5, sk: 21, hq: 4, hkv: 4, d: 80, causal: true},
		attnSpec{sq: 5, sk: 19, hq: 4, hkv: 2, d: 64},
		attnSpec{sq: 7, sk: 20, hq: 4, hkv: 1, d: 64, mask: true},
		attnSpec{sq: 6, sk: 6, hq: 2, hkv: 2, d: 128, causal: true, mask: true, scale: 0.05},
		attnSpec{sq: 5, sk: 64, hq: 8, hkv: 2, d: 64, causal: true, pos: "cache", stale: true, short: true},
		attnSpec{sq: 1, sk: 64, hq: 4, hkv: 1, d: 128, causal: true, pos: "cache", stale: true},
		attnSpec{sq: 4, sk: 48, hq: 4, hkv: 2, d: 64, causal: true, pos: "cache", mask: true},
		attnSpec{sq: 3, sk: 10, hq: 4, hkv: 2, d: 64, dv: 32, causal: true},
		attnSpec{b: 2, sq: 5, sk: 9, hq: 4, hkv: 2, d: 64, causal: true},
		attnSpec{sq: 1, sk: 1, hq: 1, hkv: 1, d: 64, causal: true},
	)
	var cs []Case
	for _, kv := range graph.KVTypes() {
		for _, s := range specs {
			if s.dv == 0 {
				s.dv = s.d
			}
			if s.b == 0 {
				s.b = 1
			}
			c := attentionCase(kv, kv, s)
			if s.short {
				c = short(c)
			}
			cs = append(cs, c)
		}
		cs = append(cs, kvAttentionCase(kv))
	}
	// K and V of different dtypes, a decode step and a prefill each.
	for _, kv := range [][2]graph.DType{{graph.F32, graph.F16}, {graph.BF16, graph.F32}, {graph.F16, graph.BF16}} {
		cs = append(cs,
			attentionCase(kv[0], kv[1], attnSpec{b: 1, sq: 1, sk: 37, hq: 4, hkv: 2, d: 64, dv: 64, causal: true}),
			attentionCase(kv[0], kv[1], attnSpec{b: 1, sq: 7, sk: 7, hq: 4, hkv: 2, d: 64, dv: 64, causal: true}))
	}
	return cs
}

// dimsB prefixes a batch dimension when b > 1.
func dimsB(b int, d ...int) []int {
	if b > 1 {
		return append([]int{b}, d...)
	}
	return d
}

// attentionCase is attention of spec s over K of dtype kt and V of vt.
func attentionCase(kt, vt graph.DType, s attnSpec) Case {
	pos := s.pos
	if pos == "" {
		pos = "default"
	}
	types := []any{"type_kv", kt}
	dtypes := []graph.DType{kt}
	if kt != vt {
		types = []any{"type_k", kt, "type_v", vt}
		dtypes = []graph.DType{kt, vt}
	}
	name := caseName(graph.OpAttention, append(types, "b", s.b, "sq", s.sq, "sk", s.sk, "hq", s.hq, "hkv", s.hkv,
		"d", s.d, "dv", s.dv, "causal", s.causal, "mask", s.mask, "pos", pos, "scale", s.scale, "stale_nan", s.stale)...)
	return newCase(graph.OpAttention, dtypes, name, func(g *gen) []*graph.Node {
		q := g.input("q", graph.F32, dimsB(s.b, s.sq, s.hq, s.d)...)
		o := graph.AttentionOpts{Scale: s.scale, Causal: s.causal}
		last := s.sk - 1 // the last key any query may read
		if s.pos == "cache" {
			start := g.rng.IntN(s.sk - s.sq - 2)
			p := make([]int, s.sq)
			for i := range p {
				p[i] = start + i
			}
			last = p[len(p)-1]
			o.Pos = g.i32("pos", p, s.sq)
		}
		kvVals := func(dim int) []float32 {
			vals := g.normals(s.b*s.sk*s.hkv*dim, 1)
			if s.stale {
				row := s.hkv * dim
				for bi := range s.b {
					for r := last + 1; r < s.sk; r++ {
						for j := range row {
							vals[(bi*s.sk+r)*row+j] = float32(math.NaN())
						}
					}
				}
			}
			return vals
		}
		k := g.inputVals("k", kt, kvVals(s.d), dimsB(s.b, s.sk, s.hkv, s.d)...)
		v := g.inputVals("v", vt, kvVals(s.dv), dimsB(s.b, s.sk, s.hkv, s.dv)...)
		if s.mask {
			o.Mask = g.inputVals("mask", graph.F32, g.mask(s.sq, s.sk), s.sq, s.sk)
		}
		return []*graph.Node{g.b.Attention(q, k, v, o)}
	})
}

// kvAttentionCase is a decode-style step: new K/V rows are written into
// state caches with kv_write and attention reads the caches at positions.
func kvAttentionCase(kv graph.DType) Case {
	const ctx, s, hq, hkv, d = 32, 4, 4, 2, 64
	name := caseName(graph.OpAttention, "type_kv", kv, "ctx", ctx, "s", s, "hq", hq, "hkv", hkv, "d", d, "via", "kv_write")
	return newCase(graph.OpAttention, []graph.DType{kv}, name, func(g *gen) []*graph.Node {
		start := 3 + g.rng.IntN(ctx-s-6)
		p := make([]int, s)
		for i := range p {
			p[i] = start + i
		}
		pos := g.i32("pos", p, s)
		kc := g.state("cache_k", kv, g.normals(ctx*hkv*d, 1), ctx, hkv, d)
		vc := g.state("cache_v", kv, g.normals(ctx*hkv*d, 1), ctx, hkv, d)
		kn := g.input("k_new", graph.F32, s, hkv, d)
		vn := g.input("v_new", graph.F32, s, hkv, d)
		q := g.input("q", graph.F32, s, hq, d)
		kw := g.b.KVWrite(kc, kn, pos)
		vw := g.b.KVWrite(vc, vn, pos)
		return []*graph.Node{g.b.Attention(q, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos})}
	})
}

// ---- kv_write ----

func kvWriteCases() []Case {
	type kvs struct {
		cache []int // [Ctx, ...]
		s     int
	}
	var cs []Case
	for _, dt := range graph.KVTypes() {
		for _, k := range []kvs{
			{[]int{16, 2, 64}, 1},
			{[]int{32, 4, 80}, 7},
			{[]int{24, 96}, 3},
			{[]int{8, 2, 32}, 8},
		} {
			name := caseName(graph.OpKVWrite, "type", dt, "cache", k.cache, "s", k.s)
			cs = append(cs, newCase(graph.OpKVWrite, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
				ctx := k.cache[0]
				cache := g.state("cache", dt, g.normals(numel(k.cache), 1), k.cache...)
				sd := append([]int{k.s}, k.cache[1:]...)
				src := g.input("src", graph.F32, sd...)
				pos := g.i32("pos", g.distinct(k.s, ctx), k.s)
				w := g.b.KVWrite(cache, src, pos)
				return []*graph.Node{g.b.Copy(w, graph.F32)}
			}))
		}
	}
	return cs
}

// ---- view family ----

type viewSpec struct {
	x       []int
	shape   []int
	strides []int
	off     int
}

func viewCases() []Case {
	specs := []viewSpec{
		{x: []int{6, 40}, shape: []int{3, 7}, strides: []int{80, 3}, off: 5},
		{x: []int{4, 5, 6}, shape: []int{2, 5, 3}, strides: []int{60, 6, 2}, off: 1},
		{x: []int{8, 16}, shape: []int{8, 16}, strides: []int{-16, 1}, off: 7 * 16},
		{x: []int{2, 3, 4, 5}, shape: []int{2, 2, 4, 3}, strides: []int{60, 20, 5, 1}, off: 2},
	}
	var cs []Case
	for i, s := range specs {
		cs = append(cs, viewCase(graph.F32, s))
		if i == 0 {
			for _, dt := range []graph.DType{graph.F16, graph.BF16, graph.I32} {
				cs = append(cs, viewCase(dt, s))
			}
		}
	}
	// A contiguous row window at an offset feeding a compute op directly.
	name := caseName(graph.OpView, "type", graph.F32, "x", []int{8, 33}, "ne", []int{4, 33}, "off", 66, "into", "add")
	cs = append(cs, newCase(graph.OpView, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
		x := g.input("x", graph.F32, 8, 33)
		y := g.input("y", graph.F32, 33)
		v := g.b.View(x, graph.Shape{4, 33}, []int64{33, 1}, 66)
		return []*graph.Node{g.b.Add(v, y)}
	}))
	return cs
}

// leafOf declares an input of dt: ids below 1000 for I32, N(0,1) otherwise.
func (g *gen) leafOf(name string, dt graph.DType, dims ...int) *graph.Node {
	if dt == graph.I32 {
		return g.ids(name, 1000, dims...)
	}
	return g.input(name, dt, dims...)
}

func viewCase(dt graph.DType, s viewSpec) Case {
	name := caseName(graph.OpView, "type", dt, "x", s.x, "ne", s.shape, "nb", s.strides, "off", s.off)
	return newCase(graph.OpView, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
		x := g.leafOf("x", dt, s.x...)
		st := make([]int64, len(s.strides))
		for i, v := range s.strides {
			st[i] = int64(v)
		}
		return []*graph.Node{g.b.Contiguous(g.b.View(x, graph.Shape(s.shape), st, int64(s.off)))}
	})
}

func reshapeCases() []Case {
	var cs []Case
	name := caseName(graph.OpReshape, "type", graph.F32, "x", []int{4, 60}, "ne", []int{8, 30}, "into", "rms_norm")
	cs = append(cs, newCase(graph.OpReshape, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
		x := g.input("x", graph.F32, 4, 60)
		return []*graph.Node{g.b.RMSNorm(g.b.Reshape(x, 8, 30), 1e-5)}
	}))
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.I32} {
		name := caseName(graph.OpReshape, "type", dt, "x", []int{2, 3, 40}, "ne", []int{6, 40})
		cs = append(cs, newCase(graph.OpReshape, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
			x := g.leafOf("x", dt, 2, 3, 40)
			return []*graph.Node{g.b.Contiguous(g.b.Reshape(x, 6, 40))}
		}))
	}
	return cs
}

func permuteCases() []Case {
	type ps struct {
		dt   graph.DType
		x    []int
		perm []int
	}
	var cs []Case
	for _, p := range []ps{
		{graph.F32, []int{2, 3, 5, 7}, []int{0, 2, 1, 3}},
		{graph.F32, []int{2, 3, 5, 7}, []int{3, 2, 1, 0}},
		{graph.F32, []int{5, 4, 64}, []int{1, 0, 2}},
		{graph.F16, []int{5, 4, 64}, []int{1, 0, 2}},
		{graph.BF16, []int{6, 10}, []int{1, 0}},
		{graph.I32, []int{6, 10}, []int{1, 0}},
	} {
		name := caseName(graph.OpPermute, "type", p.dt, "x", p.x, "perm", p.perm)
		cs = append(cs, newCase(graph.OpPermute, []graph.DType{p.dt}, name, func(g *gen) []*graph.Node {
			x := g.leafOf("x", p.dt, p.x...)
			return []*graph.Node{g.b.Contiguous(g.b.Permute(x, p.perm...))}
		}))
	}
	return cs
}

func contiguousCases() []Case {
	var cs []Case
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16, graph.I32} {
		name := caseName(graph.OpContiguous, "type", dt, "x", []int{3, 4, 5}, "src", "permute", "perm", []int{2, 0, 1})
		cs = append(cs, newCase(graph.OpContiguous, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
			x := g.leafOf("x", dt, 3, 4, 5)
			return []*graph.Node{g.b.Contiguous(g.b.Permute(x, 2, 0, 1))}
		}))
	}
	name := caseName(graph.OpContiguous, "type", graph.F32, "x", []int{7, 33}, "src", "contiguous")
	cs = append(cs, newCase(graph.OpContiguous, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
		return []*graph.Node{g.b.Contiguous(g.input("x", graph.F32, 7, 33))}
	}))
	for _, dt := range quantTypes {
		d := 64
		if dt.BlockSize() == 256 {
			d = 256
		}
		name := caseName(graph.OpContiguous, "type", dt, "x", []int{3, d}, "src", "contiguous")
		cs = append(cs, newCase(graph.OpContiguous, []graph.DType{dt}, name, func(g *gen) []*graph.Node {
			return []*graph.Node{g.b.Contiguous(g.input("x", dt, 3, d))}
		}))
	}
	return cs
}

func concatCases() []Case {
	type cc struct {
		dt   graph.DType
		x, y []int
		axis int
	}
	var cs []Case
	for _, c := range []cc{
		{graph.F32, []int{3, 4, 5}, []int{2, 4, 5}, 0},
		{graph.F32, []int{3, 4, 5}, []int{3, 6, 5}, 1},
		{graph.F32, []int{3, 4, 5}, []int{3, 4, 7}, 2},
		{graph.F32, []int{2, 2, 3, 4}, []int{2, 2, 3, 5}, 3},
		{graph.F32, []int{2, 2, 3, 4}, []int{2, 1, 3, 4}, 1},
		{graph.F32, []int{17}, []int{33}, 0},
		{graph.F16, []int{3, 4, 5}, []int{3, 6, 5}, 1},
		{graph.BF16, []int{3, 4, 5}, []int{2, 4, 5}, 0},
		{graph.I32, []int{3, 4, 5}, []int{3, 4, 7}, -1},
	} {
		name := caseName(graph.OpConcat, "type", c.dt, "x", c.x, "y", c.y, "axis", c.axis)
		cs = append(cs, newCase(graph.OpConcat, []graph.DType{c.dt}, name, func(g *gen) []*graph.Node {
			x := g.leafOf("x", c.dt, c.x...)
			y := g.leafOf("y", c.dt, c.y...)
			return []*graph.Node{g.b.Concat(x, y, c.axis)}
		}))
	}
	return cs
}

// ---- copy ----

func copyCases() []Case {
	shapeFor := func(src, dst graph.DType) []int {
		if max(src.BlockSize(), dst.BlockSize()) > 1 {
			return []int{3, 256}
		}
		return []int{7, 33}
	}
	var cs []Case
	add := func(src, dst graph.DType) {
		x := shapeFor(src, dst)
		name := caseName(graph.OpCopy, "src", src, "dst", dst, "x", x)
		cs = append(cs, newCase(graph.OpCopy, []graph.DType{src, dst}, name, func(g *gen) []*graph.Node {
			return []*graph.Node{g.b.Copy(g.leafOf("x", src, x...), dst)}
		}))
	}
	for _, dt := range weightTypes[1:] {
		add(graph.F32, dt)
		add(dt, graph.F32)
	}
	add(graph.F16, graph.BF16)
	add(graph.BF16, graph.F16)
	add(graph.Q8_0, graph.F16)
	add(graph.F16, graph.Q8_0)
	for _, dt := range graph.AllDTypes() {
		add(dt, dt)
	}
	// Strided sources.
	type sc struct {
		src, dst graph.DType
		x, perm  []int
	}
	for _, s := range []sc{
		{graph.F32, graph.F16, []int{5, 4, 64}, []int{1, 0, 2}},
		{graph.F16, graph.F32, []int{5, 4, 64}, []int{1, 0, 2}},
		{graph.F32, graph.F32, []int{3, 7, 9}, []int{2, 1, 0}},
		{graph.I32, graph.I32, []int{6, 10}, []int{1, 0}},
	} {
		name := caseName(graph.OpCopy, "src", s.src, "dst", s.dst, "x", s.x, "perm", s.perm)
		cs = append(cs, newCase(graph.OpCopy, []graph.DType{s.src, s.dst}, name, func(g *gen) []*graph.Node {
			x := g.leafOf("x", s.src, s.x...)
			return []*graph.Node{g.b.Copy(g.b.Permute(x, s.perm...), s.dst)}
		}))
	}
	name := caseName(graph.OpCopy, "src", graph.F32, "dst", graph.BF16, "x", []int{6, 40}, "ne", []int{3, 7}, "nb", []int{80, 3}, "off", 5)
	cs = append(cs, newCase(graph.OpCopy, []graph.DType{graph.F32, graph.BF16}, name, func(g *gen) []*graph.Node {
		x := g.input("x", graph.F32, 6, 40)
		return []*graph.Node{g.b.Copy(g.b.View(x, graph.Shape{3, 7}, []int64{80, 3}, 5), graph.BF16)}
	}))
	return cs
}

// ---- argmax ----

func argmaxCases() []Case {
	var cs []Case
	for _, x := range [][]int{{1, 17}, {7, 96}, {3, 4096}, {33}, {2, 3, 50}} {
		name := caseName(graph.OpArgmax, "x", x)
		cs = append(cs, newCase(graph.OpArgmax, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
			return []*graph.Node{g.b.Argmax(g.input("x", graph.F32, x...))}
		}))
	}
	name := caseName(graph.OpArgmax, "x", []int{4, 40}, "ties", true)
	cs = append(cs, newCase(graph.OpArgmax, []graph.DType{graph.F32}, name, func(g *gen) []*graph.Node {
		const rows, n = 4, 40
		vals := g.normals(rows*n, 1)
		for r := range rows {
			row := vals[r*n : (r+1)*n]
			m := row[Argmax(row)] + 1
			j := g.distinct(3, n)
			for _, k := range j {
				row[k] = m // the first of these must win
			}
		}
		return []*graph.Node{g.b.Argmax(g.inputVals("x", graph.F32, vals, rows, n))}
	}))
	return cs
}
