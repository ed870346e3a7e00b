//go:build cgo

package vulkan

// All cgo calls of the Vulkan driver are in this file; the C side is shim.c.

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/golem-llm/golem/backend"
)

// libName is the Vulkan loader, found by the dynamic loader's search path.
const libName = "libvulkan.so.1"

// library is a loaded Vulkan loader.
type library struct {
	lib *C.golem_vk_lib
}

// loadSystem loads libvulkan.so.1 the first time it is called and returns the
// same library (never unloaded), or dlopen's message when the loader is
// missing, on every call.
var loadSystem = sync.OnceValues(func() (*library, string) { return openLibrary(libName) })

// openLibrary dlopens path; on failure it returns the loader's message.
func openLibrary(path string) (*library, string) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	lib := C.golem_vk_open(cpath, &buf[0], C.size_t(len(buf)))
	if lib == nil {
		return nil, C.GoString(&buf[0])
	}
	return &library{lib: lib}, ""
}

// built reports whether this build can open Vulkan devices.
const built = true

// probe lists the devices of the system's Vulkan loader.
func probe() []backend.Status {
	lib, msg := loadSystem()
	if lib == nil {
		return unavailable("vulkan: loader " + libName + " not found (" + msg + ")")
	}
	return lib.probe()
}

// stageError turns where a probe or device creation stopped into a message,
// or "" when it did not stop.
func stageError(r *C.golem_vk_probe_result) string {
	switch r.stage {
	case C.GOLEM_VK_OK:
		return ""
	case C.GOLEM_VK_LOADER_1_0:
		return "vulkan: the loader supports only Vulkan 1.0, golem needs 1.2"
	case C.GOLEM_VK_MISSING_FUNCTION:
		return fmt.Sprintf("vulkan: the loader has no %s", C.GoString(r.function))
	case C.GOLEM_VK_NO_DEVICE:
		return "vulkan: no such device"
	case C.GOLEM_VK_NO_QUEUE:
		return "vulkan: the device has no compute queue"
	case C.GOLEM_VK_NO_VALIDATION:
		return "vulkan: validation asked for (" + ValidationEnv + ") but the layer VK_LAYER_KHRONOS_validation with VK_EXT_debug_utils and VK_EXT_validation_features is not installed (Debian package vulkan-validationlayers)"
	}
	msg := fmt.Sprintf("vulkan: %s failed: %s", C.GoString(r.function), resultName(int32(r.result)))
	if int32(r.result) == errIncompatibleDriver {
		msg += " (no Vulkan driver found)"
	}
	return msg
}

// probe creates an instance, lists its physical devices and destroys it.
func (l *library) probe() []backend.Status {
	r := (*C.golem_vk_probe_result)(C.calloc(1, C.sizeof_golem_vk_probe_result))
	if r == nil {
		return unavailable("vulkan: out of memory")
	}
	defer C.free(unsafe.Pointer(r))
	C.golem_vk_probe(l.lib, r)
	if msg := stageError(r); msg != "" {
		return unavailable(msg)
	}
	if r.count == 0 {
		return unavailable("vulkan: no Vulkan devices")
	}
	out := make([]backend.Status, 0, int(r.count))
	for i := 0; i < int(r.count); i++ {
		out = append(out, convertDevice(&r.devices[i]).status(i))
	}
	return out
}

