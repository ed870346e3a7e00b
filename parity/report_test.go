package parity_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// sampleOpReport has a passing, a failing (with a NaN NMSE), an erroring
// and a skipped row over two devices.
func sampleOpReport() *parity.OpReport {
	mm := parity.Case{Name: "matmul(type_w=q4_0,m=7,n=17,k=32)", Op: graph.OpMatMul, DTypes: []graph.DType{graph.Q4_0}, Threshold: 5e-4}
	cp := parity.Case{Name: "copy(src=f32,dst=f16,n=5)", Op: graph.OpCopy, DTypes: []graph.DType{graph.F32, graph.F16}, Threshold: 5e-4}
	rep := &parity.OpReport{Reference: "cpu:ref", Seed: 42}
	rep.Add(parity.NewOpRow("cpu", mm, parity.Result{Case: mm.Name, Op: mm.Op, Seed: 42, Threshold: 5e-4,
		Check: parity.Check{N: 119, NMSE: 2.1e-6, MaxAbs: 1e-3}, Pass: true}))
	bad := parity.Check{N: 5, NMSE: math.NaN(), MaxAbs: math.NaN(), NaN: 2}
	rep.Add(parity.NewOpRow("cpu", cp, parity.Result{Case: cp.Name, Op: cp.Op, Seed: 42, Threshold: 5e-4,
		Check: bad, Outputs: []parity.OutputCheck{{Name: "copy#1", Check: bad}}}))
	rep.Add(parity.NewOpRow("gpu:0", mm, parity.Result{Case: mm.Name, Op: mm.Op, Seed: 42, Threshold: 5e-4,
		Err: errors.New("target gpu:0: run: device lost")}))
	rep.Add(parity.NewOpRow("gpu:0", cp, parity.Result{Case: cp.Name, Op: cp.Op, Seed: 42, Threshold: 5e-4,
		Skipped: true, SkipReason: "gpu:0 does not support copy"}))
	return rep
}

func TestOpRows(t *testing.T) {
	rep := sampleOpReport()
	require.Equal(t, []parity.OpSummary{
		{Device: "cpu", Passed: 1, Failed: 1},
		{Device: "gpu:0", Failed: 1, Skipped: 1},
	}, rep.Summary)
	require.Equal(t, 2, rep.Failed())
	ok, fail, errRow, skip := rep.Rows[0], rep.Rows[1], rep.Rows[2], rep.Rows[3]
	require.Equal(t, parity.OpRow{Device: "cpu", Case: "matmul(type_w=q4_0,m=7,n=17,k=32)", Op: "matmul", DTypes: "q4_0",
		Seed: 42, NMSE: 2.1e-6, MaxAbs: 1e-3, Threshold: 5e-4, Status: parity.StatusOK}, ok)
	require.Equal(t, "f32+f16", fail.DTypes)
	require.Equal(t, parity.StatusFail, fail.Status)
	require.Equal(t, `output "copy#1": 2 NaN where the reference is finite; NMSE NaN > 0.0005 (max |Δ| NaN)`, fail.Reason)
	require.Equal(t, parity.StatusFail, errRow.Status)
	require.Equal(t, "target gpu:0: run: device lost", errRow.Reason)
	require.True(t, math.IsNaN(float64(errRow.NMSE)))
	require.Equal(t, parity.StatusSkip, skip.Status)
	require.Equal(t, "gpu:0 does not support copy", skip.Reason)
	require.Equal(t, "matmul(type_w=q4_0,m=7,n=17,k=32)  NMSE 2.1e-06  OK", ok.Line(0))
	require.Equal(t, "copy(src=f32,dst=f16,n=5)     NMSE -        SKIP  gpu:0 does not support copy", skip.Line(28))
}

func TestOpReportTable(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, sampleOpReport().WriteTable(&buf))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	require.Equal(t, "parity ops: seed 42, reference cpu:ref", lines[0])
	require.Equal(t, "== cpu ==", lines[1])
	require.Regexp(t, `^matmul\(type_w=q4_0,m=7,n=17,k=32\) +NMSE 2\.1e-06 +OK$`, lines[2])
	require.Regexp(t, `^copy\(src=f32,dst=f16,n=5\) +NMSE - +FAIL +output "copy#1": 2 NaN`, lines[3])
	require.Equal(t, "== gpu:0 ==", lines[4])
	require.Regexp(t, `FAIL +target gpu:0: run: device lost$`, lines[5])
	require.Equal(t, "cpu: 1 passed, 1 failed, 0 skipped", lines[7])
	require.Equal(t, "gpu:0: 0 passed, 1 failed, 1 skipped", lines[8])
}

func TestOpReportJSONParsesBack(t *testing.T) {
	rep := sampleOpReport()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	// Every row carries exactly the documented columns.
	var raw struct {
		Rows []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	require.Len(t, raw.Rows, 4)
	for _, r := range raw.Rows {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		require.ElementsMatch(t, parity.OpColumns, keys)
	}
	require.Nil(t, raw.Rows[2]["nmse"], "an unmeasured NMSE is null")
	var back parity.OpReport
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, rep.Reference, back.Reference)
	require.Equal(t, rep.Seed, back.Seed)
	require.Equal(t, rep.Summary, back.Summary)
	require.Len(t, back.Rows, len(rep.Rows))
	for i := range rep.Rows {
		w, g := rep.Rows[i], back.Rows[i]
		require.Equal(t, math.IsNaN(float64(w.NMSE)), math.IsNaN(float64(g.NMSE)))
		if !math.IsNaN(float64(w.NMSE)) {
			require.Equal(t, w, g)
		}
		w.NMSE, w.MaxAbs, g.NMSE, g.MaxAbs = 0, 0, 0, 0
		require.Equal(t, w, g)
	}
}

