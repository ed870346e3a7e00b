package main

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/bench"
	"github.com/golem-llm/golem/internal/sharedtest"
)

// runBench runs `golem bench ARGS` in-process (registering the bench
// command when root.go does not yet) and returns stdout and stderr.
func runBench(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root := newRootCmd()
	if c, _, err := root.Find([]string{"bench"}); err != nil || c == root {
		root.AddCommand(newBenchCmd())
	}
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"bench"}, args...))
	err := root.Execute()
	return out.String(), errb.String(), err
}

// fast are flags that keep the command tests quick: one timed run, fixed
// ceilings.
var fast = []string{"--device", "cpu", "--reps", "1", "--warmup", "0", "--peak", "flops=50G,bw=10G"}

const twoShapes = "prefill:b1,h4,kv2,d64,s64,causal;decode:b2,h4,kv1,d64,kv256"

func TestBenchAttentionFormats(t *testing.T) {
	dir := t.TempDir()
	plot := filepath.Join(dir, "roof.png")
	saved := filepath.Join(dir, "run.json")
	out, errOut, err := runBench(t, append([]string{"attention", "--shapes", twoShapes, "--plot", plot, "-o", saved}, fast...)...)
	require.NoError(t, err, errOut)
	require.Contains(t, out, "DEVICE")
	require.Contains(t, out, "prefill:b1,h4,kv2,d64,s64,causal")
	require.Contains(t, out, "decode:b2,h4,kv1,d64,kv256")
	require.Contains(t, out, "fused")
	require.Contains(t, out, "ref")
	require.Contains(t, errOut, "roofline plot: "+plot)

	f, err := os.Open(plot)
	require.NoError(t, err)
	_, err = png.Decode(f)
	f.Close()
	require.NoError(t, err)

	rows, err := bench.ReadResultsFile(saved) // -o FILE.json is JSON
	require.NoError(t, err)
	require.Len(t, rows, 4)
	for _, r := range rows {
		require.Equal(t, bench.CheckOK, r.Check)
		require.Positive(t, r.MedianS)
		require.Equal(t, "dev", r.GolemVersion)
		require.Equal(t, "override", r.PeakSource)
	}

	out, _, err = runBench(t, append([]string{"attention", "--shapes", twoShapes, "--format", "csv", "--variants", "fused"}, fast...)...)
	require.NoError(t, err)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, bench.Columns(), recs[0])
	require.Len(t, recs, 3)

	out, _, err = runBench(t, append([]string{"attention", "--shapes", twoShapes, "--format", "md", "--variants", "ref"}, fast...)...)
	require.NoError(t, err)
	require.Contains(t, out, "| DEVICE | VARIANT | CASE |")
	require.Contains(t, out, "| cpu | ref |")

	out, _, err = runBench(t, append([]string{"attention", "--shapes", twoShapes, "--format", "jsonl", "--variants", "fused"}, fast...)...)
	require.NoError(t, err)
	back, err := bench.ReadResults(strings.NewReader(out))
	require.NoError(t, err)
	require.Len(t, back, 2)

	// BF16 K and V: the spec keeps its dtype, the rows check against cpu:ref.
	const bf16Shapes = "prefill:b1,h4,kv2,d64,s32,causal,bf16;decode:b1,h4,kv1,d64,kv128,bf16"
	out, _, err = runBench(t, append([]string{"attention", "--shapes", bf16Shapes, "--format", "jsonl", "--variants", "fused"}, fast...)...)
	require.NoError(t, err)
	back, err = bench.ReadResults(strings.NewReader(out))
	require.NoError(t, err)
	require.Len(t, back, 2)
	for _, r := range back {
		require.Equal(t, "bf16", r.DType)
		require.True(t, strings.HasSuffix(r.Case, ",bf16"), r.Case)
		require.Equal(t, bench.CheckOK, r.Check)
	}
}

func TestBenchCompare(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.jsonl")
	_, _, err := runBench(t, append([]string{"attention", "--shapes", twoShapes, "--variants", "fused", "-o", a}, fast...)...)
	require.NoError(t, err)
	_, _, err = runBench(t, append([]string{"attention", "--shapes", twoShapes, "--variants", "fused", "-o", b}, fast...)...)
	require.NoError(t, err)
	out, _, err := runBench(t, "compare", a, b)
	require.NoError(t, err)
	require.Contains(t, out, "SPEEDUP [1]/[0]")
	require.Contains(t, out, "decode:b2,h4,kv1,d64,kv256")
	require.Contains(t, out, "x")

	_, _, err = runBench(t, "compare", a)
	require.Error(t, err)
	_, _, err = runBench(t, "compare", a, filepath.Join(dir, "missing.json"))
	require.Error(t, err)
}

func TestBenchMatMul(t *testing.T) {
	out, errOut, err := runBench(t, append([]string{"matmul", "--size", "256", "--types", "q8_0,bf16"}, fast...)...)
	require.NoError(t, err, errOut)
	for _, c := range []string{"gemv:q8_0,m1,n256,k256", "gemm:q8_0,m512,n256,k256", "gemv:bf16,m1,n256,k256", "gemm:bf16,m512,n256,k256"} {
		require.Contains(t, out, c)
	}
	_, _, err = runBench(t, append([]string{"matmul", "--types", "q9"}, fast...)...)
	require.Error(t, err)
}

