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

// DotRowsBF16 is DotRowsF32 for BF16 rows viewed as uint16 values (a BF16
// KV cache): one Dot per row (AVX2 on amd64).
func DotRowsBF16(q []float32, rows []uint16, stride int, out []float32) {
	d, n := len(q), len(out)
	checkRows("DotRowsBF16", d, stride, n, len(rows))
	if d == 0 {
		clear(out)
		return
	}
	for j := range n {
		r := rows[j*stride : j*stride+d]
		out[j] = Dot(graph.BF16, unsafe.Slice((*byte)(unsafe.Pointer(&r[0])), 2*d), q)
	}
}

// AXPYRowsBF16 is AXPYRowsF32 for BF16 rows viewed as uint16 values, in
// Go.
func AXPYRowsBF16(e []float32, rows []uint16, stride int, acc []float32) {
	d, n := len(acc), len(e)
	checkRows("AXPYRowsBF16", d, stride, n, len(rows))
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
