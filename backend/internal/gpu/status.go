package gpu

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// The status region reports run-time errors that a kernel cannot raise:
// an id or a position out of range. Such a kernel clamps the bad value so
// that it stays inside its tensors, and flags it in its node's slot of
// StatusWords 32-bit words, zeroed before every run:
//
//	word 0: how many bad elements were found (atomic add)
//	word 1: the first bad value (as int32), written by the first reporter
//	word 2: the index (row) it was found at, likewise
//	word 3: unused
//
// kernels/vulkan/include/common.glsl (report_error) implements it for
// GLSL; a kernel receives its slot as a parameter word (Launch.Status).
const StatusWords = 4

// StatusBytes returns the size of the status region: one slot per node
// that reports (0 when none does).
func (ll *LaunchList) StatusBytes() int64 { return int64(4 * StatusWords * len(ll.Slots)) }

// CheckStatus turns the status region's words, read back after a run,
// into an error naming the first node whose slot flags one (the backend
// adds its own prefix), or nil.
func (ll *LaunchList) CheckStatus(words []uint32) error {
	for i, n := range ll.Slots {
		if StatusWords*(i+1) > len(words) {
			return fmt.Errorf("status region of %d words holds no slot %d (%s)", len(words), i, n)
		}
		s := words[StatusWords*i:]
		if s[0] == 0 {
			continue
		}
		return fmt.Errorf("%s: %s", n, StatusMessage(n, s[0], int32(s[1]), s[2]))
	}
	return nil
}

// StatusMessage describes a flagged status slot of node n: count errors,
// the first bad value and the index it was found at.
func StatusMessage(n *graph.Node, count uint32, value int32, row uint32) string {
	var what string
	switch n.Op {
	case graph.OpGetRows:
		what = fmt.Sprintf("id %d at index %d is outside the table's rows [0, %d)", value, row, n.Inputs[0].Shape[0])
	case graph.OpKVWrite, graph.OpRoPEKVWrite:
		what = fmt.Sprintf("position %d at index %d is outside the cache's rows [0, %d)", value, row, n.Inputs[0].Shape[0])
	case graph.OpCopy:
		scale := "d"
		if value == 1 {
			scale = "dmin"
		}
		what = fmt.Sprintf("block %d: scale %s does not fit an f16 (source values too large or not finite)", row, scale)
	default:
		what = fmt.Sprintf("bad value %d at index %d", value, row)
	}
	if count > 1 {
		what += fmt.Sprintf(" (%d bad elements in all)", count)
	}
	return what
}
