//go:build cgo

package cuda

/*
#include <stdlib.h>
#include "shim.h"
#include "cublaslt.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// cuBLASLt, the second matmul implementation benchmarked beside golem's
// GEMM (variant "cublaslt"): the library is dlopened when a backend opens
// a GPU (not the emulator, whose memory cuBLASLt's kernels cannot run on).

// cublasLtNames are the libraries tried, in order.
var cublasLtNames = []string{"libcublasLt.so.13", "libcublasLt.so.12"}

// openCublasLt loads cuBLASLt for device d, or says why not.
func openCublasLt(d *device) (*C.golem_cublaslt, string) {
	if d.info.Emulated {
		return nil, "cuBLASLt needs a GPU (the emulator runs golem's kernels only)"
	}
	names := make([]*C.char, len(cublasLtNames)+1)
	for i, n := range cublasLtNames {
		names[i] = C.CString(n)
		defer C.free(unsafe.Pointer(names[i]))
	}
	cnames := (**C.char)(C.malloc(C.size_t(len(names)) * C.size_t(unsafe.Sizeof(names[0]))))
	defer C.free(unsafe.Pointer(cnames))
	copy(unsafe.Slice(cnames, len(names)), names)
	var buf [512]C.char
	var failed *C.char
	if r := C.golem_cu_ctx_current(d.lib.lib, d.ctx, &failed); r != 0 {
		return nil, "cuBLASLt: " + d.lib.fail(r, failed, "", "").Error()
	}
	lt := C.golem_cublaslt_open(cnames, d.ctx, &buf[0], C.size_t(len(buf)))
	if lt == nil {
		return nil, "cuBLASLt unavailable: " + C.GoString(&buf[0])
	}
	return lt, ""
}

// closeCublasLt releases lt (nil is fine).
func closeCublasLt(lt *C.golem_cublaslt) {
	if lt != nil {
		C.golem_cublaslt_close(lt)
	}
}

// cublasLtPlan makes the plan of a "cublaslt" launch from its words: M,
// N, K, the row length of x (Kp), bf16 (1) or f16 (0), the workspace
// offset (read by golem_cublaslt_run) and size.
func (b *cudaBackend) cublasLtPlan(l *launch) (unsafe.Pointer, error) {
	if b.lt == nil {
		return nil, errors.New(b.info.CublasLt)
	}
	if len(l.Words) != 7 {
		return nil, fmt.Errorf("cublaslt launch with %d words, want 7", len(l.Words))
	}
	w := func(i int) uint64 { return uint64(l.Words[i].Value) }
	var plan *C.golem_cublaslt_plan
	var buf [256]C.char
	var failed *C.char
	if r := C.golem_cu_ctx_current(b.dev.lib.lib, b.dev.ctx, &failed); r != 0 {
		return nil, b.dev.lib.fail(r, failed, "", "")
	}
	if st := C.golem_cublaslt_plan_create(b.lt, C.int(w(4)), C.uint64_t(w(0)), C.uint64_t(w(1)), C.uint64_t(w(2)), C.uint64_t(w(3)),
		C.size_t(w(6)), &plan, &buf[0], C.size_t(len(buf))); st != 0 {
		return nil, fmt.Errorf("cuBLASLt plan for %dx%dx%d: %s", w(0), w(1), w(2), C.GoString(&buf[0]))
	}
	return unsafe.Pointer(plan), nil
}

// destroyCublasLtPlan releases a plan from cublasLtPlan.
func destroyCublasLtPlan(p unsafe.Pointer) {
	C.golem_cublaslt_plan_destroy((*C.golem_cublaslt_plan)(p))
}
