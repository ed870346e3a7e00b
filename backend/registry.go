package backend

import (
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

// Describer is an optional interface of a Driver, found by type assertion:
// it says what the driver computes with, for help text that describes what
// the binary can do.
type Describer interface {
	// Describe returns one line on what the driver runs on and the forms of
	// device string it opens ("vulkan:N"); no forms when this build of the
	// driver can open no device at all (say, built without cgo).
	Describe() (summary string, forms []string)
}

// Description is what Descriptions reports of one driver.
type Description struct {
	Name    string   // the driver's name ("vulkan")
	Summary string   // what it runs on ("" when the driver does not say)
	Forms   []string // the device strings it opens ("vulkan:N")
}

// Descriptions describes every registered driver, in Drivers order.
func Descriptions() []Description {
	var out []Description
	for _, name := range Drivers() {
		d, _ := driver(name)
		desc := Description{Name: name, Forms: []string{name}}
		if ds, ok := d.(Describer); ok {
			desc.Summary, desc.Forms = ds.Describe()
		}
		out = append(out, desc)
	}
	return out
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

// driverOrder is the order in which Drivers and Probe list the drivers it
// names (the others follow alphabetically). It is also how auto breaks a
// tie between devices of one type: a GPU seen by both CUDA and Vulkan is
// opened through CUDA.
var driverOrder = []string{"cuda", "vulkan", "cpu"}

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

// Drivers returns the names of the registered drivers: cuda, vulkan and
// cpu first, the others alphabetically.
func Drivers() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	rank := func(n string) int {
		for i, a := range driverOrder {
			if a == n {
				return i
			}
		}
		return len(driverOrder)
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
		return "", "", fmt.Errorf("backend: %w: empty device string", ErrNoDevice)
	}
	name, selector, _ = strings.Cut(device, ":")
	if name == "" {
		return "", "", fmt.Errorf("backend: device %q: %w: no driver name", device, ErrNoDevice)
	}
	return strings.ToLower(name), selector, nil
}

// Open opens a device by its string: "cpu", "cpu:ref", "cuda:0",
// "vulkan:1", "vulkan:<uuid>", or "auto" (the best available device by
// type, see Rank; the logger in opts is told which). A device string that
// names no device gives an error wrapping ErrNoDevice; a device that
// exists but cannot be used, one wrapping ErrUnavailable.
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
			return nil, fmt.Errorf("backend: device %q: %w: auto takes no selector", device, ErrNoDevice)
		}
		return openAuto(opts)
	}
	d, ok := driver(name)
	if !ok {
		return nil, fmt.Errorf("backend: device %q: %w: no driver %q (registered: %s)", device, ErrNoDevice, name, strings.Join(Drivers(), ", "))
	}
	b, err := d.Open(sel, opts)
	if err != nil {
		return nil, fmt.Errorf("backend: open %q: %w", device, err)
	}
	return b, nil
}

// openAuto opens the first device of Rank's order that opens, and logs
// which it took and why.
func openAuto(opts Options) (Backend, error) {
	log := opts.logger()
	sts := Probe()
	if len(sts) == 0 {
		return nil, fmt.Errorf("backend: auto: %w: no driver is registered", ErrNoDevice)
	}
	rank := Rank(sts)
	var order []int // indices of sts in rank order
	var reasons []string
	for i, st := range sts {
		switch {
		case rank[i] > 0:
			order = append(order, i)
		case !st.Available:
			reasons = append(reasons, st.Reason)
		}
	}
	sort.Slice(order, func(a, b int) bool { return rank[order[a]] < rank[order[b]] })
	for _, i := range order {
		st := sts[i]
		name, sel, _ := ParseDevice(st.Device)
		d, ok := driver(name)
		if !ok {
			continue
		}
		b, err := d.Open(sel, opts)
		if err != nil {
			log.Warn("auto: device did not open, trying the next", "device", st.Device, "err", err)
			reasons = append(reasons, fmt.Sprintf("%s: %v", st.Device, err))
			continue
		}
		log.Info("auto device", "picked", b.Name(), "type", st.Info.Type.String(), "rank", rank[i],
			"name", b.Device().Name)
		return b, nil
	}
	return nil, fmt.Errorf("backend: auto: %w: no device can be used (%s)", ErrUnavailable, strings.Join(reasons, "; "))
}
