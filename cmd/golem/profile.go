package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/runtime"
)

// opProfile is one row of a --profile table: the nodes of one op.
type opProfile struct {
	op       string
	nodes    int
	launches int
	seconds  float64
}

// profileRows sums an op's times, the longest first, and returns the
// totals.
func profileRows(ts []golem.OpTime) (rows []opProfile, total opProfile) {
	by := map[string]*opProfile{}
	for _, t := range ts {
		r := by[t.Op]
		if r == nil {
			r = &opProfile{op: t.Op}
			by[t.Op] = r
		}
		r.nodes++
		r.launches += t.Launches
		r.seconds += t.Seconds
		total.nodes++
		total.launches += t.Launches
		total.seconds += t.Seconds
	}
	for _, r := range by {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].seconds != rows[j].seconds {
			return rows[i].seconds > rows[j].seconds
		}
		return rows[i].op < rows[j].op
	})
	return rows, total
}

// printProfiles writes a per-op table for the last run of each program,
// or a line saying the device reported no timings.
func printProfiles(w io.Writer, device string, progs []golem.ProgramProfile) {
	if len(progs) == 0 {
		fmt.Fprintf(w, "profile: %s reported no per-op timings\n", device)
		return
	}
	for _, p := range progs {
		rows, total := profileRows(p.Ops)
		what := fmt.Sprintf("prefill of %d tokens", p.Tokens)
		if p.Kind == "decode" {
			what = "decode step"
			if p.Tokens > 1 {
				what = fmt.Sprintf("decode step of %d sequences", p.Tokens)
			}
		}
		fmt.Fprintf(w, "profile: %s, last run on %s: %d ops, %d kernel launches, %.3f ms device time\n",
			what, device, total.nodes, total.launches, 1e3*total.seconds)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "OP\tCOUNT\tLAUNCHES\tDEVICE ms\tSHARE\t")
		for _, r := range rows {
			share := 0.0
			if total.seconds > 0 {
				share = 100 * r.seconds / total.seconds
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.1f%%\t\n", r.op, r.nodes, r.launches, 1e3*r.seconds, share)
		}
		tw.Flush()
	}
}

// programProfiles turns bench's per-program timings into profiles.
func programProfiles(progs []runtime.ProgramTimings) []golem.ProgramProfile {
	out := make([]golem.ProgramProfile, 0, len(progs))
	for _, pt := range progs {
		p := golem.ProgramProfile{Kind: pt.Kind, Tokens: pt.Tokens}
		for _, t := range pt.Timings {
			p.Ops = append(p.Ops, golem.OpTime{Op: t.Node.Op.String(), Node: t.Node.Name, Seconds: t.Seconds, Launches: t.Launches})
		}
		out = append(out, p)
	}
	return out
}