// convertDevice copies the C description of a device.
func convertDevice(d *C.golem_vk_device) deviceInfo {
	info := deviceInfo{
		Name:          C.GoString(&d.name[0]),
		APIVersion:    uint32(d.api_version),
		DriverVersion: uint32(d.driver_version),
		VendorID:      uint32(d.vendor_id),
		DeviceType:    int32(d.device_type),
		LocalBytes:    int64(d.device_local_bytes),
		Probed:        true,
		Limits: limits{
			MaxStorageBufferRange: uint64(d.max_storage_buffer_range),
			MinOffsetAlignment:    uint64(d.min_storage_buffer_offset_alignment),
			MaxPushConstants:      uint32(d.max_push_constants_size),
			MaxStorageBuffers:     uint32(d.max_storage_buffers),
			MaxSharedMemory:       uint32(d.max_shared_memory),
			MaxInvocations:        uint32(d.max_invocations),
			TimestampPeriod:       float64(d.timestamp_period),
			TimestampBits:         uint32(d.timestamp_valid_bits),
			MaxAllocation:         uint64(d.max_allocation),
			MaxBufferSize:         uint64(d.max_buffer_size),
			SubgroupSize:          uint32(d.subgroup_size),
			MinSubgroupSize:       uint32(d.min_subgroup_size),
			MaxSubgroupSize:       uint32(d.max_subgroup_size),
			SubgroupOps:           uint32(d.subgroup_ops),
		},
		ComputeQueue: int(d.compute_queue_family),
		UMA:          d.uma != 0,
		Features: features{
			Float16:       d.f_float16 != 0,
			Int8:          d.f_int8 != 0,
			Int16:         d.f_int16 != 0,
			Int64:         d.f_int64 != 0,
			Float64:       d.f_float64 != 0,
			Storage16:     d.f_storage16 != 0,
			Storage8:      d.f_storage8 != 0,
			IntDot:        d.f_int_dot != 0,
			SizeControl:   d.f_size_control != 0,
			CoopMat:       d.f_coopmat != 0,
			BF16:          d.f_bf16 != 0,
			DeviceAddress: d.f_bda != 0,
			MemoryModel:   d.f_vmm != 0,
		},
	}
	for i := 0; i < int(d.coopmat_count); i++ {
		c := d.coopmat[i]
		info.Features.CoopMatShapes = append(info.Features.CoopMatShapes, coopShape{
			M: uint32(c.m), N: uint32(c.n), K: uint32(c.k),
			A: uint32(c.a), B: uint32(c.b), C: uint32(c.c), Result: uint32(c.result), Scope: uint32(c.scope)})
	}
	for i := 0; i < 3; i++ {
		info.Limits.MaxWorkgroupSize[i] = uint32(d.max_workgroup_size[i])
		info.Limits.MaxWorkgroupCount[i] = uint32(d.max_workgroup_count[i])
	}
	if d.has_uuid != 0 {
		info.UUID = C.GoBytes(unsafe.Pointer(&d.device_uuid[0]), 16)
	}
	if d.has_driver_props != 0 {
		info.DriverName = C.GoString(&d.driver_name[0])
		info.DriverInfo = C.GoString(&d.driver_info[0])
	}
	return info
}

// cdev is an opened logical device.
type cdev struct {
	p    *C.golem_vk_dev
	msgs *C.golem_vk_msgs // validation messages (nil: not validated); freed after the device

	// pools sub-allocate buffers from memory blocks, one pool per memory
	// type (and mapping); blockBytes is the block size of device-local
	// pools, hostBlockBytes that of host-visible ones (status, read-back).
	pools                      map[poolKey]*pool[*cmem]
	blockBytes, hostBlockBytes int64
}

// poolKey identifies a pool: a memory type, and whether its blocks are
// mapped.
type poolKey struct {
	typ    int
	mapped bool
}

// cmem is a device memory block.
type cmem struct {
	m C.golem_vk_mem
}

// blockSizes returns the sizes of the memory blocks buffers are
// sub-allocated from: for device-local memory 256 MiB, halved down to
// 16 MiB while above a sixteenth of the device's memory or its
// maxMemoryAllocationSize; 16 MiB for host-visible memory.
func blockSizes(info deviceInfo) (local, host int64) {
	local = 256 << 20
	for local > 16<<20 && info.LocalBytes > 0 && local > info.LocalBytes/16 {
		local /= 2
	}
	for info.Limits.MaxAllocation > 0 && uint64(local) > info.Limits.MaxAllocation && local > 1<<20 {
		local /= 2
	}
	return local, min(16<<20, local)
}

