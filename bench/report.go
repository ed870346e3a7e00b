package bench

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golem-llm/golem/internal/safefile"
)

// Formats of Write.
const (
	FormatTable    = "table" // aligned columns for people (the default)
	FormatCSV      = "csv"   // every column of Columns, one row per result
	FormatJSON     = "json"  // an indented JSON array of Result
	FormatJSONL    = "jsonl" // one JSON Result per line
	FormatMarkdown = "md"    // a markdown table with the table's columns
)

// Formats lists the output formats.
func Formats() []string {
	return []string{FormatTable, FormatCSV, FormatJSON, FormatJSONL, FormatMarkdown}
}

// ParseFormat checks a format name.
func ParseFormat(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "markdown" {
		s = FormatMarkdown
	}
	for _, f := range Formats() {
		if s == f {
			return s, nil
		}
	}
	return "", fmt.Errorf("bench: unknown format %q (want %s)", s, strings.Join(Formats(), ", "))
}

// Columns returns the CSV header: every field of Result by its JSON name,
// in this order:
//
//	suite case device device_name device_id driver cpu_model golem_version
//	git_commit go_version timestamp variant kind dtype batch heads kv_heads
//	head_dim seq_q seq_kv causal m n k model tokens seqs reps warmup median_s
//	min_s max_s q1_s q3_s mean_s std_s device_s flops bytes intensity tflops gbps
//	peak_tflops peak_gbps peak_source roofline_pct tokens_per_s
//	tokens_per_s_std host_gbps host_bw_pct check check_case nmse error
//
// Times are seconds, rates are 10¹² FLOP/s (tflops, peak_tflops) and 10⁹
// bytes/s (gbps, peak_gbps), intensity is FLOPs per byte, roofline_pct is a
// percent, timestamp is RFC 3339 UTC; see Result for each column.
func Columns() []string {
	t := reflect.TypeFor[Result]()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if tag := jsonName(t.Field(i)); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// csvRecord returns r's values in Columns order.
func csvRecord(r Result) []string {
	v := reflect.ValueOf(r)
	t := v.Type()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if jsonName(t.Field(i)) == "" {
			continue
		}
		switch x := v.Field(i).Interface().(type) {
		case string:
			out = append(out, x)
		case int:
			out = append(out, strconv.Itoa(x))
		case bool:
			out = append(out, strconv.FormatBool(x))
		case float64:
			out = append(out, strconv.FormatFloat(finiteOr(x, -1), 'g', -1, 64))
		case time.Time:
			out = append(out, x.UTC().Format(time.RFC3339))
		default:
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

// sanitized returns r with every float finite (JSON cannot hold NaN or
// infinities; they become -1).
func sanitized(r Result) Result {
	v := reflect.ValueOf(&r).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Float64 && f.CanSet() {
			f.SetFloat(finiteOr(f.Float(), -1))
		}
	}
	return r
}

// Write writes rows to w in format (see Formats).
func Write(w io.Writer, format string, rows []Result) error {
	format, err := ParseFormat(format)
	if err != nil {
		return err
	}
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(Columns()); err != nil {
			return err
		}
		for _, r := range rows {
			if err := cw.Write(csvRecord(r)); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case FormatJSON:
		clean := make([]Result, len(rows))
		for i, r := range rows {
			clean[i] = sanitized(r)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(clean)
	case FormatJSONL:
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(sanitized(r)); err != nil {
				return err
			}
		}
		return nil
	case FormatMarkdown:
		return writeMarkdown(w, rows)
	}
	return writeTable(w, rows)
}

// ReadResults reads rows written as JSON (an array) or JSONL.
func ReadResults(r io.Reader) ([]Result, error) {
	br := bufio.NewReader(r)
	for {
		c, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, nil
			}
			return nil, err
		}
		if c[0] == ' ' || c[0] == '\n' || c[0] == '\r' || c[0] == '\t' {
			br.ReadByte()
			continue
		}
		break
	}
	dec := json.NewDecoder(br)
	if c, _ := br.Peek(1); c[0] == '[' {
		var rows []Result
		if err := dec.Decode(&rows); err != nil {
			return nil, fmt.Errorf("bench: results: %w", err)
		}
		return rows, nil
	}
	var rows []Result
	for {
		var row Result
		err := dec.Decode(&row)
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("bench: results line %d: %w", len(rows)+1, err)
		}
		rows = append(rows, row)
	}
}

