package quant

import (
	"fmt"
	"unsafe"

	"github.com/golem-llm/golem/graph"
)

// Attention kernels over a block of cache rows: the keys (or values) of
// one kv head for n consecutive positions, rows of d elements stride
// elements apart (a cache row holds every kv head of a position). They
// check their arguments once per block.

// checkRows panics unless n rows of d elements stride apart fit in rows
// (of length have).
func checkRows(fn string, d, stride, n, have int) {
	if d < 0 || n < 0 || stride < d || (n > 0 && (n-1)*stride+d > have) {
		panic(fmt.Sprintf("quant: %s: %d rows of %d elements %d apart do not fit in %d", fn, n, d, stride, have))
	}
}

// DotRowsF32 sets out[j] = q·rows[j*stride:j*stride+len(q)] for j <
// len(out). It panics if rows is too short or stride < len(q).
func DotRowsF32(q, rows []float32, stride int, out []float32) {
	d, n := len(q), len(out)
	checkRows("DotRowsF32", d, stride, n, len(rows))
	done := archDotRowsF32(q, rows, stride, out)
	for j := done; j < n; j++ {
		if d < 32 {
			out[j] = dotF32Go(q, rows[j*stride:j*stride+d]) // no call into assembly for a short row
		} else {
			out[j] = DotF32(q, rows[j*stride:j*stride+d])
		}
	}
}

// DotRowsF16 is DotRowsF32 for F16 rows viewed as uint16 values.
func DotRowsF16(q []float32, rows []uint16, stride int, out []float32) {
	d, n := len(q), len(out)
	checkRows("DotRowsF16", d, stride, n, len(rows))
	done := archDotRowsF16(q, rows, stride, out)
	for j := done; j < n; j++ {
		out[j] = DotF16(rows[j*stride:j*stride+d], q)
	}
}

// AXPYRowsF32 adds e[j]·rows[j*stride:j*stride+len(acc)] to acc for every
// j < len(e) (the weighted values of an attention block), skipping zero
// weights on the portable path. It panics if rows is too short or stride
// < len(acc).
func AXPYRowsF32(e, rows []float32, stride int, acc []float32) {
	d, n := len(acc), len(e)
	checkRows("AXPYRowsF32", d, stride, n, len(rows))
	if archAXPYRowsF32(e, rows, stride, acc) {
		return
	}
	for j, w := range e {
		if w != 0 {
			axpyFused(w, rows[j*stride:j*stride+d], acc)
		}
	}
}

// AXPYRowsF16 is AXPYRowsF32 for F16 rows viewed as uint16 values.
func AXPYRowsF16(e []float32, rows []uint16, stride int, acc []float32) {
	d, n := len(acc), len(e)
	checkRows("AXPYRowsF16", d, stride, n, len(rows))
	if archAXPYRowsF16(e, rows, stride, acc) {
		return
	}
	for j, w := range e {
		if w != 0 {
			r := rows[j*stride : j*stride+d]
			for i := range acc {
				acc[i] += w * F16ToF32(r[i])
			}
		}
	}
}

// DotRowsGroupF16 is DotRowsF16 for the g query heads of one kv group,
// which read the same key rows: q holds the g heads' queries (d = len(q)/g
// elements each) and out[h*ostride+j] = q[h*d:(h+1)*d]·rows[j*stride:][:d]
// for h < g and j < n. On AVX-512, for heads of a multiple of 64
// elements, each block of four key rows is converted from f16 once for all
// g heads (instead of once per head), a 64-element piece at a time: a
// 64-element head gets DotRowsF16's bits, a longer one the sum of its
// pieces' products (each reduced as DotRowsF16 reduces a row). It panics
// if rows or out is too short or stride < d.
func DotRowsGroupF16(q []float32, g int, rows []uint16, stride, n int, out []float32, ostride int) {
	if g <= 0 || len(q)%g != 0 || (g > 1 && ostride < n) || (n > 0 && len(out) < (g-1)*ostride+n) {
		panic(fmt.Sprintf("quant: DotRowsGroupF16: %d heads of %d query elements, %d outputs %d apart in %d", g, len(q), n, ostride, len(out)))
	}
	d := len(q) / g
	checkRows("DotRowsGroupF16", d, stride, n, len(rows))
	done := archDotRowsGroupF16(q, g, rows, stride, n, out, ostride)
	for h := range g {
		o := out[h*ostride : h*ostride+n]
		if done == 0 {
			DotRowsF16(q[h*d:(h+1)*d], rows, stride, o)
			continue
		}
		for j := done; j < n; j++ {
			o[j] = DotF16(rows[j*stride:j*stride+d], q[h*d:(h+1)*d])
		}
	}
}

// AXPYRowsGroupF16 is AXPYRowsF16 for the g query heads of one kv group,
// which weight the same value rows: acc holds the g heads' accumulators
// (dv = len(acc)/g elements each) and acc[h*dv:(h+1)*dv] += Σ_j
// e[h*estride+j]·rows[j*stride:][:dv] for j < n. On AVX-512, for heads of
// a multiple of 64 elements, four heads at a time take each 64-element
// piece of an f16 row converted once (the heads past the last four take
// AXPYRowsF16). A head's result depends on its weights, the rows and g,
// never on the other heads' weights. It panics if rows, e or acc is too
// short.
func AXPYRowsGroupF16(e []float32, estride, g int, rows []uint16, stride, n int, acc []float32) {
	if g <= 0 || len(acc)%g != 0 || (g > 1 && estride < n) || (n > 0 && len(e) < (g-1)*estride+n) {
		panic(fmt.Sprintf("quant: AXPYRowsGroupF16: %d heads of %d accumulators, %d weights %d apart in %d", g, len(acc), n, estride, len(e)))
	}
	dv := len(acc) / g
	checkRows("AXPYRowsGroupF16", dv, stride, n, len(rows))
	done := archAXPYRowsGroupF16(e, estride, g, rows, stride, n, acc)
	for h := done; h < g; h++ {
		AXPYRowsF16(e[h*estride:h*estride+n], rows, stride, acc[h*dv:(h+1)*dv])
	}
}

// DotRowsBF16 is DotRowsF32 for BF16 rows viewed as uint16 values (a BF16
// KV cache).
func DotRowsBF16(q []float32, rows []uint16, stride int, out []float32) {
	d, n := len(q), len(out)
	checkRows("DotRowsBF16", d, stride, n, len(rows))
	if d == 0 {
		clear(out)
		return
	}
	for j := archDotRowsBF16(q, rows, stride, out); j < n; j++ {
		r := rows[j*stride : j*stride+d]
		out[j] = Dot(graph.BF16, unsafe.Slice((*byte)(unsafe.Pointer(&r[0])), 2*d), q)
	}
}

// AXPYRowsBF16 is AXPYRowsF32 for BF16 rows viewed as uint16 values.
func AXPYRowsBF16(e []float32, rows []uint16, stride int, acc []float32) {
	d, n := len(acc), len(e)
	checkRows("AXPYRowsBF16", d, stride, n, len(rows))
	if archAXPYRowsBF16(e, rows, stride, acc) {
		return
	}
	for j, w := range e {
		if w != 0 {
			r := rows[j*stride : j*stride+d]
			for i := range acc {
				acc[i] += w * BF16ToF32(r[i])
			}
		}
	}
}

// axpyFused is y += a·x in Go (the product rounded or fused as the
// compiler chooses).
func axpyFused(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}
