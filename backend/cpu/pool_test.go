package cpu

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// countTask adds each item's index to its slot's sum and records which
// items ran.
type countTask struct {
	seen  []atomic.Int32
	sums  []atomic.Int64
	slots atomic.Int32 // highest slot + 1
	fail  int          // item whose chunk returns an error (-1: none)
	panic int          // item whose chunk panics (-1: none)
}

func newCountTask(n, threads int) *countTask {
	return &countTask{seen: make([]atomic.Int32, n), sums: make([]atomic.Int64, threads), fail: -1, panic: -1}
}

func (t *countTask) run(lo, hi, slot int) error {
	for {
		s := t.slots.Load()
		if int32(slot+1) <= s || t.slots.CompareAndSwap(s, int32(slot+1)) {
			break
		}
	}
	for i := lo; i < hi; i++ {
		t.seen[i].Add(1)
		t.sums[slot].Add(int64(i))
		if i == t.panic {
			panic("boom")
		}
		if i == t.fail {
			return fmt.Errorf("item %d failed", i)
		}
	}
	return nil
}

func TestPoolRunsEveryItemOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := newPool(threads)
		for _, c := range []struct{ n, grain int }{{1, 1}, {7, 1}, {100, 3}, {1000, 1}, {5, 100}} {
			for range 50 {
				task := newCountTask(c.n, threads)
				require.NoError(t, p.parallel(c.n, c.grain, task))
				var sum int64
				for i := range task.seen {
					require.EqualValues(t, 1, task.seen[i].Load(), "threads %d n %d item %d", threads, c.n, i)
				}
				for i := range task.sums {
					sum += task.sums[i].Load()
				}
				require.EqualValues(t, c.n*(c.n-1)/2, sum)
				require.LessOrEqual(t, int(task.slots.Load()), threads, "slots stay below the thread count")
			}
		}
		p.close()
	}
}

func TestPoolErrorsAndPanics(t *testing.T) {
	p := newPool(4)
	defer p.close()
	task := newCountTask(64, 4)
	task.fail = 40
	err := p.parallel(64, 1, task)
	require.ErrorContains(t, err, "item 40 failed")

	// With two failing chunks, the lowest one's error is returned.
	two := &errTask{bad: map[int]bool{10: true, 50: true}}
	require.ErrorContains(t, p.parallel(64, 1, two), "item 10")

	task = newCountTask(64, 4)
	task.panic = 7
	err = p.parallel(64, 1, task)
	require.ErrorContains(t, err, "internal error")
	require.ErrorContains(t, err, "boom")

	// The pool still works afterwards.
	task = newCountTask(64, 4)
	require.NoError(t, p.parallel(64, 1, task))
}

// errTask fails the chunks holding the items in bad.
type errTask struct{ bad map[int]bool }

func (t *errTask) run(lo, hi, _ int) error {
	for i := lo; i < hi; i++ {
		if t.bad[i] {
			return fmt.Errorf("item %d", i)
		}
	}
	return nil
}

// pairCountTask is a countTask that also runs pairs of chunks, counting
// the pairs.
type pairCountTask struct {
	*countTask
	npairs atomic.Int32
}

func (t *pairCountTask) pairs() bool { return true }

func (t *pairCountTask) runPair(lo1, hi1, lo2, hi2, slot int) error {
	t.npairs.Add(1)
	if lo2 < hi1 {
		return fmt.Errorf("pair [%d, %d) and [%d, %d) overlap or are out of order", lo1, hi1, lo2, hi2)
	}
	if err := t.run(lo1, hi1, slot); err != nil {
		return err
	}
	return t.run(lo2, hi2, slot)
}

