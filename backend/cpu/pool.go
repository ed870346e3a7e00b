package cpu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// pairTask is a task that can also compute two runs of items in one
// call, runPair computing items [lo1, hi1) and [lo2, hi2) as run would:
// a thread then streams through two runs of memory at once, which a core
// reads faster than one. Found by type assertion, as database/sql/driver
// finds optional interfaces.
type pairTask interface {
	task
	// pairs reports whether runPair gains anything in this loop; when it
	// does not, the threads take single chunks in order.
	pairs() bool
	runPair(lo1, hi1, lo2, hi2, slot int) error
}

// task is the body of a parallel loop: run computes items [lo, hi) as
// participant slot (distinct among concurrent calls, in [0, threads)).
// Kernels implement it with a struct kept per node (see taskFor), so that a
// loop allocates nothing.
type task interface {
	run(lo, hi, slot int) error
}

// pool runs the chunks of parallel loops on a fixed set of worker
// goroutines owned by a backend. A loop over n items is cut into chunks
// whose bounds depend only on n and the chunk count, and every item is
// computed the same way whichever worker runs it, so results never depend
// on scheduling.
//
// Workers spin for a short while (spinFor) after each loop before parking,
// so that the back-to-back loops of a graph run (one per node, a few
// microseconds apart in a decode step) do not each pay a goroutine wake-up.
// Spinning is a load of the loop counter and a PAUSE, with no system call
// (a sched_yield per few polls cost 9% of a decode step); a parked worker
// is woken through its channel. One loop runs at a time; programs sharing
// the backend take turns per loop.
type pool struct {
	threads int
	mu      sync.Mutex // held by the caller of the loop in flight
	gen     atomic.Uint64
	closed  atomic.Bool
	once    sync.Once
	job     job
	workers []*worker
}

// spinFor is how long an idle worker polls for the next loop before it
// parks. Chosen to cover the gaps between the nodes of a run and between
// the decode steps of a generation loop, not to burn a core while idle.
// Parking at once (spinFor 0) halved the 110M model's q4_0 decode rate
// on a 2-core host: every node paid a goroutine wake-up.
const spinFor = 200 * time.Microsecond

// waitSpin is how long the caller of a loop polls for the workers still
// inside it before it parks until the last one leaves. A parked caller
// pays a wake-up, which costs more than a typical chunk; a worker that
// lost its core on an oversubscribed host costs at most this much spin.
const waitSpin = 200 * time.Microsecond

// chunksPerThread is the most chunks of a loop per thread. Each thread
// owns an equal run of consecutive chunks and takes the others' last
// chunks once its own are done, so the threads finish within about one
// chunk of each other; smaller chunks make that gap smaller.
const chunksPerThread = 16

// spinBatch is the number of polls between clock reads.
const spinBatch = 64

// worker is one helper goroutine's parking place.
type worker struct {
	slot   int // its participant slot, 1..threads-1 (the caller is 0)
	parked atomic.Bool
	wake   chan struct{} // capacity 1
	_      [40]byte      // keep workers' flags on separate cache lines
}

// The job state word: the low 32 bits of the loop's generation, a closed
// bit set when the caller has finished its chunks (no worker may join
// after it), a waiting bit set when the caller parks until the workers
// inside leave, and the count of workers inside the loop.
const (
	jobGenShift = 32
	jobClosed   = 1 << 31
	jobWaiting  = 1 << 30
	jobRefs     = jobWaiting - 1
)

// job is the loop in flight.
type job struct {
	t      task
	n      int
	chunks int
	pair   pairTask     // t when it runs pairs of chunks in this loop, else nil
	ranges []chunkRange // per participant slot, two: the halves of the chunks it owns
	state  atomic.Uint64
	done   chan struct{} // capacity 1: the last worker out wakes a parked caller
	mu     sync.Mutex
	err    error
	errAt  int
}

