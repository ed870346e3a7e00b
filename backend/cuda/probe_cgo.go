//go:build cgo

package cuda

// All cgo calls of the CUDA driver are in this file; the C side is shim.c.

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

// libName is the driver library, found by the dynamic loader's search path.
const libName = "libcuda.so.1"

// library is a loaded driver library.
type library struct {
	lib *C.golem_cuda_lib
}

// loadSystem loads libcuda.so.1 the first time it is called and returns the
// same library (never unloaded), or dlopen's message when the library is
// missing, on every call.
var loadSystem = sync.OnceValues(func() (*library, string) { return openLibrary(libName) })

// openLibrary dlopens path; on failure it returns the loader's message.
func openLibrary(path string) (*library, string) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	lib := C.golem_cuda_open(cpath, &buf[0], C.size_t(len(buf)))
	if lib == nil {
		return nil, C.GoString(&buf[0])
	}
	return &library{lib: lib}, ""
}

// close unloads a library opened by openLibrary (used by tests).
func (l *library) close() {
	C.golem_cuda_close(l.lib)
	l.lib = nil
}

// errorText returns "CUDA_ERROR_X (description)" for r.
func (l *library) errorText(r C.CUresult) string {
	var buf [256]C.char
	C.golem_cuda_error_text(l.lib, r, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// probe lists the devices of the system's driver.
func probe() []backend.Status {
	lib, msg := loadSystem()
	if lib == nil {
		return unavailable("cuda: " + libName + " not found (" + msg + ")")
	}
	return lib.probe()
}

// probe lists the devices of l.
func (l *library) probe() []backend.Status {
	var version, count C.int
	var failed *C.char
	if r := C.golem_cuda_init(l.lib, &version, &count, &failed); r != 0 {
		return unavailable(fmt.Sprintf("cuda: %s failed: %s", C.GoString(failed), l.errorText(r)))
	}
	if count <= 0 {
		return unavailable("cuda: no CUDA devices")
	}
	out := make([]backend.Status, 0, int(count))
	for i := 0; i < int(count); i++ {
		var d C.golem_cuda_device
		C.golem_cuda_device_info(l.lib, C.int(i), &d)
		if d.err != 0 {
			out = append(out, backend.Status{
				Device: fmt.Sprintf("%s:%d", driverName, i),
				Info:   backend.DeviceInfo{Backend: driverName, Index: i},
				Reason: fmt.Sprintf("cuda: device %d: %s failed: %s", i, C.GoString(d.failed), l.errorText(d.err)),
			})
			continue
		}
		info := deviceInfo{
			Name:          C.GoString(&d.name[0]),
			TotalMem:      int64(d.total_mem),
			CCMajor:       int(d.cc_major),
			CCMinor:       int(d.cc_minor),
			SMCount:       int(d.sm_count),
			Integrated:    d.integrated != 0,
			DriverVersion: int(version),
		}
		for j := range info.UUID {
			info.UUID[j] = byte(d.uuid[j])
		}
		out = append(out, info.status(i))
	}
	return out
}
