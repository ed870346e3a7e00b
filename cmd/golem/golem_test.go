package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strconv"
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
	// The help describes the linked backends as they are, and the server
	// golem has.
	require.Contains(t, out, "golem runs transformer language models with the backends linked into this")
	for _, d := range backend.Descriptions() {
		require.Contains(t, out, "  "+d.Name+" ", "a line for driver %s", d.Name)
	}
	require.Contains(t, out, "serve")
	require.Contains(t, out, "OpenAI-compatible HTTP API")
	require.Contains(t, out, "devices")
	require.Contains(t, out, "version")
}

// deviceRows splits table output into rows of the DEVICE column and the
// columns from STATUS on (RANK and TYPE are checked by deviceRanks).
func deviceRows(t *testing.T, table string) map[string]string {
	t.Helper()
	rows := map[string]string{}
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], "DEVICE "), "header: %q", lines[0])
	status := strings.Index(lines[0], "STATUS")
	require.Positive(t, status, "header: %q", lines[0])
	for _, l := range lines[1 : len(lines)-1] {
		dev, _, _ := strings.Cut(l, " ")
		rows[dev] = strings.TrimSpace(l[status:])
	}
	require.True(t, strings.HasPrefix(lines[len(lines)-1], "auto: "), "last line: %q", lines[len(lines)-1])
	return rows
}

// deviceRanks returns the RANK and TYPE columns of each row of a devices
// table, and the device of its last line ("auto: cpu (...)").
func deviceRanks(t *testing.T, table string) (ranks, types map[string]string, auto string) {
	t.Helper()
	ranks, types = map[string]string{}, map[string]string{}
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	require.True(t, strings.HasPrefix(lines[0], "DEVICE    RANK  TYPE "), "header: %q", lines[0])
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 4, l)
		ranks[f[0]], types[f[0]] = f[1], f[2]
	}
	last := strings.Fields(lines[len(lines)-1])
	require.Equal(t, "auto:", last[0], lines[len(lines)-1])
	return ranks, types, last[1]
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
	checkDeviceRanks(t, out)
}

// checkDeviceRanks asserts the ranking every machine shows: the reference
// is never ranked, the CPU is ranked, a software Vulkan device (lavapipe)
// ranks after the CPU, and auto takes the device ranked 1.
func checkDeviceRanks(t *testing.T, table string) {
	t.Helper()
	ranks, types, auto := deviceRanks(t, table)
	require.Equal(t, "-", ranks["cpu:ref"])
	require.Equal(t, "reference", types["cpu:ref"])
	require.Equal(t, "cpu", types["cpu"])
	cpuRank, err := strconv.Atoi(ranks["cpu"])
	require.NoError(t, err, "cpu rank %q", ranks["cpu"])
	for dev, typ := range types {
		if typ == "software" && ranks[dev] != "-" {
			r, err := strconv.Atoi(ranks[dev])
			require.NoError(t, err)
			require.Greater(t, r, cpuRank, "software device %s ranks before the CPU", dev)
		}
		if ranks[dev] == "1" {
			require.Equal(t, dev, auto)
		}
	}
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
	require.Equal(t, "cpu", byDevice["cpu"].Type)
	require.Positive(t, byDevice["cpu"].Rank)
	require.Equal(t, "reference", byDevice["cpu:ref"].Type)
	require.Zero(t, byDevice["cpu:ref"].Rank)
	autos := 0
	for _, d := range got {
		if d.Auto {
			autos++
			require.Equal(t, 1, d.Rank, d.Device)
		}
		if d.Type == "software" && d.Rank > 0 {
			require.Greater(t, d.Rank, byDevice["cpu"].Rank, "software device %s ranks before the CPU", d.Device)
		}
	}
	require.Equal(t, 1, autos, "exactly one device is auto's")
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
		{Device: "vulkan:0", Available: true,
			Info: backend.DeviceInfo{Type: backend.DeviceSoftware, Name: "llvmpipe", MemoryBytes: 2 << 30, Caps: "Vulkan 1.3.230, CPU"}},
		{Device: "vulkan:1", Reason: "vulkan: device has no compute queue",
			Info: backend.DeviceInfo{Type: backend.DeviceDiscreteGPU, Name: "RX"}},
		{Device: "cpu", Available: true, Info: backend.DeviceInfo{Type: backend.DeviceCPU, Name: "AMD EPYC", MemoryBytes: 8 << 30, Caps: "amd64"}},
		{Device: "cpu:ref", Available: true, Info: backend.DeviceInfo{Type: backend.DeviceReference, Name: "AMD EPYC", Caps: "reference"}},
	}
	var b bytes.Buffer
	require.NoError(t, writeDevicesTable(&b, sts))
	require.Equal(t, ""+
		"DEVICE    RANK  TYPE          STATUS                               NAME      MEMORY   CAPS\n"+
		"cuda      -     -             cuda: libcuda.so.1 not found (x)     -         -        -\n"+
		"vulkan:0  2     software      available                            llvmpipe  2.0 GiB  Vulkan 1.3.230, CPU\n"+
		"vulkan:1  -     discrete-gpu  vulkan: device has no compute queue  RX        -        -\n"+
		"cpu       1     cpu           available                            AMD EPYC  8.0 GiB  amd64\n"+
		"cpu:ref   -     reference     available                            AMD EPYC  -        reference\n"+
		"auto: cpu (AMD EPYC)\n", b.String())

	b.Reset()
	require.NoError(t, writeDevicesTable(&b, sts[:1]))
	require.True(t, strings.HasSuffix(b.String(), "\nauto: no device can be used\n"), b.String())
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