// openDevice opens physical device index of the system loader; with
// validate, under the Khronos validation layer (see golem_vk_dev_create).
func openDevice(index int, validate bool) (*cdev, deviceInfo, error) {
	lib, msg := loadSystem()
	if lib == nil {
		return nil, deviceInfo{}, fmt.Errorf("vulkan: loader %s not found (%s)", libName, msg)
	}
	info := (*C.golem_vk_device)(C.calloc(1, C.sizeof_golem_vk_device))
	why := (*C.golem_vk_probe_result)(C.calloc(1, C.sizeof_golem_vk_probe_result))
	if info == nil || why == nil {
		C.free(unsafe.Pointer(info))
		C.free(unsafe.Pointer(why))
		return nil, deviceInfo{}, fmt.Errorf("vulkan: out of memory")
	}
	defer C.free(unsafe.Pointer(info))
	defer C.free(unsafe.Pointer(why))
	var msgs *C.golem_vk_msgs
	if validate {
		if msgs = (*C.golem_vk_msgs)(C.calloc(1, C.sizeof_golem_vk_msgs)); msgs == nil {
			return nil, deviceInfo{}, fmt.Errorf("vulkan: out of memory")
		}
	}
	p := C.golem_vk_dev_create(lib.lib, C.uint32_t(index), info, why, msgs)
	if p == nil {
		C.free(unsafe.Pointer(msgs))
		return nil, deviceInfo{}, fmt.Errorf("%s", stageError(why))
	}
	di := convertDevice(info)
	local, host := blockSizes(di)
	return &cdev{p: p, msgs: msgs, pools: map[poolKey]*pool[*cmem]{}, blockBytes: local, hostBlockBytes: host}, di, nil
}

// destroy waits for the device and destroys it, with any memory block
// still held. Validation messages stay readable (messages).
func (d *cdev) destroy() {
	C.golem_vk_dev_wait_transfers(d.p)
	for _, pl := range d.pools {
		for _, b := range pl.blocks {
			C.golem_vk_mem_free(d.p, &b.mem.m)
		}
		pl.blocks = nil
	}
	C.golem_vk_dev_destroy(d.p)
	d.p = nil
}

// messages returns how many validation messages the device received and
// the text of those from index from on (at most GOLEM_VK_MAX_MESSAGES are
// kept). The caller serialises it with every other use of the device.
func (d *cdev) messages(from int) (int, []string) {
	if d.msgs == nil {
		return 0, nil
	}
	n := int(d.msgs.count)
	var out []string
	for i := from; i < min(n, C.GOLEM_VK_MAX_MESSAGES); i++ {
		out = append(out, C.GoString(&d.msgs.text[i][0]))
	}
	return n, out
}

// freeMessages releases the message store after destroy.
func (d *cdev) freeMessages() {
	C.free(unsafe.Pointer(d.msgs))
	d.msgs = nil
}

// invalidCall breaks a valid-usage rule once (golem_vk_dev_invalid_call).
func (d *cdev) invalidCall() { C.golem_vk_dev_invalid_call(d.p) }

// forceStaging makes later buffers unmapped (see golem_vk_dev_force_staging).
func (d *cdev) forceStaging() error {
	return check("staging buffer", C.golem_vk_dev_force_staging(d.p))
}

// vkError is a failed Vulkan call.
type vkError struct {
	what   string
	result int32
}

func (e *vkError) Error() string { return e.what + ": " + resultName(e.result) }

// check returns nil for VK_SUCCESS, else a *vkError.
func check(what string, r C.VkResult) error {
	if r == C.VK_SUCCESS {
		return nil
	}
	return &vkError{what: what, result: int32(r)}
}

