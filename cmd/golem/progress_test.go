package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/parity"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// TestStatusLine checks the progress line's two modes: in a log (not a
// terminal) the first message waits one interval, later ones come at most
// every logInterval and final ones never; on a terminal the line is
// redrawn at most every redrawInterval, a final message always and with a
// newline, and clear erases what is left on screen.
func TestStatusLine(t *testing.T) {
	type step struct {
		after time.Duration // clock advance before the update
		msg   string
		final bool
	}
	tests := []struct {
		name  string
		term  bool
		steps []step
		clear bool
		want  string
	}{
		{"log: short job prints nothing", false,
			[]step{{0, "a", false}, {time.Second, "b", false}, {time.Second, "done", true}}, false, ""},
		{"log: a line every interval", false,
			[]step{{0, "a", false}, {logInterval - time.Millisecond, "b", false}, {time.Millisecond, "c", false},
				{time.Second, "d", false}, {logInterval, "e", false}, {time.Hour, "done", true}}, false, "c\ne\n"},
		{"terminal: redraw rate-limited, final always", true,
			[]step{{0, "a", false}, {redrawInterval / 2, "b", false}, {redrawInterval, "c", false}, {0, "done", true}}, false,
			"\r\033[Ka\r\033[Kc\r\033[Kdone\n"},
		{"terminal: clear erases an interrupted line", true,
			[]step{{0, "a", false}}, true, "\r\033[Ka\r\033[K"},
		{"terminal: nothing to clear after a final line", true,
			[]step{{0, "done", true}}, true, "\r\033[Kdone\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := &fakeClock{t: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
			s := newStatusLine(&buf, clock.now)
			require.False(t, s.term, "a buffer is not a terminal")
			s.term = tc.term
			for _, st := range tc.steps {
				clock.t = clock.t.Add(st.after)
				s.update(st.msg, st.final)
			}
			if tc.clear {
				s.clear()
			}
			require.Equal(t, tc.want, buf.String())
		})
	}
}

// TestParityModelProgressLines checks the lines parity model writes to a
// log as its comparison advances: one per log interval, naming the
// command, the device, the stage and the tokens done.
func TestParityModelProgressLines(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	report := parityProgress(newStatusLine(&buf, clock.now))
	for i := 0; i <= 3; i++ {
		report(parity.ModelProgress{Device: "cpu", Stage: "generate", Done: i, Total: 3})
		clock.t = clock.t.Add(logInterval)
	}
	require.Equal(t, "parity model: cpu: generate 1/3 tokens\nparity model: cpu: generate 2/3 tokens\nparity model: cpu: generate 3/3 tokens\n", buf.String())
}
