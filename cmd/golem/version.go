package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at link time: go build -ldflags "-X main.version=v0.1.0 -X main.commit=abc1234".
var (
	version = "dev"
	commit  = ""
)

// buildCommit returns the commit set at link time, else the VCS revision Go
// recorded in the binary, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print golem's version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "golem %s (commit %s)\n%s %s/%s\n",
				version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// buildKey identifies this exact binary: version, commit and a hash of the
// executable, so results cached per build (device ceilings) are measured
// again after any rebuild, even of an uncommitted tree.
func buildKey() string {
	key := version + "+" + buildCommit()
	exe, err := os.Executable()
	if err != nil {
		return key
	}
	f, err := os.Open(exe)
	if err != nil {
		return key
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return key
	}
	return fmt.Sprintf("%s+%x", key, h.Sum(nil)[:6])
}
