package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/safefile"
	"github.com/stretchr/testify/require"
)

// sampleRows are hand-made rows of each suite.
func sampleRows() []Result {
	ts := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	base := Result{
		Device: "cpu", DeviceName: "Test CPU", DeviceID: "cpu", Driver: "go1.26", CPUModel: "Test CPU",
		GolemVersion: "v0.1.0", GitCommit: "0123456789abcdef", GoVersion: "go1.26", Timestamp: ts,
		PeakTFLOPS: 0.05, PeakGBps: 10, PeakSource: "measured",
	}
	a := base
	a.Suite, a.Case, a.Variant, a.Kind, a.DType = SuiteAttention, "prefill:b1,h8,kv2,d64,s256,causal", "fused", KindPrefill, "f16"
	a.Batch, a.Heads, a.KVHeads, a.HeadDim, a.SeqQ, a.SeqKV, a.Causal = 1, 8, 2, 64, 256, 256, true
	a.FLOPs, a.Bytes = 6.7e7, 1.1e6
	a.Check, a.CheckCase, a.NMSE = CheckOK, a.Case, 1.5e-9
	a.setTimes([]float64{0.004, 0.005, 0.006}, 5e10, 1e10, "measured")
	b := a
	b.Variant = "ref"
	b.setTimes([]float64{0.3, 0.31, 0.35}, 5e10, 1e10, "measured")
	c := a
	c.Variant, c.Check, c.NMSE, c.Error = "broken", CheckFail, math.NaN(), "NMSE 1 > 0.0005"
	c.setTimes(nil, 5e10, 1e10, "measured")
	m := base
	m.Suite, m.Case, m.Variant, m.Kind, m.DType, m.M, m.N, m.K = SuiteMatMul, "gemv:q4_0,m1,n1024,k1024", DefaultVariant, "gemv", "q4_0", 1, 1024, 1024
	m.FLOPs, m.Bytes, m.Check, m.NMSE = 2*1024*1024, 600000, CheckOK, 2e-7
	m.setTimes([]float64{1e-4, 1.2e-4}, 5e10, 1e10, "measured")
	mo := base
	mo.Suite, mo.Case, mo.Variant, mo.Kind, mo.Model, mo.Tokens = SuiteModel, "tg16", DefaultVariant, "tg", "stories260K", 16
	mo.FLOPs, mo.Bytes, mo.Check, mo.NMSE = 1.6e7, 1.6e7, CheckSkipped, -1
	mo.setTimes([]float64{0.01, 0.011, 0.012}, 5e10, 1e10, "measured")
	mo.TokensPerS, mo.TokensPerSStd = 1455, 30
	return []Result{a, b, c, m, mo}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	rows := sampleRows()
	for _, format := range []string{FormatJSON, FormatJSONL} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, Write(&buf, format, rows))
			back, err := ReadResults(&buf)
			require.NoError(t, err)
			want := make([]Result, len(rows))
			for i, r := range rows {
				want[i] = sanitized(r) // NaN NMSE becomes -1
			}
			require.Equal(t, want, back)
			require.Equal(t, -1.0, back[2].NMSE)
		})
	}
	empty, err := ReadResults(strings.NewReader("  \n"))
	require.NoError(t, err)
	require.Empty(t, empty)
	_, err = ReadResults(strings.NewReader("[{"))
	require.Error(t, err)
	_, err = ReadResults(strings.NewReader("{}\nnot json\n"))
	require.Error(t, err)
}

// documentedColumns is the CSV header as documented on Columns and in the
// README.
var documentedColumns = strings.Fields(`suite case device device_name device_id driver cpu_model golem_version
	git_commit go_version timestamp variant kind dtype batch heads kv_heads
	head_dim seq_q seq_kv causal m n k model tokens seqs reps warmup median_s
	min_s max_s q1_s q3_s mean_s std_s device_s flops bytes intensity tflops gbps
	peak_tflops peak_gbps peak_source roofline_pct tokens_per_s
	tokens_per_s_std host_gbps host_bw_pct check check_case nmse error`)

