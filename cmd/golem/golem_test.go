package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
)

// execute runs golem with args in-process and returns stdout and stderr.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := execute(t, "version")
	require.NoError(t, err)
	require.Equal(t, "golem dev (commit unknown)\n"+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n", out)
}

func TestRootHelp(t *testing.T) {
	out, _, err := execute(t, "--help")
	require.NoError(t, err)
	// The help describes the linked backends as they are, and promises no
	// server golem does not have.
	require.Contains(t, out, "golem runs transformer language models with the backends linked into this")
	for _, d := range backend.Descriptions() {
		require.Contains(t, out, "  "+d.Name+" ", "a line for driver %s", d.Name)
	}
	require.NotContains(t, out, "OpenAI")
	require.NotContains(t, out, "HTTP")
	require.Contains(t, out, "devices")
	require.Contains(t, out, "version")
}

// deviceRows splits table output into rows of the DEVICE column and the rest.
func deviceRows(t *testing.T, table string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], "DEVICE "), "header: %q", lines[0])
	for _, l := range lines[1:] {
		dev, rest, _ := strings.Cut(l, " ")
		rows[dev] = strings.TrimSpace(rest)
	}
	return rows
}

// checkDeviceRows asserts what every machine shows: the CPU is available,
// every driver has a line, and each GPU line is either available or carries
// its reason (CUDA has no kernels yet, so its lines always carry one).
func checkDeviceRows(t *testing.T, rows map[string]string) {
	t.Helper()
	require.Contains(t, rows, "cpu")
	require.True(t, strings.HasPrefix(rows["cpu"], "available "), "cpu row: %q", rows["cpu"])
	for _, drv := range []string{"cuda", "vulkan"} {
		n := 0
		for dev, rest := range rows {
			if dev == drv || strings.HasPrefix(dev, drv+":") {
				n++
				ok := strings.HasPrefix(rest, drv+": ") || drv == "vulkan" && strings.HasPrefix(rest, "available ")
				require.True(t, ok, "%s row is neither available nor carries a reason: %q", dev, rest)
			}
		}
		require.Positive(t, n, "no %s rows in %v", drv, rows)
	}
}

func TestDevicesTable(t *testing.T) {
	out, _, err := execute(t, "devices")
	require.NoError(t, err)
	t.Logf("golem devices:\n%s", out)
	checkDeviceRows(t, deviceRows(t, out))
}

func TestDevicesJSON(t *testing.T) {
	out, _, err := execute(t, "devices", "--format", "json")
	require.NoError(t, err)
	var got []deviceJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	byDevice := map[string]deviceJSON{}
	for _, d := range got {
		byDevice[d.Device] = d
		if !d.Available {
			require.NotEmpty(t, d.Reason, d.Device)
		}
	}
	require.True(t, byDevice["cpu"].Available)
	require.Equal(t, "cpu", byDevice["cpu"].Backend)
}

func TestDevicesErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"devices", "--format", "xml"}, `--format "xml": want table or json`},
		{[]string{"devices", "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"devices", "extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := execute(t, tt.args...)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestDevicesLogsGoToStderr(t *testing.T) {
	out, errOut, err := execute(t, "devices", "--format", "json", "--log-level", "debug")
	require.NoError(t, err)
	require.Contains(t, errOut, "probing backends")
	require.NotContains(t, out, "probing backends")
	require.True(t, json.Valid([]byte(out)))
}

func TestWriteDevicesTable(t *testing.T) {
	sts := []backend.Status{
		{Device: "cuda", Reason: "cuda: libcuda.so.1 not found (x)", Info: backend.DeviceInfo{Backend: "cuda"}},
		{Device: "vulkan:0", Reason: "vulkan: backend not yet implemented (device found)",
			Info: backend.DeviceInfo{Name: "llvmpipe", MemoryBytes: 2 << 30, Caps: "Vulkan 1.3.230, CPU"}},
		{Device: "cpu", Available: true, Info: backend.DeviceInfo{Name: "AMD EPYC", MemoryBytes: 8 << 30, Caps: "amd64"}},
	}
	var b bytes.Buffer
	require.NoError(t, writeDevicesTable(&b, sts))
	require.Equal(t, ""+
		"DEVICE    STATUS                                              NAME      MEMORY   CAPS\n"+
		"cuda      cuda: libcuda.so.1 not found (x)                    -         -        -\n"+
		"vulkan:0  vulkan: backend not yet implemented (device found)  llvmpipe  2.0 GiB  Vulkan 1.3.230, CPU\n"+
		"cpu       available                                           AMD EPYC  8.0 GiB  amd64\n", b.String())
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "-"},
		{-1, "-"},
		{512, "512 B"},
		{1536, "1.5 KiB"},
		{85520809984, "79.6 GiB"},
		{150754820096, "140.4 GiB"},
		{3 << 40, "3.0 TiB"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, humanBytes(tt.in), "humanBytes(%d)", tt.in)
	}
}
