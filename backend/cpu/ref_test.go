package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

const ref = "cpu:ref"

// forTiers runs a known-value test on the reference tier (the oracle
// being checked) and on the fast tier.
func forTiers(t *testing.T, f func(t *testing.T, dev string)) {
	for _, dev := range []string{ref, "cpu"} {
		t.Run(dev, func(t *testing.T) { f(t, dev) })
	}
}

func TestKnownMatMulKnown(t *testing.T) { forTiers(t, testKnownMatMulKnown) }

func testKnownMatMulKnown(t *testing.T, dev string) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3)
	w := b.Weight("w", graph.F32, 2, 3)
	y := b.MatMul(x, w)
	got := runGraph(t, dev, 2, b, map[string][]byte{
		"x": f32s(1, 2, 3, 4, 5, 6),
		"w": f32s(1, 0, -1, 2, 1, 0.5),
	}, y)
	require.Equal(t, []float32{-2, 5.5, -2, 16}, got[0])
}

func TestKnownMatMulDTypes(t *testing.T) { forTiers(t, testKnownMatMulDTypes) }

func testKnownMatMulDTypes(t *testing.T, dev string) {
	const m, n, k = 3, 5, 512
	r := rand.New(rand.NewPCG(1, 2))
	xv := randF32(r, m*k, 1)
	wv := randF32(r, n*k, 0.5)
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K} {
		t.Run(dt.String(), func(t *testing.T) {
			wb := encode(t, dt, wv)
			wd := decode(t, dt, wb, n*k) // the exact values the kernel must use
			want := make([]float64, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					for l := 0; l < k; l++ {
						want[i*n+j] += float64(xv[i*k+l]) * float64(wd[j*k+l])
					}
				}
			}
			b := graph.NewBuilder()
			y := b.MatMul(b.Input("x", graph.F32, m, k), b.Weight("w", dt, n, k))
			got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(xv...), "w": wb}, y)
			// The fast tier accumulates 512 products in float32.
			atol := 1e-6
			if dev != ref {
				atol = 2e-5
			}
			requireClose(t, want, got[0], atol, 1e-6, dt.String())
		})
	}
}

func TestKnownBatchedMatMul(t *testing.T) { forTiers(t, testKnownBatchedMatMul) }

func testKnownBatchedMatMul(t *testing.T, dev string) {
	// x [2 batches, 2, 3] · w [2 batches, 2, 3]ᵀ with f16 w.
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 2, 3)
	w := b.Weight("w", graph.F16, 2, 2, 3)
	y := b.MatMul(x, w)
	xv := []float32{1, 2, 3, 4, 5, 6, -1, 0, 1, 2, 2, 2}
	wv := []float32{1, 1, 1, 0, 1, 0, 0.5, 0.5, 0.5, 1, 0, -1}
	got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(xv...), "w": encode(t, graph.F16, wv)}, y)
	require.Equal(t, []float32{6, 2, 15, 5, 0, -2, 3, 0}, got[0])
}

