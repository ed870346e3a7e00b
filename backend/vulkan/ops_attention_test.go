//go:build cgo

package vulkan

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// attnCaseSpec describes a hand-made attention case.
type attnCaseSpec struct {
	name                      string
	b, sq, sk, hq, hkv, d, dv int
	kdt, vdt                  graph.DType
	causal, mask              bool
	pos                       []int   // explicit positions (causal); nil: default Sk−Sq+i
	stale                     bool    // k and v rows past the largest position hold NaN
	scale                     float32 // 0: 1/sqrt(d)
}

// attnCase builds spec s as a parity case.
func attnCase(s attnCaseSpec) parity.Case {
	if s.b == 0 {
		s.b = 1
	}
	if s.dv == 0 {
		s.dv = s.d
	}
	if s.kdt == 0 {
		s.kdt = graph.F32
	}
	if s.vdt == 0 {
		s.vdt = s.kdt
	}
	dims := func(d ...int) []int {
		if s.b > 1 {
			return append([]int{s.b}, d...)
		}
		return d
	}
	return parity.Case{
		Name:   fmt.Sprintf("attention(%s)", s.name),
		Op:     graph.OpAttention,
		DTypes: []graph.DType{s.kdt},
		Build: func(b *graph.Builder, rng *rand.Rand) (parity.Fixture, error) {
			data := map[string][]byte{}
			o := graph.AttentionOpts{Scale: s.scale, Causal: s.causal}
			last := s.sk - 1
			if s.pos != nil {
				last = -1
				vals := make([]float32, len(s.pos))
				for i, p := range s.pos {
					vals[i] = float32(p)
					last = max(last, p)
				}
				p, err := encodeLeaf(b, data, graph.OpInput, "pos", graph.I32, vals, s.sq)
				if err != nil {
					return parity.Fixture{}, err
				}
				o.Pos = p
			}
			kv := func(name string, dt graph.DType, dim int) (*graph.Node, error) {
				vals := randNormals(rng, s.b*s.sk*s.hkv*dim)
				if s.stale {
					row := s.hkv * dim
					for bi := 0; bi < s.b; bi++ {
						for r := last + 1; r < s.sk; r++ {
							for j := 0; j < row; j++ {
								vals[(bi*s.sk+r)*row+j] = float32(math.NaN())
							}
						}
					}
				}
				return encodeLeaf(b, data, graph.OpInput, name, dt, vals, dims(s.sk, s.hkv, dim)...)
			}
			q, err := encodeLeaf(b, data, graph.OpInput, "q", graph.F32, randNormals(rng, s.b*s.sq*s.hq*s.d), dims(s.sq, s.hq, s.d)...)
			if err != nil {
				return parity.Fixture{}, err
			}
			k, err := kv("k", s.kdt, s.d)
			if err != nil {
				return parity.Fixture{}, err
			}
			v, err := kv("v", s.vdt, s.dv)
			if err != nil {
				return parity.Fixture{}, err
			}
			if s.mask {
				m := make([]float32, s.sq*s.sk)
				for i := range m {
					if i%s.sk != 0 && rng.IntN(4) == 0 {
						m[i] = float32(math.Inf(-1))
					} else {
						m[i] = float32(-2 * rng.Float64())
					}
				}
				if o.Mask, err = encodeLeaf(b, data, graph.OpInput, "mask", graph.F32, m, s.sq, s.sk); err != nil {
					return parity.Fixture{}, err
				}
			}
			return parity.Fixture{Outputs: []*graph.Node{b.Attention(q, k, v, o)}, Data: data}, b.Err()
		},
	}
}

