// Package sysinfo reads facts about the host from Linux's /proc files: the
// CPU model name, the total and the available memory. Elsewhere, or when a file cannot be
// read, it falls back to the architecture name and zero.
package sysinfo

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// CPUModel returns the "model name" of /proc/cpuinfo, or runtime.GOARCH
// when it cannot be read.
func CPUModel() string {
	if v, ok := field("/proc/cpuinfo", "model name"); ok && v != "" {
		return v
	}
	return runtime.GOARCH
}

// MemTotal returns MemTotal of /proc/meminfo in bytes, or 0 when it cannot
// be read.
func MemTotal() int64 {
	v, ok := field("/proc/meminfo", "MemTotal")
	if !ok {
		return 0
	}
	return parseKB(v)
}

// MemAvailable returns MemAvailable of /proc/meminfo in bytes (memory
// that can be allocated without swapping), or 0 when it cannot be read.
func MemAvailable() int64 {
	v, ok := field("/proc/meminfo", "MemAvailable")
	if !ok {
		return 0
	}
	return parseKB(v)
}

// field returns the trimmed value of the first non-empty "key: value" line
// with the given key in the file at path.
func field(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	return scanField(f, key)
}

// scanField is field reading from r.
func scanField(r io.Reader, key string) (string, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != key {
			continue
		}
		if v = strings.TrimSpace(v); v != "" {
			return v, true
		}
	}
	return "", false
}

// parseKB converts a /proc/meminfo value such as "16318712 kB" to bytes,
// or 0 when it is malformed.
func parseKB(v string) int64 {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return 0
	}
	kb, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || kb < 0 || kb > (1<<63-1)/1024 {
		return 0
	}
	return kb * 1024
}
