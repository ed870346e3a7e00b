package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

func TestShape(t *testing.T) {
	tests := []struct {
		name    string
		s       graph.Shape
		rank    int
		elems   int64
		rows    int64
		last    int
		strides []int64
		str     string
	}{
		{"scalar", graph.Shape{}, 0, 1, 1, 1, []int64{}, "[]"},
		{"nil", nil, 0, 1, 1, 1, []int64{}, "[]"},
		{"vector", graph.Shape{7}, 1, 7, 1, 7, []int64{1}, "[7]"},
		{"matrix", graph.Shape{3, 5}, 2, 15, 3, 5, []int64{5, 1}, "[3 5]"},
		{"3-D", graph.Shape{2, 3, 4}, 3, 24, 6, 4, []int64{12, 4, 1}, "[2 3 4]"},
		{"4-D", graph.Shape{2, 3, 4, 5}, 4, 120, 24, 5, []int64{60, 20, 5, 1}, "[2 3 4 5]"},
		{"ones", graph.Shape{1, 1, 1}, 3, 1, 1, 1, []int64{1, 1, 1}, "[1 1 1]"},
		{"zero last", graph.Shape{4, 0}, 2, 0, 4, 0, []int64{0, 1}, "[4 0]"},
		{"zero first", graph.Shape{0, 4}, 2, 0, 0, 4, []int64{4, 1}, "[0 4]"},
		{"large", graph.Shape{1 << 20, 1 << 20, 4}, 3, 1 << 42, 1 << 40, 4, []int64{1 << 22, 4, 1}, "[1048576 1048576 4]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.rank, tc.s.Rank())
			require.Equal(t, tc.elems, tc.s.NumElements())
			require.Equal(t, tc.rows, tc.s.Rows())
			require.Equal(t, tc.last, tc.s.Last())
			require.Equal(t, tc.strides, tc.s.Strides())
			require.Equal(t, tc.str, tc.s.String())
			require.True(t, tc.s.Equal(tc.s.Clone()))
		})
	}
}

func TestShapeEqual(t *testing.T) {
	tests := []struct {
		a, b graph.Shape
		want bool
	}{
		{graph.Shape{}, graph.Shape{}, true},
		{nil, graph.Shape{}, true},
		{graph.Shape{2, 3}, graph.Shape{2, 3}, true},
		{graph.Shape{2, 3}, graph.Shape{3, 2}, false},
		{graph.Shape{2, 3}, graph.Shape{2, 3, 1}, false},
		{graph.Shape{1, 2, 3}, graph.Shape{2, 3}, false},
		{graph.Shape{6}, graph.Shape{2, 3}, false},
		{graph.Shape{4}, nil, false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.a.Equal(tc.b), "%v == %v", tc.a, tc.b)
		require.Equal(t, tc.want, tc.b.Equal(tc.a), "%v == %v", tc.b, tc.a)
	}
}

func TestShapeCloneIsIndependent(t *testing.T) {
	s := graph.Shape{2, 3}
	c := s.Clone()
	c[0] = 9
	require.Equal(t, graph.Shape{2, 3}, s)
}