// cbuf is a device buffer: its own memory, or a range of a pool's block.
type cbuf struct {
	b *C.golem_vk_buf // C memory

	pool *pool[*cmem] // nil: the buffer owns its memory
	blk  *block[*cmem]
	off  int64 // the range of blk the buffer is bound to
	span int64
}

// newBuffer allocates a buffer; host selects the memory (see
// golem_vk_buf_create). Buffers up to half a block are sub-allocated from
// the pool of their memory type; larger ones get their own allocation.
func (d *cdev) newBuffer(size uint64, host int) (*cbuf, error) {
	cb := (*C.golem_vk_buf)(C.calloc(1, C.sizeof_golem_vk_buf))
	if cb == nil {
		return nil, fmt.Errorf("out of host memory")
	}
	b := &cbuf{b: cb}
	block := d.blockBytes
	if host == 1 || host == 2 {
		block = d.hostBlockBytes
	}
	if int64(size) > block/2 {
		if err := check("vkAllocateMemory", C.golem_vk_buf_create(d.p, C.uint64_t(size), C.int(host), cb)); err != nil {
			C.free(unsafe.Pointer(cb))
			return nil, err
		}
		return b, nil
	}
	var reqSize, reqAlign C.uint64_t
	var bits C.uint32_t
	if err := check("vkCreateBuffer", C.golem_vk_buf_new(d.p, C.uint64_t(size), cb, &reqSize, &reqAlign, &bits)); err != nil {
		C.free(unsafe.Pointer(cb))
		return nil, err
	}
	err := d.bindPooled(b, host, block, int64(reqSize), int64(reqAlign), bits)
	if err != nil && host == 0 {
		// The small host-visible device-local heap (a PCIe BAR) may be full.
		err = d.bindPooled(b, 3, block, int64(reqSize), int64(reqAlign), bits)
	}
	if err != nil {
		C.golem_vk_buf_destroy(d.p, cb)
		C.free(unsafe.Pointer(cb))
		return nil, err
	}
	return b, nil
}

// bindPooled binds b to a range of a block of the pool of host kind host.
func (d *cdev) bindPooled(b *cbuf, host int, block, size, align int64, bits C.uint32_t) error {
	var mapped C.int
	typ := int(C.golem_vk_mem_type(d.p, bits, C.int(host), b.b.size, &mapped))
	if typ < 0 {
		return &vkError{what: "memory type", result: errFeatureNotPresent}
	}
	key := poolKey{typ: typ, mapped: mapped != 0}
	pl := d.pools[key]
	if pl == nil {
		pl = &pool[*cmem]{
			blockSize: block,
			newBlock: func(n int64) (*cmem, error) {
				m := &cmem{}
				if err := check("vkAllocateMemory", C.golem_vk_mem_alloc(d.p, C.uint32_t(typ), C.uint64_t(n), mapped, &m.m)); err != nil {
					return nil, err
				}
				return m, nil
			},
			freeBlock: func(m *cmem) { C.golem_vk_mem_free(d.p, &m.m) },
		}
		d.pools[key] = pl
	}
	blk, off, err := pl.alloc(size, max(align, 16))
	if err != nil {
		return err
	}
	if err := check("vkBindBufferMemory", C.golem_vk_buf_bind(d.p, b.b, &blk.mem.m, C.uint64_t(off))); err != nil {
		pl.release(blk, off, size)
		return err
	}
	b.pool, b.blk, b.off, b.span = pl, blk, off, size
	return nil
}

// memoryInUse returns the bytes of pooled buffers and the bytes the pools'
// blocks hold.
func (d *cdev) memoryInUse() (used, held int64) {
	for _, pl := range d.pools {
		u, h := pl.used()
		used += u
		held += h
	}
	return used, held
}

// errFeatureNotPresent is VK_ERROR_FEATURE_NOT_PRESENT.
const errFeatureNotPresent = -8