func TestBenchModel(t *testing.T) {
	path := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	out, errOut, err := runBench(t, append([]string{"model", "-m", path, "-p", "16", "-n", "4"}, fast...)...)
	require.NoError(t, err, errOut)
	require.Contains(t, out, "pp16")
	require.Contains(t, out, "tg4")
	require.Contains(t, out, "stories260K.gguf")
	require.Contains(t, out, " ± ")

	out, errOut, err = runBench(t, append([]string{"model", "--shape", "tiny", "--type", "q8_0", "-p", "8", "-n", "0", "--format", "json"}, fast...)...)
	require.NoError(t, err, errOut)
	rows, err := bench.ReadResults(strings.NewReader(out))
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "pp8", rows[0].Case)
	require.Equal(t, "tiny", rows[0].Model)
	require.Equal(t, "q8_0", rows[0].DType)
	require.Positive(t, rows[0].TokensPerS)

	out, errOut, err = runBench(t, append([]string{"model", "--shape", "tiny", "--type", "f16", "--kv-type", "bf16", "-p", "8", "-n", "4", "--format", "json"}, fast...)...)
	require.NoError(t, err, errOut)
	rows, err = bench.ReadResults(strings.NewReader(out))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	for _, r := range rows {
		require.Positive(t, r.TokensPerS, r.Case)
	}
}

func TestBenchCeilings(t *testing.T) {
	out, _, err := runBench(t, "ceilings", "--device", "cpu", "--peak", "flops=1T,bw=100G")
	require.NoError(t, err)
	require.Contains(t, out, "100 GB/s")
	require.Contains(t, out, "1 TFLOP/s")
	require.Contains(t, out, "override")
}

func TestBenchErrors(t *testing.T) {
	tests := [][]string{
		{"attention", "--quick", "--shapes", "default"},
		{"attention", "--shapes", "prefill:s8,h3,kv2"},
		{"attention", "--quick", "--format", "xml"},
		{"attention", "--quick", "--peak", "fast"},
		{"attention", "--quick", "--device", "nosuch"},
		{"attention", "--quick", "--reps", "-1"},
		{"model"},
		{"model", "-m", "x.gguf", "--shape", "tiny"},
		{"model", "--shape", "tiny", "-p", "0", "-n", "0"},
		{"model", "--shape", "nosuch"},
		{"model", "--shape", "tiny", "--kv-type", "q4_0"},
		{"ceilings", "--format", "csv", "--peak", "flops=1T,bw=1T"},
	}
	for _, args := range tests {
		_, _, err := runBench(t, args...)
		require.Error(t, err, strings.Join(args, " "))
	}
}

func TestFormatFromExt(t *testing.T) {
	for path, want := range map[string]string{
		"a.json": "json", "a.JSONL": "jsonl", "a.csv": "csv", "a.md": "md", "a.txt": "csv", "a": "csv",
	} {
		require.Equal(t, want, formatFromExt(path, "csv"), path)
	}
}

func TestRateCell(t *testing.T) {
	require.Equal(t, "-", rateCell(0, "B/s"))
	require.Equal(t, "45.3 GFLOP/s", rateCell(4.53e10, "FLOP/s"))
	require.Equal(t, "12 B/s", rateCell(12, "B/s"))
}

// TestBenchModelProfile: bench model reports each test's device time next
// to its wall time and, with --profile, prints the per-op table of golem
// run --profile for the test's last prefill and decode step on stderr;
// without --profile or --device-time there is no device time.
func TestBenchModelProfile(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	out, errOut, err := runBench(t, append([]string{"model", "-m", model, "-p", "16", "-n", "4", "--profile", "--format", "csv"}, fast...)...)
	require.NoError(t, err, errOut)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	for _, r := range recs[1:] {
		require.NotEqual(t, "0", r[col["device_s"]], "device time of %s", r[col["case"]])
	}
	require.Contains(t, errOut, "profile: prefill of 16 tokens, last run on cpu (stories260K.gguf pp16)")
	require.Contains(t, errOut, "profile: decode step, last run on cpu (stories260K.gguf tg4)")
	require.Contains(t, errOut, "DEVICE ms")
	require.Contains(t, errOut, "matmul")

	// Parallel decode tests: the batched step of each test's sequences.
	_, errOut, err = runBench(t, append([]string{"model", "-m", model, "-p", "0", "-n", "4", "--parallel", "1,2", "--profile", "--format", "csv"}, fast...)...)
	require.NoError(t, err, errOut)
	require.Contains(t, errOut, "profile: decode step, last run on cpu (stories260K.gguf tg4x1)")
	require.Contains(t, errOut, "profile: decode step of 2 sequences, last run on cpu (stories260K.gguf tg4x2)")
	require.NotContains(t, errOut, "reported no per-op timings")

	out, errOut, err = runBench(t, append([]string{"model", "-m", model, "-p", "16", "-n", "0", "--format", "csv"}, fast...)...)
	require.NoError(t, err, errOut)
	recs, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "0", recs[1][col["device_s"]], "no device time by default")
	require.NotContains(t, errOut, "profile:")

	out, errOut, err = runBench(t, append([]string{"model", "-m", model, "-p", "16", "-n", "0", "--device-time", "--format", "csv"}, fast...)...)
	require.NoError(t, err, errOut)
	recs, err = csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.NotEqual(t, "0", recs[1][col["device_s"]], "--device-time")
}
