package cpu

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// pool runs the chunks of parallel loops on a fixed set of worker goroutines
// owned by a backend. A loop over n items is cut into chunks whose bounds
// depend only on n and the chunk count, and every item is computed the same
// way whichever worker runs it, so results never depend on scheduling.
type pool struct {
	threads int
	work    chan poolMsg
	once    sync.Once
}

// poolMsg asks a worker to join job as participant slot.
type poolMsg struct {
	job  *job
	slot int
}

// job is one parallel loop in flight.
type job struct {
	fn     func(lo, hi, slot int) error
	n      int
	chunks int
	next   atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	errAt  int
}

func newPool(threads int) *pool {
	p := &pool{threads: max(threads, 1)}
	if p.threads > 1 {
		p.work = make(chan poolMsg, 4*p.threads)
		for i := 1; i < p.threads; i++ {
			go p.worker()
		}
	}
	return p
}

func (p *pool) worker() {
	for m := range p.work {
		m.job.participate(m.slot)
		m.job.wg.Done()
	}
}

func (p *pool) close() {
	p.once.Do(func() {
		if p.work != nil {
			close(p.work)
		}
	})
}

// participate runs chunks of the job until none is left.
func (j *job) participate(slot int) {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.chunks {
			return
		}
		lo := c * j.n / j.chunks
		hi := (c + 1) * j.n / j.chunks
		if err := j.run(lo, hi, slot); err != nil {
			j.mu.Lock()
			if j.err == nil || c < j.errAt {
				j.err, j.errAt = err, c
			}
			j.mu.Unlock()
		}
	}
}

// run calls fn and turns a panic into an error.
func (j *job) run(lo, hi, slot int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in items [%d, %d): %v", lo, hi, r)
		}
	}()
	return j.fn(lo, hi, slot)
}

// parallel runs fn over [0, n) in chunks of at least grain items on up to
// the pool's threads. Each concurrent call of fn gets a distinct slot in
// [0, threads) for indexing per-thread scratch. It returns the error of the
// lowest failing chunk. j is the caller's reusable job record; one job must
// not be used by two loops at once.
func (p *pool) parallel(j *job, n, grain int, fn func(lo, hi, slot int) error) error {
	if n <= 0 {
		return nil
	}
	grain = max(grain, 1)
	chunks := min((n+grain-1)/grain, 4*p.threads)
	if p.threads == 1 || chunks <= 1 {
		return j.runSerial(fn, n)
	}
	helpers := min(p.threads, chunks) - 1
	j.fn, j.n, j.chunks, j.err, j.errAt = fn, n, chunks, nil, 0
	j.next.Store(0)
	j.wg.Add(helpers)
	for s := 1; s <= helpers; s++ {
		p.work <- poolMsg{job: j, slot: s}
	}
	j.participate(0)
	j.wg.Wait()
	err := j.err
	j.fn, j.err = nil, nil
	return err
}

func (j *job) runSerial(fn func(lo, hi, slot int) error, n int) error {
	j.fn = fn
	err := j.run(0, n, 0)
	j.fn = nil
	return err
}
