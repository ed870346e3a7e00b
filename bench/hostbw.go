package bench

import (
	"fmt"
	"sync"
	"time"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/internal/resource"
)

// DefaultHostBandwidthBytes is the buffer ModelOptions.HostBandwidth
// streams: far larger than the caches of the hosts golem runs on.
const DefaultHostBandwidthBytes = 1 << 30

// hostReader measures the host's memory read bandwidth as a decode step
// reads weights: threads goroutines each stream their part of a buffer
// larger than the caches through the vector dot product (two runs of
// memory per thread, its part's halves, as the GEMV kernels read two
// runs of weight rows).
type hostReader struct {
	buf     []float32
	threads int
	sums    []float32 // keeps the dot products alive
}

// newHostReader allocates the buffer of bytes bytes (after checking the
// host has the memory) for threads goroutines.
func newHostReader(bytes int64, threads int) (*hostReader, error) {
	if bytes < 4<<10 || threads < 1 {
		return nil, fmt.Errorf("bench: host bandwidth: %d bytes on %d threads", bytes, threads)
	}
	if err := resource.CheckMemory("bench: host bandwidth buffer", bytes); err != nil {
		return nil, err
	}
	buf := make([]float32, bytes/4)
	for i := range buf {
		buf[i] = float32(i & 1023)
	}
	return &hostReader{buf: buf, threads: threads, sums: make([]float32, threads)}, nil
}

// hostPasses is the number of passes over the buffer per sample; a sample
// is the fastest.
const hostPasses = 2

// sample returns the read bandwidth in bytes per second: the best of
// hostPasses passes over the buffer.
func (h *hostReader) sample() float64 {
	best := 0.0
	part := len(h.buf) / h.threads
	for range hostPasses {
		var wg sync.WaitGroup
		start := time.Now()
		for t := range h.threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := h.buf[t*part : (t+1)*part]
				h.sums[t] += quant.DotF32(s[:part/2], s[part/2:2*(part/2)])
			}()
		}
		wg.Wait()
		if sec := time.Since(start).Seconds(); sec > 0 {
			best = max(best, float64(4*2*(part/2)*h.threads)/sec)
		}
	}
	return best
}

// hostShares returns, for each run of bytes bytes that took times[i]
// seconds, its bytes per second in percent of the mean of the bandwidth
// samples taken right before and right after it (samples[i],
// samples[i+1]): the median of those percentages, and the median sample.
func hostShares(bytes float64, times, samples []float64) (pct, bw float64) {
	if len(times) == 0 || len(samples) != len(times)+1 {
		return 0, 0
	}
	shares := make([]float64, 0, len(times))
	for i, sec := range times {
		if around := (samples[i] + samples[i+1]) / 2; sec > 0 && around > 0 {
			shares = append(shares, 100*bytes/sec/around)
		}
	}
	if len(shares) == 0 {
		return 0, 0
	}
	return summarize(shares).median, summarize(samples).median
}
