//go:build amd64 && !purego

package quant

import "github.com/golem-llm/golem/graph"

//go:noescape
func dotQ8_0x4AVX2(row *byte, x *float32, stride, nb int, out *[4]float32)

//go:noescape
func dotQ8_0x8AVX2(row *byte, x *float32, stride, nb int, out *[8]float32)

//go:noescape
func dotQ8_0x2AVX2(row *byte, x *float32, stride, nb int, out *[2]float32)

//go:noescape
func dotQ4_0x4AVX2(row *byte, x *float32, stride, nb int, out *[4]float32)

//go:noescape
func dotQ4_0x2AVX2(row *byte, x *float32, stride, nb int, out *[2]float32)

// archDotRows does a prefix of DotRows's x rows with a multi-row kernel
// and returns how many it did (0 when none applies).
func archDotRows(t graph.DType, row []byte, x []float32, m, k int, out []float32, ldo int) int {
	if !archHasDotRows(t) || k == 0 {
		return 0
	}
	q4 := t == graph.Q4_0
	i := 0
	if !q4 {
		var s8 [8]float32
		for ; i+8 <= m; i += 8 {
			dotQ8_0x8AVX2(&row[0], &x[i*k], 4*k, k/32, &s8)
			for r, v := range s8 {
				out[(i+r)*ldo] = v
			}
		}
	}
	var s [4]float32
	for ; i+4 <= m; i += 4 {
		// Direct calls: through a function value &s would escape.
		if q4 {
			dotQ4_0x4AVX2(&row[0], &x[i*k], 4*k, k/32, &s)
		} else {
			dotQ8_0x4AVX2(&row[0], &x[i*k], 4*k, k/32, &s)
		}
		out[i*ldo], out[(i+1)*ldo], out[(i+2)*ldo], out[(i+3)*ldo] = s[0], s[1], s[2], s[3]
	}
	if i+2 <= m {
		var s2 [2]float32
		if q4 {
			dotQ4_0x2AVX2(&row[0], &x[i*k], 4*k, k/32, &s2)
		} else {
			dotQ8_0x2AVX2(&row[0], &x[i*k], 4*k, k/32, &s2)
		}
		out[i*ldo], out[(i+1)*ldo] = s2[0], s2[1]
		i += 2
	}
	return i
}

// archHasDotRows reports whether DotRows has a multi-row kernel for t.
func archHasDotRows(t graph.DType) bool { return useAsm && (t == graph.Q8_0 || t == graph.Q4_0) }