func softmaxWant(logits []float64) []float64 {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = math.Max(mx, l)
	}
	out := make([]float64, len(logits))
	if math.IsInf(mx, -1) {
		return out
	}
	var s float64
	for i, l := range logits {
		out[i] = math.Exp(l - mx)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func TestKnownSoftmax(t *testing.T) { forTiers(t, testKnownSoftmax) }

func testKnownSoftmax(t *testing.T, dev string) {
	ninf := math.Inf(-1)
	xv := []float32{1, 2, 3, 0.5, -1, 2}
	t.Run("causal", func(t *testing.T) {
		// Sq=2, Sk=3: query 0 sees keys 0..1, query 1 sees all three.
		b := graph.NewBuilder()
		y := b.Softmax(b.Input("x", graph.F32, 2, 3), graph.SoftmaxOpts{Scale: 0.5, Causal: true})
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(xv...)}, y)
		want := append(softmaxWant([]float64{0.5, 1, ninf}), softmaxWant([]float64{0.25, -0.5, 1})...)
		requireClose(t, want, got[0], 1e-7, 1e-6, "causal")
	})
	t.Run("mask", func(t *testing.T) {
		// Row 0 is fully masked and must be zeros, not NaN.
		b := graph.NewBuilder()
		mask := b.Input("mask", graph.F32, 2, 3)
		y := b.Softmax(b.Input("x", graph.F32, 2, 2, 3), graph.SoftmaxOpts{Mask: mask})
		mv := []float32{float32(ninf), float32(ninf), float32(ninf), 0, float32(ninf), 1}
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(append(xv, xv...)...), "mask": f32s(mv...)}, y)
		row1 := softmaxWant([]float64{0.5, ninf, 3})
		want := append(append([]float64{0, 0, 0}, row1...), append([]float64{0, 0, 0}, row1...)...)
		requireClose(t, want, got[0], 1e-7, 1e-6, "mask")
	})
	t.Run("vector", func(t *testing.T) {
		b := graph.NewBuilder()
		y := b.Softmax(b.Input("x", graph.F32, 3), graph.SoftmaxOpts{})
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(1, 2, 3)}, y)
		requireClose(t, softmaxWant([]float64{1, 2, 3}), got[0], 1e-7, 1e-6, "vector")
	})
}

// ropeWant rotates x [S, H, D] by the hand formula: pair i at position p
// turns by p·fs·θ^(−2i/dims)/factor[i]; normal pairs (2i, 2i+1), neox (i, i+dims/2).
func ropeWant(x []float32, pos []int32, s, h, d, dims int, theta, fs float64, factors []float64, neox bool) []float64 {
	out := widen(x)
	for si := 0; si < s; si++ {
		for hi := 0; hi < h; hi++ {
			base := (si*h + hi) * d
			for i := 0; i < dims/2; i++ {
				f := 1.0
				if factors != nil {
					f = factors[i]
				}
				ang := float64(pos[si]) * fs * math.Pow(theta, -2*float64(i)/float64(dims)) / f
				a, c := 2*i, 2*i+1
				if neox {
					a, c = i, i+dims/2
				}
				x0, x1 := float64(x[base+a]), float64(x[base+c])
				out[base+a] = x0*math.Cos(ang) - x1*math.Sin(ang)
				out[base+c] = x0*math.Sin(ang) + x1*math.Cos(ang)
			}
		}
	}
	return out
}

func TestKnownRoPE(t *testing.T) { forTiers(t, testKnownRoPE) }

func testKnownRoPE(t *testing.T, dev string) {
	const s, h, d = 2, 2, 6
	xv := make([]float32, s*h*d)
	for i := range xv {
		xv[i] = float32(i%7) - 3
	}
	pos := []int32{3, 7}
	cases := []struct {
		name    string
		mode    graph.RoPEMode
		dims    int
		fs      float32
		factors []float32
	}{
		{"normal", graph.RoPENormal, 6, 1, nil},
		{"neox", graph.RoPENeoX, 6, 1, nil},
		{"normal-partial", graph.RoPENormal, 4, 0.5, nil},
		{"neox-partial-factors", graph.RoPENeoX, 4, 1, []float32{1, 4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder()
			x := b.Input("x", graph.F32, s, h, d)
			ps := b.Input("pos", graph.I32, s)
			data := map[string][]byte{"x": f32s(xv...), "pos": i32s(pos...)}
			var ff *graph.Node
			var factors []float64
			if c.factors != nil {
				ff = b.Weight("ff", graph.F32, len(c.factors))
				data["ff"] = f32s(c.factors...)
				factors = widen(c.factors)
			}
			y := b.RoPE(x, ps, ff, graph.RoPEParams{Mode: c.mode, Dims: c.dims, Theta: 10000, FreqScale: c.fs})
			got := runGraph(t, dev, 2, b, data, y)
			want := ropeWant(xv, pos, s, h, d, c.dims, 10000, float64(c.fs), factors, c.mode == graph.RoPENeoX)
			requireClose(t, want, got[0], 1e-6, 1e-6, c.name)
		})
	}
	t.Run("known", func(t *testing.T) {
		// Position 1, dims 2, theta irrelevant for pair 0: a rotation by 1 radian.
		b := graph.NewBuilder()
		y := b.RoPE(b.Input("x", graph.F32, 1, 1, 2), b.Input("pos", graph.I32, 1), nil, graph.RoPEParams{Theta: 10000})
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(1, 0), "pos": i32s(1)}, y)
		requireClose(t, []float64{math.Cos(1), math.Sin(1)}, got[0], 1e-7, 0, "known")
	})
}