// TestPoolPairs checks that a pairTask gets pairs of chunks (each thread's
// halves side by side) and, with the single chunks around them, every
// item once.
func TestPoolPairs(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		p := newPool(threads)
		for _, n := range []int{1, 2, 5, 64, 1000} {
			for range 20 {
				task := &pairCountTask{countTask: newCountTask(n, threads)}
				require.NoError(t, p.parallel(n, 1, task))
				for i := range task.seen {
					require.EqualValues(t, 1, task.seen[i].Load(), "threads %d n %d item %d", threads, n, i)
				}
				if threads > 1 && n >= 64 {
					require.Positive(t, task.npairs.Load(), "threads %d n %d: no pair ran", threads, n)
				}
			}
		}
		p.close()
	}
}

// slowTask makes the caller's chunks slow, so that the worker runs out of
// its own chunks first and takes the caller's.
type slowTask struct{ *countTask }

func (t slowTask) run(lo, hi, slot int) error {
	if slot == 0 {
		for range 200 {
			runtime.Gosched()
		}
	}
	return t.countTask.run(lo, hi, slot)
}

// TestPoolSteals checks that a participant that has finished its own
// chunks takes another's: the worker computes more than its half.
func TestPoolSteals(t *testing.T) {
	p := newPool(2)
	defer p.close()
	stole := false
	for range 20 {
		task := newCountTask(64, 2)
		require.NoError(t, p.parallel(64, 1, slowTask{task}))
		for i := range task.seen {
			require.EqualValues(t, 1, task.seen[i].Load(), "item %d", i)
		}
		// The worker's own half is items 32..63, sum 1520.
		if task.sums[1].Load() > 1520 {
			stole = true
			break
		}
	}
	require.True(t, stole, "the worker never took the caller's chunks")
}

// TestPoolConcurrentCallers runs loops from several goroutines on one pool
// (programs sharing a backend): each loop must see all of its items.
func TestPoolConcurrentCallers(t *testing.T) {
	p := newPool(3)
	defer p.close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				n := 17 + g*13
				task := newCountTask(n, 3)
				if err := p.parallel(n, 1, task); err != nil {
					errs <- err
					return
				}
				for i := range task.seen {
					if task.seen[i].Load() != 1 {
						errs <- errors.New("item ran twice or never")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestPoolAfterIdle checks loops after the workers have parked.
func TestPoolAfterIdle(t *testing.T) {
	p := newPool(2)
	defer p.close()
	for range 3 {
		task := newCountTask(100, 2)
		require.NoError(t, p.parallel(100, 1, task))
		// Wait for the worker to park (spinFor), without timing anything.
		for !p.workers[0].parked.Load() {
			runtime.Gosched()
		}
	}
	p.close()
	task := newCountTask(10, 2)
	require.NoError(t, p.parallel(10, 1, task), "a closed pool runs loops on the caller")
}

// parkTask holds a worker's chunk until the caller has parked in wait, so
// that the caller's park-and-wake path runs.
type parkTask struct {
	j      *job
	parked atomic.Bool
}

func (t *parkTask) run(lo, hi, slot int) error {
	if slot == 0 {
		// Hold chunk 0 until chunk 1 is claimed: by a worker, since the
		// caller is here (waiting only for the worker to join is not
		// enough: the caller could then take chunk 1 itself).
		for v := t.j.ranges[3].lohi.Load(); v>>32 < v&(1<<32-1); v = t.j.ranges[3].lohi.Load() {
			runtime.Gosched()
		}
		return nil
	}
	for t.j.state.Load()&jobWaiting == 0 {
		runtime.Gosched()
	}
	t.parked.Store(true)
	return nil
}

func TestPoolCallerParks(t *testing.T) {
	p := newPool(2)
	defer p.close()
	for range 3 {
		task := &parkTask{j: &p.job}
		require.NoError(t, p.parallel(2, 1, task))
		require.True(t, task.parked.Load(), "the caller parked while a worker was inside the loop")
	}
}

// BenchmarkPoolLoop times one parallel loop of two near-empty chunks on
// two threads: the cost of dispatching a node's loop and waiting for it.
func BenchmarkPoolLoop(b *testing.B) {
	p := newPool(2)
	defer p.close()
	task := newCountTask(2, 2)
	for b.Loop() {
		if err := p.parallel(2, 1, task); err != nil {
			b.Fatal(err)
		}
	}
}