// seqInts returns start, start+1, ..., start+n-1.
func seqInts(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// attnVariants lists the attention variants other than "auto" that be has.
func attnVariants(be *vkBackend) []string {
	vs := []string{attnFlash, attnNaive, attnSplitKV}
	if storage16Available(&be.info) == nil {
		vs = append(vs, attnFlashS16, attnSplitKVS16, attnNaiveS16)
	}
	if coopmatFlashAvailable(&be.info) == nil {
		vs = append(vs, attnFlashCoopmat) // takes D%16 == 0 cases only
	}
	return vs
}

// TestAttentionSuite runs every attention case of the parity suite on the
// default variant and on each named variant (ShortCases under -short).
func TestAttentionSuite(t *testing.T) {
	be := vkDevice(t)
	ref := opsReference(t)
	var vc backend.VariantCompiler = be
	variants := attnVariants(be)
	require.Equal(t, append([]string{attnAuto}, variants...), vc.Variants(graph.OpAttention))
	op := regexp.QuoteMeta(graph.OpAttention.String())
	t.Run("default", func(t *testing.T) { runSuiteCases(t, be, ref, op) })
	for _, v := range variants {
		t.Run(v, func(t *testing.T) { runSuiteCases(t, variantTarget{be, graph.OpAttention, v}, ref, op) })
	}
}

// TestAttentionVariants checks each variant against the reference on
// shapes the suite does not cover: several tiles and splits, GQA 8, head
// dims 8/10/80/128, F16, BF16 and mixed K/V, NaN rows past the last
// position, rows that see no key.
func TestAttentionVariants(t *testing.T) {
	be := vkDevice(t)
	ref := opsReference(t)
	specs := []attnCaseSpec{
		{name: "prefill,sq=sk=45,gqa=2,d=64", sq: 45, sk: 45, hq: 4, hkv: 2, d: 64, causal: true},
		{name: "prefill,gqa=8,d=128,f16", sq: 20, sk: 20, hq: 8, hkv: 1, d: 128, kdt: graph.F16, causal: true},
		{name: "prefill,d=80,dv=48,mask,batch=2", b: 2, sq: 9, sk: 33, hq: 2, hkv: 2, d: 80, dv: 48, causal: true, mask: true},
		{name: "prefill,stories-like,d=8,gqa=2", sq: 13, sk: 13, hq: 8, hkv: 4, d: 8, causal: true},
		{name: "prefill,cache,stale_nan,f16", sq: 6, sk: 96, hq: 4, hkv: 2, d: 64, kdt: graph.F16, causal: true, pos: seqInts(30, 6), stale: true},
		{name: "decode,sk=300,gqa=8,d=128", sq: 1, sk: 300, hq: 8, hkv: 1, d: 128, causal: true},
		{name: "decode,sk=1100,f16,stale_nan", sq: 1, sk: 1100, hq: 2, hkv: 1, d: 64, kdt: graph.F16, causal: true, pos: []int{700}, stale: true},
		{name: "decode,sk=5000,multi-tile splits", sq: 1, sk: 5000, hq: 2, hkv: 2, d: 80, causal: true},
		{name: "decode,k_f32,v_f16,d=8", sq: 1, sk: 40, hq: 2, hkv: 1, d: 8, kdt: graph.F32, vdt: graph.F16, causal: true, pos: []int{17}, stale: true},
		{name: "prefill,cache,stale_nan,bf16", sq: 6, sk: 96, hq: 4, hkv: 2, d: 64, kdt: graph.BF16, causal: true, pos: seqInts(30, 6), stale: true},
		{name: "decode,sk=1100,bf16,stale_nan", sq: 1, sk: 1100, hq: 2, hkv: 1, d: 64, kdt: graph.BF16, causal: true, pos: []int{700}, stale: true},
		{name: "prefill,k_bf16,v_f16,d=10", sq: 5, sk: 9, hq: 2, hkv: 1, d: 10, kdt: graph.BF16, vdt: graph.F16, causal: true},
		{name: "decode,k_f16,v_bf16,d=10", sq: 1, sk: 40, hq: 2, hkv: 1, d: 10, kdt: graph.F16, vdt: graph.BF16, causal: true, pos: []int{17}, stale: true},
		{name: "no visible key", sq: 3, sk: 8, hq: 2, hkv: 1, d: 16, causal: true, pos: []int{-1, 0, 2}},
		{name: "non-causal,mask,scale", sq: 4, sk: 70, hq: 4, hkv: 2, d: 32, mask: true, scale: 0.3},
	}
	for _, v := range append([]string{attnAuto}, attnVariants(be)...) {
		target := variantTarget{be, graph.OpAttention, v}
		for _, s := range specs {
			c := attnCase(s)
			t.Run(v+"/"+c.Name, func(t *testing.T) { runOwnCase(t, target, ref, c) })
		}
	}
}

// TestAttentionLoopBudget runs, on lavapipe only, the longest key ranges
// the flash variant accepts there (its loop-iteration estimate must keep
// every invocation inside lavapipe's loop limiter), and a split-KV decode
// over more keys than one invocation could loop over.
func TestAttentionLoopBudget(t *testing.T) {
	be := vkDevice(t)
	if !loopLimited(&be.info) {
		t.Skip("the device has no loop limiter (not lavapipe)")
	}
	if testing.Short() {
		t.Skip("long key ranges: skipped under -short")
	}
	ref := opsReference(t)
	for _, s := range []attnCaseSpec{
		{sq: 20, hq: 1, hkv: 1, d: 128, causal: true},
		{sq: 1, hq: 1, hkv: 1, d: 64, dv: 80, causal: true},
	} {
		// The largest sk flash accepts: bisect between an accepted and a
		// rejected length.
		lo, hi := int64(1), int64(1)<<20
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			a := graph.AttentionDims{Batch: 1, Sq: s.sq, Sk: int(mid), Hq: 1, Hkv: 1, D: s.d, Dv: max(s.dv, s.d), Group: 1, Causal: true}
			if _, _, ok := flashTiles(&be.info, a); ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		s.sk = int(lo)
		s.name = fmt.Sprintf("longest flash,sq=%d,sk=%d,d=%d", s.sq, s.sk, s.d)
		c := attnCase(s)
		t.Run(c.Name, func(t *testing.T) { runOwnCase(t, variantTarget{be, graph.OpAttention, attnFlash}, ref, c) })
	}
	c := attnCase(attnCaseSpec{name: "splitkv,sk=70000", sq: 1, sk: 70000, hq: 2, hkv: 1, d: 64, kdt: graph.F16, causal: true})
	t.Run(c.Name, func(t *testing.T) { runOwnCase(t, variantTarget{be, graph.OpAttention, attnSplitKV}, ref, c) })
}

// TestSplitKVSplitsFromPositions: the split-KV kernel chooses each row's
// split count at run time from its position, not from the cache size: one
// compiled decode program over a 4096-key cache uses 1 split at position
// 100, 12 at 2999 and all 16 at 4095 (splits of at least 256 keys; the
// partial sums in the scratch buffer show which splits saw keys), with the
// right result each time.
func TestSplitKVSplitsFromPositions(t *testing.T) {
	be := vkDevice(t)
	const sk, hq, d = 4096, 2, 64
	b := graph.NewBuilder()
	q := b.Input("q", graph.F32, 1, hq, d)
	k := b.Input("k", graph.F16, sk, 1, d)
	v := b.Input("v", graph.F32, sk, 1, d)
	pos := b.Input("pos", graph.I32, 1)
	out := b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos})
	g, err := b.Build(out)
	require.NoError(t, err)
	prog, err := be.CompileVariant(g, graph.OpAttention, attnSplitKV)
	require.NoError(t, err)
	defer func() { require.NoError(t, prog.Close()) }()
	p := prog.(*program)
	nsplit, _ := splitPlan(out.AttentionDims())
	require.Equal(t, int64(16), nsplit)

	rng := rand.New(rand.NewPCG(3, 4))
	qv, kv, vv := randNormals(rng, hq*d), randNormals(rng, sk*d), randNormals(rng, sk*d)
	kh := make([]byte, 2*len(kv))
	for i, x := range kv {
		h := quant.F32ToF16(x)
		kh[2*i], kh[2*i+1] = byte(h), byte(h>>8)
		kv[i] = quant.F16ToF32(h)
	}
	bufs := map[*graph.Node][]byte{q: f32Bytes(qv...), k: kh, v: f32Bytes(vv...)}
	for n, data := range bufs {
		require.NoError(t, prog.Bind(n, upload(t, be, data), 0))
	}
	ob := upload(t, be, make([]byte, out.Bytes()))
	require.NoError(t, prog.Bind(out, ob, 0))
	pb := upload(t, be, i32Bytes(0))
	require.NoError(t, prog.Bind(pos, pb, 0))
	for _, tc := range []struct{ pos, splits int }{{100, 1}, {2999, 12}, {4095, 16}, {0, 1}} {
		require.NoError(t, pb.Write(0, i32Bytes(int32(tc.pos))))
		require.NoError(t, prog.Run(context.Background()))
		// Splits of row 0 that saw keys: l > 0 in the scratch buffer.
		raw := make([]byte, 8*nsplit)
		be.mu.Lock()
		require.NoError(t, be.dev.read(p.arena, p.scratchAt+p.core.Scratch.Offsets[0], raw))
		be.mu.Unlock()
		ml := bytesF32(raw)
		used := 0
		for s := 0; s < int(nsplit); s++ {
			if ml[2*s+1] > 0 {
				used++
			}
		}
		require.Equal(t, tc.splits, used, "position %d", tc.pos)
		// The result against float64 attention over keys 0..pos.
		got := bytesF32(readAll(t, ob))
		for h := 0; h < hq; h++ {
			scores := make([]float64, tc.pos+1)
			mx := math.Inf(-1)
			for j := range scores {
				var s float64
				for e := 0; e < d; e++ {
					s += float64(qv[h*d+e]) * float64(kv[j*d+e])
				}
				scores[j] = s / math.Sqrt(d)
				mx = max(mx, scores[j])
			}
			var sum float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - mx)
				sum += scores[j]
			}
			for e := 0; e < d; e++ {
				var want float64
				for j := range scores {
					want += scores[j] / sum * float64(vv[j*d+e])
				}
				require.InDelta(t, want, float64(got[h*d+e]), 1e-4, "position %d head %d element %d", tc.pos, h, e)
			}
		}
	}
}
