package sysinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScanField(t *testing.T) {
	const cpuinfo = "processor\t: 0\nmodel name\t:\nmodel name\t: Example CPU @ 3.00GHz \nflags\t\t: fpu sse\n"
	tests := []struct {
		name   string
		text   string
		key    string
		want   string
		wantOK bool
	}{
		{"first non-empty value", cpuinfo, "model name", "Example CPU @ 3.00GHz", true},
		{"other key", cpuinfo, "flags", "fpu sse", true},
		{"missing key", cpuinfo, "cpu MHz", "", false},
		{"prefix is not the key", "model names: x\n", "model name", "", false},
		{"meminfo", "MemTotal:       16318712 kB\nMemFree: 1 kB\n", "MemTotal", "16318712 kB", true},
		{"empty", "", "MemTotal", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := scanField(strings.NewReader(tc.text), tc.key)
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseKB(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"16318712 kB", 16318712 * 1024},
		{"0 kB", 0},
		{"", 0},
		{"-5 kB", 0},
		{"lots kB", 0},
		{"9223372036854775807 kB", 0},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, parseKB(tc.in), tc.in)
	}
}

func TestHost(t *testing.T) {
	require.NotEmpty(t, CPUModel())
	mem, avail := MemTotal(), MemAvailable()
	require.GreaterOrEqual(t, mem, int64(0))
	if runtime.GOOS == "linux" {
		require.Positive(t, mem, "/proc/meminfo is readable on Linux")
		require.Positive(t, avail, "/proc/meminfo has MemAvailable on Linux")
		require.LessOrEqual(t, avail, mem)
	}
	_, ok := field("/nonexistent/cpuinfo", "model name")
	require.False(t, ok)
}
