package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/runtime"
)

func TestHostShares(t *testing.T) {
	cases := []struct {
		name            string
		bytes           float64
		times, samples  []float64
		wantPct, wantBW float64
	}{
		// 100 bytes in 1 s against 200 B/s around it: 50 %.
		{"one", 100, []float64{1}, []float64{150, 250}, 50, 200},
		// Each rep against its own neighbours: 100 B/s against 100,
		// 50 against 62.5 (80 %), 200 against 200: median 100 %.
		{"three", 100, []float64{1, 2, 0.5}, []float64{100, 100, 25, 375}, 100, 100},
		{"no samples", 100, []float64{1}, nil, 0, 0},
		{"samples do not match", 100, []float64{1, 1}, []float64{1, 2}, 0, 0},
		{"zero samples", 100, []float64{1}, []float64{0, 0}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pct, bw := hostShares(c.bytes, c.times, c.samples)
			require.InDelta(t, c.wantPct, pct, 1e-9)
			require.InDelta(t, c.wantBW, bw, 1e-9)
		})
	}
}

func TestHostReader(t *testing.T) {
	h, err := newHostReader(16<<20, 2)
	require.NoError(t, err)
	require.Positive(t, h.sample())
	_, err = newHostReader(16, 2)
	require.Error(t, err)
	_, err = newHostReader(16<<20, 0)
	require.Error(t, err)
}

// TestModelBenchHostBandwidth checks that a decode row with HostBandwidth
// reports the read bandwidth and its share, and a prefill row neither.
func TestModelBenchHostBandwidth(t *testing.T) {
	src, err := runtime.OpenGGUF(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	o := testOptions()
	o.Reps = 3
	mo := ModelOptions{Prompt: 8, Gen: 8, HostBandwidth: true, HostBandwidthBytes: 32 << 20}
	rows, err := RunModel(context.Background(), src, mo, o)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Zero(t, rows[0].HostGBps, "pp8")
	require.Zero(t, rows[0].HostBWPct, "pp8")
	tg := rows[1]
	require.Equal(t, "tg8", tg.Case)
	require.Positive(t, tg.HostGBps)
	require.Positive(t, tg.HostBWPct)
	require.Contains(t, tableRow(tg)[9], "of host read")

	mo.HostBandwidthBytes = -1
	require.Error(t, mo.Validate())
}