// attentionWant is an explicit per-head float64 attention over q [Sq, Hq, D],
// k [Sk, Hkv, D], v [Sk, Hkv, Dv]; limit(i) is how many keys query i sees.
func attentionWant(q, k, v, mask []float32, sq, hq, d, sk, hkv, dv int, scale float64, limit func(i int) int) []float64 {
	out := make([]float64, sq*hq*dv)
	for i := 0; i < sq; i++ {
		for h := 0; h < hq; h++ {
			g := h / (hq / hkv)
			logits := make([]float64, sk)
			for j := range logits {
				if j >= limit(i) {
					logits[j] = math.Inf(-1)
					continue
				}
				var dot float64
				for t := 0; t < d; t++ {
					dot += float64(q[(i*hq+h)*d+t]) * float64(k[(j*hkv+g)*d+t])
				}
				logits[j] = scale * dot
				if mask != nil {
					logits[j] += float64(mask[i*sk+j])
				}
			}
			p := softmaxWant(logits)
			for j, pj := range p {
				for t := 0; t < dv; t++ {
					out[(i*hq+h)*dv+t] += pj * float64(v[(j*hkv+g)*dv+t])
				}
			}
		}
	}
	return out
}

func TestKnownAttention(t *testing.T) { forTiers(t, testKnownAttention) }