// chunkRange is the chunks [lo, hi) of a loop that one participant slot
// owns and has not started: lo in the high 32 bits, hi in the low ones.
// The owner takes chunks from the front, in order, so that it streams
// through consecutive memory; a participant that has run out takes them
// from the back of another's range.
type chunkRange struct {
	lohi atomic.Uint64
	_    [56]byte // one cache line each
}

// set makes the range [lo, hi).
func (r *chunkRange) set(lo, hi int) { r.lohi.Store(uint64(lo)<<32 | uint64(hi)) }

// front takes the first chunk of the range; ok is false when it is empty.
func (r *chunkRange) front() (c int, ok bool) {
	for {
		v := r.lohi.Load()
		lo, hi := v>>32, v&(1<<32-1)
		if lo >= hi {
			return 0, false
		}
		if r.lohi.CompareAndSwap(v, v+1<<32) {
			return int(lo), true
		}
	}
}

// back takes the last chunk of the range; ok is false when it is empty.
func (r *chunkRange) back() (c int, ok bool) {
	for {
		v := r.lohi.Load()
		lo, hi := v>>32, v&(1<<32-1)
		if lo >= hi {
			return 0, false
		}
		if r.lohi.CompareAndSwap(v, v-1) {
			return int(hi - 1), true
		}
	}
}

