package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/resource"
)

func newDevicesCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List every device of every backend, available or with the reason it is not",
		Long: `devices probes every backend linked into golem and lists each device it finds:
whether it can be used, and if not, exactly why (no driver, no device, built
without cgo, ...). The DEVICE column is what --device accepts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			log, err := logger(cmd)
			if err != nil {
				return err
			}
			log.Debug("probing backends", "drivers", backend.Drivers())
			sts := backend.Probe()
			if format == "json" {
				return writeDevicesJSON(cmd.OutOrStdout(), sts)
			}
			return writeDevicesTable(cmd.OutOrStdout(), sts)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

// writeDevicesTable writes one aligned line per status.
func writeDevicesTable(w io.Writer, sts []backend.Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSTATUS\tNAME\tMEMORY\tCAPS")
	for _, st := range sts {
		status := "available"
		if !st.Available {
			status = st.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Device, status, dash(st.Info.Name),
			humanBytes(st.Info.MemoryBytes), dash(st.Info.Caps))
	}
	return tw.Flush()
}

// deviceJSON is one element of `golem devices --format json`.
type deviceJSON struct {
	Device      string `json:"device"`
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Backend     string `json:"backend"`
	Index       int    `json:"index"`
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	Driver      string `json:"driver,omitempty"`
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	Caps        string `json:"caps,omitempty"`
}

// writeDevicesJSON writes the statuses as an indented JSON array.
func writeDevicesJSON(w io.Writer, sts []backend.Status) error {
	out := make([]deviceJSON, len(sts))
	for i, st := range sts {
		out[i] = deviceJSON{
			Device: st.Device, Available: st.Available, Reason: st.Reason,
			Backend: st.Info.Backend, Index: st.Info.Index, ID: st.Info.ID, Name: st.Info.Name,
			Driver: st.Info.Driver, MemoryBytes: st.Info.MemoryBytes, Caps: st.Info.Caps,
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// humanBytes writes n in binary units ("80.0 GiB"); 0 (unknown) is "-".
func humanBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return resource.FormatBytes(n)
}

// dash stands in for an empty table cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
