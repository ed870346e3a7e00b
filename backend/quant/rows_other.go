//go:build !amd64 || purego

package quant

import "github.com/golem-llm/golem/graph"

// archDotRows: there is no multi-row kernel here.
func archDotRows(graph.DType, []byte, []float32, int, int, []float32, int) int { return 0 }

// archHasDotRows: there is no multi-row kernel here.
func archHasDotRows(graph.DType) bool { return false }
