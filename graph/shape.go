package graph

import (
	"fmt"
	"strings"
)

// MaxRank is the largest number of dimensions a tensor may have.
const MaxRank = 4

// Shape lists a tensor's dimensions outermost-first: a matrix of r rows and c
// columns is Shape{r, c}, and its last dimension is the contiguous one.
type Shape []int

// Rank returns the number of dimensions.
func (s Shape) Rank() int { return len(s) }

// NumElements returns the product of the dimensions (1 for a scalar).
func (s Shape) NumElements() int64 {
	n := int64(1)
	for _, d := range s {
		n *= int64(d)
	}
	return n
}

// Equal reports whether s and o have the same dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Last returns the innermost dimension, or 1 for a scalar.
func (s Shape) Last() int {
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}

// Rows returns the number of innermost rows: the product of every dimension
// but the last (NumElements / Last for a valid shape; 1 for a scalar).
func (s Shape) Rows() int64 {
	if len(s) == 0 {
		return 1
	}
	return s[:len(s)-1].NumElements()
}

// Strides returns the row-major element strides of a contiguous tensor of shape s.
func (s Shape) Strides() []int64 {
	st := make([]int64, len(s))
	acc := int64(1)
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= int64(s[i])
	}
	return st
}

// String formats s as "[2 3 4]".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// check validates that s has a supported rank, positive dimensions and an
// element count that fits comfortably in an int64 byte size.
func (s Shape) check() error {
	if len(s) > MaxRank {
		return fmt.Errorf("rank %d exceeds %d", len(s), MaxRank)
	}
	n := int64(1)
	for _, d := range s {
		if d <= 0 {
			return fmt.Errorf("shape %v has a non-positive dimension", s)
		}
		if n > (1<<50)/int64(d) {
			return fmt.Errorf("shape %v has too many elements", s)
		}
		n *= int64(d)
	}
	return nil
}
