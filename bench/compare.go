package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Compare keys: the Result fields a row is matched on across runs.
var compareKeys = map[string]func(Result) string{
	"suite":   func(r Result) string { return r.Suite },
	"case":    func(r Result) string { return r.Case },
	"variant": func(r Result) string { return r.Variant },
	"device":  func(r Result) string { return r.Device },
	"model":   func(r Result) string { return r.Model },
}

// DefaultCompareKey returns the fields Compare matches rows on by default:
// suite, case, variant, device and model.
func DefaultCompareKey() []string { return []string{"suite", "case", "variant", "device", "model"} }

// Comparison is one case across runs: the first run is the baseline.
type Comparison struct {
	Suite   string    `json:"suite"`
	Case    string    `json:"case"`
	Variant string    `json:"variant"`
	Device  string    `json:"device"`
	Model   string    `json:"model,omitempty"`
	Medians []float64 `json:"median_s"` // median seconds in each run (0: absent or untimed)
	Speedup []float64 `json:"speedup"`  // baseline median / this run's median (0: absent); 1 for the baseline
}

// Compare matches the rows of runs on key (nil: DefaultCompareKey) and
// returns one comparison per case of the baseline (runs[0]) in its order,
// then the cases only later runs have. Speedup > 1 means faster than the
// baseline. A key that is not unique within a run keeps its first row.
func Compare(runs [][]Result, key []string) ([]Comparison, error) {
	if len(runs) < 2 {
		return nil, fmt.Errorf("bench: compare needs at least two runs, got %d", len(runs))
	}
	if len(key) == 0 {
		key = DefaultCompareKey()
	}
	var fns []func(Result) string
	for _, k := range key {
		f, ok := compareKeys[strings.TrimSpace(k)]
		if !ok {
			return nil, fmt.Errorf("bench: compare: unknown key %q (want suite, case, variant, device, model)", k)
		}
		fns = append(fns, f)
	}
	keyOf := func(r Result) string {
		parts := make([]string, len(fns))
		for i, f := range fns {
			parts[i] = f(r)
		}
		return strings.Join(parts, "\x00")
	}
	var order []string
	first := map[string]Result{}
	index := make([]map[string]Result, len(runs))
	for i, run := range runs {
		index[i] = map[string]Result{}
		for _, r := range run {
			k := keyOf(r)
			if _, dup := index[i][k]; dup {
				continue
			}
			index[i][k] = r
			if _, ok := first[k]; !ok {
				first[k] = r
				order = append(order, k)
			}
		}
	}
	out := make([]Comparison, 0, len(order))
	for _, k := range order {
		r := first[k]
		c := Comparison{Suite: r.Suite, Case: r.Case, Variant: r.Variant, Device: r.Device, Model: r.Model,
			Medians: make([]float64, len(runs)), Speedup: make([]float64, len(runs))}
		for i := range runs {
			if x, ok := index[i][k]; ok && x.MedianS > 0 {
				c.Medians[i] = x.MedianS
			}
		}
		for i := range runs {
			if c.Medians[0] > 0 && c.Medians[i] > 0 {
				c.Speedup[i] = c.Medians[0] / c.Medians[i]
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// WriteComparison writes comparisons in format (table, csv, json, jsonl or
// md); labels name the runs (file names).
func WriteComparison(w io.Writer, format string, labels []string, cmps []Comparison) error {
	format, err := ParseFormat(format)
	if err != nil {
		return err
	}
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Runs        []string     `json:"runs"`
			Comparisons []Comparison `json:"comparisons"`
		}{labels, cmps})
	case FormatJSONL:
		enc := json.NewEncoder(w)
		for _, c := range cmps {
			if err := enc.Encode(c); err != nil {
				return err
			}
		}
		return nil
	}
	head := []string{"SUITE", "CASE", "VARIANT", "DEVICE"}
	for i, l := range labels {
		head = append(head, fmt.Sprintf("[%d] %s", i, l))
	}
	for i := 1; i < len(labels); i++ {
		head = append(head, fmt.Sprintf("SPEEDUP [%d]/[0]", i))
	}
	cells := func(c Comparison, raw bool) []string {
		row := []string{c.Suite, c.Case, c.Variant, c.Device}
		if c.Model != "" {
			row[1] = c.Model + " " + c.Case
		}
		for _, m := range c.Medians {
			switch {
			case raw:
				row = append(row, strconv.FormatFloat(m, 'g', -1, 64))
			case m > 0:
				row = append(row, humanSeconds(m))
			default:
				row = append(row, "-")
			}
		}
		for _, s := range c.Speedup[1:] {
			switch {
			case raw:
				row = append(row, strconv.FormatFloat(s, 'g', -1, 64))
			case s > 0:
				row = append(row, fmt.Sprintf("%.2fx", s))
			default:
				row = append(row, "-")
			}
		}
		return row
	}
	var buf bytes.Buffer
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(&buf)
		csvHead := []string{"suite", "case", "variant", "device"}
		for i := range labels {
			csvHead = append(csvHead, fmt.Sprintf("median_s_%d", i))
		}
		for i := 1; i < len(labels); i++ {
			csvHead = append(csvHead, fmt.Sprintf("speedup_%d", i))
		}
		cw.Write(csvHead)
		for _, c := range cmps {
			cw.Write(cells(c, true))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
	case FormatMarkdown:
		fmt.Fprintf(&buf, "| %s |\n", strings.Join(head, " | "))
		fmt.Fprintf(&buf, "|%s\n", strings.Repeat(" --- |", len(head)))
		for _, c := range cmps {
			row := cells(c, false)
			for j := range row {
				row[j] = mdEscape(row[j])
			}
			fmt.Fprintf(&buf, "| %s |\n", strings.Join(row, " | "))
		}
	default:
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, c := range cmps {
			fmt.Fprintln(tw, strings.Join(cells(c, false), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}
