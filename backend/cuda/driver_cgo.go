//go:build cgo

package cuda

// The driver calls behind the backend: an opened device (its primary
// context, a transfer stream, pinned staging), modules, and launch lists
// whose parameter blocks live in C memory, packed once.

/*
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "cublaslt.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"unsafe"
)

// built reports whether this build can open CUDA devices.
const built = true

// stagingBytes is the size of a device's pinned staging buffer (two halves).
const stagingBytes = 16 << 20

// devicePtr is a device address; cfunction a kernel.
type (
	devicePtr = C.CUdeviceptr
	cfunction = C.CUfunction
)

// errClosed is returned by calls on a closed device.
var errClosed = errors.New("device closed")

// device is an opened CUDA device: its primary context, a stream for
// transfers and a pinned staging buffer. Its methods may be called from
// any goroutine: each C call makes the context current on its OS thread.
type device struct {
	lib  *library
	info deviceInfo
	dev  C.CUdevice
	ctx  C.CUcontext

	mu      sync.Mutex // the transfer stream, the staging buffer, closed, pending
	stream  C.CUstream
	staging C.golem_cu_staging
	closed  bool
	pending bool // work was issued without waiting: small writes, graph launches
	// failed receives the failing entry point's name from the calls made
	// under mu: a field, not a local, so that the calls of a decode step
	// (write, launchGraph, read) allocate nothing (a local whose address
	// goes to C escapes to the heap).
	failed *C.char
}

// openDevice retains the primary context of device ordinal and makes its
// transfer stream and staging buffer.
func openDevice(lib *library, ordinal int, info deviceInfo) (*device, error) {
	d := &device{lib: lib, info: info}
	var failed *C.char
	if r := C.golem_cu_ctx_open(lib.lib, C.int(ordinal), &d.dev, &d.ctx, &failed); r != 0 {
		return nil, lib.fail(r, failed, "cuDeviceGet", strconv.Itoa(ordinal))
	}
	if r := C.golem_cu_stream_create(lib.lib, d.ctx, &d.stream, &failed); r != 0 {
		err := lib.fail(r, failed, "", "")
		C.golem_cu_ctx_close(lib.lib, d.dev, &failed)
		return nil, err
	}
	if r := C.golem_cu_staging_create(lib.lib, d.ctx, stagingBytes, &d.staging, &failed); r != 0 {
		err := lib.fail(r, failed, "cuMemAllocHost_v2", strconv.Itoa(stagingBytes))
		C.golem_cu_staging_destroy(lib.lib, d.ctx, &d.staging)
		C.golem_cu_stream_destroy(lib.lib, d.ctx, d.stream, &failed)
		C.golem_cu_ctx_close(lib.lib, d.dev, &failed)
		return nil, err
	}
	return d, nil
}

// close releases the stream, the staging buffer and the context.
func (d *device) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var failed *C.char
	C.golem_cu_staging_destroy(d.lib.lib, d.ctx, &d.staging)
	C.golem_cu_stream_destroy(d.lib.lib, d.ctx, d.stream, &failed)
	if r := C.golem_cu_ctx_close(d.lib.lib, d.dev, &failed); r != 0 {
		return d.lib.fail(r, failed, "", "")
	}
	return nil
}

// alloc allocates size bytes of device memory.
func (d *device) alloc(size int64) (C.CUdeviceptr, error) {
	var p C.CUdeviceptr
	var free C.size_t
	var failed *C.char
	if r := C.golem_cu_mem_alloc(d.lib.lib, d.ctx, C.size_t(size), &p, &free, &failed); r != 0 {
		e := d.lib.fail(r, failed, "cuMemAlloc_v2", strconv.FormatInt(size, 10))
		if r == errOutOfMemory {
			e.Reason = oomReason(size, int64(free))
			e.Text = ""
		}
		return 0, e
	}
	return p, nil
}

// free releases device memory from alloc, after the small writes and runs
// still in flight (one may use it).
func (d *device) free(p C.CUdeviceptr) error {
	if err := d.settle(); err != nil {
		return err
	}
	var failed *C.char
	if r := C.golem_cu_mem_free(d.lib.lib, d.ctx, p, &failed); r != 0 {
		return d.lib.fail(r, failed, "cuMemFree_v2", fmt.Sprintf("0x%x", uint64(p)))
	}
	return nil
}

// settle waits for the work issued without waiting (small writes, graph
// launches).
func (d *device) settle() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.pending || d.closed {
		return nil
	}
	if r := C.golem_cu_stream_sync(d.lib.lib, d.ctx, d.stream, &d.failed); r != 0 {
		return d.lib.fail(r, d.failed, "", "")
	}
	d.pending = false
	return nil
}

// write copies src to device address dst. Small writes (token ids,
// positions: at most ringSlot bytes) return before the copy is done: the
// transfer stream, which programs run on too, orders it before any later
// read or run.
func (d *device) write(dst C.CUdeviceptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if len(src) <= ringSlot {
		if r := C.golem_cu_write_async(d.lib.lib, d.ctx, d.stream, &d.staging, dst, unsafe.Pointer(&src[0]), C.size_t(len(src)), &d.failed); r != 0 {
			return d.lib.fail(r, d.failed, "cuMemcpyHtoDAsync_v2", strconv.Itoa(len(src)))
		}
		d.pending = true
		return nil
	}
	if r := C.golem_cu_write(d.lib.lib, d.ctx, d.stream, &d.staging, dst, unsafe.Pointer(&src[0]), C.size_t(len(src)), &d.failed); r != 0 {
		return d.lib.fail(r, d.failed, "cuMemcpyHtoDAsync_v2", strconv.Itoa(len(src)))
	}
	return nil
}

// read copies len(dst) bytes from device address src, after everything
// issued on the transfer stream before it: it waits on the host once.
func (d *device) read(dst []byte, src C.CUdeviceptr) error {
	if len(dst) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if r := C.golem_cu_read(d.lib.lib, d.ctx, d.stream, &d.staging, unsafe.Pointer(&dst[0]), src, C.size_t(len(dst)), &d.failed); r != 0 {
		return d.lib.fail(r, d.failed, "cuMemcpyDtoHAsync_v2", strconv.Itoa(len(dst)))
	}
	d.pending = false // the read waited for everything issued before it
	return nil
}

// zero sets n bytes at dst to 0.
func (d *device) zero(dst C.CUdeviceptr, n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if r := C.golem_cu_memset8(d.lib.lib, d.ctx, d.stream, dst, 0, C.size_t(n), &d.failed); r != 0 {
		return d.lib.fail(r, d.failed, "cuMemsetD8Async", strconv.FormatInt(n, 10))
	}
	return nil
}

// module is a loaded PTX module.
type module struct {
	name string
	m    C.CUmodule
}

// loadModule loads PTX text; name names it in errors (its file).
func (d *device) loadModule(name, ptx string) (*module, error) {
	cptx := C.CString(ptx)
	defer C.free(unsafe.Pointer(cptx))
	var log [4096]C.char
	var m C.CUmodule
	var failed *C.char
	if r := C.golem_cu_module_load(d.lib.lib, d.ctx, cptx, &m, &log[0], C.size_t(len(log)), &failed); r != 0 {
		e := d.lib.fail(r, failed, "cuModuleLoadDataEx", name)
		if r == errUnsupportedPTXVersion {
			e.Reason = ptxReason(ptx, d.info.DriverVersion)
		}
		if jit := C.GoString(&log[0]); jit != "" && jit != e.Detail {
			if e.Detail != "" {
				e.Detail += "; "
			}
			e.Detail += "JIT log: " + jit
		}
		return nil, e
	}
	return &module{name: name, m: m}, nil
}

// unloadModule unloads m.
func (d *device) unloadModule(m *module) error {
	var failed *C.char
	if r := C.golem_cu_module_unload(d.lib.lib, d.ctx, m.m, &failed); r != 0 {
		return d.lib.fail(r, failed, "cuModuleUnload", m.name)
	}
	return nil
}

// function returns kernel name of module m.
func (d *device) function(m *module, name string) (C.CUfunction, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var f C.CUfunction
	var failed *C.char
	if r := C.golem_cu_function(d.lib.lib, d.ctx, m.m, cname, &f, &failed); r != 0 {
		return nil, d.lib.fail(r, failed, "cuModuleGetFunction", m.name+": "+name)
	}
	return f, nil
}

// allowShared lets f launch with up to bytes of dynamic shared memory.
func (d *device) allowShared(f C.CUfunction, bytes int) error {
	var failed *C.char
	if r := C.golem_cu_func_max_dynamic_shared(d.lib.lib, d.ctx, f, C.int(bytes), &failed); r != 0 {
		return d.lib.fail(r, failed, "cuFuncSetAttribute", strconv.Itoa(bytes))
	}
	return nil
}

// ---------------------------------------------------------------------------
// Kernel parameters and launch lists.

// params builds one launch's parameter values in order, each at its
// natural alignment, as the kernel's C signature declares them.
type params struct {
	data []byte
	offs []int
}

func (p *params) add(b []byte, align int) {
	off := (len(p.data) + align - 1) / align * align
	for len(p.data) < off {
		p.data = append(p.data, 0)
	}
	p.offs = append(p.offs, off)
	p.data = append(p.data, b...)
}

// Ptr adds a device pointer.
func (p *params) Ptr(v C.CUdeviceptr) { p.U64(uint64(v)) }

// U64 adds a 64-bit integer (uint64_t, int64_t, size_t).
func (p *params) U64(v uint64) { p.add(binary.LittleEndian.AppendUint64(nil, v), 8) }

// U32 adds a 32-bit integer (uint32_t, int).
func (p *params) U32(v uint32) { p.add(binary.LittleEndian.AppendUint32(nil, v), 4) }

// F32 adds a float.
func (p *params) F32(v float32) { p.U32(math.Float32bits(v)) }

// Struct adds a struct of 32-bit words (4-byte aligned), such as elementwise.cu's BroadcastY.
func (p *params) Struct(words ...uint32) {
	var b []byte
	for _, w := range words {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	p.add(b, 4)
}

// kernelLaunch is one kernel launch to pack into a launchList.
type kernelLaunch struct {
	fn     C.CUfunction
	grid   [3]uint32
	block  [3]uint32
	shared uint32
	params params
	// call, when set, is a cuBLASLt plan: the launch is that matmul
	// (golem_cublaslt_run) instead of a kernel.
	call unsafe.Pointer
}

// launchList is launches in C memory, each with a parameter block and the
// void* array cuLaunchKernel takes, made once.
type launchList struct {
	l      *C.golem_cu_launch
	n      int
	blocks []unsafe.Pointer // C memory to free
}

// pack copies launches into C memory.
func pack(ls []kernelLaunch) *launchList {
	out := &launchList{n: len(ls)}
	if len(ls) == 0 {
		return out
	}
	size := C.size_t(len(ls)) * C.size_t(unsafe.Sizeof(C.golem_cu_launch{}))
	out.l = (*C.golem_cu_launch)(C.calloc(1, size))
	out.blocks = append(out.blocks, unsafe.Pointer(out.l))
	cl := unsafe.Slice(out.l, len(ls))
	for i, l := range ls {
		c := &cl[i]
		c.f = l.fn
		if l.call != nil {
			c.call = C.golem_cu_call(C.golem_cublaslt_run)
			c.call_arg = l.call
		}
		for k := 0; k < 3; k++ {
			c.grid[k] = C.uint(l.grid[k])
			c.block[k] = C.uint(l.block[k])
		}
		c.shared = C.uint(l.shared)
		n := len(l.params.offs)
		if n == 0 {
			continue
		}
		// One allocation: the pointer array, then the values (16-aligned).
		ptrBytes := (n*int(unsafe.Sizeof(uintptr(0))) + 15) / 16 * 16
		mem := C.calloc(1, C.size_t(ptrBytes+len(l.params.data)))
		out.blocks = append(out.blocks, mem)
		vals := unsafe.Add(mem, ptrBytes)
		C.memcpy(vals, unsafe.Pointer(&l.params.data[0]), C.size_t(len(l.params.data)))
		ptrs := unsafe.Slice((*unsafe.Pointer)(mem), n)
		for j, off := range l.params.offs {
			ptrs[j] = unsafe.Add(vals, off)
		}
		c.params = (*unsafe.Pointer)(mem)
	}
	return out
}

// free releases the C memory of a launch list.
func (ll *launchList) free() {
	for _, b := range ll.blocks {
		C.free(b)
	}
	ll.blocks = nil
	ll.l = nil
}

// ringSlot is the largest write that does not wait (GOLEM_CU_RING_SLOT).
const ringSlot = C.GOLEM_CU_RING_SLOT

// stream is a stream for running programs.
type stream struct {
	s C.CUstream
}

// transfer returns the device's transfer stream, on which programs run
// too: the small writes before a run need no wait.
func (d *device) transfer() *stream { return &stream{s: d.stream} }

// newStream makes a stream.
func (d *device) newStream() (*stream, error) {
	var s C.CUstream
	var failed *C.char
	if r := C.golem_cu_stream_create(d.lib.lib, d.ctx, &s, &failed); r != 0 {
		return nil, d.lib.fail(r, failed, "", "")
	}
	return &stream{s: s}, nil
}

// destroyStream destroys s.
func (d *device) destroyStream(s *stream) {
	var failed *C.char
	C.golem_cu_stream_destroy(d.lib.lib, d.ctx, s.s, &failed)
}

// launchError is the error of a failed launch: which launch, which kernel.
func (d *device) launchError(r C.CUresult, failed *C.char, index int, names []string) error {
	main, args := "", ""
	if index >= 0 && index < len(names) {
		main, args = "cuLaunchKernel", names[index]
	}
	return d.lib.fail(r, failed, main, args)
}

// launchAll launches every launch of ll on s in order and waits for them.
// names[i] names launch i's kernel in errors.
func (d *device) launchAll(s *stream, ll *launchList, names []string) error {
	var index C.int
	var failed *C.char
	if r := C.golem_cu_launch_all(d.lib.lib, d.ctx, s.s, ll.l, C.int(ll.n), &index, &failed); r != 0 {
		return d.launchError(r, failed, int(index), names)
	}
	if r := C.golem_cu_sync(d.lib.lib, d.ctx, &failed); r != 0 {
		return d.lib.fail(r, failed, "", "")
	}
	return nil
}

// capturedGraph is launches captured once into a CUDA graph, replayed on
// every run, with an optional status region zeroed before and copied to
// pinned host memory after.
type capturedGraph struct {
	p C.golem_cu_program
	// instantiations and updates count how its executable graph was made:
	// instantiated from a capture, or updated in place by a later capture
	// (recapture).
	instantiations, updates int
}

// newCapturedGraph prepares a graph with the status region status (words
// 32-bit words, 0 for none) and its pinned host copy; capture fills it.
func (d *device) newCapturedGraph(status C.CUdeviceptr, words int) (*capturedGraph, error) {
	g := &capturedGraph{}
	if words > 0 {
		var h unsafe.Pointer
		var failed *C.char
		if r := C.golem_cu_host_alloc(d.lib.lib, d.ctx, C.size_t(4*words), &h, &failed); r != 0 {
			return nil, d.lib.fail(r, failed, "cuMemAllocHost_v2", strconv.Itoa(4*words))
		}
		g.p.status = status
		g.p.status_words = C.size_t(words)
		g.p.status_host = (*C.uint)(h)
	}
	return g, nil
}

// capture captures ll on s into a graph (see newCapturedGraph).
func (d *device) capture(s *stream, ll *launchList, names []string, status C.CUdeviceptr, words int) (*capturedGraph, error) {
	g, err := d.newCapturedGraph(status, words)
	if err != nil {
		return nil, err
	}
	if _, err := d.recapture(s, ll, names, g); err != nil {
		d.destroyGraph(g)
		return nil, err
	}
	return g, nil
}

// recapture captures ll on s into g again: the launches g holds with other
// parameters (a binding changed), whose graph updates g's executable graph
// in place (cuGraphExecUpdate; updated is true) unless the driver refuses,
// when it is instantiated anew. g keeps its status region. A g that holds
// no executable graph yet gets a new one.
func (d *device) recapture(s *stream, ll *launchList, names []string, g *capturedGraph) (updated bool, err error) {
	var failed *C.char
	var index, upd C.int
	if r := C.golem_cu_capture(d.lib.lib, d.ctx, s.s, ll.l, C.int(ll.n), &g.p, &upd, &index, &failed); r != 0 {
		return false, d.launchError(r, failed, int(index), names)
	}
	if upd != 0 {
		g.updates++
	} else {
		g.instantiations++
	}
	return upd != 0, nil
}

// launchGraph enqueues g on s without waiting: the stream orders it after
// the writes before it and before the reads after it, and free waits for
// it (settle).
func (d *device) launchGraph(s *stream, g *capturedGraph) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if r := C.golem_cu_graph_launch(d.lib.lib, d.ctx, s.s, &g.p, &d.failed); r != 0 {
		return d.lib.fail(r, d.failed, "cuGraphLaunch", "")
	}
	d.pending = true
	return nil
}

// wait waits on the host for everything issued on s.
func (d *device) wait(s *stream) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if r := C.golem_cu_stream_sync(d.lib.lib, d.ctx, s.s, &d.failed); r != 0 {
		return d.lib.fail(r, d.failed, "", "")
	}
	if s.s == d.stream {
		d.pending = false
	}
	return nil
}

// status returns the status words g copied back at the end of its last run.
func (g *capturedGraph) status() []uint32 {
	if g.p.status_words == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(g.p.status_host)), int(g.p.status_words))
}

// destroyGraph releases g.
func (d *device) destroyGraph(g *capturedGraph) {
	C.golem_cu_program_destroy(d.lib.lib, d.ctx, &g.p)
	if g.p.status_host != nil {
		C.golem_cu_host_free(d.lib.lib, d.ctx, unsafe.Pointer(g.p.status_host))
		g.p.status_host = nil
	}
}

// runTimed runs ll on s without a graph, timing segments: segment i ends
// after launch ends[i]-1. It returns each segment's seconds; g's status
// region (if any, from newCapturedGraph) is zeroed before and read back
// after, as in a replay.
func (d *device) runTimed(s *stream, ll *launchList, names []string, ends []int, g *capturedGraph) ([]float64, error) {
	if len(ends) == 0 {
		return nil, d.launchAll(s, ll, names)
	}
	cends := (*C.int)(C.malloc(C.size_t(len(ends)) * C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(cends))
	ce := unsafe.Slice(cends, len(ends))
	for i, e := range ends {
		ce[i] = C.int(e)
	}
	ms := make([]C.float, len(ends))
	var index C.int
	var failed *C.char
	if r := C.golem_cu_run_timed(d.lib.lib, d.ctx, s.s, ll.l, C.int(ll.n), cends, C.int(len(ends)), &ms[0], &g.p, &index, &failed); r != 0 {
		return nil, d.launchError(r, failed, int(index), names)
	}
	out := make([]float64, len(ends))
	for i, v := range ms {
		out[i] = float64(v) / 1000
	}
	return out, nil
}
