//go:build cgo

package cuda

// The driver library: loading, probing and errors. Every cgo call of the
// package is in this file and driver_cgo.go; the C side is shim.c.

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

// library is a loaded driver library.
type library struct {
	lib  *C.golem_cuda_lib
	path string
	// emulator is set for golem's emulated driver.
	emulator bool
	// version is cuDriverGetVersion's answer after init.
	version int
}

// loadSystem loads the driver library (libraryPath) the first time it is
// called and returns the same library (never unloaded), or the reason it
// cannot be loaded, on every call.
var loadSystem = sync.OnceValues(func() (*library, string) {
	path := libraryPath()
	lib, msg := openLibrary(path)
	if lib == nil {
		return nil, notFound(path, msg)
	}
	return lib, ""
})

// openLibrary dlopens path; on failure it returns the loader's message.
func openLibrary(path string) (*library, string) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [512]C.char
	lib := C.golem_cuda_open(cpath, &buf[0], C.size_t(len(buf)))
	if lib == nil {
		return nil, C.GoString(&buf[0])
	}
	return &library{lib: lib, path: path, emulator: C.golem_cuda_is_emulator(lib) != 0}, ""
}

// syncs returns how many times the shim has waited on the device from the
// host through l (stream, event and context synchronisations), for the
// tests that count the waits of a decode step.
func (l *library) syncs() uint64 { return uint64(C.golem_cuda_syncs(l.lib)) }

// allocs returns how many device and pinned host allocations the shim has
// made through l, for the tests that check a decode step makes none.
func (l *library) allocs() uint64 { return uint64(C.golem_cuda_allocs(l.lib)) }

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

// fail turns the failed driver call named failed into an *Error. When that
// call is main, its text is main(args).
func (l *library) fail(r C.CUresult, failed *C.char, main, args string) *Error {
	call := "?"
	if failed != nil {
		call = C.GoString(failed)
	}
	if call == main && args != "" {
		call += "(" + args + ")"
	}
	var name [256]C.char
	C.golem_cuda_error_name(l.lib, r, &name[0], C.size_t(len(name)))
	e := &Error{Call: call, Code: int(r), Name: C.GoString(&name[0])}
	full := l.errorText(r)
	if n := len(e.Name); len(full) > n+3 && full[:n] == e.Name && full[n:n+2] == " (" {
		e.Text = full[n+2 : len(full)-1]
	}
	if l.emulator {
		var detail [2048]C.char
		C.golem_cuda_detail(l.lib, &detail[0], C.size_t(len(detail)))
		e.Detail = C.GoString(&detail[0])
	}
	return e
}

// probe lists the devices of the driver library.
func probe() []backend.Status {
	lib, reason := loadSystem()
	if lib == nil {
		return unavailable(reason)
	}
	return lib.probe()
}

// init calls cuInit and reads the driver version and the device count.
func (l *library) init() (count int, err error) {
	var version, n C.int
	var failed *C.char
	if r := C.golem_cuda_init(l.lib, &version, &n, &failed); r != 0 {
		return 0, fmt.Errorf("cuda: %s failed: %s", C.GoString(failed), l.errorText(r))
	}
	l.version = int(version)
	return int(n), nil
}

// probe lists the devices of l.
func (l *library) probe() []backend.Status {
	count, err := l.init()
	if err != nil {
		return unavailable(err.Error())
	}
	if count <= 0 {
		return unavailable("cuda: no CUDA devices")
	}
	out := make([]backend.Status, 0, count)
	for i := 0; i < count; i++ {
		info, err := l.device(i)
		if err != nil {
			out = append(out, backend.Status{
				Device: fmt.Sprintf("%s:%d", driverName, i),
				Info:   backend.DeviceInfo{Backend: driverName, Index: i},
				Reason: err.Error(),
			})
			continue
		}
		out = append(out, info.status(i))
	}
	return out
}

// device reads device i (after init).
func (l *library) device(i int) (deviceInfo, error) {
	var d C.golem_cuda_device
	C.golem_cuda_device_info(l.lib, C.int(i), &d)
	if d.err != 0 {
		return deviceInfo{}, fmt.Errorf("cuda: device %d: %s failed: %s", i, C.GoString(d.failed), l.errorText(d.err))
	}
	info := deviceInfo{
		Name:           C.GoString(&d.name[0]),
		TotalMem:       int64(d.total_mem),
		CCMajor:        int(d.cc_major),
		CCMinor:        int(d.cc_minor),
		SMCount:        int(d.sm_count),
		Integrated:     d.integrated != 0,
		DriverVersion:  l.version,
		SharedPerBlock: int(d.shared_per_block),
		SharedOptin:    int(d.shared_optin),
	}
	info.Emulated = l.emulator && isEmulatorName(info.Name)
	if m := C.golem_cuda_missing(l.lib); m != nil {
		info.Missing = C.GoString(m)
	}
	for j := range info.UUID {
		info.UUID[j] = byte(d.uuid[j])
	}
	return info, nil
}