func testKnownAttention(t *testing.T, dev string) {
	const sq, hq, d, sk, hkv, dv = 3, 4, 8, 5, 2, 6
	r := rand.New(rand.NewPCG(3, 4))
	qv, kv, vv := randF32(r, sq*hq*d, 1), randF32(r, sk*hkv*d, 1), randF32(r, sk*hkv*dv, 1)
	maskv := randF32(r, sq*sk, 1)
	maskv[2*sk+1] = float32(math.Inf(-1))
	scale := 1 / math.Sqrt(d)
	all := func(int) int { return sk }
	cases := []struct {
		name   string
		kvType graph.DType
		causal bool
		pos    []int32
		mask   bool
		limit  func(i int) int
	}{
		{"full", graph.F32, false, nil, false, all},
		{"causal-default", graph.F32, true, nil, false, func(i int) int { return sk - sq + i + 1 }},
		{"causal-pos", graph.F32, true, []int32{0, 2, 9}, false, func(i int) int { return min([]int{1, 3, 5}[i], sk) }},
		{"mask", graph.F32, false, nil, true, all},
		{"f16-causal-mask", graph.F16, true, nil, true, func(i int) int { return sk - sq + i + 1 }},
		{"negative-pos", graph.F32, true, []int32{-1, 0, 1}, false, func(i int) int { return i }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder()
			q := b.Input("q", graph.F32, sq, hq, d)
			k := b.Input("k", c.kvType, sk, hkv, d)
			v := b.Input("v", c.kvType, sk, hkv, dv)
			data := map[string][]byte{"q": f32s(qv...), "k": encode(t, c.kvType, kv), "v": encode(t, c.kvType, vv)}
			opts := graph.AttentionOpts{Causal: c.causal}
			var mask []float32
			if c.mask {
				opts.Mask = b.Input("mask", graph.F32, sq, sk)
				data["mask"] = f32s(maskv...)
				mask = maskv
			}
			if c.pos != nil {
				opts.Pos = b.Input("pos", graph.I32, sq)
				data["pos"] = i32s(c.pos...)
			}
			y := b.Attention(q, k, v, opts)
			got := runGraph(t, dev, 2, b, data, y)
			kd, vd := decode(t, c.kvType, data["k"], len(kv)), decode(t, c.kvType, data["v"], len(vv))
			want := attentionWant(qv, kd, vd, mask, sq, hq, d, sk, hkv, dv, scale, c.limit)
			requireClose(t, want, got[0], 1e-6, 1e-5, c.name)
			if c.name == "negative-pos" {
				require.Equal(t, make([]float32, hq*dv), got[0][:hq*dv], "query seeing no key gives zeros")
			}
		})
	}
	t.Run("batch", func(t *testing.T) {
		// A leading batch dimension runs each batch independently.
		b := graph.NewBuilder()
		q := b.Input("q", graph.F32, 2, sq, hq, d)
		k := b.Input("k", graph.F32, 2, sk, hkv, d)
		v := b.Input("v", graph.F32, 2, sk, hkv, dv)
		q2, k2, v2 := randF32(r, len(qv), 1), randF32(r, len(kv), 1), randF32(r, len(vv), 1)
		y := b.Attention(q, k, v, graph.AttentionOpts{Causal: true})
		got := runGraph(t, dev, 2, b, map[string][]byte{
			"q": f32s(append(qv, q2...)...), "k": f32s(append(kv, k2...)...), "v": f32s(append(vv, v2...)...),
		}, y)
		lim := func(i int) int { return sk - sq + i + 1 }
		want := append(attentionWant(qv, kv, vv, nil, sq, hq, d, sk, hkv, dv, scale, lim),
			attentionWant(q2, k2, v2, nil, sq, hq, d, sk, hkv, dv, scale, lim)...)
		requireClose(t, want, got[0], 1e-6, 1e-5, "batch")
	})
}

func TestKnownNorms(t *testing.T) { forTiers(t, testKnownNorms) }

func testKnownNorms(t *testing.T, dev string) {
	xv := []float32{1, 2, 3, 4, -2, 0, 2, 4}
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 4)
	rms := b.RMSNorm(x, 1e-5)
	ln := b.LayerNorm(x, 1e-5)
	got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(xv...)}, rms, ln)
	// Row 0: mean(x²) = 30/4; row 1: 24/4.
	r0, r1 := 1/math.Sqrt(7.5+1e-5), 1/math.Sqrt(6+1e-5)
	requireClose(t, []float64{r0, 2 * r0, 3 * r0, 4 * r0, -2 * r1, 0, 2 * r1, 4 * r1}, got[0], 1e-7, 1e-6, "rms_norm")
	// Row 0: mean 2.5, var 1.25; row 1: mean 1, var 5.
	l0, l1 := 1/math.Sqrt(1.25+1e-5), 1/math.Sqrt(5+1e-5)
	requireClose(t, []float64{-1.5 * l0, -0.5 * l0, 0.5 * l0, 1.5 * l0, -3 * l1, -1 * l1, 1 * l1, 3 * l1}, got[1], 1e-7, 1e-6, "layer_norm")
}

func TestKnownElementwise(t *testing.T) { forTiers(t, testKnownElementwise) }

