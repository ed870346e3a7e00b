//go:build cgo

package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// attnSpec is one attention problem for the kernel tests: positions pos
// (one per query; nil for none), an optional mask, K/V of kvt, rows past
// the largest position holding NaN.
type attnSpec struct {
	b, sq, sk, hq, hkv, d, dv int
	kvt                       graph.DType
	pos                       []int32
	mask                      bool
	sms                       int
}

// attentionRef computes the attention of the spec in float64.
func attentionRef(s attnSpec, q, k, v, mask []float32) []float32 {
	out := make([]float32, s.b*s.sq*s.hq*s.dv)
	scale := 1 / math.Sqrt(float64(s.d))
	group := s.hq / s.hkv
	for b := 0; b < s.b; b++ {
		for i := 0; i < s.sq; i++ {
			nvis := s.sk - s.sq + i + 1
			if s.pos != nil {
				nvis = int(s.pos[i]) + 1
			}
			nvis = min(max(nvis, 0), s.sk)
			for h := 0; h < s.hq; h++ {
				hk := h / group
				sc := make([]float64, nvis)
				mx := math.Inf(-1)
				for j := 0; j < nvis; j++ {
					var dot float64
					for c := 0; c < s.d; c++ {
						dot += float64(q[((b*s.sq+i)*s.hq+h)*s.d+c]) * float64(k[((b*s.sk+j)*s.hkv+hk)*s.d+c])
					}
					sc[j] = dot * scale
					if mask != nil {
						sc[j] += float64(mask[i*s.sk+j])
					}
					mx = math.Max(mx, sc[j])
				}
				var sum float64
				for j := range sc {
					if !math.IsInf(mx, -1) {
						sc[j] = math.Exp(sc[j] - mx)
					} else {
						sc[j] = 0
					}
					sum += sc[j]
				}
				for c := 0; c < s.dv; c++ {
					var o float64
					for j := range sc {
						o += sc[j] * float64(v[((b*s.sk+j)*s.hkv+hk)*s.dv+c])
					}
					if sum > 0 {
						o /= sum
					}
					out[((b*s.sq+i)*s.hq+h)*s.dv+c] = float32(o)
				}
			}
		}
	}
	return out
}

// encodeKV encodes vals as kvt (F32, F16 or BF16) and returns the values
// the encoding holds.
func encodeKV(vals []float32, kvt graph.DType) ([]byte, []float32) {
	var out []byte
	back := make([]float32, len(vals))
	for i, x := range vals {
		switch kvt {
		case graph.F16:
			h := quant.F32ToF16(x)
			back[i] = quant.F16ToF32(h)
			out = binary.LittleEndian.AppendUint16(out, h)
		case graph.BF16:
			h := quant.F32ToBF16(x)
			back[i] = quant.BF16ToF32(h)
			out = binary.LittleEndian.AppendUint16(out, h)
		default:
			back[i] = x
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		}
	}
	return out, back
}

// runAttention runs spec s with variant on be and compares with the float64
// reference.
func runAttention(t *testing.T, be *cudaBackend, s attnSpec, variant string) {
	t.Helper()
	if s.sms > 0 {
		old := be.info.SMCount
		be.info.SMCount = s.sms
		defer func() { be.info.SMCount = old }()
	}
	rng := rand.New(rand.NewPCG(uint64(s.sk), uint64(s.d)))
	gen := func(n int, sd float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * sd)
		}
		return x
	}
	q := gen(s.b*s.sq*s.hq*s.d, 1)
	kf, vf := gen(s.b*s.sk*s.hkv*s.d, 1), gen(s.b*s.sk*s.hkv*s.dv, 1)
	last := s.sk
	if s.pos != nil {
		last = 0
		for _, p := range s.pos {
			last = max(last, int(p)+1)
		}
	}
	kb, kback := encodeKV(kf, s.kvt)
	vb, vback := encodeKV(vf, s.kvt)
	es := s.kvt.BlockBytes()
	for b := 0; b < s.b; b++ { // rows no query sees hold NaN
		for j := last; j < s.sk; j++ {
			for c := 0; c < s.hkv*s.d*es; c++ {
				kb[((b*s.sk+j)*s.hkv*s.d)*es+c] = 0xff
			}
			for c := 0; c < s.hkv*s.dv*es; c++ {
				vb[((b*s.sk+j)*s.hkv*s.dv)*es+c] = 0xff
			}
		}
	}
	dims := func(d ...int) []int {
		if s.b > 1 {
			return append([]int{s.b}, d...)
		}
		return d
	}
	bld := graph.NewBuilder()
	qn := bld.Input("q", graph.F32, dims(s.sq, s.hq, s.d)...)
	kn := bld.Input("k", s.kvt, dims(s.sk, s.hkv, s.d)...)
	vn := bld.Input("v", s.kvt, dims(s.sk, s.hkv, s.dv)...)
	o := graph.AttentionOpts{Causal: true}
	inputs := map[*graph.Node][]byte{qn: f32bytes(q...), kn: kb, vn: vb}
	var mask []float32
	if s.mask {
		mask = gen(s.sq*s.sk, 1)
		for i := range mask {
			if i%7 == 3 {
				mask[i] = float32(math.Inf(-1))
			}
		}
		o.Mask = bld.Input("mask", graph.F32, s.sq, s.sk)
		inputs[o.Mask] = f32bytes(mask...)
	}
	if s.pos != nil {
		o.Pos = bld.Input("pos", graph.I32, s.sq)
		inputs[o.Pos] = i32bytes(s.pos...)
	}
	out := bld.Attention(qn, kn, vn, o)
	g, err := bld.Build(out)
	require.NoError(t, err)
	got, err := runGraph(t, be, g, graph.OpAttention, variant, inputs, out)
	require.NoError(t, err)
	want := attentionRef(s, q, kback, vback, mask)
	gf := f32s(got)
	nmse := parity.NMSE(gf, want)
	t.Logf("NMSE %.3g", nmse)
	require.LessOrEqual(t, nmse, parity.MatMulThreshold/10)
	for i, x := range gf {
		require.False(t, math.IsNaN(float64(x)), "element %d is NaN", i)
	}
}

