// Package resource sizes jobs before they start: byte counts computed with
// overflow checks, and checks that a job fits in the machine's free memory
// or free disk, refused with the numbers ("needs 3.7 TiB on /tmp, 21.0 GiB
// free") before anything is allocated or written.
package resource

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"

	"github.com/golem-llm/golem/internal/sysinfo"
)

// ErrTooLarge is matched (errors.Is) by every refusal of this package.
var ErrTooLarge = errors.New("too large")

// tooLarge is a refusal whose message carries the numbers; it matches
// ErrTooLarge.
type tooLarge struct{ msg string }

func (e *tooLarge) Error() string        { return e.msg }
func (e *tooLarge) Is(target error) bool { return target == ErrTooLarge }

// refuse returns a tooLarge error with a formatted message.
func refuse(format string, args ...any) error {
	return &tooLarge{fmt.Sprintf(format, args...)}
}

// Mul returns the product of factors, or an error when a factor is negative
// or the product does not fit in an int64.
func Mul(factors ...int64) (int64, error) {
	p := uint64(1)
	for _, f := range factors {
		if f < 0 {
			return 0, fmt.Errorf("negative size %d", f)
		}
		hi, lo := bits.Mul64(p, uint64(f))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, refuse("the size product of %v overflows 64 bits", factors)
		}
		p = lo
	}
	return int64(p), nil
}

// Add returns the sum of terms, or an error when a term is negative or the
// sum does not fit in an int64.
func Add(terms ...int64) (int64, error) {
	var s int64
	for _, t := range terms {
		if t < 0 {
			return 0, fmt.Errorf("negative size %d", t)
		}
		if s > math.MaxInt64-t {
			return 0, refuse("a size sum overflows 64 bits")
		}
		s += t
	}
	return s, nil
}

// FormatBytes writes n in binary units: "512 B", "1.5 KiB", "3.7 TiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

// CheckMemory refuses a job that needs more than the host's available
// memory (MemAvailable; the check passes when it cannot be read). what
// names the job in the message.
func CheckMemory(what string, need int64) error {
	return checkMemory(what, need, sysinfo.MemAvailable())
}

func checkMemory(what string, need, avail int64) error {
	if avail > 0 && need > avail {
		return refuse("%s needs %s of memory, %s available", what, FormatBytes(need), FormatBytes(avail))
	}
	return nil
}

// CheckDisk refuses a job that writes more than the free space of the file
// system holding dir (the check passes when it cannot be read).
func CheckDisk(what, dir string, need int64) error {
	free, err := diskFree(dir)
	if err != nil {
		return nil
	}
	return checkDisk(what, dir, need, free)
}

func checkDisk(what, dir string, need, free int64) error {
	if need > free {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		return refuse("%s needs %s on %s, %s free", what, FormatBytes(need), dir, FormatBytes(free))
	}
	return nil
}
