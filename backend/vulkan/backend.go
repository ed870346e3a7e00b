//go:build cgo

package vulkan

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/spirv"
	vulkankernels "github.com/golem-llm/golem/kernels/vulkan"
)

// vkBackend is one opened Vulkan device.
type vkBackend struct {
	name  string
	info  deviceInfo
	dinfo backend.DeviceInfo
	log   *slog.Logger

	// mu guards everything below and serialises every use of the device's
	// queue (uploads, downloads, runs).
	mu      sync.Mutex
	dev     *cdev
	closed  bool
	lost    error // set when the device was lost or a run timed out
	pipes   map[string]*pipeline
	ifaces  map[string]spirv.Interface // reflected shaders, by name
	buffers map[*vkBuffer]struct{}
	progs   map[*program]struct{}
	seen    int  // validation messages already reported
	fuse    bool // compile graphs through graph.Fuse (FuseEnv)
	profile bool // programs write timestamps (backend.Options.Profile)
	// noBarriers records programs without barriers between dispatches
	// (tests: synchronization validation must report the hazards).
	noBarriers bool
}

// pipeline is a cached compute pipeline.
type pipeline struct {
	c         *cpipe
	bindings  int
	pushBytes int
}

// open opens the device of status line st.
func open(st backend.Status, opts backend.Options) (backend.Backend, error) {
	dev, info, err := openDevice(st.Info.Index, os.Getenv(ValidationEnv) == "1")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", backend.ErrUnavailable, err)
	}
	if id := formatUUID(info.UUID); id != st.Info.ID {
		dev.destroy()
		return nil, fmt.Errorf("vulkan: %w: device %d changed (uuid %s, probed %s)", backend.ErrNoDevice, st.Info.Index, id, st.Info.ID)
	}
	if why := info.unusable(); why != "" {
		dev.destroy()
		return nil, fmt.Errorf("%w: %s", backend.ErrUnavailable, why)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &vkBackend{
		name:    st.Device,
		info:    info,
		dinfo:   info.status(st.Info.Index).Info,
		log:     log,
		dev:     dev,
		pipes:   map[string]*pipeline{},
		ifaces:  map[string]spirv.Interface{},
		buffers: map[*vkBuffer]struct{}{},
		progs:   map[*program]struct{}{},
		fuse:    os.Getenv(FuseEnv) != "0",
		profile: opts.Profile,
	}
	log.Debug("vulkan: opened device", "device", b.name, "name", info.Name, "caps", b.dinfo.Caps,
		"max_storage_buffer_range", info.Limits.MaxStorageBufferRange)
	return b, nil
}

// errValidation is wrapped by the errors that report validation messages.
var errValidation = errors.New("Vulkan validation layer")

// validation returns the validation messages received since the last
// call as one error (nil when none or when the device is not validated),
// and logs each. The caller holds b.mu.
func (b *vkBackend) validation() error {
	if b.dev == nil {
		return nil
	}
	n, msgs := b.dev.messages(b.seen)
	if n <= b.seen {
		return nil
	}
	for _, m := range msgs {
		b.log.Warn("vulkan: validation", "device", b.name, "message", m)
	}
	err := fmt.Errorf("%w: %d message(s): %s", errValidation, n-b.seen, strings.Join(msgs, " | "))
	if len(msgs) < n-b.seen {
		err = fmt.Errorf("%w (only the first %d messages of a device are kept)", err, len(msgs))
	}
	b.seen = n
	return err
}

// Name implements backend.Backend: "vulkan:0".
func (b *vkBackend) Name() string { return b.name }

// Device implements backend.Backend.
func (b *vkBackend) Device() backend.DeviceInfo { return b.dinfo }

// Supports implements backend.Backend: the node is well formed and the
// op's default variant can run it on this device.
func (b *vkBackend) Supports(n *graph.Node) bool { return b.supportErr(n) == nil }

// supportErr says why n cannot run, or nil.
func (b *vkBackend) supportErr(n *graph.Node) error { return ops.Supports(&b.info, n) }

// usable returns an error, for the caller to prefix, when the backend is
// closed (wrapping backend.ErrClosed) or its device lost (wrapping
// backend.ErrUnavailable). The caller holds b.mu.
func (b *vkBackend) usable() error {
	if b.closed {
		return fmt.Errorf("backend %s is %w", b.name, backend.ErrClosed)
	}
	if b.lost != nil {
		return fmt.Errorf("%w after an earlier failure: %w", backend.ErrUnavailable, b.lost)
	}
	return nil
}

// noteFailure marks the device lost after a device loss or a timeout.
// The caller holds b.mu.
func (b *vkBackend) noteFailure(err error) {
	var ve *vkError
	if errors.As(err, &ve) && (ve.result == resultDeviceLost || ve.result == resultTimeout) {
		b.lost = err
	}
}

