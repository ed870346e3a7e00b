package cpu

import (
	"math"

	"github.com/golem-llm/golem/graph"
)

// attentionScratch is the per-thread scratch of fastAttention: for the
// query heads of one kv group, the output accumulators, running maxima and
// running sums, then one key and one value row converted from f16.
func attentionScratch(n *graph.Node) int {
	a := attentionShape(n)
	return a.group*a.dv + 2*a.group + a.d + a.dv
}

// fastAttention is fused attention with an online softmax. One item is one
// (batch, query, kv head): the key and value rows of the kv head are read
// (and converted from f16) once for all query heads that share them, and
// only keys up to the causal limit are read.
func fastAttention(p *program, n *graph.Node) error {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	a := attentionShape(n)
	var mask []float32
	if m := n.Mask(); m != nil {
		mask = p.f32(m)
	}
	var pos []int32
	if ps := n.Positions(); ps != nil {
		pos = p.i32(ps)
	}
	qv, out := p.f32(q), p.f32(n)
	var kf, vf []float32
	var kh, vh []uint16
	if k.DType == graph.F16 {
		kh = p.u16(k)
	} else {
		kf = p.f32(k)
	}
	if v.DType == graph.F16 {
		vh = p.u16(v)
	} else {
		vf = p.f32(v)
	}
	var tab *[1 << 16]float32
	if kh != nil || vh != nil {
		tab = p.b.f16Table()
	}
	scale := float32(a.scale)
	negInf := float32(math.Inf(-1))
	items := a.batch * a.sq * a.hkv
	return p.parallel(items, 1, func(lo, hi, slot int) error {
		sc := p.scratchFor(slot)
		acc := sc[:a.group*a.dv]
		mx := sc[a.group*a.dv : a.group*a.dv+a.group]
		sum := sc[a.group*a.dv+a.group : a.group*(a.dv+2)]
		kbuf := sc[a.group*(a.dv+2) : a.group*(a.dv+2)+a.d]
		vbuf := sc[a.group*(a.dv+2)+a.d : a.group*(a.dv+2)+a.d+a.dv]
		for it := lo; it < hi; it++ {
			g := it % a.hkv
			bi := it / a.hkv // batch*sq + query
			b, i := bi/a.sq, bi%a.sq
			nk := a.visible(i, pos)
			clear(acc)
			clear(sum)
			for h := range mx {
				mx[h] = negInf
			}
			qBase := (bi*a.hq + g*a.group) * a.d
			for j := 0; j < nk; j++ {
				kvRow := (b*a.sk+j)*a.hkv + g
				var kr, vr []float32
				if kh != nil {
					f16Row(tab, kh[kvRow*a.d:(kvRow+1)*a.d], kbuf)
					kr = kbuf
				} else {
					kr = kf[kvRow*a.d : (kvRow+1)*a.d]
				}
				vLoaded := false
				for h := 0; h < a.group; h++ {
					s := scale * dot32(qv[qBase+h*a.d:qBase+(h+1)*a.d], kr)
					if mask != nil {
						s += mask[i*a.sk+j]
					}
					if s == negInf {
						continue
					}
					if !vLoaded {
						if vh != nil {
							f16Row(tab, vh[kvRow*a.dv:(kvRow+1)*a.dv], vbuf)
							vr = vbuf
						} else {
							vr = vf[kvRow*a.dv : (kvRow+1)*a.dv]
						}
						vLoaded = true
					}
					ah := acc[h*a.dv : (h+1)*a.dv]
					if s > mx[h] {
						corr := float32(math.Exp(float64(mx[h] - s)))
						mx[h] = s
						sum[h] *= corr
						for t := range ah {
							ah[t] *= corr
						}
					}
					e := float32(math.Exp(float64(s - mx[h])))
					sum[h] += e
					vr = vr[:len(ah)]
					for t := range ah {
						ah[t] += e * vr[t]
					}
				}
			}
			for h := 0; h < a.group; h++ {
				o := out[(bi*a.hq+g*a.group+h)*a.dv : (bi*a.hq+g*a.group+h+1)*a.dv]
				if sum[h] == 0 {
					clear(o)
					continue
				}
				inv := 1 / sum[h]
				ah := acc[h*a.dv : (h+1)*a.dv]
				for t := range o {
					o[t] = ah[t] * inv
				}
			}
		}
		return nil
	})
}

// f16Row converts a row of f16 values to float32 through table tab.
func f16Row(tab *[1 << 16]float32, src []uint16, dst []float32) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = tab[h]
	}
}

// dotF16 returns x·w for an f16 row w, converting through table tab.
func dotF16(tab *[1 << 16]float32, x []float32, w []uint16) float32 {
	w = w[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b := x[i:i+4:i+4], w[i:i+4:i+4]
		s0 += a[0] * tab[b[0]]
		s1 += a[1] * tab[b[1]]
		s2 += a[2] * tab[b[2]]
		s3 += a[3] * tab[b[3]]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * tab[w[i]]
	}
	return (s0 + s1) + (s2 + s3)
}
