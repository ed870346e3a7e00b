package backend

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSelectStatus(t *testing.T) {
	dev := func(index int, id string, available bool) Status {
		st := Status{
			Device:    "gpu:" + strconv.Itoa(index),
			Info:      DeviceInfo{Backend: "gpu", Index: index, ID: id},
			Available: available,
		}
		if !available {
			st.Reason = "gpu: device " + st.Device + " is busy"
		}
		return st
	}
	nvidia := []Status{ // IDs as CUDA writes them
		dev(0, "GPU-aa000000-0000-0000-0000-000000000001", true),
		dev(1, "GPU-bb000000-0000-0000-0000-000000000001", true),
	}
	plain := []Status{ // IDs as Vulkan writes them; the first is unusable
		dev(0, "aa000000-0000-0000-0000-000000000001", false),
		dev(1, "", true),
		dev(2, "cc000000-0000-0000-0000-000000000001", true),
	}
	down := []Status{dev(0, "", false), dev(1, "", false)}
	tests := []struct {
		name     string
		sts      []Status
		selector string
		want     string // Device of the chosen line; "" when an error is expected
		errText  string
	}{
		{"empty selector is the first", nvidia, "", "gpu:0", ""},
		{"empty selector skips unavailable", plain, "", "gpu:1", ""},
		{"empty selector, none available, is the first", down, "", "gpu:0", ""},
		{"index", nvidia, "1", "gpu:1", ""},
		{"index of an unavailable device", plain, "0", "gpu:0", ""},
		{"uuid as listed", nvidia, "GPU-bb000000-0000-0000-0000-000000000001", "gpu:1", ""},
		{"uuid without prefix", nvidia, "bb000000-0000-0000-0000-000000000001", "gpu:1", ""},
		{"uuid any case", nvidia, "gpu-BB000000-0000-0000-0000-000000000001", "gpu:1", ""},
		{"plain uuid with prefix", plain, "GPU-cc000000-0000-0000-0000-000000000001", "gpu:2", ""},
		{"plain uuid", plain, "CC000000-0000-0000-0000-000000000001", "gpu:2", ""},
		{"index out of range", nvidia, "7", "", `gpu: no such device "7" (have gpu:0, gpu:1)`},
		{"negative index", plain, "-1", "", `gpu: no such device "-1" (have gpu:0, gpu:1, gpu:2)`},
		{"unknown uuid", nvidia, "GPU-x", "", `gpu: no such device "GPU-x"`},
		{"bare prefix matches no empty id", plain, "GPU-", "", `gpu: no such device "GPU-"`},
		{"driver line answers any selector", Unavailable("gpu", "gpu: no driver"), "3", "gpu", ""},
		{"nothing at all", nil, "", "", "gpu: no such device: the driver lists none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := SelectStatus("gpu", tt.sts, tt.selector)
			if tt.errText != "" {
				require.ErrorIs(t, err, ErrNoDevice)
				require.ErrorContains(t, err, tt.errText)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, st.Device)
		})
	}
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		driver, reason string
	}{
		{"cuda", "cuda: built without cgo"},
		{"vulkan", "vulkan: no Vulkan devices"},
	}
	for _, tt := range tests {
		t.Run(tt.driver, func(t *testing.T) {
			require.Equal(t, []Status{{
				Device: tt.driver,
				Info:   DeviceInfo{Backend: tt.driver},
				Reason: tt.reason,
			}}, Unavailable(tt.driver, tt.reason))
		})
	}
}
