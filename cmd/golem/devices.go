package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
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
without cgo, ...). The DEVICE column is what --device accepts.

TYPE is the kind of device its driver reports. RANK is the order in which
--device auto tries the available devices, by type alone:
  ` + autoOrderText() + `
(software: a GPU API implemented on the CPU, such as Mesa's lavapipe). The
reference CPU (cpu:ref) is never taken. The last line names the device auto
takes.`,
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

// autoOrderText lists auto's preference of device types: "discrete-gpu >
// integrated-gpu > ...".
func autoOrderText() string {
	var names []string
	for _, t := range backend.AutoPreference() {
		names = append(names, t.String())
	}
	return strings.Join(names, " > ")
}

// writeDevicesTable writes one aligned line per status, then the line
// "auto: DEVICE (NAME)" naming the device --device auto takes.
func writeDevicesTable(w io.Writer, sts []backend.Status) error {
	rank := backend.Rank(sts)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tRANK\tTYPE\tSTATUS\tNAME\tMEMORY\tCAPS")
	for i, st := range sts {
		status := "available"
		if !st.Available {
			status = st.Reason
		}
		r := "-"
		if rank[i] > 0 {
			r = strconv.Itoa(rank[i])
		}
		typ := st.Info.Type.String()
		if st.Info.Type == backend.DeviceUnknown {
			typ = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Device, r, typ, status, dash(st.Info.Name),
			humanBytes(st.Info.MemoryBytes), dash(st.Info.Caps))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	auto, ok := backend.AutoChoice(sts)
	if !ok {
		_, err := fmt.Fprintln(w, "auto: no device can be used")
		return err
	}
	_, err := fmt.Fprintf(w, "auto: %s (%s)\n", auto.Device, dash(auto.Info.Name))
	return err
}

// deviceJSON is one element of `golem devices --format json`.
type deviceJSON struct {
	Device      string `json:"device"`
	Available   bool   `json:"available"`
	Reason      string `json:"reason,omitempty"`
	Backend     string `json:"backend"`
	Index       int    `json:"index"`
	Type        string `json:"type"`           // backend.DeviceType: "discrete-gpu", "cpu", "software", ...
	Rank        int    `json:"rank,omitempty"` // order in which auto tries it (1 first); absent: never
	Auto        bool   `json:"auto,omitempty"` // the device --device auto takes
	ID          string `json:"id,omitempty"`
	Name        string `json:"name,omitempty"`
	Driver      string `json:"driver,omitempty"`
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	Caps        string `json:"caps,omitempty"`
}

// writeDevicesJSON writes the statuses as an indented JSON array.
func writeDevicesJSON(w io.Writer, sts []backend.Status) error {
	out := make([]deviceJSON, len(sts))
	rank := backend.Rank(sts)
	for i, st := range sts {
		out[i] = deviceJSON{
			Device: st.Device, Available: st.Available, Reason: st.Reason,
			Backend: st.Info.Backend, Index: st.Info.Index, Type: st.Info.Type.String(),
			Rank: rank[i], Auto: rank[i] == 1, ID: st.Info.ID, Name: st.Info.Name,
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
