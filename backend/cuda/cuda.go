// Package cuda is golem's CUDA backend driver, registered as "cuda".
//
// The driver needs only the NVIDIA driver at run time: with cgo it dlopens
// libcuda.so.1 through a small C shim with its own declarations (no CUDA
// toolkit, no cuda.h), so one binary runs with or without a GPU. For now it
// probes devices (name, UUID, memory, compute capability) and reports them as
// not yet usable: the kernels come with a later change. Built without cgo,
// the package compiles to a stub whose Probe says so.
package cuda

import (
	"encoding/hex"
	"fmt"

	"github.com/golem-llm/golem/backend"
)

// driverName is the device-string prefix of this driver.
const driverName = "cuda"

// reasonNoKernels is the reason a found device is not yet usable.
const reasonNoKernels = "cuda: kernels not yet implemented (device found)"

func init() { backend.Register(cudaDriver{}) }

// cudaDriver implements backend.Driver.
type cudaDriver struct{}

// Name returns "cuda".
func (cudaDriver) Name() string { return driverName }

// Describe says what the CUDA driver runs on (backend.Describer): for now
// it lists devices but opens none.
func (cudaDriver) Describe() (string, []string) {
	return "NVIDIA GPUs through libcuda.so.1: devices are listed, but no kernels exist yet, so none can be used", nil
}

// Probe lists the CUDA devices, or one "cuda" line with the reason none can
// be listed.
func (cudaDriver) Probe() []backend.Status { return probe() }

// Open opens the device chosen by selector ("" for the first device, an
// index, or a UUID with or without its GPU- prefix; see backend.SelectStatus).
// No CUDA device can be opened yet; the error wraps backend.ErrUnavailable
// and gives the reason.
func (cudaDriver) Open(selector string, _ backend.Options) (backend.Backend, error) {
	st, err := backend.SelectStatus(driverName, probe(), selector)
	if err != nil {
		return nil, err
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %s", backend.ErrUnavailable, reasonNoKernels)
}

// deviceInfo is what the probe reads from one device.
type deviceInfo struct {
	Name          string
	UUID          [16]byte
	TotalMem      int64
	CCMajor       int
	CCMinor       int
	SMCount       int
	Integrated    bool // CU_DEVICE_ATTRIBUTE_INTEGRATED: the GPU shares the host's memory
	DriverVersion int  // as cuDriverGetVersion returns it: 1000*major + 10*minor
}

// deviceType is the backend.DeviceType the driver reports for d: a
// discrete GPU unless the driver says it is integrated.
func (d deviceInfo) deviceType() backend.DeviceType {
	if d.Integrated {
		return backend.DeviceIntegratedGPU
	}
	return backend.DeviceDiscreteGPU
}

// status turns the probe's reading of device index into a Status line.
func (d deviceInfo) status(index int) backend.Status {
	return backend.Status{
		Device: fmt.Sprintf("%s:%d", driverName, index),
		Info: backend.DeviceInfo{
			Backend:     driverName,
			Index:       index,
			Type:        d.deviceType(),
			ID:          formatUUID(d.UUID),
			Name:        d.Name,
			Driver:      formatDriverVersion(d.DriverVersion),
			MemoryBytes: d.TotalMem,
			Caps:        fmt.Sprintf("sm_%d%d, %d SMs", d.CCMajor, d.CCMinor, d.SMCount),
		},
		Reason: reasonNoKernels,
	}
}

// formatUUID writes a device UUID as nvidia-smi does:
// GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx. An all-zero UUID (unknown) gives "".
func formatUUID(u [16]byte) string {
	if u == [16]byte{} {
		return ""
	}
	h := hex.EncodeToString(u[:])
	return "GPU-" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// formatDriverVersion turns cuDriverGetVersion's number (13000) into "13.0".
func formatDriverVersion(v int) string {
	if v <= 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10)
}

// unavailable is the single Status of a driver that cannot list devices.
func unavailable(reason string) []backend.Status { return backend.Unavailable(driverName, reason) }
