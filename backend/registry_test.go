package backend

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// fakeDriver is a driver whose devices the test sets: the registry logic
// (selection, auto's ranking and fallback, errors) is the code under test,
// and this test binary links no real driver.
type fakeDriver struct {
	mu   sync.Mutex
	sts  []Status
	fail map[string]error // device string → Open error
}

var (
	fake         = &fakeDriver{}
	registerFake sync.Once
)

// useFake registers the fake driver once and gives it sts.
func useFake(t *testing.T, sts []Status, fail map[string]error) {
	t.Helper()
	registerFake.Do(func() { Register(fake) })
	fake.mu.Lock()
	defer fake.mu.Unlock()
	fake.sts, fake.fail = sts, fail
}

func (*fakeDriver) Name() string { return "fake" }

func (d *fakeDriver) Probe() []Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Status(nil), d.sts...)
}

func (d *fakeDriver) Open(selector string, _ Options) (Backend, error) {
	st, err := SelectStatus("fake", d.Probe(), selector)
	if err != nil {
		return nil, err
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	if err := d.fail[st.Device]; err != nil {
		return nil, err
	}
	return fakeBackend{st}, nil
}

// fakeBackend is what fakeDriver opens: it only has a name.
type fakeBackend struct{ st Status }

func (b fakeBackend) Name() string                        { return b.st.Device }
func (b fakeBackend) Device() DeviceInfo                  { return b.st.Info }
func (fakeBackend) Supports(*graph.Node) bool             { return false }
func (fakeBackend) Alloc(int64) (Buffer, error)           { return nil, errors.New("fake: no memory") }
func (fakeBackend) Compile(*graph.Graph) (Program, error) { return nil, errors.New("fake: no kernels") }
func (fakeBackend) Close() error                          { return nil }

// fakeDev is device i of the fake driver, of type t, unavailable when
// reason is set.
func fakeDev(i int, t DeviceType, reason string) Status {
	return Status{Device: fmt.Sprintf("fake:%d", i), Info: DeviceInfo{Backend: "fake", Index: i, Type: t, Name: t.String()},
		Available: reason == "", Reason: reason}
}

func TestOpenErrors(t *testing.T) {
	useFake(t, []Status{fakeDev(0, DeviceCPU, ""), fakeDev(1, DeviceDiscreteGPU, "fake: device 1 is asleep")}, nil)
	tests := []struct {
		device string
		is     error
		text   string
	}{
		{"", ErrNoDevice, "backend: no such device: empty device string"},
		{":0", ErrNoDevice, `backend: device ":0": no such device: no driver name`},
		{"tpu:0", ErrNoDevice, `backend: device "tpu:0": no such device: no driver "tpu" (registered: fake)`},
		{"auto:1", ErrNoDevice, `backend: device "auto:1": no such device: auto takes no selector`},
		{"fake:7", ErrNoDevice, `backend: open "fake:7": fake: no such device "7" (have fake:0, fake:1)`},
		{"fake:1", ErrUnavailable, `backend: open "fake:1": device unavailable: fake: device 1 is asleep`},
	}
	for _, tt := range tests {
		t.Run(tt.device, func(t *testing.T) {
			_, err := Open(tt.device, Options{})
			require.ErrorIs(t, err, tt.is)
			require.True(t, strings.HasPrefix(err.Error(), tt.text), "error %q does not start with %q", err, tt.text)
		})
	}
	b, err := Open("FAKE:0", Options{})
	require.NoError(t, err)
	require.Equal(t, "fake:0", b.Name())
}

func TestOpenAuto(t *testing.T) {
	tests := []struct {
		name string
		sts  []Status
		fail map[string]error
		want string // device opened; "" when an error is expected
		errs []string
	}{
		{"the CPU before software Vulkan", []Status{
			fakeDev(0, DeviceSoftware, ""), fakeDev(1, DeviceCPU, ""), fakeDev(2, DeviceReference, ""),
		}, nil, "fake:1", nil},
		{"a GPU first", []Status{
			fakeDev(0, DeviceCPU, ""), fakeDev(1, DeviceIntegratedGPU, ""), fakeDev(2, DeviceDiscreteGPU, ""),
		}, nil, "fake:2", nil},
		{"unavailable devices are passed over", []Status{
			fakeDev(0, DeviceDiscreteGPU, "fake: no kernels"), fakeDev(1, DeviceSoftware, ""),
		}, nil, "fake:1", nil},
		{"a device that fails to open gives way to the next", []Status{
			fakeDev(0, DeviceDiscreteGPU, ""), fakeDev(1, DeviceCPU, ""),
		}, map[string]error{"fake:0": errors.New("fake: out of memory")}, "fake:1", nil},
		{"the reference alone is not taken", []Status{fakeDev(0, DeviceReference, "")}, nil, "", nil},
		{"nothing usable says why", []Status{
			fakeDev(0, DeviceDiscreteGPU, "fake: no kernels"), fakeDev(1, DeviceCPU, ""),
		}, map[string]error{"fake:1": errors.New("fake: out of memory")}, "",
			[]string{"fake: no kernels", "fake:1: fake: out of memory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useFake(t, tt.sts, tt.fail)
			var logs bytes.Buffer
			b, err := Open("auto", Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if tt.want == "" {
				require.ErrorIs(t, err, ErrUnavailable)
				require.ErrorContains(t, err, "backend: auto: device unavailable: no device can be used")
				for _, e := range tt.errs {
					require.ErrorContains(t, err, e)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, b.Name())
			require.Contains(t, logs.String(), "picked="+tt.want)
			require.Contains(t, logs.String(), "type="+b.Device().Type.String())
			if tt.fail != nil {
				require.Contains(t, logs.String(), "did not open")
			}
		})
	}
}

func TestStatusErr(t *testing.T) {
	require.NoError(t, fakeDev(0, DeviceCPU, "").Err())
	err := fakeDev(0, DeviceCPU, "fake: asleep").Err()
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualError(t, err, "device unavailable: fake: asleep")
	err = Status{Device: "fake:3"}.Err()
	require.ErrorIs(t, err, ErrUnavailable)
	require.EqualError(t, err, "device unavailable: fake:3: no reason given")
}

func TestInUseError(t *testing.T) {
	tests := []struct {
		buffers, programs int
		bytes             int64
		want              string
	}{
		{0, 0, 0, ""},
		{1, 0, 512, "vulkan:0: close: still in use: 1 buffer (512 B) (released)"},
		{2, 1, 1536, "vulkan:0: close: still in use: 2 buffers (1.5 KiB) and 1 program (released)"},
		{0, 3, 0, "vulkan:0: close: still in use: 3 programs (released)"},
	}
	for _, tt := range tests {
		err := InUseError("vulkan:0", tt.buffers, tt.bytes, tt.programs)
		if tt.want == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, ErrInUse)
		require.EqualError(t, err, tt.want)
	}
}