func TestOpReportCSVColumns(t *testing.T) {
	rep := sampleOpReport()
	var buf bytes.Buffer
	require.NoError(t, rep.WriteCSV(&buf))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"device", "case", "op", "dtypes", "seed", "nmse", "max_abs", "threshold", "status", "reason"}, recs[0])
	require.Equal(t, parity.OpColumns, recs[0])
	require.Len(t, recs, 1+len(rep.Rows))
	require.Equal(t, []string{"cpu", "matmul(type_w=q4_0,m=7,n=17,k=32)", "matmul", "q4_0", "42", "2.1e-06", "0.001", "0.0005", "ok", ""}, recs[1])
	require.Equal(t, "", recs[3][5], "an unmeasured NMSE is empty")
	require.Equal(t, "fail", recs[3][8])
	require.Equal(t, "skip", recs[4][8])
}

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		json string
	}{
		{1.5e-7, "1.5e-07"}, {0, "0"}, {math.NaN(), "null"}, {math.Inf(1), `"+Inf"`}, {math.Inf(-1), `"-Inf"`},
	} {
		b, err := json.Marshal(parity.Float(tc.v))
		require.NoError(t, err)
		require.Equal(t, tc.json, string(b))
		var f parity.Float
		require.NoError(t, json.Unmarshal(b, &f))
		if math.IsNaN(tc.v) {
			require.True(t, math.IsNaN(float64(f)))
		} else {
			require.Equal(t, tc.v, float64(f))
		}
	}
	var f parity.Float
	require.Error(t, json.Unmarshal([]byte(`"abc"`), &f))
}

func TestRunOpsReportsEveryBackend(t *testing.T) {
	fast, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fast.Close()) })
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	cases, err := parity.Filter(parity.ShortCases(), "matmul", "q4_0")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	var streamed []parity.OpRow
	rep, err := parity.RunOps(t.Context(), []backend.Backend{fast, ref}, ref, cases, 7, func(r parity.OpRow) { streamed = append(streamed, r) })
	require.NoError(t, err)
	require.Equal(t, rep.Rows, streamed)
	require.Len(t, rep.Rows, 2*len(cases))
	require.Equal(t, []parity.OpSummary{{Device: "cpu", Passed: len(cases)}, {Device: "cpu:ref", Passed: len(cases)}}, rep.Summary)
	for _, r := range rep.Rows {
		require.Equal(t, int64(7), r.Seed)
		require.Equal(t, parity.StatusOK, r.Status, r.Reason)
	}
}

func TestModelReportFormats(t *testing.T) {
	r := &parity.ModelReport{
		Model: "m.gguf", A: "cpu", B: "cpu:ref", Tokens: []int32{1, 5, 9, 2},
		MeanKL: 1e-9, MaxKL: 2e-9, MaxAbs: 1e-5, Top1: 0.75, GateMeanKL: 1e-4, GateTop1: 0.995,
		GenA: parity.Generation{Device: "cpu", Tokens: []int32{3}, Text: " once"},
		GenB: parity.Generation{Device: "cpu:ref", Tokens: []int32{4}, Text: " twice"}, GenMismatch: 0,
		Failures: []string{"top-1 agreement 75.00% < 99.50%"},
	}
	for i, tok := range r.Tokens {
		r.Positions = append(r.Positions, parity.PositionMetrics{Pos: i, Token: tok, KL: 1e-9, MaxAbs: 1e-5, Top1: i != 2, TopA: 3, TopB: 3})
	}
	r.Nodes = []parity.NodeMetrics{
		{Index: 2, Name: "inp_embd", Op: "get_rows", Layer: "input", Shape: []int{4, 8}, DType: "f32", NMSE: 0, Threshold: 2e-3, Pass: true},
		{Index: 9, Name: "blk.0.kqv", Op: "attention", Layer: "blk.0", Shape: []int{4, 2, 4}, DType: "f32", NMSE: Float(math.Inf(1)), MaxAbs: 3, Threshold: 2e-3},
	}
	r.FirstDivergence = &r.Nodes[1]
	var buf bytes.Buffer
	require.NoError(t, r.WriteTable(&buf, parity.ModelTableOptions{Positions: 2}))
	out := buf.String()
	require.Contains(t, out, "(2 more)")
	require.Contains(t, out, "top-1 agreement 75.00%")
	require.Contains(t, out, `first divergence: blk.0 attention "blk.0.kqv" NMSE +Inf > 2e-03`)
	require.Contains(t, out, "FAIL (first)")
	require.Contains(t, out, `cpu: " once"`)
	require.Contains(t, out, "FAIL: top-1 agreement")
	buf.Reset()
	require.NoError(t, r.WriteJSON(&buf))
	var back parity.ModelReport
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, r.Positions, back.Positions)
	require.Equal(t, r.GenB, back.GenB)
	require.True(t, math.IsInf(float64(back.FirstDivergence.NMSE), 1))
	require.Equal(t, r.Divergence(), back.Divergence())
}

// Float is a local name for parity.Float in composite literals.
type Float = parity.Float