// TestAttentionKernelShapes runs the split-KV and flash kernels on shapes
// the op suite lacks: long caches split many ways (the SM count raised),
// GQA groups of 16 (two head chunks), queries that see one key or none,
// F32 rows of 128, BF16 rows (vector and unaligned pieces), masks with
// −inf, batches, NaN rows past every position.
func TestAttentionKernelShapes(t *testing.T) {
	be := cudaDevice(t)
	tests := []struct {
		variant string
		s       attnSpec
	}{
		{attnSplitKV, attnSpec{b: 1, sq: 1, sk: 1000, hq: 32, hkv: 2, d: 64, dv: 64, kvt: graph.F16, pos: []int32{700}, sms: 132}},
		{attnSplitKV, attnSpec{b: 1, sq: 1, sk: 300, hq: 4, hkv: 4, d: 80, dv: 80, kvt: graph.F16, pos: []int32{0}, sms: 132}},
		{attnSplitKV, attnSpec{b: 2, sq: 1, sk: 513, hq: 8, hkv: 2, d: 128, dv: 128, kvt: graph.F32, mask: true, sms: 64}},
		{attnSplitKV, attnSpec{b: 1, sq: 3, sk: 200, hq: 6, hkv: 2, d: 96, dv: 64, kvt: graph.F16, pos: []int32{-1, 150, 60}, sms: 40}},
		{attnSplitKV, attnSpec{b: 1, sq: 1, sk: 1000, hq: 16, hkv: 2, d: 128, dv: 128, kvt: graph.BF16, pos: []int32{900}, sms: 132}},
		{attnSplitKV, attnSpec{b: 2, sq: 1, sk: 97, hq: 3, hkv: 1, d: 36, dv: 20, kvt: graph.BF16, mask: true, sms: 8}},
		{attnFlash, attnSpec{b: 1, sq: 130, sk: 200, hq: 4, hkv: 2, d: 128, dv: 128, kvt: graph.BF16, pos: func() []int32 {
			p := make([]int32, 130)
			for i := range p {
				p[i] = int32(50 + i)
			}
			return p
		}()}},
		{attnFlash, attnSpec{b: 2, sq: 33, sk: 70, hq: 2, hkv: 1, d: 80, dv: 80, kvt: graph.BF16, mask: true}},
		{attnSimple, attnSpec{b: 1, sq: 4, sk: 50, hq: 4, hkv: 2, d: 200, dv: 72, kvt: graph.BF16, pos: []int32{10, 49, 0, 30}}},
		{attnFlash, attnSpec{b: 1, sq: 150, sk: 150, hq: 4, hkv: 1, d: 64, dv: 64, kvt: graph.F16}},
		{attnFlash, attnSpec{b: 2, sq: 70, sk: 200, hq: 2, hkv: 2, d: 128, dv: 128, kvt: graph.F32, mask: true}},
		{attnFlash, attnSpec{b: 1, sq: 5, sk: 300, hq: 8, hkv: 2, d: 80, dv: 80, kvt: graph.F16, pos: []int32{200, 7, 0, -1, 130}}},
		{attnFlash, attnSpec{b: 1, sq: 66, sk: 130, hq: 2, hkv: 1, d: 96, dv: 96, kvt: graph.F16}},
	}
	for _, tt := range tests {
		s := tt.s
		t.Run(fmt.Sprintf("%s/b%d_sq%d_sk%d_hq%d_hkv%d_d%d_dv%d_%s", tt.variant, s.b, s.sq, s.sk, s.hq, s.hkv, s.d, s.dv, s.kvt), func(t *testing.T) {
			runAttention(t, be, s, tt.variant)
		})
	}
}
