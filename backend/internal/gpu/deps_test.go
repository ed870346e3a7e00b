package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanBarriers(t *testing.T) {
	r := func(m string, lo, hi int64) Access[string] { return Access[string]{Mem: m, Lo: lo, Hi: hi} }
	w := func(m string, lo, hi int64) Access[string] {
		return Access[string]{Mem: m, Lo: lo, Hi: hi, Write: true}
	}
	tests := []struct {
		name string
		acc  [][]Access[string]
		want []Barrier[string]
	}{
		{"independent launches", [][]Access[string]{
			{r("a", 0, 16), w("b", 0, 16)},
			{r("a", 0, 16), w("b", 16, 32)},
			{r("a", 8, 24), w("c", 0, 16)},
		}, nil},
		{"read after write", [][]Access[string]{
			{r("a", 0, 16), w("b", 0, 16)},
			{r("b", 8, 12), w("c", 0, 16)},
		}, []Barrier[string]{{Before: 1, Flush: []Access[string]{w("b", 0, 16)}}}},
		{"write after write", [][]Access[string]{
			{w("b", 0, 16)},
			{w("b", 15, 20)},
		}, []Barrier[string]{{Before: 1, Flush: []Access[string]{w("b", 0, 16)}}}},
		{"write after read: execution only", [][]Access[string]{
			{r("b", 0, 16), w("c", 0, 4)},
			{r("c", 4, 8)},
			{w("b", 0, 4)},
		}, []Barrier[string]{{Before: 2, Flush: []Access[string]{w("c", 0, 4)}}}},
		{"write after read without pending writes", [][]Access[string]{
			{r("b", 0, 16)},
			{w("b", 0, 4)},
		}, []Barrier[string]{{Before: 1}}},
		{"touching ranges are independent", [][]Access[string]{
			{w("b", 0, 16)},
			{r("b", 16, 32), w("b", 32, 48)},
		}, nil},
		{"a barrier flushes every pending write, merged", [][]Access[string]{
			{w("x", 32, 48), w("y", 0, 8)},
			{w("x", 0, 16)},
			{w("x", 16, 32), r("z", 0, 4)},
			{r("x", 40, 44)},
			{r("x", 0, 4), r("y", 0, 8)},
		}, []Barrier[string]{{Before: 3, Flush: []Access[string]{w("x", 0, 48), w("y", 0, 8)}}}},
		{"a launch may read and write its own range", [][]Access[string]{
			{r("b", 0, 16), w("b", 0, 16)},
			{w("c", 0, 16)},
		}, nil},
		{"empty ranges are ignored", [][]Access[string]{
			{w("b", 4, 4)},
			{r("b", 0, 16)},
		}, nil},
		{"chain", [][]Access[string]{
			{w("a", 0, 4)},
			{r("a", 0, 4), w("b", 0, 4)},
			{r("b", 0, 4), w("a", 0, 4)},
		}, []Barrier[string]{
			{Before: 1, Flush: []Access[string]{w("a", 0, 4)}},
			{Before: 2, Flush: []Access[string]{w("b", 0, 4)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, PlanBarriers(tt.acc))
		})
	}
}

// TestPlanBarriersOrdersEveryConflict checks, on random launch lists, that
// every pair of conflicting launches has a barrier between them and that
// every write before a barrier is flushed by some barrier before any later
// launch touches its bytes.
func TestPlanBarriersOrdersEveryConflict(t *testing.T) {
	seed := uint64(1)
	next := func(n int64) int64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int64(seed>>33) % n
	}
	mems := []string{"a", "b", "c"}
	for trial := 0; trial < 200; trial++ {
		acc := make([][]Access[string], 2+next(12))
		for i := range acc {
			for k := int64(0); k < 1+next(3); k++ {
				lo := 4 * next(8)
				acc[i] = append(acc[i], Access[string]{Mem: mems[next(3)], Lo: lo, Hi: lo + 4 + 4*next(4), Write: next(2) == 0})
			}
		}
		bars := PlanBarriers(acc)
		barrierBefore := map[int]Barrier[string]{}
		for _, b := range bars {
			barrierBefore[b.Before] = b
		}
		for j := range acc {
			for i := 0; i < j; i++ {
				conflict := false
				for _, a := range acc[i] {
					for _, b := range acc[j] {
						if a.overlaps(b) && (a.Write || b.Write) {
							conflict = true
						}
					}
				}
				if !conflict {
					continue
				}
				// A barrier in (i, j], flushing i's writes that j touches.
				found := false
				for k := i + 1; k <= j && !found; k++ {
					b, ok := barrierBefore[k]
					if !ok {
						continue
					}
					found = true
					for _, a := range acc[i] {
						if !a.Write {
							continue
						}
						covered := false
						for _, f := range b.Flush {
							if f.Mem == a.Mem && f.Lo <= a.Lo && a.Hi <= f.Hi {
								covered = true
							}
						}
						require.True(t, covered, "trial %d: write %v of launch %d not flushed before launch %d", trial, a, i, j)
					}
				}
				require.True(t, found, "trial %d: launches %d and %d conflict without a barrier between them", trial, i, j)
			}
		}
	}
}
