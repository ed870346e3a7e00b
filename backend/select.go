package backend

import (
	"fmt"
	"strconv"
	"strings"
)

// SelectStatus returns the line of sts, a driver's Probe result, that
// selector chooses:
//
//   - "" chooses the first available device, or the first line when none is
//     available (so that its Reason explains why);
//   - a decimal number chooses the device with that Info.Index;
//   - anything else is compared, ignoring case, with Info.ID; an NVIDIA-style
//     "GPU-" prefix is ignored on both sides, so "GPU-<uuid>" and "<uuid>"
//     select the same device.
//
// When sts is the single line of a driver that could not list devices (its
// Device is the driver name, see Unavailable), that line answers any
// selector. The chosen line may be unavailable: callers check Available.
// The error for an unmatched selector wraps ErrNoDevice and lists the
// driver's devices.
func SelectStatus(driver string, sts []Status, selector string) (Status, error) {
	if len(sts) == 0 {
		return Status{}, fmt.Errorf("%s: %w: the driver lists none", driver, ErrNoDevice)
	}
	if len(sts) == 1 && sts[0].Device == driver {
		return sts[0], nil
	}
	if selector == "" {
		for _, st := range sts {
			if st.Available {
				return st, nil
			}
		}
		return sts[0], nil
	}
	if i, err := strconv.Atoi(selector); err == nil {
		for _, st := range sts {
			if st.Info.Index == i {
				return st, nil
			}
		}
	} else if id := trimGPUPrefix(selector); id != "" {
		for _, st := range sts {
			if st.Info.ID != "" && strings.EqualFold(trimGPUPrefix(st.Info.ID), id) {
				return st, nil
			}
		}
	}
	have := make([]string, len(sts))
	for i, st := range sts {
		have[i] = st.Device
	}
	return Status{}, fmt.Errorf("%s: %w %q (have %s)", driver, ErrNoDevice, selector, strings.Join(have, ", "))
}

// trimGPUPrefix removes a leading "GPU-" (any case) from id.
func trimGPUPrefix(id string) string {
	if len(id) >= 4 && strings.EqualFold(id[:4], "GPU-") {
		return id[4:]
	}
	return id
}

// Unavailable returns the single Status line of a driver that cannot list
// any device (no library, no driver, built without cgo): its Device is the
// driver name and reason says why.
func Unavailable(driver, reason string) []Status {
	return []Status{{
		Device: driver,
		Info:   DeviceInfo{Backend: driver},
		Reason: reason,
	}}
}