func TestWriteCSV(t *testing.T) {
	require.Equal(t, documentedColumns, Columns())
	var buf bytes.Buffer
	rows := sampleRows()
	require.NoError(t, Write(&buf, FormatCSV, rows))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(rows)+1)
	require.Equal(t, documentedColumns, recs[0])
	col := func(name string) int {
		for i, c := range recs[0] {
			if c == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	require.Equal(t, "prefill:b1,h8,kv2,d64,s256,causal", recs[1][col("case")])
	require.Equal(t, "0.005", recs[1][col("median_s")])
	require.Equal(t, "2026-11-28T12:00:00Z", recs[1][col("timestamp")])
	require.Equal(t, "true", recs[1][col("causal")])
	require.Equal(t, "-1", recs[3][col("nmse")])
}

func TestWriteTableAndMarkdown(t *testing.T) {
	rows := sampleRows()
	var tbl bytes.Buffer
	require.NoError(t, Write(&tbl, FormatTable, rows))
	out := tbl.String()
	for _, want := range []string{
		"# cpu: Test CPU, driver go1.26; golem v0.1.0 (0123456789ab); roofs 50 GFLOP/s, 10 GB/s (measured)",
		"DEVICE", "TFLOP/S", "ROOF%", "prefill:b1,h8,kv2,d64,s256,causal", "5ms", "4ms–6ms", "fused", "ref", "1.5e-09",
		"NMSE 1 > 0.0005", "gemv:q4_0,m1,n1024,k1024", "T/S", "1455 ± 30", "stories260K",
	} {
		require.Contains(t, out, want)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := lines[1]
	require.True(t, strings.HasPrefix(header, "DEVICE"))
	// Aligned columns: the CASE column starts at the same offset on every attention line.
	at := strings.Index(header, "CASE")
	for _, l := range lines[2:5] {
		require.Equal(t, "prefill", l[at:at+7], l)
	}

	var md bytes.Buffer
	require.NoError(t, Write(&md, FormatMarkdown, rows))
	out = md.String()
	require.Contains(t, out, "| DEVICE | VARIANT | CASE | MEDIAN |")
	require.Contains(t, out, "| --- | --- |")
	require.Contains(t, out, "| cpu | fused | prefill:b1,h8,kv2,d64,s256,causal | 5ms |")
	require.Contains(t, out, "| DEVICE | MODEL | TEST | T/S |")

	require.Error(t, Write(&md, "xml", rows))
}

func TestHumanNumbers(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{humanSeconds(0.0052), "5.2ms"},
		{humanSeconds(2.5e-7), "250ns"},
		{humanSeconds(4.2e-5), "42µs"},
		{humanSeconds(12.345), "12.3s"},
		{sig3(0.0123456), "0.0123"},
		{sig3(1234.5), "1234"},
		{sig3(999.7), "1000"},
		{sig3(1e-6), "1.00e-06"},
		{siRate(4.53e10), "45.3 G"},
		{siRate(2.93e12), "2.93 T"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.got)
	}
}

func TestWritePlot(t *testing.T) {
	rows := sampleRows()
	other := rows[0]
	other.Device, other.DeviceName, other.PeakTFLOPS, other.PeakGBps = "cuda:0", "Fake GPU", 500, 3000
	other.setTimes([]float64{1e-5}, 5e14, 3e12, "override")
	rows = append(rows, other)
	dir := t.TempDir()

	pngPath := filepath.Join(dir, "roof.png")
	require.NoError(t, WritePlot(context.Background(), pngPath, "test", rows, false))
	f, err := os.Open(pngPath)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Greater(t, img.Bounds().Dx(), 100)

	svgPath := filepath.Join(dir, "roof.svg")
	require.NoError(t, WritePlot(context.Background(), svgPath, "test", rows, false))
	data, err := os.ReadFile(svgPath)
	require.NoError(t, err)
	head := strings.TrimSpace(string(data[:min(len(data), 200)]))
	require.True(t, strings.HasPrefix(head, "<?xml") || strings.HasPrefix(head, "<svg"), head)
	require.Contains(t, string(data), "</svg>")

	// An existing chart is replaced only with force.
	require.ErrorIs(t, WritePlot(context.Background(), svgPath, "test", rows, false), safefile.ErrExists)
	require.NoError(t, WritePlot(context.Background(), svgPath, "again", rows, true))

	require.Error(t, WritePlot(context.Background(), filepath.Join(dir, "roof.gif"), "", rows, false))
	require.Error(t, WritePlot(context.Background(), filepath.Join(dir, "none.png"), "", rows[2:3], false), "no timed point")
}

func TestCompareFiles(t *testing.T) {
	dir := t.TempDir()
	a := sampleRows()[:2]
	b := sampleRows()[:2]
	b[0].setTimes([]float64{0.0025}, 5e10, 1e10, "measured") // fused twice as fast
	extra := b[1]
	extra.Case = "decode:b1,h8,kv2,d64,kv1024"
	b = append(b, extra)
	write := func(name string, rows []Result) string {
		var buf bytes.Buffer
		require.NoError(t, Write(&buf, FormatJSON, rows))
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
		return p
	}
	pa, pb := write("a.json", a), write("b.json", b)
	ra, err := ReadResultsFile(pa)
	require.NoError(t, err)
	rb, err := ReadResultsFile(pb)
	require.NoError(t, err)
	cmps, err := Compare([][]Result{ra, rb}, nil)
	require.NoError(t, err)
	require.Len(t, cmps, 3)
	require.Equal(t, "fused", cmps[0].Variant)
	require.InDelta(t, 2.0, cmps[0].Speedup[1], 1e-12)
	require.Equal(t, 1.0, cmps[0].Speedup[0])
	require.InDelta(t, 1.0, cmps[1].Speedup[1], 1e-12)
	require.Zero(t, cmps[2].Medians[0], "absent from the baseline")
	require.Zero(t, cmps[2].Speedup[1])

	for _, format := range Formats() {
		var buf bytes.Buffer
		require.NoError(t, WriteComparison(&buf, format, []string{"a.json", "b.json"}, cmps), format)
		require.Contains(t, buf.String(), "prefill:b1,h8,kv2,d64,s256,causal", format)
	}
	var tbl bytes.Buffer
	require.NoError(t, WriteComparison(&tbl, FormatTable, []string{"a.json", "b.json"}, cmps))
	require.Contains(t, tbl.String(), "2.00x")
	require.Contains(t, tbl.String(), "SPEEDUP [1]/[0]")

	// Matching on case and variant only pairs rows from different devices.
	rb[0].Device = "cuda:0"
	cmps, err = Compare([][]Result{ra, rb}, []string{"case", "variant"})
	require.NoError(t, err)
	require.InDelta(t, 2.0, cmps[0].Speedup[1], 1e-12)

	_, err = Compare([][]Result{ra}, nil)
	require.Error(t, err)
	_, err = Compare([][]Result{ra, rb}, []string{"colour"})
	require.Error(t, err)
	_, err = ReadResultsFile(filepath.Join(dir, "missing.json"))
	require.Error(t, err)
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(0.15, 450) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	require.Equal(t, []string{"0.1", "1", "10", "100", "1000"}, labels)
	labels = nil
	for _, tk := range (logTicks{si: true}).Ticks(3e8, 2e10) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	require.Equal(t, []string{"100 M", "1 G", "10 G", "100 G"}, labels)
	require.Nil(t, logTicks{}.Ticks(0, 1))
}
