package vulkan

import (
	"errors"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// testPool is a pool over fake blocks numbered from 1.
func testPool(blockSize int64) (*pool[int], *[]int, *[]int) {
	var made, freed []int
	p := &pool[int]{
		blockSize: blockSize,
		newBlock: func(size int64) (int, error) {
			made = append(made, len(made)+1)
			return len(made), nil
		},
		freeBlock: func(m int) { freed = append(freed, m) },
	}
	return p, &made, &freed
}

func TestPoolBestFit(t *testing.T) {
	p, made, freed := testPool(1024)
	a, offA, err := p.alloc(100, 16)
	require.NoError(t, err)
	require.Equal(t, int64(0), offA)
	_, offB, err := p.alloc(300, 64)
	require.NoError(t, err)
	require.Equal(t, int64(128), offB, "aligned up past a")
	_, offC, err := p.alloc(200, 16)
	require.NoError(t, err)
	require.Equal(t, int64(432), offC, "after b, aligned")
	require.Len(t, *made, 1, "one block holds all three")

	// Free a (100 bytes at 0): the 28-byte gap before b and a's range merge
	// into [0, 128); a 64-byte request takes it (best fit), not the tail.
	p.release(a, offA, 100)
	_, off, err := p.alloc(64, 16)
	require.NoError(t, err)
	require.Equal(t, int64(0), off)

	// Too large for the free ranges left: a new block.
	_, off, err = p.alloc(1000, 16)
	require.NoError(t, err)
	require.Equal(t, int64(0), off)
	require.Len(t, *made, 2)
	require.Empty(t, *freed)

	_, _, err = p.alloc(2000, 16)
	require.ErrorContains(t, err, "exceed the 1024-byte blocks")
	_, _, err = p.alloc(16, 3)
	require.ErrorContains(t, err, "aligned to 3")
}

func TestPoolReleasesEmptyBlocks(t *testing.T) {
	p, _, freed := testPool(256)
	b1, o1, err := p.alloc(128, 16)
	require.NoError(t, err)
	b2, o2, err := p.alloc(128, 16)
	require.NoError(t, err)
	require.Same(t, b1, b2)
	p.release(b1, o1, 128)
	require.Empty(t, *freed)
	p.release(b2, o2, 128)
	require.Equal(t, []int{1}, *freed, "the block is released when empty")
	require.Empty(t, p.blocks)
}

func TestPoolNewBlockError(t *testing.T) {
	p := &pool[int]{blockSize: 64, newBlock: func(int64) (int, error) { return 0, errors.New("out of device memory") }}
	_, _, err := p.alloc(16, 16)
	require.EqualError(t, err, "out of device memory")
}

// TestPoolRandom allocates and frees at random and checks that live ranges
// never overlap, are aligned and inside their block, and that freeing
// everything releases every block.
func TestPoolRandom(t *testing.T) {
	p, made, freed := testPool(4096)
	type live struct {
		b         *block[int]
		off, size int64
	}
	var lives []live
	rng := rand.New(rand.NewPCG(1, 2))
	for step := 0; step < 3000; step++ {
		if len(lives) > 0 && rng.IntN(3) == 0 {
			k := rng.IntN(len(lives))
			l := lives[k]
			p.release(l.b, l.off, l.size)
			lives = append(lives[:k], lives[k+1:]...)
			continue
		}
		size := 1 + rng.Int64N(900)
		align := int64(1) << rng.IntN(8)
		b, off, err := p.alloc(size, align)
		require.NoError(t, err)
		require.Zero(t, off%align)
		require.LessOrEqual(t, off+size, b.size)
		lives = append(lives, live{b, off, size})
	}
	byBlock := map[*block[int]][]live{}
	var usedSum int64
	for _, l := range lives {
		byBlock[l.b] = append(byBlock[l.b], l)
		usedSum += l.size
	}
	for _, ls := range byBlock {
		sort.Slice(ls, func(i, j int) bool { return ls[i].off < ls[j].off })
		for i := 1; i < len(ls); i++ {
			require.LessOrEqual(t, ls[i-1].off+ls[i-1].size, ls[i].off, "live ranges overlap")
		}
	}
	used, held := p.used()
	require.Equal(t, usedSum, used)
	require.LessOrEqual(t, used, held)
	for _, l := range lives {
		p.release(l.b, l.off, l.size)
	}
	require.Empty(t, p.blocks)
	require.ElementsMatch(t, *made, *freed, "every block released")
}
