package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golem-llm/golem/internal/resource"
)

// Progress reporting of long commands on stderr. On a terminal one status
// line is redrawn at most ten times a second; anywhere else (a log file, a
// pipe, CI) a plain line is written every logInterval, so that no command
// that runs longer than a few seconds is silent.
const (
	redrawInterval = 100 * time.Millisecond
	logInterval    = 10 * time.Second
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// statusLine writes progress messages to w, rate-limited as described
// above. It is safe for concurrent use.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	term  bool
	now   func() time.Time
	last  time.Time
	drawn bool // a terminal line is on screen
}

// newStatusLine returns a status line on w reading the time from now.
func newStatusLine(w io.Writer, now func() time.Time) *statusLine {
	return &statusLine{w: w, term: isTerminal(w), now: now}
}

// update shows msg unless the last one was shown too recently; final
// messages (a job's end) are always shown on a terminal and never in a log.
func (s *statusLine) update(msg string, final bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	if s.term {
		if !final && t.Sub(s.last) < redrawInterval {
			return
		}
		s.last = t
		fmt.Fprintf(s.w, "\r\033[K%s", msg)
		s.drawn = true
		if final {
			fmt.Fprintln(s.w)
			s.drawn = false
		}
		return
	}
	if final {
		return
	}
	if s.last.IsZero() {
		s.last = t // the first line waits one interval: short jobs print nothing
		return
	}
	if t.Sub(s.last) < logInterval {
		return
	}
	s.last = t
	fmt.Fprintln(s.w, msg)
}

// clear removes a status line left on a terminal (an interrupted job).
func (s *statusLine) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term && s.drawn {
		fmt.Fprint(s.w, "\r\033[K")
		s.drawn = false
	}
}

// progressBar returns a callback for byte-counting jobs (loading, writing
// a model) that shows "label [====      ] 1.2 GiB / 4.0 GiB" on w.
func progressBar(w io.Writer, label string) func(done, total int64) {
	s := newStatusLine(w, time.Now)
	return func(done, total int64) {
		const width = 30
		filled := 0
		if total > 0 {
			filled = int(int64(width) * min(done, total) / total)
		}
		bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
		s.update(fmt.Sprintf("%s [%s] %s / %s", label, bar, resource.FormatBytes(done), resource.FormatBytes(total)), done >= total)
	}
}