// Alloc implements backend.Backend: a zero-filled device buffer.
func (b *vkBackend) Alloc(size int64) (backend.Buffer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("vulkan: alloc: %w", err)
	}
	c, err := b.allocLocked(size, 0)
	if err != nil {
		return nil, fmt.Errorf("vulkan: alloc: %w", err)
	}
	if err := b.validation(); err != nil {
		b.dev.freeBuffer(c)
		return nil, fmt.Errorf("vulkan: alloc: %w", err)
	}
	buf := &vkBuffer{owner: b, size: size, c: c}
	b.buffers[buf] = struct{}{}
	return buf, nil
}

// allocLocked allocates and zeroes a device buffer of size bytes (host:
// the memory kind, see golem_vk_buf_create). The caller holds b.mu.
func (b *vkBackend) allocLocked(size int64, host int) (*cbuf, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	lim := b.info.Limits
	if lim.MaxBufferSize > 0 && uint64(size) > lim.MaxBufferSize {
		return nil, fmt.Errorf("%d bytes exceed the device's maxBufferSize %d", size, lim.MaxBufferSize)
	}
	if lim.MaxAllocation > 0 && uint64(size) > lim.MaxAllocation {
		return nil, fmt.Errorf("%d bytes exceed the device's maxMemoryAllocationSize %d", size, lim.MaxAllocation)
	}
	if size > b.info.LocalBytes && b.info.LocalBytes > 0 {
		return nil, fmt.Errorf("%d bytes exceed the device's %d bytes of memory", size, b.info.LocalBytes)
	}
	c, err := b.dev.newBuffer(uint64(size), host)
	if err != nil {
		b.noteFailure(err)
		return nil, fmt.Errorf("%d bytes: %w", size, err)
	}
	if err := b.dev.zero(c); err != nil {
		b.dev.freeBuffer(c)
		b.noteFailure(err)
		return nil, fmt.Errorf("%d bytes: %w", size, err)
	}
	return c, nil
}

// pipeline returns the cached pipeline of shader with the given layout and
// specialization constants, creating it on first use. The caller holds b.mu.
func (b *vkBackend) pipeline(shader string, bindings, pushBytes int, specs []gpu.Spec) (*pipeline, error) {
	key := pipelineKey(shader, bindings, pushBytes, specs)
	if p, ok := b.pipes[key]; ok {
		return p, nil
	}
	code, in, err := b.shader(shader)
	if err != nil {
		return nil, err
	}
	if err := checkInterface(in, bindings, pushBytes); err != nil {
		return nil, fmt.Errorf("shader %s: %w", shader, err)
	}
	s := append([]gpu.Spec(nil), specs...)
	sort.Slice(s, func(i, j int) bool { return s[i].ID < s[j].ID })
	ids := make([]uint32, len(s))
	vals := make([]uint32, len(s))
	for i, x := range s {
		ids[i], vals[i] = x.ID, x.Value
	}
	c, err := b.dev.newPipeline(code, bindings, pushBytes, ids, vals)
	if err != nil {
		b.noteFailure(err)
		return nil, fmt.Errorf("pipeline %s: %w", key, err)
	}
	p := &pipeline{c: c, bindings: bindings, pushBytes: pushBytes}
	b.pipes[key] = p
	return p, nil
}

// shader returns the SPIR-V of shader and its reflected interface (cached).
// The caller holds b.mu.
func (b *vkBackend) shader(name string) ([]byte, spirv.Interface, error) {
	code, err := fs.ReadFile(vulkankernels.FS, name+".spv")
	if err != nil {
		return nil, spirv.Interface{}, fmt.Errorf("%w: %s.spv is not embedded (run make kernels)", errNoShader, name)
	}
	if in, ok := b.ifaces[name]; ok {
		return code, in, nil
	}
	in, err := reflectShader(code)
	if err != nil {
		return nil, spirv.Interface{}, fmt.Errorf("shader %s: %w", name, err)
	}
	b.ifaces[name] = in
	return code, in, nil
}

// Compile implements backend.Backend.
func (b *vkBackend) Compile(g *graph.Graph) (backend.Program, error) {
	return b.compile(g, graph.OpInvalid, "")
}

// Variants implements backend.VariantCompiler: the names of op's variants
// available on this device, the default first; nil when there is one.
func (b *vkBackend) Variants(op graph.Op) []string { return ops.Variants(op, &b.info) }

// CompileVariant implements backend.VariantCompiler.
func (b *vkBackend) CompileVariant(g *graph.Graph, op graph.Op, name string) (backend.Program, error) {
	if _, ok := ops.Find(op, name); !ok || name == "" {
		return nil, fmt.Errorf("vulkan: compile: op %s has no variant %q (have %v)", op, name, ops.Names(op))
	}
	return b.compile(g, op, name)
}

