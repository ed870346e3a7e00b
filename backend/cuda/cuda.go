// Package cuda is golem's CUDA backend driver, registered as "cuda".
//
// The driver needs only the NVIDIA driver at run time: with cgo it dlopens
// libcuda.so.1 (or the library GOLEM_CUDA_LIBRARY names) through a small C
// shim with its own declarations (no CUDA toolkit, no cuda.h), so one binary
// runs with or without a GPU. Its kernels are CUDA C compiled to PTX
// (kernels/cuda) and embedded. The same kernel sources also run without a
// GPU inside golem's emulated driver, bin/libgolem-cuda-emu.so (make
// cuda-emu), which CI loads through GOLEM_CUDA_LIBRARY; docs/cuda.md
// describes both. Built without cgo, the package compiles to a stub whose
// Probe says so.
package cuda

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/golem-llm/golem/backend"
)

// driverName is the device-string prefix of this driver.
const driverName = "cuda"

// libName is the NVIDIA driver library, found by the dynamic loader.
const libName = "libcuda.so.1"

// LibraryEnv names the environment variable that, when set, names the
// driver library to load instead of libcuda.so.1 (a path or a name for the
// dynamic loader), such as the emulator bin/libgolem-cuda-emu.so.
const LibraryEnv = "GOLEM_CUDA_LIBRARY"

// FuseEnv names the environment variable that, set to 0, compiles graphs
// as they are instead of through graph.Fuse (fused ops: fewer launches),
// for A/B comparisons.
const FuseEnv = "GOLEM_CUDA_FUSE"

// libraryPath returns the driver library to load.
func libraryPath() string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	return libName
}

// notFound is the reason given when the driver library cannot be loaded.
func notFound(path, msg string) string {
	if path == libName {
		return "cuda: " + libName + " not found (" + msg + ")"
	}
	return "cuda: " + LibraryEnv + "=" + path + " cannot be loaded (" + msg + ")"
}

// emulatorName is how the emulator's device name begins.
const emulatorName = "golem CUDA emulator"

// minCC is the lowest compute capability golem's kernels run on: they are
// PTX for sm_80.
const minCC = 80

func init() { backend.Register(cudaDriver{}) }

// cudaDriver implements backend.Driver.
type cudaDriver struct{}

// Name returns "cuda".
func (cudaDriver) Name() string { return driverName }

// Describe says what the CUDA driver runs on (backend.Describer).
func (cudaDriver) Describe() (string, []string) {
	if !built {
		return "NVIDIA GPUs: not in this build (built without cgo)", nil
	}
	return "NVIDIA GPUs (sm_80 and newer) through the driver's libcuda.so.1, or golem's CUDA emulator named by " + LibraryEnv, []string{"cuda:N"}
}

// Probe lists the CUDA devices, or one "cuda" line with the reason none can
// be listed.
func (cudaDriver) Probe() []backend.Status { return probe() }