// zero fills the whole buffer with zero bytes.
func (d *cdev) zero(b *cbuf) error {
	return check("vkCmdFillBuffer", C.golem_vk_buf_zero(d.p, b.b, 0, b.b.size))
}

// freeBuffer releases the buffer (and its range of a block).
func (d *cdev) freeBuffer(b *cbuf) {
	C.golem_vk_buf_destroy(d.p, b.b)
	C.free(unsafe.Pointer(b.b))
	b.b = nil
	if b.pool != nil {
		b.pool.release(b.blk, b.off, b.span)
		b.pool, b.blk = nil, nil
	}
}

// setRing sets the staging ring's depth (see golem_vk_dev_set_ring).
func (d *cdev) setRing(depth int) { C.golem_vk_dev_set_ring(d.p, C.uint32_t(depth)) }

// submits returns the number of queue submissions so far.
func (d *cdev) submits() uint64 { return uint64(C.golem_vk_dev_submits(d.p)) }

// mapped returns the buffer's persistent mapping, or nil.
func (b *cbuf) mapped() unsafe.Pointer { return b.b._map }

// handle returns the VkBuffer.
func (b *cbuf) handle() C.VkBuffer { return b.b.buffer }

// write copies src to byte offset off of b.
func (d *cdev) write(b *cbuf, off int64, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if m := b.mapped(); m != nil {
		copy(unsafe.Slice((*byte)(unsafe.Add(m, off)), len(src)), src)
		return nil
	}
	return check("upload", C.golem_vk_buf_write(d.p, b.b, C.uint64_t(off), unsafe.Pointer(unsafe.SliceData(src)), C.uint64_t(len(src))))
}

// read copies bytes from byte offset off of b into dst.
func (d *cdev) read(b *cbuf, off int64, dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	if m := b.mapped(); m != nil {
		copy(dst, unsafe.Slice((*byte)(unsafe.Add(m, off)), len(dst)))
		return nil
	}
	return check("download", C.golem_vk_buf_read(d.p, b.b, C.uint64_t(off), unsafe.Pointer(unsafe.SliceData(dst)), C.uint64_t(len(dst))))
}

// cpipe is a compute pipeline.
type cpipe struct {
	p C.golem_vk_pipe
}

// newPipeline creates a pipeline from SPIR-V.
func (d *cdev) newPipeline(code []byte, bindings, pushBytes int, specIDs, specVals []uint32) (*cpipe, error) {
	if len(code) == 0 || len(code)%4 != 0 {
		return nil, fmt.Errorf("SPIR-V of %d bytes", len(code))
	}
	p := (*cpipe)(C.calloc(1, C.sizeof_golem_vk_pipe))
	if p == nil {
		return nil, fmt.Errorf("out of host memory")
	}
	// Copy everything the C side reads into C memory.
	n := len(code) + 8*len(specIDs) + 8
	mem := C.malloc(C.size_t(n))
	if mem == nil {
		C.free(unsafe.Pointer(p))
		return nil, fmt.Errorf("out of host memory")
	}
	defer C.free(mem)
	cc := unsafe.Slice((*byte)(mem), n)
	copy(cc, code)
	ids := unsafe.Slice((*C.uint32_t)(unsafe.Add(mem, len(code))), len(specIDs)+1)
	vals := unsafe.Slice((*C.uint32_t)(unsafe.Add(mem, len(code)+4*len(specIDs)+4)), len(specIDs)+1)
	for i := range specIDs {
		ids[i], vals[i] = C.uint32_t(specIDs[i]), C.uint32_t(specVals[i])
	}
	r := C.golem_vk_pipe_create(d.p, (*C.uint32_t)(mem), C.size_t(len(code)), C.uint32_t(bindings),
		C.uint32_t(pushBytes), &ids[0], &vals[0], C.uint32_t(len(specIDs)), &p.p)
	if err := check("vkCreateComputePipelines", r); err != nil {
		C.free(unsafe.Pointer(p))
		return nil, err
	}
	return p, nil
}