func testKnownElementwise(t *testing.T, dev string) {
	xv := []float32{-3, -1, -0.5, 0, 0.5, 1, 2, 4}
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 4)
	up := b.Input("up", graph.F32, 2, 4)
	row := b.Input("row", graph.F32, 4)
	col := b.Input("col", graph.F32, 2, 1)
	outs := []*graph.Node{
		b.SiLU(x), b.GELU(x), b.SwiGLU(x, up), b.Scale(x, 2.5),
		b.Add(x, row), b.Mul(x, col), b.Add(x, up),
	}
	upv := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	rowv := []float32{10, 20, 30, 40}
	colv := []float32{2, -1}
	got := runGraph(t, dev, 2, b, map[string][]byte{
		"x": f32s(xv...), "up": f32s(upv...), "row": f32s(rowv...), "col": f32s(colv...),
	}, outs...)
	n := len(xv)
	want := make([][]float64, len(outs))
	for i := range want {
		want[i] = make([]float64, n)
	}
	for i, v := range widen(xv) {
		silu := v / (1 + math.Exp(-v))
		want[0][i] = silu
		want[1][i] = 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
		want[2][i] = silu * float64(upv[i])
		want[3][i] = 2.5 * v
		want[4][i] = v + float64(rowv[i%4])
		want[5][i] = v * float64(colv[i/4])
		want[6][i] = v + float64(upv[i])
	}
	for i := range outs {
		requireClose(t, want[i], got[i], 1e-7, 1e-6, outs[i].Op.String())
	}
}

func TestKnownGetRowsQ8(t *testing.T) { forTiers(t, testKnownGetRowsQ8) }

func testKnownGetRowsQ8(t *testing.T, dev string) {
	const v, d = 4, 64
	r := rand.New(rand.NewPCG(5, 6))
	table := randF32(r, v*d, 2)
	tb := encode(t, graph.Q8_0, table)
	dec := decode(t, graph.Q8_0, tb, v*d)
	b := graph.NewBuilder()
	y := b.GetRows(b.Weight("emb", graph.Q8_0, v, d), b.Input("ids", graph.I32, 2, 3))
	ids := []int32{3, 0, 3, 1, 2, 2}
	got := runGraph(t, dev, 2, b, map[string][]byte{"emb": tb, "ids": i32s(ids...)}, y)
	var want []float32
	for _, id := range ids {
		want = append(want, dec[int(id)*d:(int(id)+1)*d]...)
	}
	require.Equal(t, want, got[0])
	require.Equal(t, graph.Shape{2, 3, d}, y.Shape)
}

func TestKnownKVCacheAcrossRuns(t *testing.T) { forTiers(t, testKnownKVCacheAcrossRuns) }

func testKnownKVCacheAcrossRuns(t *testing.T, dev string) {
	// A decode graph (one token) writes K and V into f16/f32 caches and
	// attends over them; the caches persist between runs.
	const ctx, h, d = 4, 1, 2
	for _, cacheType := range []graph.DType{graph.F32, graph.F16} {
		t.Run(cacheType.String(), func(t *testing.T) {
			b := graph.NewBuilder()
			kc := b.State("kc", cacheType, ctx, h, d)
			vc := b.State("vc", cacheType, ctx, h, d)
			pos := b.Input("pos", graph.I32, 1)
			q := b.Input("q", graph.F32, 1, h, d)
			kw := b.KVWrite(kc, b.Input("k", graph.F32, 1, h, d), pos)
			vw := b.KVWrite(vc, b.Input("v", graph.F32, 1, h, d), pos)
			y := b.Attention(q, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos, Scale: 1})
			g, err := b.Build(y)
			require.NoError(t, err)
			p := prepare(t, open(t, dev, 2), g, nil)

			p.set("pos", i32s(0))
			p.set("q", f32s(1, 0))
			p.set("k", f32s(1, 0))
			p.set("v", f32s(2, 4))
			p.run()
			requireClose(t, []float64{2, 4}, p.f32(g.Outputs[0]), 1e-6, 0, "first token sees itself")

			p.set("pos", i32s(1))
			p.set("k", f32s(0, 0))
			p.set("v", f32s(-2, 0))
			p.run()
			// Scores: key 0 → 1, key 1 → 0.
			w0, w1 := math.E/(math.E+1), 1/(math.E+1)
			requireClose(t, []float64{2*w0 - 2*w1, 4 * w0}, p.f32(g.Outputs[0]), 1e-6, 1e-6, "second token")
			vals := decode(t, cacheType, p.raw(g.Node("vc")), ctx*h*d)
			require.Equal(t, []float32{2, 4, -2, 0, 0, 0, 0, 0}, vals)
		})
	}
}