// Close implements backend.Backend. Programs and buffers still open are
// released (their later use returns backend.ErrClosed) and reported with
// backend.InUseError; a second Close returns backend.ErrClosed.
func (b *vkBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("vulkan: close: backend %s is already %w", b.name, backend.ErrClosed)
	}
	b.closed = true
	var liveBytes int64
	liveBufs, liveProgs := len(b.buffers), len(b.progs)
	for p := range b.progs {
		p.releaseLocked()
	}
	for buf := range b.buffers {
		liveBytes += buf.size
		buf.releaseLocked()
	}
	for _, p := range b.pipes {
		b.dev.freePipeline(p.c)
	}
	b.pipes = nil
	b.dev.destroy()
	verr := b.validation()
	b.dev.freeMessages()
	if verr != nil {
		verr = fmt.Errorf("vulkan: close %s: %w", b.name, verr)
	}
	return errors.Join(backend.InUseError(b.name, liveBufs, liveBytes, liveProgs), verr)
}

// vkBuffer is a device buffer (backend.Buffer).
type vkBuffer struct {
	owner *vkBackend
	size  int64
	c     *cbuf // nil once freed

	// gen counts the changes of the buffer's contents (writes, runs of
	// programs that write it). rb, when not nil, is host-visible memory of
	// the buffer's size into which programs copy the outputs bound here;
	// the ranges rbValid hold the buffer's bytes while rbGen == gen.
	gen, rbGen uint64
	rb         *cbuf
	rbValid    [][2]int64
}

// readBack copies [off, off+len(dst)) from the read-back memory when it
// holds those bytes, and reports whether it did. The caller holds owner.mu.
func (buf *vkBuffer) readBack(off int64, dst []byte) bool {
	if buf.rb == nil || buf.rbGen != buf.gen || len(dst) == 0 {
		return false
	}
	for _, r := range buf.rbValid {
		if off >= r[0] && off+int64(len(dst)) <= r[1] {
			return buf.owner.dev.read(buf.rb, off, dst) == nil
		}
	}
	return false
}

// Size implements backend.Buffer.
func (buf *vkBuffer) Size() int64 { return buf.size }

// access checks a transfer of n bytes at off. The caller holds owner.mu.
func (buf *vkBuffer) access(op string, off int64, n int) error {
	if err := buf.owner.usable(); err != nil {
		return fmt.Errorf("vulkan: %s: %w", op, err)
	}
	if buf.c == nil {
		return fmt.Errorf("vulkan: %s: buffer is %w (freed)", op, backend.ErrClosed)
	}
	if off < 0 || off > buf.size || int64(n) > buf.size-off {
		return fmt.Errorf("vulkan: %s: %d bytes at offset %d do not fit the %d-byte buffer", op, n, off, buf.size)
	}
	return nil
}

// Write implements backend.Buffer.
func (buf *vkBuffer) Write(off int64, src []byte) error {
	b := buf.owner
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := buf.access("write", off, len(src)); err != nil {
		return err
	}
	buf.gen++
	if err := b.dev.write(buf.c, off, src); err != nil {
		b.noteFailure(err)
		return fmt.Errorf("vulkan: write: %w", err)
	}
	if err := b.validation(); err != nil {
		return fmt.Errorf("vulkan: write: %w", err)
	}
	return nil
}

// Read implements backend.Buffer.
func (buf *vkBuffer) Read(off int64, dst []byte) error {
	b := buf.owner
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := buf.access("read", off, len(dst)); err != nil {
		return err
	}
	if buf.readBack(off, dst) {
		return nil
	}
	if err := b.dev.read(buf.c, off, dst); err != nil {
		b.noteFailure(err)
		return fmt.Errorf("vulkan: read: %w", err)
	}
	if err := b.validation(); err != nil {
		return fmt.Errorf("vulkan: read: %w", err)
	}
	return nil
}

// Free implements backend.Buffer. Freeing twice, or after the backend was
// closed (which released the buffer), is an error wrapping
// backend.ErrClosed.
func (buf *vkBuffer) Free() error {
	b := buf.owner
	b.mu.Lock()
	defer b.mu.Unlock()
	if buf.c == nil {
		if b.closed {
			return fmt.Errorf("vulkan: free: backend %s is %w (it released the buffer)", b.name, backend.ErrClosed)
		}
		return fmt.Errorf("vulkan: free: buffer is already %w (freed twice)", backend.ErrClosed)
	}
	buf.releaseLocked()
	if err := b.validation(); err != nil {
		return fmt.Errorf("vulkan: free: %w", err)
	}
	return nil
}

// releaseLocked frees the device memory. The caller holds owner.mu.
func (buf *vkBuffer) releaseLocked() {
	if buf.c == nil {
		return
	}
	buf.owner.dev.freeBuffer(buf.c)
	if buf.rb != nil {
		buf.owner.dev.freeBuffer(buf.rb)
		buf.rb = nil
	}
	buf.c = nil
	delete(buf.owner.buffers, buf)
}

// VkResult values the backend reacts to.
const (
	resultTimeout    = 2
	resultDeviceLost = -4
)
