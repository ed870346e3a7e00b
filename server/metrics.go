package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateWindow is the window of golem_decode_tokens_per_second, in seconds.
const rateWindow = 10

// ttftBuckets are the upper bounds of golem_time_to_first_token_seconds.
var ttftBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics counts what /metrics reports.
type metrics struct {
	now func() time.Time

	mu          sync.Mutex
	requests    map[[2]string]int64 // endpoint, status
	promptTotal int64
	genTotal    int64
	ttft        []int64 // per bucket, +Inf last
	ttftSum     float64
	ttftCount   int64
	perSecond   [rateWindow]struct {
		sec    int64
		tokens int64
	}
}

func newMetrics(now func() time.Time) *metrics {
	return &metrics{now: now, requests: map[[2]string]int64{}, ttft: make([]int64, len(ttftBuckets)+1)}
}

func (m *metrics) request(endpoint string, status int) {
	m.mu.Lock()
	m.requests[[2]string{endpoint, strconv.Itoa(status)}]++
	m.mu.Unlock()
}

func (m *metrics) prompt(n int) {
	m.mu.Lock()
	m.promptTotal += int64(n)
	m.mu.Unlock()
}

// generated counts n tokens generated now.
func (m *metrics) generated(n int) {
	sec := m.now().Unix()
	m.mu.Lock()
	m.genTotal += int64(n)
	b := &m.perSecond[sec%rateWindow]
	if b.sec != sec {
		b.sec, b.tokens = sec, 0
	}
	b.tokens += int64(n)
	m.mu.Unlock()
}

// firstToken records a time to first token.
func (m *metrics) firstToken(d time.Duration) {
	s := d.Seconds()
	i, _ := slices.BinarySearch(ttftBuckets, s)
	m.mu.Lock()
	m.ttft[i]++
	m.ttftSum += s
	m.ttftCount++
	m.mu.Unlock()
}

// serveMetrics answers GET /metrics in Prometheus' text format.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) error {
	load := s.m.Load()
	info := s.m.Info()
	m := s.metrics
	now := m.now().Unix()
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	m.mu.Lock()
	family("golem_requests_total", "counter", "HTTP requests answered, by endpoint and status code (counted as the status is sent).")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(&b, "golem_requests_total{endpoint=%q,status=%q} %d\n", k[0], k[1], m.requests[k])
	}
	family("golem_prompt_tokens_total", "counter", "Prompt tokens of the generations that ran.")
	fmt.Fprintf(&b, "golem_prompt_tokens_total %d\n", m.promptTotal)
	family("golem_tokens_generated_total", "counter", "Tokens generated.")
	fmt.Fprintf(&b, "golem_tokens_generated_total %d\n", m.genTotal)
	var recent int64
	for _, p := range m.perSecond {
		if p.sec > now-rateWindow && p.sec <= now {
			recent += p.tokens
		}
	}
	family("golem_decode_tokens_per_second", "gauge", fmt.Sprintf("Tokens generated per second over the last %d seconds, all requests together.", rateWindow))
	fmt.Fprintf(&b, "golem_decode_tokens_per_second %g\n", float64(recent)/rateWindow)
	family("golem_time_to_first_token_seconds", "histogram", "Time from a generation request's arrival to its first token.")
	var cum int64
	for i, le := range ttftBuckets {
		cum += m.ttft[i]
		fmt.Fprintf(&b, "golem_time_to_first_token_seconds_bucket{le=\"%g\"} %d\n", le, cum)
	}
	cum += m.ttft[len(ttftBuckets)]
	fmt.Fprintf(&b, "golem_time_to_first_token_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	fmt.Fprintf(&b, "golem_time_to_first_token_seconds_sum %g\ngolem_time_to_first_token_seconds_count %d\n", m.ttftSum, m.ttftCount)
	m.mu.Unlock()
	family("golem_queue_length", "gauge", "Requests waiting for a sequence.")
	fmt.Fprintf(&b, "golem_queue_length %d\n", load.Queued)
	family("golem_active_slots", "gauge", "Sequences in use: requests running their prompt or generating.")
	fmt.Fprintf(&b, "golem_active_slots %d\n", load.Active)
	family("golem_slots", "gauge", "Sequences decoded together (--parallel).")
	fmt.Fprintf(&b, "golem_slots %d\n", info.Parallel)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err := w.Write([]byte(b.String()))
	return err
}
