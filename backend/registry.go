package backend

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Driver is the entry point of one kind of backend. Drivers call Register
// from an init function.
type Driver interface {
	// Name is the device-string prefix: "cpu", "cuda", "vulkan".
	Name() string
	// Probe lists the driver's devices, available or not, each with the
	// exact reason when it is not. A driver that cannot even list devices
	// returns one Status naming just the driver ("cuda") with the reason.
	Probe() []Status
	// Open opens the device chosen by selector: the part after the colon of
	// the device string ("" for none), an index, a stable id, or a
	// driver-specific name such as the CPU's "ref".
	Open(selector string, opts Options) (Backend, error)
}

// Status is one line of Probe: a device and whether it can be used.
type Status struct {
	Device    string     // device string ("cuda:0"), or the driver name when no device could be listed
	Info      DeviceInfo // what is known about the device
	Available bool       // whether Open would succeed
	Reason    string     // why not, when not available
}

var (
	mu      sync.RWMutex
	drivers = map[string]Driver{}
)

// autoOrder is the preference of the "auto" device string.
var autoOrder = []string{"cuda", "vulkan", "cpu"}

// Register makes a driver available by its name. It panics when called
// twice for the same name or with a nil driver, as database/sql.Register does.
func Register(d Driver) {
	mu.Lock()
	defer mu.Unlock()
	if d == nil {
		panic("backend: Register of a nil driver")
	}
	if _, dup := drivers[d.Name()]; dup {
		panic("backend: Register called twice for driver " + d.Name())
	}
	drivers[d.Name()] = d
}

// Drivers returns the names of the registered drivers, in auto-preference
// order, then alphabetically.
func Drivers() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	rank := func(n string) int {
		for i, a := range autoOrder {
			if a == n {
				return i
			}
		}
		return len(autoOrder)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

func driver(name string) (Driver, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := drivers[name]
	return d, ok
}

// Probe reports every device of every registered driver.
func Probe() []Status {
	var out []Status
	for _, name := range Drivers() {
		d, _ := driver(name)
		out = append(out, d.Probe()...)
	}
	return out
}

// ParseDevice splits a device string into driver name and selector:
// "cuda:0" gives ("cuda", "0"), "cpu" gives ("cpu", "").
func ParseDevice(device string) (name, selector string, err error) {
	device = strings.TrimSpace(device)
	if device == "" {
		return "", "", errors.New("backend: empty device string")
	}
	name, selector, _ = strings.Cut(device, ":")
	if name == "" {
		return "", "", fmt.Errorf("backend: device %q has no driver name", device)
	}
	return strings.ToLower(name), selector, nil
}

// Open opens a device by its string: "cpu", "cpu:ref", "cuda:0",
// "vulkan:1", "vulkan:<uuid>", or "auto" (the first available of CUDA,
// Vulkan and CPU; the logger in opts is told which).
func Open(device string, opts Options) (Backend, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	name, sel, err := ParseDevice(device)
	if err != nil {
		return nil, err
	}
	if name == "auto" {
		if sel != "" {
			return nil, fmt.Errorf("backend: device %q: auto takes no selector", device)
		}
		return openAuto(opts)
	}
	d, ok := driver(name)
	if !ok {
		return nil, fmt.Errorf("backend: device %q: no driver %q (registered: %s)", device, name, strings.Join(Drivers(), ", "))
	}
	b, err := d.Open(sel, opts)
	if err != nil {
		return nil, fmt.Errorf("backend: open %q: %w", device, err)
	}
	return b, nil
}

func openAuto(opts Options) (Backend, error) {
	var reasons []string
	for _, name := range autoOrder {
		d, ok := driver(name)
		if !ok {
			continue
		}
		for _, st := range d.Probe() {
			if !st.Available {
				reasons = append(reasons, st.Reason)
				continue
			}
			_, sel, _ := ParseDevice(st.Device)
			b, err := d.Open(sel, opts)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("%s: %v", st.Device, err))
				continue
			}
			opts.logger().Info("auto device", "picked", b.Name(), "name", b.Device().Name)
			return b, nil
		}
	}
	return nil, fmt.Errorf("backend: auto: no device available (%s)", strings.Join(reasons, "; "))
}
