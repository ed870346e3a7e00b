// Package cpu is golem's pure-Go CPU backend. It registers the driver "cpu"
// with two kernel tiers behind one executor:
//
//   - "cpu" (also "cpu:0", "cpu:fast"): the fast tier, multi-threaded over
//     rows and heads with a fixed partition, float32 accumulation, fused
//     dequantize-dot GEMV, blocked GEMM and online-softmax attention.
//   - "cpu:ref": the reference tier, plain single-threaded loops with float64
//     accumulation everywhere. It is the oracle every other backend is
//     compared against.
//
// Buffers are host memory; the backend implements backend.HostWrapper so
// weights mapped from a file are used without copying, and its programs
// implement backend.Profiler.
package cpu

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/cpu"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/resource"
	"github.com/golem-llm/golem/internal/sysinfo"
)

// DriverName is the device-string prefix of this backend.
const DriverName = "cpu"

// RefSelector is the selector that opens the reference tier ("cpu:ref").
const RefSelector = "ref"

const refCaps = "reference: float64 accumulation, single thread"

func init() { backend.Register(driver{}) }

// driver is the registered backend.Driver.
type driver struct{}

// Name implements backend.Driver.
func (driver) Name() string { return DriverName }

// Describe says what the CPU driver runs on (backend.Describer).
func (driver) Describe() (string, []string) {
	return "pure-Go kernels on this machine's CPU (cpu) and the float64 reference (cpu:ref)", []string{"cpu", "cpu:ref"}
}

// Probe implements backend.Driver: the fast CPU device and the reference tier.
func (driver) Probe() []backend.Status {
	fast := hostInfo(runtime.NumCPU(), false)
	ref := hostInfo(1, true)
	return []backend.Status{
		{Device: DriverName, Info: fast, Available: true},
		{Device: DriverName + ":" + RefSelector, Info: ref, Available: true},
	}
}

// Open implements backend.Driver. The selector is "", "0" or "fast" for the
// fast tier and "ref" for the reference tier.
func (driver) Open(selector string, opts backend.Options) (backend.Backend, error) {
	switch strings.ToLower(strings.TrimSpace(selector)) {
	case "", "0", "fast":
		if err := quant.CheckFeatures(); err != nil {
			return nil, fmt.Errorf("cpu: %w", err)
		}
		threads := opts.Threads
		if threads <= 0 {
			threads = runtime.NumCPU()
		}
		return newBackend(false, threads, opts.Logger), nil
	case RefSelector:
		return newBackend(true, 1, opts.Logger), nil
	}
	return nil, fmt.Errorf("cpu: %w %q (want cpu, cpu:0, cpu:fast or cpu:ref)", backend.ErrNoDevice, selector)
}

// cpuBackend is one opened CPU device (fast or reference tier).
type cpuBackend struct {
	ref     bool
	threads int
	info    backend.DeviceInfo
	pool    *pool
	log     *slog.Logger
	packs   packedArena // memory of packed weights (see packed.go)

	// mu guards the fields below: whether the backend is closed and what
	// is still open on it (reported by Close).
	mu        sync.Mutex
	closed    bool
	liveBufs  int   // buffers allocated or wrapped and not freed
	liveBytes int64 // their bytes
	liveProgs int   // programs compiled and not closed
}

func newBackend(ref bool, threads int, log *slog.Logger) *cpuBackend {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &cpuBackend{
		ref:     ref,
		threads: threads,
		info:    hostInfo(threads, ref),
		pool:    newPool(threads),
		log:     log,
	}
}

// Name implements backend.Backend: "cpu" or "cpu:ref".
func (b *cpuBackend) Name() string {
	if b.ref {
		return DriverName + ":" + RefSelector
	}
	return DriverName
}

// Device implements backend.Backend.
func (b *cpuBackend) Device() backend.DeviceInfo { return b.info }

// Supports implements backend.Backend: every op of the op set with the dtypes
// and shapes the graph builder allows.
func (b *cpuBackend) Supports(n *graph.Node) bool { return validateNode(n) == nil }

// Alloc implements backend.Backend: a zero-filled host buffer.
func (b *cpuBackend) Alloc(size int64) (backend.Buffer, error) {
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("cpu: alloc: %w", err)
	}
	if size < 0 {
		return nil, fmt.Errorf("cpu: alloc: negative size %d", size)
	}
	if err := b.fits(size); err != nil {
		return nil, fmt.Errorf("cpu: alloc: %w", err)
	}
	return b.track("alloc", &hostBuffer{owner: b, data: make([]byte, size)})
}

// WrapHost implements backend.HostWrapper: data is used in place.
func (b *cpuBackend) WrapHost(data []byte) (backend.Buffer, error) {
	return b.track("wrap host", &hostBuffer{owner: b, data: data, wrapped: true})
}

// track counts h, made by op, as open, unless the backend is closed.
func (b *cpuBackend) track(op string, h *hostBuffer) (backend.Buffer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("cpu: %s: backend %s is %w", op, b.Name(), backend.ErrClosed)
	}
	h.size = int64(len(h.data))
	b.liveBufs++
	b.liveBytes += h.size
	return h, nil
}

// untrack counts a buffer of size bytes as freed. It returns an error
// wrapping backend.ErrClosed when the backend was closed (and released the
// buffer) before.
func (b *cpuBackend) untrack(size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cpu: free: backend %s is %w (it released the buffer)", b.Name(), backend.ErrClosed)
	}
	b.liveBufs--
	b.liveBytes -= size
	return nil
}

// Compile implements backend.Backend.
func (b *cpuBackend) Compile(g *graph.Graph) (backend.Program, error) {
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("cpu: compile: %w", err)
	}
	p, err := compile(b, g)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("cpu: compile: backend %s is %w", b.Name(), backend.ErrClosed)
	}
	b.liveProgs++
	b.mu.Unlock()
	b.log.Debug("cpu: compiled graph", "backend", b.Name(), "nodes", len(g.Nodes),
		"arena_bytes", len(p.arena), "threads", b.threads)
	return p, nil
}

// Close implements backend.Backend. It stops the worker threads. Buffers
// and programs still open fail from now on (host memory is left to the
// garbage collector); Close reports them with backend.InUseError.
func (b *cpuBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cpu: close: backend %s is already %w", b.Name(), backend.ErrClosed)
	}
	b.closed = true
	b.pool.close()
	b.packs.close()
	return backend.InUseError(b.Name(), b.liveBufs, b.liveBytes, b.liveProgs)
}

// usable returns an error wrapping backend.ErrClosed once the backend is
// closed: "backend cpu is closed", for the caller to prefix.
func (b *cpuBackend) usable() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("backend %s is %w", b.Name(), backend.ErrClosed)
	}
	return nil
}

// programClosed counts a program as closed. It returns an error wrapping
// backend.ErrClosed when the backend was closed (and released the program)
// before.
func (b *cpuBackend) programClosed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cpu: close program: backend %s is %w (it released the program)", b.Name(), backend.ErrClosed)
	}
	b.liveProgs--
	return nil
}

const maxInt = int(^uint(0) >> 1)

// fits reports an allocation of size bytes that the host cannot hold, so
// that it fails with an error instead of crashing the process.
func (b *cpuBackend) fits(size int64) error {
	if uint64(size) > uint64(maxInt-arenaAlign) {
		return fmt.Errorf("%d bytes do not fit in the address space", size)
	}
	return resource.CheckMemory("a buffer of "+resource.FormatBytes(size), size)
}

// hostInfo describes the host CPU.
func hostInfo(threads int, ref bool) backend.DeviceInfo {
	info := backend.DeviceInfo{
		Backend:     DriverName,
		Type:        backend.DeviceCPU,
		ID:          DriverName,
		Name:        sysinfo.CPUModel(),
		Driver:      runtime.Version(),
		MemoryBytes: sysinfo.MemTotal(),
	}
	if ref {
		info.Type = backend.DeviceReference
		info.Caps = refCaps
	} else {
		info.Caps = fmt.Sprintf("%s, %d threads", runtime.GOARCH, threads)
		if f := cpuFeatures(); f != "" {
			info.Caps += ", " + f
		}
		info.Caps += ", kernels " + quant.Kernels()
	}
	return info
}

// cpuFeatures lists the SIMD features relevant to the kernels.
func cpuFeatures() string {
	var fs []string
	add := func(ok bool, name string) {
		if ok {
			fs = append(fs, name)
		}
	}
	switch runtime.GOARCH {
	case "amd64", "386":
		add(cpu.X86.HasAVX, "avx")
		add(cpu.X86.HasAVX2, "avx2")
		add(cpu.X86.HasFMA, "fma")
		add(cpu.X86.HasF16C, "f16c")
		add(cpu.X86.HasAVX512F, "avx512f")
		add(cpu.X86.HasAVX512BF16, "avx512bf16")
		add(cpu.X86.HasAVX512VNNI, "avx512vnni")
		add(cpu.X86.HasAVXVNNI, "avxvnni")
	case "arm64":
		add(cpu.ARM64.HasASIMD, "asimd")
		add(cpu.ARM64.HasFPHP, "fp16")
		add(cpu.ARM64.HasASIMDHP, "asimdhp")
		add(cpu.ARM64.HasASIMDDP, "dotprod")
		add(cpu.ARM64.HasSVE, "sve")
	}
	return strings.Join(fs, " ")
}