// ReadResultsFile reads a JSON or JSONL results file.
func ReadResultsFile(path string) ([]Result, error) {
	f, err := safefile.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	rows, err := ReadResults(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// tableColumns are the human-readable columns of a suite.
func tableColumns(suite string) []string {
	switch suite {
	case SuiteModel:
		return []string{"DEVICE", "MODEL", "TEST", "T/S", "MEDIAN", "DEVICE TIME", "MIN–MAX", "GB/S", "ROOF%", "NOTE"}
	}
	return []string{"DEVICE", "VARIANT", "CASE", "MEDIAN", "DEVICE TIME", "MIN–MAX", "TFLOP/S", "GB/S", "ROOF%", "BOUND", "CHECK", "NMSE", "NOTE"}
}

// tableRow renders r for tableColumns(r.Suite).
func tableRow(r Result) []string {
	timed := r.MedianS > 0
	tm := func(s float64) string {
		if !timed {
			return "-"
		}
		return humanSeconds(s)
	}
	spread := "-"
	if timed {
		spread = humanSeconds(r.MinS) + "–" + humanSeconds(r.MaxS)
	}
	num := func(v float64) string {
		if !timed || v <= 0 {
			return "-"
		}
		return sig3(v)
	}
	pct := "-"
	if timed && r.RooflinePct > 0 {
		pct = fmt.Sprintf("%.1f", r.RooflinePct)
	}
	note := r.Error
	if len(note) > 80 {
		note = note[:77] + "..."
	}
	note = dashIfEmpty(note)
	devTime := "-"
	if timed && r.DeviceS > 0 {
		devTime = humanSeconds(r.DeviceS)
	}
	if r.Suite == SuiteModel {
		if r.Error == "" && r.HostBWPct > 0 {
			note = fmt.Sprintf("%.0f%% of host read (%s GB/s)", r.HostBWPct, sig3(r.HostGBps))
		}
		tps := "-"
		if timed {
			tps = fmt.Sprintf("%s ± %s", sig3(r.TokensPerS), sig3(r.TokensPerSStd))
		}
		return []string{r.Device, dashIfEmpty(r.Model), r.Case, tps, tm(r.MedianS), devTime, spread, num(r.GBps), pct, note}
	}
	nmse := "-"
	if r.Check == CheckOK || (r.Check == CheckFail && r.NMSE >= 0) {
		nmse = fmt.Sprintf("%.1e", r.NMSE)
	}
	bound := "-"
	if timed {
		bound = dashIfEmpty(r.Bound())
	}
	return []string{r.Device, r.Variant, r.Case, tm(r.MedianS), devTime, spread, num(r.TFLOPS), num(r.GBps), pct, bound,
		dashIfEmpty(r.Check), nmse, note}
}

// preamble describes the devices of rows, one line each, with the range
// of compute roofs their rows use.
func preamble(rows []Result) []string {
	type dev struct {
		first      Result
		lo, hi, bw float64
	}
	var order []string
	devs := map[string]*dev{}
	for _, r := range rows {
		key := r.Device + "\x00" + r.DeviceName + "\x00" + r.CPUModel + "\x00" + r.GitCommit
		d, ok := devs[key]
		if !ok {
			d = &dev{first: r, lo: math.Inf(1)}
			devs[key] = d
			order = append(order, key)
		}
		if r.PeakTFLOPS > 0 {
			d.lo, d.hi = math.Min(d.lo, r.PeakTFLOPS*1e12), math.Max(d.hi, r.PeakTFLOPS*1e12)
		}
		d.bw = math.Max(d.bw, r.PeakGBps*1e9)
	}
	lines := make([]string, 0, len(order))
	for _, key := range order {
		d := devs[key]
		r := d.first
		line := fmt.Sprintf("%s: %s", r.Device, dashIfEmpty(r.DeviceName))
		if r.Driver != "" {
			line += ", driver " + r.Driver
		}
		if r.CPUModel != "" && r.CPUModel != r.DeviceName {
			line += ", host " + r.CPUModel
		}
		line += fmt.Sprintf("; golem %s (%s)", dashIfEmpty(r.GolemVersion), shortCommit(r.GitCommit))
		if d.hi > 0 || d.bw > 0 {
			flops := "-"
			switch {
			case d.hi > 0 && siRate(d.lo) != siRate(d.hi):
				flops = strings.TrimSpace(siRate(d.lo)) + "–" + siRate(d.hi) + "FLOP/s"
			case d.hi > 0:
				flops = siRate(d.hi) + "FLOP/s"
			}
			bw := "-"
			if d.bw > 0 {
				bw = siRate(d.bw) + "B/s"
			}
			line += fmt.Sprintf("; roofs %s, %s (%s)", flops, bw, dashIfEmpty(r.PeakSource))
		}
		lines = append(lines, line)
	}
	return lines
}

// suites splits rows by suite, keeping their order.
func suites(rows []Result) [][]Result {
	var order []string
	by := map[string][]Result{}
	for _, r := range rows {
		if _, ok := by[r.Suite]; !ok {
			order = append(order, r.Suite)
		}
		by[r.Suite] = append(by[r.Suite], r)
	}
	out := make([][]Result, 0, len(order))
	for _, s := range order {
		out = append(out, by[s])
	}
	return out
}

func writeTable(w io.Writer, rows []Result) error {
	var buf bytes.Buffer
	for _, line := range preamble(rows) {
		fmt.Fprintf(&buf, "# %s\n", line)
	}
	for i, group := range suites(rows) {
		if i > 0 {
			buf.WriteByte('\n')
		}
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(tableColumns(group[0].Suite), "\t"))
		for _, r := range group {
			fmt.Fprintln(tw, strings.Join(tableRow(r), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func writeMarkdown(w io.Writer, rows []Result) error {
	var buf bytes.Buffer
	for _, line := range preamble(rows) {
		fmt.Fprintf(&buf, "- %s\n", mdEscape(line))
	}
	if len(rows) > 0 {
		buf.WriteByte('\n')
	}
	for i, group := range suites(rows) {
		if i > 0 {
			buf.WriteByte('\n')
		}
		cols := tableColumns(group[0].Suite)
		fmt.Fprintf(&buf, "| %s |\n", strings.Join(cols, " | "))
		seps := make([]string, len(cols))
		for j := range seps {
			seps[j] = "---"
		}
		fmt.Fprintf(&buf, "| %s |\n", strings.Join(seps, " | "))
		for _, r := range group {
			cells := tableRow(r)
			for j := range cells {
				cells[j] = mdEscape(cells[j])
			}
			fmt.Fprintf(&buf, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortCommit(c string) string {
	if c == "" {
		return "unknown"
	}
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// humanSeconds writes s with 3 significant digits in ns, µs, ms or s.
func humanSeconds(s float64) string {
	switch {
	case s <= 0:
		return "0"
	case s < 1e-6:
		return sig3(s*1e9) + "ns"
	case s < 1e-3:
		return sig3(s*1e6) + "µs"
	case s < 1:
		return sig3(s*1e3) + "ms"
	}
	return sig3(s) + "s"
}

// sig3 writes v with 3 significant digits, without an exponent for
// ordinary magnitudes.
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e9 || a < 1e-4:
		return strconv.FormatFloat(v, 'e', 2, 64)
	case a >= 999.5:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// siRate writes a rate with an SI prefix: "45.3 G".
func siRate(v float64) string {
	prefixes := []string{"", "k", "M", "G", "T", "P", "E"}
	i := 0
	for v >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return sig3(v) + " " + prefixes[i]
}
