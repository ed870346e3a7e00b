package parity

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"

	"github.com/golem-llm/golem/internal/optcheck"
)

// Status values of an OpRow.
const (
	StatusOK   = "ok"
	StatusFail = "fail"
	StatusSkip = "skip"
)

// OpColumns are the columns of the CSV form of an op report, in order, and
// the keys of each JSON row:
//
//	device     the device string of the backend under test ("cpu", "cuda:0")
//	case       the case name, "matmul(type_w=q4_0,m=7,n=17,k=32)"
//	op         the op under test, "matmul"
//	dtypes     the case's dtypes joined by "+", "q4_0" or "f32+f16" (copy: source+destination)
//	seed       the suite seed the case's data was derived from
//	nmse       the worst NMSE over the case's outputs (empty in CSV, null in JSON, when not measured)
//	max_abs    the largest |got − want| over the outputs (likewise)
//	threshold  the NMSE tolerance the case is held to (0: exact bytes)
//	status     ok, fail or skip
//	reason     why it failed or was skipped (empty when ok)
var OpColumns = []string{"device", "case", "op", "dtypes", "seed", "nmse", "max_abs", "threshold", "status", "reason"}

// OpRow is the outcome of one conformance case on one backend.
type OpRow struct {
	Device    string  `json:"device"`
	Case      string  `json:"case"`
	Op        string  `json:"op"`
	DTypes    string  `json:"dtypes"`
	Seed      int64   `json:"seed"`
	NMSE      Float   `json:"nmse"`
	MaxAbs    Float   `json:"max_abs"`
	Threshold float64 `json:"threshold"`
	Status    string  `json:"status"`
	Reason    string  `json:"reason"`
}

// NewOpRow turns the result of case c on device into a row. A result with
// an error is a failure whose reason is the error.
func NewOpRow(device string, c Case, r Result) OpRow {
	dts := make([]string, len(c.DTypes))
	for i, d := range c.DTypes {
		dts[i] = d.String()
	}
	row := OpRow{
		Device: device, Case: c.Name, Op: c.Op.String(), DTypes: strings.Join(dts, "+"),
		Seed: r.Seed, NMSE: Float(math.NaN()), MaxAbs: Float(math.NaN()), Threshold: r.Threshold,
	}
	// Message starts with "parity: CASE (seed N): "; the row carries those.
	reason := strings.TrimPrefix(r.Message(), fmt.Sprintf("parity: %s (seed %d): ", r.Case, r.Seed))
	switch {
	case r.Skipped:
		row.Status = StatusSkip
		row.Reason = strings.TrimPrefix(reason, "skipped: ")
	case r.Err != nil:
		row.Status = StatusFail
		row.Reason = reason
	default:
		row.NMSE, row.MaxAbs = Float(r.Check.NMSE), Float(r.Check.MaxAbs)
		row.Status = StatusOK
		if !r.Pass {
			row.Status = StatusFail
			row.Reason = reason
		}
	}
	return row
}

// Line formats the row as one line of the table, the case name padded to
// width:
//
//	matmul(type_w=q4_0,m=7,n=17,k=32)  NMSE 2.1e-06  OK
//	matmul(type_w=q4_0,m=7,n=17,k=32)  NMSE 1.0e-02  FAIL  output "matmul#2": NMSE 0.01 > 0.0005 (max |Δ| 0.3)
//
// An NMSE that was not measured (skipped, an error) or is NaN shows as
// "NMSE -"; the reason says which.
func (r OpRow) Line(width int) string {
	nmse := "NMSE -"
	if !math.IsNaN(float64(r.NMSE)) {
		nmse = fmt.Sprintf("NMSE %.1e", float64(r.NMSE))
	}
	s := fmt.Sprintf("%-*s  %-12s  %s", width, r.Case, nmse, strings.ToUpper(r.Status))
	if r.Reason != "" {
		s += "  " + r.Reason
	}
	return s
}