func TestKnownViews(t *testing.T) { forTiers(t, testKnownViews) }

func testKnownViews(t *testing.T, dev string) {
	xv := make([]float32, 24)
	for i := range xv {
		xv[i] = float32(i)
	}
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3, 4)
	perm := b.Permute(x, 2, 0, 1) // [4 2 3]
	cont := b.Contiguous(perm)
	back := b.Contiguous(b.Permute(b.Reshape(cont, 4, 6), 1, 0)) // [6 4]
	view := b.View(x, graph.Shape{2, 2}, []int64{12, 1}, 5)      // x[:, 1, 1:3]
	cat0 := b.Concat(x, x, 0)
	cat2 := b.Concat(b.Contiguous(view), b.Contiguous(view), 1)
	got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(xv...)}, cont, back, view, cat0, cat2)

	wantPerm := make([]float32, 0, 24)
	for k := 0; k < 4; k++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				wantPerm = append(wantPerm, xv[i*12+j*4+k])
			}
		}
	}
	require.Equal(t, wantPerm, got[0])
	wantBack := make([]float32, 0, 24)
	for c := 0; c < 6; c++ {
		for r := 0; r < 4; r++ {
			wantBack = append(wantBack, wantPerm[r*6+c])
		}
	}
	require.Equal(t, wantBack, got[1])
	require.Equal(t, []float32{5, 6, 17, 18}, got[2])
	require.Equal(t, append(append([]float32{}, xv...), xv...), got[3])
	require.Equal(t, []float32{5, 6, 5, 6, 17, 18, 17, 18}, got[4])
}

func TestKnownConcatAxes(t *testing.T) { forTiers(t, testKnownConcatAxes) }

func testKnownConcatAxes(t *testing.T, dev string) {
	xv := []float32{1, 2, 3, 4, 5, 6}
	yv := []float32{7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
	cases := []struct {
		xs, ys []int
		axis   int
		want   []float32
	}{
		{[]int{1, 2, 3}, []int{2, 2, 3}, 0, append(append([]float32{}, xv...), yv...)},
		{[]int{2, 1, 3}, []int{2, 2, 3}, 1, []float32{1, 2, 3, 7, 8, 9, 10, 11, 12, 4, 5, 6, 13, 14, 15, 16, 17, 18}},
		{[]int{2, 3, 1}, []int{2, 3, 2}, -1, []float32{1, 7, 8, 2, 9, 10, 3, 11, 12, 4, 13, 14, 5, 15, 16, 6, 17, 18}},
	}
	for _, c := range cases {
		b := graph.NewBuilder()
		y := b.Concat(b.Input("x", graph.F32, c.xs...), b.Input("y", graph.F32, c.ys...), c.axis)
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(xv...), "y": f32s(yv...)}, y)
		require.Equal(t, c.want, got[0], "axis %d", c.axis)
	}
}

func TestKnownCopy(t *testing.T) { forTiers(t, testKnownCopy) }

func testKnownCopy(t *testing.T, dev string) {
	r := rand.New(rand.NewPCG(7, 8))
	xv := randF32(r, 2*256, 1)
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K} {
		t.Run(dt.String(), func(t *testing.T) {
			// f32 → dt must match quant.Quantize; dt → f16 must match dequantize-then-round.
			b := graph.NewBuilder()
			x := b.Input("x", graph.F32, 2, 256)
			c := b.Copy(x, dt)
			back := b.Copy(c, graph.F16)
			g, err := b.Build(c, back)
			require.NoError(t, err)
			p := prepare(t, open(t, dev, 2), g, map[string][]byte{"x": f32s(xv...)})
			p.run()
			enc := encode(t, dt, xv)
			require.Equal(t, enc, p.raw(g.Outputs[0]))
			require.Equal(t, encode(t, graph.F16, decode(t, dt, enc, len(xv))), p.raw(g.Outputs[1]))
		})
	}
	t.Run("strided-f16-to-f32", func(t *testing.T) {
		b := graph.NewBuilder()
		x := b.Input("x", graph.F16, 2, 3)
		y := b.Copy(b.Permute(x, 1, 0), graph.F32)
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": encode(t, graph.F16, []float32{1, 2, 3, 4, 5, 6})}, y)
		require.Equal(t, []float32{1, 4, 2, 5, 3, 6}, got[0])
	})
	t.Run("strided-f32-to-q8", func(t *testing.T) {
		b := graph.NewBuilder()
		x := b.Input("x", graph.F32, 32, 2)
		y := b.Copy(b.Permute(x, 1, 0), graph.Q8_0)
		in := make([]float32, 64)
		for i := range in {
			in[i] = float32(i%5) - 2
		}
		g, err := b.Build(y)
		require.NoError(t, err)
		p := prepare(t, open(t, dev, 2), g, map[string][]byte{"x": f32s(in...)})
		p.run()
		tr := make([]float32, 64)
		for i := 0; i < 32; i++ {
			tr[i], tr[32+i] = in[2*i], in[2*i+1]
		}
		require.Equal(t, encode(t, graph.Q8_0, tr), p.raw(g.Outputs[0]))
	})
	t.Run("i32", func(t *testing.T) {
		b := graph.NewBuilder()
		x := b.Input("x", graph.I32, 2, 2)
		y := b.Copy(b.Permute(x, 1, 0), graph.I32)
		got := runGraph(t, dev, 2, b, map[string][]byte{"x": i32s(1, -2, 3, 1<<30)}, y)
		require.Equal(t, []float32{1, 3, -2, 1 << 30}, got[0])
	})
}

func TestKnownArgmax(t *testing.T) { forTiers(t, testKnownArgmax) }

func testKnownArgmax(t *testing.T, dev string) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 3, 4)
	v := b.Input("v", graph.F32, 4)
	got := runGraph(t, dev, 2, b, map[string][]byte{
		"x": f32s(1, 5, 5, 2, -1, -1, -1, -1, 0, 0, 0, 3),
		"v": f32s(2, 7, 1, 7),
	}, b.Argmax(x), b.Argmax(v))
	require.Equal(t, []float32{1, 0, 3}, got[0])
	require.Equal(t, []float32{1}, got[1])
}

func TestQuantRoundTripSanity(t *testing.T) {
	// Guards the test helpers themselves.
	v := []float32{1, -2, 0.5}
	require.Equal(t, v, decode(t, graph.F16, encode(t, graph.F16, v), 3))
	require.Equal(t, float32(1), quant.F16ToF32(quant.F32ToF16(1)))
}

func TestKnownFullyMasked(t *testing.T) { forTiers(t, testKnownFullyMasked) }