// Open opens the device chosen by selector ("" for the first available
// device, an index, or a UUID with or without its GPU- prefix; see
// backend.SelectStatus). An unavailable device's error wraps
// backend.ErrUnavailable and gives its reason.
func (cudaDriver) Open(selector string, opts backend.Options) (backend.Backend, error) {
	st, err := backend.SelectStatus(driverName, probe(), selector)
	if err != nil {
		return nil, err
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	return open(st, opts)
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
	// SharedPerBlock and SharedOptin are the shared memory a block may use
	// by default and after opting in (bytes).
	SharedPerBlock int
	SharedOptin    int
	// Emulated is set for golem's emulated driver.
	Emulated bool
	// CublasLt says why cuBLASLt cannot be used on the opened device ("":
	// it is loaded); a backend loads it when its matmul variants are first
	// listed or the cublaslt variant is compiled.
	CublasLt string
	// Missing names a driver entry point the compute path needs that the
	// library lacks ("" when none).
	Missing string
}

// caps is the one-line capability summary of the device.
func (d deviceInfo) caps() string {
	c := fmt.Sprintf("sm_%d%d, %d SMs", d.CCMajor, d.CCMinor, d.SMCount)
	if d.Emulated {
		c += ", emulated on the CPU"
	}
	return c
}

// reason says why the device cannot run golem's kernels ("" when it can).
func (d deviceInfo) reason() string {
	switch {
	case d.Missing != "":
		return fmt.Sprintf("cuda: the driver lacks %s (CUDA %s; golem needs CUDA 12.0 or newer)", d.Missing,
			formatDriverVersion(d.DriverVersion))
	case d.CCMajor*10+d.CCMinor < minCC:
		return fmt.Sprintf("cuda: compute capability %d.%d; golem's kernels need 8.0 (Ampere) or newer", d.CCMajor, d.CCMinor)
	}
	return ""
}

// deviceType is the backend.DeviceType the driver reports for d: software
// for golem's emulator, else a discrete GPU unless the driver says it is
// integrated.
func (d deviceInfo) deviceType() backend.DeviceType {
	switch {
	case d.Emulated:
		return backend.DeviceSoftware
	case d.Integrated:
		return backend.DeviceIntegratedGPU
	}
	return backend.DeviceDiscreteGPU
}

// status turns the probe's reading of device index into a Status line.
func (d deviceInfo) status(index int) backend.Status {
	st := backend.Status{
		Device: fmt.Sprintf("%s:%d", driverName, index),
		Info: backend.DeviceInfo{
			Backend:     driverName,
			Index:       index,
			Type:        d.deviceType(),
			ID:          formatUUID(d.UUID),
			Name:        d.Name,
			Driver:      formatDriverVersion(d.DriverVersion),
			MemoryBytes: d.TotalMem,
			Caps:        d.caps(),
		},
		Reason: d.reason(),
	}
	st.Available = st.Reason == ""
	return st
}

// isEmulatorName reports whether a device name is the emulator's.
func isEmulatorName(name string) bool { return strings.HasPrefix(name, emulatorName) }

// Error is a failed call of the CUDA driver: the call, the CUresult's name
// and description, and what golem knows about the failure.
type Error struct {
	Call   string // the driver entry point, with its main argument: "cuMemAlloc_v2(1048576)"
	Code   int    // the CUresult
	Name   string // "CUDA_ERROR_OUT_OF_MEMORY"
	Text   string // the driver's description: "out of memory"
	Reason string // golem's addition: "asked 1.0 MiB, 512 KiB free"
	Detail string // the emulator's account of the failure (golem-cuda-emu: ...)
}

// Error formats e as "CALL: NAME (text; reason): detail"; the backend
// adds "cuda: " and what it was doing.
func (e *Error) Error() string {
	s := e.Call + ": " + e.Name
	paren := e.Text
	if e.Reason != "" {
		if paren != "" {
			paren += "; "
		}
		paren += e.Reason
	}
	if paren != "" {
		s += " (" + paren + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// CUresult values golem gives a reason for.
const (
	errOutOfMemory           = 2
	errUnsupportedPTXVersion = 222
)

// formatBytes writes n bytes with a binary unit ("1.0 MiB").
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[u])
}

// oomReason is the reason of a failed allocation: what was asked and what
// the device had free.
func oomReason(asked, free int64) string {
	return fmt.Sprintf("out of memory; asked %s, %s free", formatBytes(asked), formatBytes(free))
}

// ptxCUDA maps a PTX ISA version to the first CUDA release whose driver
// compiles it.
var ptxCUDA = map[string]string{
	"7.0": "11.0", "7.1": "11.1", "7.2": "11.2", "7.3": "11.3", "7.4": "11.4", "7.5": "11.5", "7.6": "11.6", "7.7": "11.7",
	"7.8": "11.8", "8.0": "12.0", "8.1": "12.1", "8.2": "12.2", "8.3": "12.3", "8.4": "12.4", "8.5": "12.5", "8.6": "12.7",
	"8.7": "12.8", "8.8": "12.9", "9.0": "13.0",
}

// ptxVersion returns the .version of PTX text ("8.0"), or "".
func ptxVersion(ptx string) string {
	i := strings.Index(ptx, ".version")
	if i < 0 {
		return ""
	}
	f := strings.Fields(ptx[i+len(".version"):])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// ptxReason says which driver PTX needs when the driver refused it as too
// new (CUDA_ERROR_UNSUPPORTED_PTX_VERSION).
func ptxReason(ptx string, driverVersion int) string {
	v, have := ptxVersion(ptx), formatDriverVersion(driverVersion)
	need := ptxCUDA[v]
	if need == "" {
		return fmt.Sprintf("the kernels are PTX ISA %s, which needs a newer driver than this one (CUDA %s)", v, have)
	}
	return fmt.Sprintf("the kernels are PTX ISA %s, which needs a driver for CUDA %s or newer; this driver is CUDA %s", v, need, have)
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
