package gpu

import "sort"

// This file computes where a backend that runs launches on one in-order
// queue without implicit ordering (Vulkan) must put barriers: only before a
// launch that depends on an earlier one.

// Writes reports whether a launch may write the argument: outputs (Out,
// OutRange), scratch regions and the status region. Inputs and constants
// are read only.
func (a Arg) Writes() bool { return a.Write || a.Kind == ArgScratch || a.Kind == ArgStatus }

// Access is how a launch uses one argument once the backend has placed it:
// bytes [Lo, Hi) of memory object Mem (a buffer), read, or read and
// written. A backend gives the bytes its binding covers (which may be more
// than the argument's own, e.g. rounded to an alignment), so that the
// dependencies hold for everything a kernel can touch.
type Access[M comparable] struct {
	Mem    M
	Lo, Hi int64
	Write  bool
}

// overlaps reports whether a and b share a byte of the same memory.
func (a Access[M]) overlaps(b Access[M]) bool {
	return a.Mem == b.Mem && a.Lo < b.Hi && b.Lo < a.Hi
}

// Barrier is a barrier a backend records before launch Before: an
// execution dependency on every earlier launch, and a memory dependency
// (the writes made visible to later launches) on the ranges in Flush.
// Flush holds every range written since the previous barrier, merged per
// memory object and sorted, so that after the barrier nothing earlier is
// pending; it is empty when the barrier only orders a write after earlier
// reads (write-after-read).
type Barrier[M comparable] struct {
	Before int
	Flush  []Access[M]
}

// PlanBarriers returns the barriers launches with the given accesses need
// when run in order: one before launch i exactly when i reads or writes
// bytes that a launch since the previous barrier wrote (read-after-write,
// write-after-write), or writes bytes such a launch read
// (write-after-read). Launches between two barriers are independent and
// may run concurrently. Placing each barrier as late as possible gives the
// fewest barriers for this order. Empty ranges are ignored.
func PlanBarriers[M comparable](accesses [][]Access[M]) []Barrier[M] {
	var out []Barrier[M]
	var writes, reads []Access[M]
	for i, acc := range accesses {
		if conflicts(acc, writes, reads) {
			out = append(out, Barrier[M]{Before: i, Flush: mergeRanges(writes)})
			writes, reads = writes[:0:0], reads[:0:0]
		}
		for _, a := range acc {
			if a.Hi <= a.Lo {
				continue
			}
			if a.Write {
				writes = append(writes, a)
			} else {
				reads = append(reads, a)
			}
		}
	}
	return out
}

// conflicts reports whether a launch with accesses acc depends on the
// pending writes and reads.
func conflicts[M comparable](acc, writes, reads []Access[M]) bool {
	for _, a := range acc {
		if a.Hi <= a.Lo {
			continue
		}
		for _, w := range writes {
			if a.overlaps(w) {
				return true
			}
		}
		if !a.Write {
			continue
		}
		for _, r := range reads {
			if a.overlaps(r) {
				return true
			}
		}
	}
	return false
}

// mergeRanges merges overlapping and adjacent ranges of the same memory:
// memory objects in the order they first appear, ranges sorted by start.
func mergeRanges[M comparable](rs []Access[M]) []Access[M] {
	if len(rs) == 0 {
		return nil
	}
	order := []M{}
	by := map[M][]Access[M]{}
	for _, r := range rs {
		if _, ok := by[r.Mem]; !ok {
			order = append(order, r.Mem)
		}
		by[r.Mem] = append(by[r.Mem], r)
	}
	var out []Access[M]
	for _, m := range order {
		g := by[m]
		sort.Slice(g, func(i, j int) bool { return g[i].Lo < g[j].Lo })
		cur := g[0]
		for _, r := range g[1:] {
			if r.Lo <= cur.Hi {
				cur.Hi = max(cur.Hi, r.Hi)
				continue
			}
			out = append(out, cur)
			cur = r
		}
		out = append(out, cur)
	}
	return out
}
