package vulkan

import "fmt"

// pool sub-allocates byte ranges of large memory blocks (M: the block's
// memory, a VkDeviceMemory on the device), so that buffers do not each
// take a device allocation: Vulkan implementations limit allocations
// (maxMemoryAllocationCount, 4096 on many drivers) and make them slow.
// Free ranges are kept per block, sorted and coalesced; alloc takes the
// smallest free range that fits (best fit) over every block and makes a
// new block when none does; a block whose last range is freed is
// released. A pool is not safe for concurrent use (the backend's mutex
// serialises it).
type pool[M any] struct {
	// blockSize is the size of a new block.
	blockSize int64
	newBlock  func(size int64) (M, error)
	freeBlock func(M)
	blocks    []*block[M]
}

// block is one memory block of a pool.
type block[M any] struct {
	mem  M
	size int64
	free []span // sorted by offset, coalesced
}

// span is a byte range [off, off+size).
type span struct{ off, size int64 }

// alloc returns a block and an offset, a multiple of align (a power of
// two), where size bytes are free, and marks them used.
func (p *pool[M]) alloc(size, align int64) (*block[M], int64, error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 {
		return nil, 0, fmt.Errorf("sub-allocation of %d bytes aligned to %d", size, align)
	}
	if size > p.blockSize {
		return nil, 0, fmt.Errorf("%d bytes exceed the %d-byte blocks", size, p.blockSize)
	}
	var best *block[M]
	bestIdx, bestSize := -1, int64(-1)
	for _, b := range p.blocks {
		for i, s := range b.free {
			start := (s.off + align - 1) &^ (align - 1)
			if start+size > s.off+s.size {
				continue
			}
			if bestSize < 0 || s.size < bestSize {
				best, bestIdx, bestSize = b, i, s.size
			}
		}
	}
	if best == nil {
		mem, err := p.newBlock(p.blockSize)
		if err != nil {
			return nil, 0, err
		}
		best = &block[M]{mem: mem, size: p.blockSize, free: []span{{0, p.blockSize}}}
		p.blocks = append(p.blocks, best)
		bestIdx = 0
	}
	s := best.free[bestIdx]
	start := (s.off + align - 1) &^ (align - 1)
	var rest []span
	if start > s.off {
		rest = append(rest, span{s.off, start - s.off})
	}
	if end := s.off + s.size; start+size < end {
		rest = append(rest, span{start + size, end - start - size})
	}
	best.free = append(best.free[:bestIdx], append(rest, best.free[bestIdx+1:]...)...)
	return best, start, nil
}

// release marks [off, off+size) of b free again, releasing b when nothing
// of it is used any more.
func (p *pool[M]) release(b *block[M], off, size int64) {
	i := 0
	for i < len(b.free) && b.free[i].off < off {
		i++
	}
	b.free = append(b.free[:i], append([]span{{off, size}}, b.free[i:]...)...)
	// Coalesce with the following and the preceding range.
	if i+1 < len(b.free) && b.free[i].off+b.free[i].size == b.free[i+1].off {
		b.free[i].size += b.free[i+1].size
		b.free = append(b.free[:i+1], b.free[i+2:]...)
	}
	if i > 0 && b.free[i-1].off+b.free[i-1].size == b.free[i].off {
		b.free[i-1].size += b.free[i].size
		b.free = append(b.free[:i], b.free[i+1:]...)
	}
	if len(b.free) == 1 && b.free[0].off == 0 && b.free[0].size == b.size {
		for k, x := range p.blocks {
			if x == b {
				p.blocks = append(p.blocks[:k], p.blocks[k+1:]...)
				break
			}
		}
		p.freeBlock(b.mem)
	}
}

// used returns the bytes in use and the bytes held in blocks.
func (p *pool[M]) used() (used, held int64) {
	for _, b := range p.blocks {
		held += b.size
		used += b.size
		for _, s := range b.free {
			used -= s.size
		}
	}
	return used, held
}
