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

// system is libvulkan.so.1, loaded once and never unloaded.
var system struct {
	once sync.Once
	lib  *library
	err  string // dlopen's message when the loader is missing
}

// loadSystem loads libvulkan.so.1 the first time it is called.
func loadSystem() (*library, string) {
	system.once.Do(func() { system.lib, system.err = openLibrary(libName) })
	return system.lib, system.err
}

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

// probe lists the devices of the system's Vulkan loader.
func probe() []backend.Status {
	lib, msg := loadSystem()
	if lib == nil {
		return unavailable("vulkan: loader " + libName + " not found (" + msg + ")")
	}
	return lib.probe()
}

// probe creates an instance, lists its physical devices and destroys it.
func (l *library) probe() []backend.Status {
	r := (*C.golem_vk_probe_result)(C.calloc(1, C.sizeof_golem_vk_probe_result))
	if r == nil {
		return unavailable("vulkan: out of memory")
	}
	defer C.free(unsafe.Pointer(r))
	C.golem_vk_probe(l.lib, r)

	switch r.stage {
	case C.GOLEM_VK_OK:
	case C.GOLEM_VK_LOADER_1_0:
		return unavailable("vulkan: the loader supports only Vulkan 1.0, golem needs 1.2")
	case C.GOLEM_VK_MISSING_FUNCTION:
		return unavailable(fmt.Sprintf("vulkan: the loader has no %s", C.GoString(r.function)))
	default:
		msg := fmt.Sprintf("vulkan: %s failed: %s", C.GoString(r.function), resultName(int32(r.result)))
		if int32(r.result) == errIncompatibleDriver {
			msg += " (no Vulkan driver found)"
		}
		return unavailable(msg)
	}
	if r.count == 0 {
		return unavailable("vulkan: no Vulkan devices")
	}
	out := make([]backend.Status, 0, int(r.count))
	for i := 0; i < int(r.count); i++ {
		d := &r.devices[i]
		info := deviceInfo{
			Name:          C.GoString(&d.name[0]),
			APIVersion:    uint32(d.api_version),
			DriverVersion: uint32(d.driver_version),
			VendorID:      uint32(d.vendor_id),
			DeviceType:    int32(d.device_type),
			LocalBytes:    int64(d.device_local_bytes),
		}
		if d.has_uuid != 0 {
			info.UUID = C.GoBytes(unsafe.Pointer(&d.device_uuid[0]), 16)
		}
		if d.has_driver_props != 0 {
			info.DriverName = C.GoString(&d.driver_name[0])
			info.DriverInfo = C.GoString(&d.driver_info[0])
		}
		out = append(out, info.status(i))
	}
	return out
}
