//go:build cgo

package cuda

/*
#include "cublaslt.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"sync"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	cudakernels "github.com/golem-llm/golem/kernels/cuda"
)

// cudaBackend is one opened CUDA device (backend.Backend).
type cudaBackend struct {
	name  string
	info  deviceInfo
	dinfo backend.DeviceInfo
	log   *slog.Logger

	// mu guards everything below and serialises runs and transfers.
	mu      sync.Mutex
	dev     *device
	closed  bool
	lost    error // a sticky driver error: the context is unusable
	modules []*module
	funcs   map[string]cfunction // kernel name → function, from every module
	shared  map[string]uint32    // dynamic shared memory a function allows beyond the default
	buffers map[*cuBuffer]struct{}
	progs   map[*program]struct{}
	// inflight are the programs with a started run whose status words are
	// not checked yet (program.Start).
	inflight map[*program]struct{}
	fuse     bool              // compile graphs through graph.Fuse (FuseEnv)
	lt       *C.golem_cublaslt // cuBLASLt, nil when unavailable (info.CublasLt says why)
	ltTried  bool              // loadCublasLt ran
	profile  bool              // programs time every node (backend.Options.Profile)
}

// entryRE finds the kernels (.entry functions) of a PTX module.
var entryRE = regexp.MustCompile(`\.entry\s+([A-Za-z_$][A-Za-z0-9_$]*)\s*\(`)

// open opens the device of status line st and loads every embedded kernel.
func open(st backend.Status, opts backend.Options) (backend.Backend, error) {
	lib, reason := loadSystem()
	if lib == nil {
		return nil, errors.New(reason)
	}
	info, err := lib.device(st.Info.Index)
	if err != nil {
		return nil, err
	}
	if id := formatUUID(info.UUID); id != st.Info.ID {
		return nil, fmt.Errorf("cuda: device %d changed (uuid %s, probed %s)", st.Info.Index, id, st.Info.ID)
	}
	if why := info.reason(); why != "" {
		return nil, errors.New(why)
	}
	dev, err := openDevice(lib, st.Info.Index, info)
	if err != nil {
		return nil, fmt.Errorf("cuda: open %s: %w", st.Device, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info.CublasLt = "cuBLASLt not loaded yet"
	b := &cudaBackend{
		name:     st.Device,
		info:     info,
		dinfo:    info.status(st.Info.Index).Info,
		log:      log,
		dev:      dev,
		funcs:    map[string]cfunction{},
		shared:   map[string]uint32{},
		buffers:  map[*cuBuffer]struct{}{},
		progs:    map[*program]struct{}{},
		inflight: map[*program]struct{}{},
		fuse:     os.Getenv(FuseEnv) != "0",
		profile:  opts.Profile,
	}
	if err := b.loadKernels(); err != nil {
		b.releaseLocked()
		return nil, fmt.Errorf("cuda: open %s: %w", st.Device, err)
	}
	log.Debug("cuda: opened device", "device", b.name, "name", info.Name, "caps", b.dinfo.Caps, "kernels", len(b.funcs))
	return b, nil
}

// loadKernels loads every embedded PTX module and finds its kernels.
func (b *cudaBackend) loadKernels() error {
	files, err := fs.Glob(cudakernels.FS, "*.ptx")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := fs.ReadFile(cudakernels.FS, f)
		if err != nil {
			return err
		}
		ptx := string(data)
		m, err := b.dev.loadModule(f, ptx)
		if err != nil {
			return err
		}
		b.modules = append(b.modules, m)
		for _, e := range entryRE.FindAllStringSubmatch(ptx, -1) {
			fn, err := b.dev.function(m, e[1])
			if err != nil {
				return err
			}
			if _, dup := b.funcs[e[1]]; dup {
				return fmt.Errorf("kernel %s is defined in two PTX files", e[1])
			}
			b.funcs[e[1]] = fn
		}
	}
	return nil
}

// function returns the kernel called name, allowing it shared bytes of
// dynamic shared memory. The caller holds b.mu.
func (b *cudaBackend) function(name string, shared uint32) (cfunction, error) {
	fn, ok := b.funcs[name]
	if !ok {
		return nil, fmt.Errorf("no kernel %s in the embedded PTX (run make kernels)", name)
	}
	if shared > 48*1024 && shared > b.shared[name] {
		if err := b.dev.allowShared(fn, int(shared)); err != nil {
			return nil, b.note(err)
		}
		b.shared[name] = shared
	}
	return fn, nil
}

// Name implements backend.Backend: "cuda:0".
func (b *cudaBackend) Name() string { return b.name }

// Device implements backend.Backend.
func (b *cudaBackend) Device() backend.DeviceInfo { return b.dinfo }

// Supports implements backend.Backend: the node is well formed and the
// op's default variant can run it on this device.
func (b *cudaBackend) Supports(n *graph.Node) bool { return ops.Supports(&b.info, n) == nil }

// Variants implements backend.VariantCompiler.
// Listing matmul's variants loads cuBLASLt (once), so that the cublaslt
// variant shows where the library is.
func (b *cudaBackend) Variants(op graph.Op) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if op == graph.OpMatMul {
		b.loadCublasLt()
	}
	return ops.Variants(op, &b.info)
}

// loadCublasLt loads cuBLASLt the first time a caller asks for it (a
// large library no default kernel needs). The caller holds b.mu.
func (b *cudaBackend) loadCublasLt() {
	if b.ltTried || b.closed {
		return
	}
	b.ltTried = true
	b.lt, b.info.CublasLt = openCublasLt(b.dev)
	if b.lt == nil {
		b.log.Debug("cuda: matmul variant cublaslt unavailable", "device", b.name, "reason", b.info.CublasLt)
	}
}

// CompileVariant implements backend.VariantCompiler.
func (b *cudaBackend) CompileVariant(g *graph.Graph, op graph.Op, name string) (backend.Program, error) {
	if _, ok := ops.Find(op, name); !ok || name == "" {
		return nil, fmt.Errorf("cuda: compile: op %s has no variant %q (have %v)", op, name, ops.Names(op))
	}
	if op == graph.OpMatMul && name == mmCublasLt {
		b.mu.Lock()
		b.loadCublasLt()
		b.mu.Unlock()
	}
	return b.compile(g, op, name)
}

// Compile implements backend.Backend.
func (b *cudaBackend) Compile(g *graph.Graph) (backend.Program, error) {
	return b.compile(g, graph.OpInvalid, "")
}

// stickyCodes are the CUresults after which a CUDA context is unusable.
var stickyCodes = map[int]bool{214: true, 700: true, 702: true, 710: true, 714: true, 715: true, 716: true, 717: true, 718: true, 719: true, 999: true}

// note records a sticky driver error (the device is then unusable) and
// returns err. The caller holds b.mu.
func (b *cudaBackend) note(err error) error {
	var ce *Error
	if errors.As(err, &ce) && stickyCodes[ce.Code] && b.lost == nil {
		b.lost = err
	}
	return err
}

// settled forgets the runs in flight after a wait on the stream failed
// with err: their status words are not known, and err (a driver error,
// which makes the device unusable) is what the failed call reports. The
// caller holds b.mu.
func (b *cudaBackend) settled(err error) {
	if err == nil {
		return
	}
	for p := range b.inflight {
		p.inflight = false
	}
	clear(b.inflight)
}

// usable returns an error when the backend is closed (wrapping
// backend.ErrClosed) or its context lost (wrapping backend.ErrUnavailable);
// callers add "cuda: " and what they were doing. The caller holds b.mu.
func (b *cudaBackend) usable() error {
	if b.closed {
		return fmt.Errorf("backend %s is %w", b.name, backend.ErrClosed)
	}
	if b.lost != nil {
		return fmt.Errorf("%w after an earlier failure: %w", backend.ErrUnavailable, b.lost)
	}
	return nil
}

// Alloc implements backend.Backend: a zero-filled device buffer.
func (b *cudaBackend) Alloc(size int64) (backend.Buffer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return nil, fmt.Errorf("cuda: alloc: %w", err)
	}
	if size < 0 {
		return nil, fmt.Errorf("cuda: alloc: negative size %d", size)
	}
	p, err := b.dev.alloc(max(size, 1))
	if err != nil {
		return nil, fmt.Errorf("cuda: alloc: %w", b.note(err))
	}
	if err := b.dev.zero(p, max(size, 1)); err != nil {
		_ = b.dev.free(p)
		return nil, fmt.Errorf("cuda: alloc: %w", b.note(err))
	}
	buf := &cuBuffer{owner: b, size: size, ptr: p, live: true}
	b.buffers[buf] = struct{}{}
	return buf, nil
}

// Close implements backend.Backend. Programs and buffers still open are
// released all the same (every later use of them returns backend.ErrClosed)
// and reported in an error wrapping backend.ErrInUse; a second Close
// returns backend.ErrClosed.
func (b *cudaBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("cuda: close: backend %s is already %w", b.name, backend.ErrClosed)
	}
	var liveBytes int64
	liveBufs, liveProgs := len(b.buffers), len(b.progs)
	for buf := range b.buffers {
		liveBytes += buf.size
	}
	if err := b.releaseLocked(); err != nil {
		return fmt.Errorf("cuda: close: %w", err)
	}
	return backend.InUseError(b.name, liveBufs, liveBytes, liveProgs)
}

// releaseLocked frees everything and the context. The caller holds b.mu.
func (b *cudaBackend) releaseLocked() error {
	b.closed = true
	for p := range b.progs {
		p.releaseLocked()
	}
	for buf := range b.buffers {
		buf.releaseLocked()
	}
	for _, m := range b.modules {
		_ = b.dev.unloadModule(m)
	}
	b.modules = nil
	closeCublasLt(b.lt)
	b.lt = nil
	return b.dev.close()
}

// cuBuffer is device memory (backend.Buffer).
type cuBuffer struct {
	owner *cudaBackend
	size  int64
	ptr   devicePtr
	live  bool
}

// Size implements backend.Buffer.
func (buf *cuBuffer) Size() int64 { return buf.size }

// access checks a transfer of n bytes at off. The caller holds owner.mu.
func (buf *cuBuffer) access(op string, off int64, n int) error {
	if err := buf.owner.usable(); err != nil {
		return fmt.Errorf("cuda: %s: %w", op, err)
	}
	if !buf.live {
		return fmt.Errorf("cuda: %s: buffer is %w (freed)", op, backend.ErrClosed)
	}
	if off < 0 || off > buf.size || int64(n) > buf.size-off {
		return fmt.Errorf("cuda: %s: %d bytes at offset %d do not fit the %d-byte buffer", op, n, off, buf.size)
	}
	return nil
}

// Write implements backend.Buffer.
func (buf *cuBuffer) Write(off int64, src []byte) error {
	b := buf.owner
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := buf.access("write", off, len(src)); err != nil {
		return err
	}
	if err := b.dev.write(buf.ptr+devicePtr(off), src); err != nil {
		return fmt.Errorf("cuda: write: %w", b.note(err))
	}
	return nil
}

// Read implements backend.Buffer. It waits for everything issued before
// it, runs started without waiting included (program.Start); the first
// error of such a run of a program this buffer is bound to is returned
// instead of nil (backend.AsyncRunner), as Run would have returned it.
func (buf *cuBuffer) Read(off int64, dst []byte) error {
	b := buf.owner
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := buf.access("read", off, len(dst)); err != nil {
		return err
	}
	if err := b.dev.read(dst, buf.ptr+devicePtr(off)); err != nil {
		b.settled(err)
		return fmt.Errorf("cuda: read: %w", b.note(err))
	}
	var first error
	for p := range b.inflight {
		if p.core.Binds(func(cb *cuBuffer) bool { return cb == buf }) {
			if err := p.check(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Free implements backend.Buffer. Freeing twice, or after the backend is
// closed, is an error wrapping backend.ErrClosed.
func (buf *cuBuffer) Free() error {
	b := buf.owner
	b.mu.Lock()
	defer b.mu.Unlock()
	if !buf.live {
		if b.closed {
			return fmt.Errorf("cuda: free: backend %s is %w", b.name, backend.ErrClosed)
		}
		return fmt.Errorf("cuda: free: buffer is already %w (freed twice)", backend.ErrClosed)
	}
	buf.releaseLocked()
	return nil
}

// releaseLocked frees the device memory. The caller holds owner.mu.
func (buf *cuBuffer) releaseLocked() {
	if !buf.live {
		return
	}
	_ = buf.owner.dev.free(buf.ptr)
	buf.live = false
	delete(buf.owner.buffers, buf)
}