// freePipeline destroys p.
func (d *cdev) freePipeline(p *cpipe) {
	C.golem_vk_pipe_destroy(d.p, &p.p)
	C.free(unsafe.Pointer(p))
}

// crecord is what the C side needs to record a program: dispatches,
// bindings and push-constant words, and (set when the program is bound)
// barrier ranges and output copies, in C memory.
type crecord struct {
	ds    []C.golem_vk_dispatch
	bs    []C.golem_vk_binding
	words []C.uint32_t
	mem   unsafe.Pointer

	ranges []C.golem_vk_binding // barrier ranges (setBarriers)
	copies []C.golem_vk_binding // output copies, source and destination (setCopies)
	extra  unsafe.Pointer       // ranges and copies
}

// newRecord allocates C arrays for nd dispatches, nb bindings, nw words.
func newRecord(nd, nb, nw int) (*crecord, error) {
	sd := int(C.sizeof_golem_vk_dispatch) * max(nd, 1)
	sb := int(C.sizeof_golem_vk_binding) * max(nb, 1)
	mem := C.calloc(1, C.size_t(sd+sb+4*max(nw, 1)))
	if mem == nil {
		return nil, fmt.Errorf("out of host memory")
	}
	return &crecord{
		ds:    unsafe.Slice((*C.golem_vk_dispatch)(mem), nd),
		bs:    unsafe.Slice((*C.golem_vk_binding)(unsafe.Add(mem, sd)), nb),
		words: unsafe.Slice((*C.uint32_t)(unsafe.Add(mem, sd+sb)), nw),
		mem:   mem,
	}, nil
}

func (r *crecord) free() {
	C.free(r.mem)
	C.free(r.extra)
	r.mem, r.extra = nil, nil
}

// rangeRec is a buffer range for the C side.
type rangeRec struct {
	b        *cbuf
	off, len uint64
}

// setLinks stores the barriers (bars[k] before dispatch bars[k].before,
// flushing ranges) and the output copies (pairs: source, destination),
// replacing earlier ones.
func (r *crecord) setLinks(bars []barrierRec, copies [][2]rangeRec) error {
	for i := range r.ds {
		r.ds[i].barrier, r.ds[i].first_range, r.ds[i].nranges = 0, 0, 0
	}
	nr := 0
	for _, b := range bars {
		nr += len(b.ranges)
	}
	C.free(r.extra)
	r.extra, r.ranges, r.copies = nil, nil, nil
	sz := int(C.sizeof_golem_vk_binding)
	mem := C.calloc(C.size_t(max(nr+2*len(copies), 1)), C.size_t(sz))
	if mem == nil {
		return fmt.Errorf("out of host memory")
	}
	r.extra = mem
	r.ranges = unsafe.Slice((*C.golem_vk_binding)(mem), nr)
	r.copies = unsafe.Slice((*C.golem_vk_binding)(unsafe.Add(mem, sz*nr)), 2*len(copies))
	k := 0
	for _, b := range bars {
		d := &r.ds[b.before]
		d.barrier = 1
		d.first_range = C.uint32_t(k)
		d.nranges = C.uint32_t(len(b.ranges))
		for _, x := range b.ranges {
			r.ranges[k] = C.golem_vk_binding{buffer: x.b.handle(), offset: C.uint64_t(x.off), _range: C.uint64_t(x.len)}
			k++
		}
	}
	for i, c := range copies {
		for j, x := range c {
			r.copies[2*i+j] = C.golem_vk_binding{buffer: x.b.handle(), offset: C.uint64_t(x.off), _range: C.uint64_t(x.len)}
		}
	}
	return nil
}

// barrierRec is a barrier before dispatch before, flushing ranges.
type barrierRec struct {
	before int
	ranges []rangeRec
}