// OpSummary counts one backend's outcomes.
type OpSummary struct {
	Device  string `json:"device"`
	Passed  int    `json:"passed"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
}

// String formats the summary: "cpu: 120 passed, 0 failed, 3 skipped".
func (s OpSummary) String() string {
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped", s.Device, s.Passed, s.Failed, s.Skipped)
}

// OpReport is the outcome of an op conformance run over several backends.
type OpReport struct {
	// Reference is the device every backend was compared against.
	Reference string `json:"reference"`
	// Seed is the suite seed.
	Seed int64 `json:"seed"`
	// Rows holds one row per case and backend, backend by backend.
	Rows []OpRow `json:"rows"`
	// Summary holds one line per backend, in the order they ran.
	Summary []OpSummary `json:"summary"`
}

// Add appends a row and counts it in its device's summary.
func (r *OpReport) Add(row OpRow) {
	r.Rows = append(r.Rows, row)
	i := len(r.Summary) - 1
	if i < 0 || r.Summary[i].Device != row.Device {
		i = -1
		for j, s := range r.Summary {
			if s.Device == row.Device {
				i = j
			}
		}
		if i < 0 {
			r.Summary = append(r.Summary, OpSummary{Device: row.Device})
			i = len(r.Summary) - 1
		}
	}
	switch row.Status {
	case StatusOK:
		r.Summary[i].Passed++
	case StatusSkip:
		r.Summary[i].Skipped++
	default:
		r.Summary[i].Failed++
	}
}

// Failed returns the number of failed rows over every backend.
func (r *OpReport) Failed() int {
	n := 0
	for _, s := range r.Summary {
		n += s.Failed
	}
	return n
}

// RunOps runs cases on every target against ref with seed, backend by
// backend, and returns the report. onRow, when set, is called after each
// case (to print lines as they come). A cancelled ctx stops the run and
// returns what finished with ctx's error.
func RunOps(ctx context.Context, targets []backend.Backend, ref backend.Backend, cases []Case, seed int64, onRow func(OpRow)) (*OpReport, error) {
	rep := &OpReport{Reference: ref.Name(), Seed: seed}
	for _, t := range targets {
		for _, c := range cases {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			row := NewOpRow(t.Name(), c, RunCase(ctx, t, ref, c, seed))
			rep.Add(row)
			if onRow != nil {
				onRow(row)
			}
		}
	}
	return rep, nil
}

// TableHeader returns the first line of the text form: the seed and the
// reference device.
func (r *OpReport) TableHeader() string {
	return fmt.Sprintf("parity ops: seed %d, reference %s", r.Seed, r.Reference)
}

// maxCaseWidth caps the padding of case names in the table; longer names
// (attention cases) push their line's metrics to the right.
const maxCaseWidth = 56

// CaseWidth returns the width Line pads case names to: the longest name
// of cases, at most 56.
func CaseWidth(cases []Case) int {
	w := 0
	for _, c := range cases {
		w = max(w, len(c.Name))
	}
	return min(w, maxCaseWidth)
}

// WriteTable writes the report as text: TableHeader, a "== device =="
// line before each backend's rows, one Line per case, and each backend's
// summary.
func (r *OpReport) WriteTable(w io.Writer) error {
	width := 0
	for _, row := range r.Rows {
		width = max(width, len(row.Case))
	}
	width = min(width, maxCaseWidth)
	ew := &errWriter{w: w}
	ew.printf("%s\n", r.TableHeader())
	dev := ""
	for i, row := range r.Rows {
		if i == 0 || row.Device != dev {
			dev = row.Device
			ew.printf("== %s ==\n", dev)
		}
		ew.printf("%s\n", row.Line(width))
	}
	for _, s := range r.Summary {
		ew.printf("%s\n", s)
	}
	return ew.err
}

// WriteJSON writes the report as one indented JSON object with the keys
// reference, seed, rows (objects with the OpColumns keys) and summary.
func (r *OpReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes a header of OpColumns and one record per row. Metrics
// are written with full precision; a metric that was not measured is empty.
func (r *OpReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(OpColumns); err != nil {
		return err
	}
	for _, row := range r.Rows {
		rec := []string{
			row.Device, row.Case, row.Op, row.DTypes, strconv.FormatInt(row.Seed, 10),
			csvFloat(row.NMSE), csvFloat(row.MaxAbs), strconv.FormatFloat(row.Threshold, 'g', -1, 64),
			row.Status, row.Reason,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvFloat formats f for CSV: empty for NaN, "+Inf"/"-Inf", else shortest %g.
func csvFloat(f Float) string {
	if math.IsNaN(float64(f)) {
		return ""
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 64)
}

// ModelTableOptions trim the text form of a model report.
type ModelTableOptions struct {
	// Positions bounds the per-position lines: the first Positions/2 and
	// the last Positions − Positions/2 are printed (0: all).
	Positions int
}

// Validate reports a field out of its range as an *optcheck.FieldError.
func (o ModelTableOptions) Validate() error {
	return optcheck.Struct{Pkg: "parity", Name: "ModelTableOptions"}.NonNegative("Positions", o.Positions)
}

// WriteTable writes the model report as text: one line per position
// (trimmed by o), the overall metrics, with Layers every activation in
// graph order and the first divergence, the two greedy continuations and
// the gate verdict.
func (r *ModelReport) WriteTable(w io.Writer, o ModelTableOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	ew := &errWriter{w: w}
	ew.printf("parity model: %s\n", r.Model)
	ew.printf("a = %s, b = %s (reference side), %d prompt tokens\n\n", r.A, r.B, len(r.Tokens))
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POS\tTOKEN\tMAX|Δ|\tKL(a‖b)\tTOP1 a\tTOP1 b\tAGREE\t")
	n := len(r.Positions)
	head, tail := n, 0
	if o.Positions > 0 && o.Positions < n {
		head = o.Positions / 2
		tail = o.Positions - head
	}
	for i, p := range r.Positions {
		if i >= head && i < n-tail {
			if i == head {
				fmt.Fprintf(tw, "...\t(%d more)\t\t\t\t\t\t\n", n-head-tail)
			}
			continue
		}
		agree := "yes"
		if !p.Top1 {
			agree = "NO"
		}
		fmt.Fprintf(tw, "%d\t%d\t%.3g\t%.3g\t%d\t%d\t%s\t\n", p.Pos, p.Token, float64(p.MaxAbs), float64(p.KL), p.TopA, p.TopB, agree)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("\nmean KL %.3g (gate ≤ %.3g), max KL %.3g, max |Δlogit| %.3g, top-1 agreement %.2f%% (gate ≥ %.2f%%)\n",
		float64(r.MeanKL), r.GateMeanKL, float64(r.MaxKL), float64(r.MaxAbs), 100*r.Top1, 100*r.GateTop1)
	if len(r.Nodes) > 0 {
		ew.printf("\nactivations (%d nodes, graph order; NMSE of a against b):\n", len(r.Nodes))
		tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "LAYER\tNODE\tOP\tSHAPE\tNMSE\tMAX|Δ|\tTHRESHOLD\tSTATUS")
		for _, nd := range r.Nodes {
			st := "ok"
			if !nd.Pass {
				st = "FAIL"
				if r.FirstDivergence != nil && nd.Index == r.FirstDivergence.Index {
					st = "FAIL (first)"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2e\t%.2e\t%.0e\t%s\n", nd.Layer, nd.Name, nd.Op,
				shapeString(nd.Shape), float64(nd.NMSE), float64(nd.MaxAbs), nd.Threshold, st)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if d := r.Divergence(); d != "" {
			ew.printf("%s\n", d)
		} else {
			ew.printf("no divergence: every activation is within its threshold\n")
		}
	}
	if r.GenA.Device != "" {
		ew.printf("\ngreedy continuation, %d tokens:\n", max(len(r.GenA.Tokens), len(r.GenB.Tokens)))
		ew.printf("  %s: %q\n", r.A, r.GenA.Text)
		ew.printf("  %s: %q\n", r.B, r.GenB.Text)
		if r.GenMismatch < 0 {
			ew.printf("  identical\n")
		} else {
			ew.printf("  first differing generated token: #%d\n", r.GenMismatch)
		}
	}
	if r.Pass {
		ew.printf("\nPASS\n")
	} else {
		ew.printf("\nFAIL: %s\n", strings.Join(r.Failures, "; "))
	}
	return ew.err
}

// WriteJSON writes the whole model report as one indented JSON object.
func (r *ModelReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// shapeString formats a shape as [a b c].
func shapeString(s []int) string { return fmt.Sprint(graph.Shape(s)) }

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }
