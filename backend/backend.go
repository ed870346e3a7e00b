// Package backend defines what a compute backend is (Backend, Buffer,
// Program), the optional interfaces a backend may also implement, and the
// registry through which backends are found: drivers register themselves in
// init, and callers Probe and Open them by device string ("cpu", "cuda:0",
// "vulkan:1", "auto"), as database/sql does with its drivers.
//
// No package imports a concrete backend except cmd/ and tests, which use
// blank imports.
package backend

import (
	"context"
	"log/slog"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
)

// Backend is one opened device.
type Backend interface {
	// Name returns the device string that opens this backend again ("cpu", "cuda:0").
	Name() string
	// Device describes the device.
	Device() DeviceInfo
	// Supports reports whether the backend can compute node n (its op, dtypes and shapes).
	Supports(n *graph.Node) bool
	// Alloc returns a device buffer of size bytes.
	Alloc(size int64) (Buffer, error)
	// Compile prepares g to run: kernels, launch plans, the intermediate arena.
	// An unsupported node is an error that names it.
	Compile(g *graph.Graph) (Program, error)
	// Close releases the device and everything allocated on it. Buffers
	// and programs should be freed and closed first: any still open are
	// released all the same (each later use of them returns ErrClosed,
	// never touches freed memory) and Close reports them with an error
	// wrapping ErrInUse (see InUseError). After Close, Alloc, Compile and
	// a second Close return errors wrapping ErrClosed.
	Close() error
}

// Buffer is a range of device memory.
type Buffer interface {
	// Size returns the buffer's length in bytes.
	Size() int64
	// Write copies src into the buffer at byte offset off.
	Write(off int64, src []byte) error
	// Read copies len(dst) bytes from byte offset off into dst.
	Read(off int64, dst []byte) error
	// Free releases the buffer. Afterwards Write, Read, binding it and a
	// second Free return errors wrapping ErrClosed, as they do once the
	// buffer's backend is closed; Size keeps its value.
	Free() error
}

// Program is a compiled graph. Every leaf (weight, input, state) and every
// output must be bound to a buffer before Run; bindings persist across runs,
// so a decode loop binds once and then only writes inputs and runs. Binding
// a node again between runs replaces its binding from the next run on (the
// runtime's batched decode step binds each row's KV-cache states to the
// cache of the sequence in that row).
type Program interface {
	// Bind places node n (a leaf or an output of the compiled graph) at byte
	// offset off of buf. The range must hold n's contiguous bytes.
	Bind(n *graph.Node, buf Buffer, off int64) error
	// Run computes the outputs. It returns when the results can be read.
	Run(ctx context.Context) error
	// Close releases the program's resources (not the bound buffers).
	// Afterwards Bind, Run and a second Close return errors wrapping
	// ErrClosed, as they do once the program's backend is closed.
	Close() error
}

// HostWrapper is implemented by backends that compute on host memory and can
// use a caller's bytes as a Buffer without copying them (for example weights
// mapped from a GGUF file). The bytes must stay valid and unchanged while
// the buffer is in use; writes through the buffer modify them.
type HostWrapper interface {
	WrapHost(data []byte) (Buffer, error)
}

// AsyncRunner is implemented by programs that can enqueue a run and return
// before it is done, so that a caller waits on the host once per step (when
// it reads the results) instead of once for the run and once for the read.
// Run keeps its synchronous contract on every program, this one included.
//
// Start checks what it can before enqueuing (the program or its backend
// closed, ctx done, a leaf or an output not bound, a failed enqueue) and
// returns those errors itself, having enqueued nothing. The errors of the
// run itself (an id or position out of range found by a kernel, a device
// fault) are held and returned, exactly once, by the next synchronising
// call on the program:
//
//   - Buffer.Read of any buffer bound to the program (its outputs and the
//     states it writes included), which first waits for the run; the read
//     returns the run's error, and what it copied is not to be used;
//   - the next Start or Run, which first wait for the run and, when it
//     failed, return its error without running again;
//   - Wait.
//
// Whichever of them reports the error, it reads as Run's would have. Between
// Start and the synchronising call the caller may Write or Bind the
// program's buffers (they are ordered after the run: its inputs are read
// with the values they had at Start, and a new binding holds from the next
// run) and may Close the program (which waits for the run and drops its
// error); it must not Free a buffer the run uses. Reads of buffers that are
// not bound to the program do not report its error.
type AsyncRunner interface {
	// Start enqueues a run of the program and returns without waiting for
	// it (see the type's documentation for where its errors go).
	Start(ctx context.Context) error
	// Wait waits for the run Start enqueued and returns its error; nil when
	// no run is outstanding or its error was already returned.
	Wait() error
}

// OpTiming is the time one node took in the last run.
type OpTiming struct {
	Node    *graph.Node
	Seconds float64
	// Launches is the number of kernel launches (GPU dispatches) the
	// node's work took; 0 for views and for backends that run no kernels.
	Launches int
}

// Profiler is implemented by programs that can report per-node timings of
// their last run (for example from device timestamps). Nodes are those of
// the graph the backend ran, which may be the compiled graph's fused
// rewrite (graph.Fuse) rather than the graph given to Compile.
type Profiler interface {
	Timings() []OpTiming
}

// Options configure a backend when it is opened.
type Options struct {
	// Threads bounds the host threads a backend uses (0: the backend's choice).
	Threads int
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Profile asks programs to time every node (backend.Profiler). Without
	// it a backend may skip the timing work: Vulkan then writes no
	// timestamps and its programs report no timings.
	Profile bool
}

// Validate reports a field out of its range as an *optcheck.FieldError
// ("backend: Options.Threads -3: want 0 or more"). Open calls it.
func (o Options) Validate() error {
	return optcheck.Struct{Pkg: "backend", Name: "Options"}.NonNegative("Threads", o.Threads)
}

// logger returns o.Logger, or a logger that discards everything.
func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// DeviceInfo describes a device.
type DeviceInfo struct {
	Backend     string     // driver name: "cpu", "cuda", "vulkan"
	Index       int        // index among the driver's devices
	Type        DeviceType // what kind of hardware it is (auto ranks by it)
	ID          string     // stable identifier (UUID where the device has one)
	Name        string     // marketing or model name
	Driver      string     // driver or runtime version
	MemoryBytes int64      // total device memory (0 when unknown)
	Caps        string     // one-line capability summary
	Peaks       Peaks      // known or measured ceilings (zero when unknown)
}

// Peaks are a device's throughput ceilings.
type Peaks struct {
	MemoryBandwidth float64 // bytes per second
	FLOPS           float64 // floating-point operations per second (fp32 unless stated)
	Source          string  // where the numbers come from ("measured", "spec", "")
}

// VariantCompiler is implemented by backends that have more than one
// implementation of an op (attention: a reference, a fused flash kernel, a
// split-KV decode kernel, ...). Benchmarks time each; parity checks each.
type VariantCompiler interface {
	// Variants lists the implementations of op, the default first; nil when
	// the backend has one.
	Variants(op graph.Op) []string
	// CompileVariant compiles g using implementation variant for every node
	// of op (the default for all other ops).
	CompileVariant(g *graph.Graph, op graph.Op, variant string) (Program, error)
}
