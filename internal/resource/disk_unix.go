//go:build unix

package resource

import (
	"math"

	"golang.org/x/sys/unix"
)

// diskFree returns the bytes an unprivileged user may still write on the
// file system holding dir.
func diskFree(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	if st.Bsize > 0 && free/uint64(st.Bsize) != uint64(st.Bavail) || free > math.MaxInt64 {
		return math.MaxInt64, nil
	}
	return int64(free), nil
}