func testKnownFullyMasked(t *testing.T, dev string) {
	ninf := float32(math.Inf(-1))
	// Softmax with more queries than keys: query 0 sees no key.
	b := graph.NewBuilder()
	sm := b.Softmax(b.Input("x", graph.F32, 3, 2), graph.SoftmaxOpts{Causal: true})
	got := runGraph(t, dev, 2, b, map[string][]byte{"x": f32s(1, 2, 3, 4, 5, 6)}, sm)
	requireClose(t, []float64{0, 0, 1, 0, 1 / (1 + math.E), math.E / (1 + math.E)}, got[0], 1e-7, 1e-6, "softmax")

	// Attention whose mask hides every key from query 1.
	b = graph.NewBuilder()
	q := b.Input("q", graph.F32, 2, 2, 4)
	k := b.Input("k", graph.F16, 3, 1, 4)
	v := b.Input("v", graph.F16, 3, 1, 4)
	mask := b.Input("mask", graph.F32, 2, 3)
	at := b.Attention(q, k, v, graph.AttentionOpts{Mask: mask})
	q16 := make([]float32, 16)
	for i := range q16 {
		q16[i] = 1
	}
	vrow := []float32{1, 2, 3, 4}
	got = runGraph(t, dev, 2, b, map[string][]byte{
		"q":    f32s(q16...),
		"k":    encode(t, graph.F16, q16[:12]),
		"v":    encode(t, graph.F16, append(append(append([]float32{}, vrow...), vrow...), vrow...)),
		"mask": f32s(0, ninf, 0, ninf, ninf, ninf),
	}, at)
	want := []float64{1, 2, 3, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	requireClose(t, want, got[0], 1e-6, 1e-6, "attention")
}

func TestKnownKVWriteIntoView(t *testing.T) { forTiers(t, testKnownKVWriteIntoView) }

func testKnownKVWriteIntoView(t *testing.T, dev string) {
	// The cache of layer 1 is a view into a state holding two layers.
	b := graph.NewBuilder()
	st := b.State("cache", graph.F32, 2, 4, 2)
	layer1 := b.View(st, graph.Shape{4, 2}, []int64{2, 1}, 8)
	w := b.KVWrite(layer1, b.Input("src", graph.F32, 2, 2), b.Input("pos", graph.I32, 2))
	y := b.Copy(w, graph.F32)
	g, err := b.Build(y)
	require.NoError(t, err)
	p := prepare(t, open(t, dev, 2), g, map[string][]byte{
		"src": f32s(1, 2, 3, 4),
		"pos": i32s(3, 1),
	})
	p.run()
	require.Equal(t, []float32{0, 0, 3, 4, 0, 0, 1, 2}, p.f32(g.Outputs[0]))
	require.Equal(t, []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 0, 0, 1, 2}, p.f32(g.Node("cache")))
}

func TestKnownKVWriteRows(t *testing.T) { forTiers(t, testKnownKVWriteRows) }

// testKnownKVWriteRows writes rows at increasing positions (a prompt's:
// enough rows that the fast tier splits them across threads), at
// positions out of order, and at a repeated position (the last row
// wins), into caches of each dtype, and checks every cache row.
func testKnownKVWriteRows(t *testing.T, dev string) {
	const ctx, width = 64, 1024
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16} {
		for _, tc := range []struct {
			name string
			pos  []int32
		}{
			{"increasing", seqI32(3, 43)},
			{"out of order", []int32{9, 2, 30, 1}},
			{"repeated", []int32{5, 7, 5, 6, 5}},
		} {
			t.Run(fmt.Sprintf("%s/%s", dt, tc.name), func(t *testing.T) {
				rows := len(tc.pos)
				b := graph.NewBuilder()
				w := b.KVWrite(b.State("cache", dt, ctx, width), b.Input("src", graph.F32, rows, width), b.Input("pos", graph.I32, rows))
				g, err := b.Build(b.Copy(w, graph.F32))
				require.NoError(t, err)
				src := make([]float32, rows*width)
				for i := range src {
					src[i] = float32(i%61) + 0.5 // exact in f16 and bf16
				}
				p := prepare(t, open(t, dev, 2), g, map[string][]byte{"src": f32s(src...), "pos": i32s(tc.pos...)})
				p.run()
				want := make([]float32, ctx*width)
				for i, ps := range tc.pos {
					copy(want[int(ps)*width:(int(ps)+1)*width], src[i*width:(i+1)*width])
				}
				require.Equal(t, want, p.f32(g.Outputs[0]))
			})
		}
	}
}

// seqI32 returns lo, lo+1, ..., hi-1.
func seqI32(lo, hi int32) []int32 {
	var s []int32
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}