// setDispatch fills dispatch i.
func (r *crecord) setDispatch(i int, p *cpipe, firstBinding, firstWord int, groups [3]uint32, timestamp int) {
	d := &r.ds[i]
	d.pipe = &p.p
	d.first_binding = C.uint32_t(firstBinding)
	d.first_word = C.uint32_t(firstWord)
	for k := 0; k < 3; k++ {
		d.groups[k] = C.uint32_t(groups[k])
	}
	d.timestamp = C.int32_t(timestamp)
}

// setBinding fills binding i.
func (r *crecord) setBinding(i int, b *cbuf, off, size uint64) {
	r.bs[i].buffer = b.handle()
	r.bs[i].offset = C.uint64_t(off)
	r.bs[i]._range = C.uint64_t(size)
}

// setWord sets push-constant word i.
func (r *crecord) setWord(i int, v uint32) { r.words[i] = C.uint32_t(v) }

// cprog is a program's descriptor sets, command buffer, fence and queries.
type cprog struct {
	p      *C.golem_vk_prog
	nq     int
	ticks  []C.uint64_t // C memory
	ticksM unsafe.Pointer
}

// newProgram allocates descriptor sets for r's dispatches and nq queries.
func (d *cdev) newProgram(r *crecord, nq int) (*cprog, error) {
	var res C.VkResult
	p := C.golem_vk_prog_create(d.p, unsafe.SliceData(r.ds), C.uint32_t(len(r.ds)), C.uint32_t(nq), &res)
	if p == nil {
		return nil, check("program setup", res)
	}
	cp := &cprog{p: p, nq: nq}
	if nq > 0 {
		cp.ticksM = C.calloc(C.size_t(nq), 8)
		if cp.ticksM == nil {
			C.golem_vk_prog_destroy(d.p, p)
			return nil, fmt.Errorf("out of host memory")
		}
		cp.ticks = unsafe.Slice((*C.uint64_t)(cp.ticksM), nq)
	}
	return cp, nil
}

// freeProgram destroys p.
func (d *cdev) freeProgram(p *cprog) {
	C.golem_vk_prog_destroy(d.p, p.p)
	if p.ticksM != nil {
		C.free(p.ticksM)
	}
	p.p = nil
}

// record writes the descriptor sets and records the command buffer; it
// returns the number of barriers between dispatches.
func (d *cdev) record(p *cprog, r *crecord) (int, error) {
	var ws *C.uint32_t
	if len(r.words) > 0 {
		ws = &r.words[0]
	}
	var bs *C.golem_vk_binding
	if len(r.bs) > 0 {
		bs = &r.bs[0]
	}
	var n C.uint32_t
	res := C.golem_vk_prog_record(d.p, p.p, unsafe.SliceData(r.ds), C.uint32_t(len(r.ds)), bs, ws,
		unsafe.SliceData(r.ranges), unsafe.SliceData(r.copies), C.uint32_t(len(r.copies)/2), &n)
	return int(n), check("recording", res)
}

// run submits p and waits, zeroing status first; it returns the timestamps
// (ticks) when p has queries.
func (d *cdev) run(p *cprog, status *cbuf, statusBytes int, timeoutNs uint64, ticks []uint64) error {
	var sm unsafe.Pointer
	if status != nil {
		sm = status.mapped()
	}
	var tp *C.uint64_t
	if p.nq > 0 {
		tp = &p.ticks[0]
	}
	if err := check("run", C.golem_vk_prog_run(d.p, p.p, sm, C.uint64_t(statusBytes), C.uint64_t(timeoutNs), tp)); err != nil {
		return err
	}
	for i := range ticks {
		if i < p.nq {
			ticks[i] = uint64(p.ticks[i])
		}
	}
	return nil
}

// statusWords returns the mapped status buffer as words.
func statusWords(b *cbuf, n int) []uint32 {
	m := b.mapped()
	if m == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(m), n)
}