func newPool(threads int) *pool {
	p := &pool{threads: max(threads, 1)}
	p.job.done = make(chan struct{}, 1)
	p.job.ranges = make([]chunkRange, 2*p.threads)
	for i := 1; i < p.threads; i++ {
		w := &worker{slot: i, wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.work(w)
	}
	return p
}

// work is a worker goroutine: it joins every loop it sees until the pool
// closes.
func (p *pool) work(w *worker) {
	var seen uint64
	for {
		g := p.await(w, seen)
		if p.closed.Load() {
			return
		}
		seen = g
		j := &p.job
		if !j.join(g) {
			continue
		}
		j.participate(w.slot)
		j.leave()
	}
}

// await returns the generation of the next loop after seen (or any value
// once the pool is closed): it polls for spinFor, then parks.
func (p *pool) await(w *worker, seen uint64) uint64 {
	var start time.Time
	for i := 1; ; i++ {
		if g := p.gen.Load(); g != seen || p.closed.Load() {
			return g
		}
		if i%spinBatch == 0 {
			if i == spinBatch {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				break
			}
		}
		cpuPause()
	}
	w.parked.Store(true)
	if g := p.gen.Load(); g != seen || p.closed.Load() {
		if !w.parked.CompareAndSwap(true, false) {
			<-w.wake // a poster unparked us and sent a token: take it
		}
		return g
	}
	<-w.wake
	return p.gen.Load()
}

// wakeAll unparks every parked worker.
func (p *pool) wakeAll() {
	for _, w := range p.workers {
		if w.parked.Load() && w.parked.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
}

func (p *pool) close() {
	p.once.Do(func() {
		p.closed.Store(true)
		p.gen.Add(1)
		p.wakeAll()
	})
}

// join enters loop generation g unless it has finished or another loop
// has started.
func (j *job) join(g uint64) bool {
	for {
		s := j.state.Load()
		if s>>jobGenShift != g&(1<<32-1) || s&jobClosed != 0 {
			return false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// leave exits the loop; the last worker out wakes a caller parked in wait.
func (j *job) leave() {
	s := j.state.Add(^uint64(0))
	if s&jobRefs == 0 && s&jobWaiting != 0 {
		j.done <- struct{}{}
	}
}

// wait closes the loop to late workers and returns once every worker
// inside has left: it polls for waitSpin, then parks.
func (j *job) wait() {
	for {
		s := j.state.Load()
		if j.state.CompareAndSwap(s, s|jobClosed) {
			break
		}
	}
	var start time.Time
	for i := 1; ; i++ {
		s := j.state.Load()
		if s&jobRefs == 0 {
			return
		}
		if i%spinBatch == 0 {
			if i == spinBatch {
				start = time.Now()
			} else if time.Since(start) > waitSpin {
				if j.state.CompareAndSwap(s, s|jobWaiting) {
					<-j.done
					return
				}
			}
		}
		cpuPause()
	}
}

// participate runs chunks of the job until none is left: its own slot's,
// front to back (a chunk of each half at a time for a pairTask), then the
// others', from their backs.
func (j *job) participate(slot int) {
	own := j.ranges[2*slot : 2*slot+2]
	slots := len(j.ranges) / 2
	for {
		c, ok := own[0].front()
		if ok && j.pair != nil {
			if c2, ok2 := own[1].front(); ok2 {
				j.record(c, runPairChunk(j.pair, j.chunk(c), j.chunk(c2), slot))
				continue
			}
		}
		if !ok {
			c, ok = own[1].front()
		}
		for o := 1; !ok && o < slots; o++ {
			v := (slot + o) % slots
			if c, ok = j.ranges[2*v+1].back(); !ok {
				c, ok = j.ranges[2*v].back()
			}
		}
		if !ok {
			return
		}
		b := j.chunk(c)
		j.record(c, runChunk(j.t, b[0], b[1], slot))
	}
}

// chunk returns the items [lo, hi) of chunk c as {lo, hi}.
func (j *job) chunk(c int) [2]int { return [2]int{c * j.n / j.chunks, (c + 1) * j.n / j.chunks} }

// record keeps err, from chunk c, if it is the lowest chunk's so far.
func (j *job) record(c int, err error) {
	if err == nil {
		return
	}
	j.mu.Lock()
	if j.err == nil || c < j.errAt {
		j.err, j.errAt = err, c
	}
	j.mu.Unlock()
}

// runChunk calls t.run and turns a panic into an error.
func runChunk(t task, lo, hi, slot int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in items [%d, %d): %v", lo, hi, r)
		}
	}()
	return t.run(lo, hi, slot)
}

// runPairChunk calls t.runPair on chunks a and b and turns a panic into
// an error.
func runPairChunk(t pairTask, a, b [2]int, slot int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in items [%d, %d) and [%d, %d): %v", a[0], a[1], b[0], b[1], r)
		}
	}()
	return t.runPair(a[0], a[1], b[0], b[1], slot)
}

// parallel runs t over [0, n) in chunks of at least grain items on up to
// the pool's threads. Each concurrent call of t.run gets a distinct slot in
// [0, threads) for indexing per-thread scratch. It returns the error of the
// lowest failing chunk. It allocates nothing.
func (p *pool) parallel(n, grain int, t task) error {
	if n <= 0 {
		return nil
	}
	grain = max(grain, 1)
	chunks := min((n+grain-1)/grain, chunksPerThread*p.threads)
	if chunks > 1 {
		// A whole number of chunks per thread: 3 chunks on 2 threads
		// would leave one thread twice the work of the other.
		chunks = min(n, (chunks+p.threads-1)/p.threads*p.threads)
	}
	if p.threads == 1 || chunks <= 1 || p.closed.Load() {
		return runChunk(t, 0, n, 0)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.job
	j.t, j.n, j.chunks, j.err, j.errAt = t, n, chunks, nil, 0
	j.pair = nil
	if pt, ok := t.(pairTask); ok && pt.pairs() {
		j.pair = pt // decided once per loop, not per participant
	}
	for i := range p.threads {
		lo, hi := i*chunks/p.threads, (i+1)*chunks/p.threads
		j.ranges[2*i].set(lo, (lo+hi)/2)
		j.ranges[2*i+1].set((lo+hi)/2, hi)
	}
	g := p.gen.Load() + 1
	j.state.Store(g << jobGenShift)
	p.gen.Store(g)
	p.wakeAll()
	j.participate(0)
	j.wait()
	err := j.err
	j.t, j.pair, j.err = nil, nil, nil
	return err
}
