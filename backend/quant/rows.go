package quant

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// DotRows sets out[i*ldo] = Dot(t, row, x[i*k:(i+1)*k]) for each of the m
// rows of x (k = len(x)/m elements each): bit for bit what Dot gives each
// row alone, so that a matrix-vector product of one row and of many agree
// exactly. Where a multi-row kernel exists (HasDotRows), each block of row
// is decoded once for several rows of x, which makes a product of a few x
// rows far cheaper than as many Dot calls.
//
// DotRows panics under Dot's conditions, when len(x) is not a multiple of
// m, or when out is too short.
func DotRows(t graph.DType, row []byte, x []float32, m int, out []float32, ldo int) {
	if m <= 0 {
		return
	}
	k := len(x) / m
	if k*m != len(x) || ldo < 1 || len(out) < (m-1)*ldo+1 {
		panic(fmt.Sprintf("quant: DotRows: %d floats of x for %d rows, %d outputs at stride %d", len(x), m, len(out), ldo))
	}
	row = checkDot("DotRows", t, row, k)
	for i := archDotRows(t, row, x, m, k, out, ldo); i < m; i++ {
		out[i*ldo] = Dot(t, row, x[i*k:(i+1)*k])
	}
}

// HasDotRows reports whether DotRows has a multi-row kernel for t on this
// machine (otherwise it is one Dot per row).
func HasDotRows(t graph.DType) bool { return archHasDotRows(t) }
