//go:build unix

package safefile

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// entries returns the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	require.NoError(t, os.WriteFile(reg, []byte("hello"), 0o644))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(reg, link))
	tests := []struct {
		name, path, want string
	}{
		{"regular", reg, ""},
		{"symlink to a regular file is read", link, ""},
		{"fifo refused without blocking", fifo, "a named pipe (FIFO)"},
		{"directory", dir, "a directory"},
		{"character device", "/dev/null", "a character device"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"empty path", "", "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := ReadFile(tt.path, 0)
			if tt.want == "" {
				require.NoError(t, err)
				require.Equal(t, "hello", string(data))
				return
			}
			require.ErrorContains(t, err, tt.want)
			if tt.path != "" {
				require.ErrorContains(t, err, tt.path)
			}
		})
	}
	_, err := ReadFile(reg, 3)
	require.ErrorContains(t, err, "exceeds the limit of 3")
}

func TestCreateTargets(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	require.NoError(t, os.WriteFile(existing, []byte("old"), 0o644))
	readonly := filepath.Join(dir, "readonly")
	require.NoError(t, os.WriteFile(readonly, []byte("old"), 0o444))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(existing, link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	tests := []struct {
		name  string
		path  string
		force bool
		want  string // error text; "" for success
		is    error
	}{
		{"new file", filepath.Join(dir, "new"), false, "", nil},
		{"existing without force", existing, false, "already exists", ErrExists},
		{"existing with force", existing, true, "", nil},
		{"read-only even with force", readonly, true, "read-only", nil},
		{"symlink is not followed or replaced", link, true, "a symbolic link", ErrNotRegular},
		{"fifo", fifo, true, "a named pipe", ErrNotRegular},
		{"directory", dir, true, "a directory", ErrNotRegular},
		{"device", "/dev/null", true, "a character device", ErrNotRegular},
		{"empty path", "", true, "empty output path", nil},
		{"missing directory", filepath.Join(dir, "no", "out"), false, "no such file or directory", nil},
		{"parent is a file", filepath.Join(existing, "out"), false, "is not a directory", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Create(context.Background(), tt.path, Options{Force: tt.force})
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				if tt.is != nil {
					require.ErrorIs(t, err, tt.is)
				}
				return
			}
			require.NoError(t, err)
			_, err = f.Write([]byte("new"))
			require.NoError(t, err)
			require.NoError(t, f.Commit())
			data, err := os.ReadFile(tt.path)
			require.NoError(t, err)
			require.Equal(t, "new", string(data))
		})
	}
	// Nothing was replaced that should not be, and no temporary file is left.
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.True(t, st.Mode()&fs.ModeSymlink != 0)
	st, err = os.Lstat(fifo)
	require.NoError(t, err)
	require.True(t, st.Mode()&fs.ModeNamedPipe != 0)
	data, err := os.ReadFile(readonly)
	require.NoError(t, err)
	require.Equal(t, "old", string(data))
	require.ElementsMatch(t, []string{"existing", "readonly", "link", "fifo", "new"}, entries(t, dir))
}

func TestCreateAbortAndCancel(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")

	// Abort leaves nothing behind; a later Commit fails.
	f, err := Create(context.Background(), target, Options{})
	require.NoError(t, err)
	_, err = f.Write([]byte("partial"))
	require.NoError(t, err)
	f.Abort()
	require.Empty(t, entries(t, dir))
	require.ErrorIs(t, f.Commit(), os.ErrClosed)

	// A cancelled context makes writes fail and Commit remove the temporary file.
	ctx, cancel := context.WithCancel(context.Background())
	f, err = Create(ctx, target, Options{})
	require.NoError(t, err)
	cancel()
	_, err = f.Write([]byte("x"))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, f.Commit(), context.Canceled)
	require.Empty(t, entries(t, dir))

	// The target appearing meanwhile is not replaced.
	f, err = Create(context.Background(), target, Options{})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(target, []byte("theirs"), 0o644))
	require.ErrorIs(t, f.Commit(), ErrExists)
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "theirs", string(data))
	require.Equal(t, []string{"out"}, entries(t, dir))
}

func TestRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(context.Background(), filepath.Join(dir, "a"), Options{})
	require.NoError(t, err)
	scratch, err := CreateTemp(dir, ".scratch-*.tmp")
	require.NoError(t, err)
	defer scratch.Close()
	td, err := MkdirTemp(dir, "work-*")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(td.Path, "model.gguf"), []byte("x"), 0o644))
	require.Len(t, entries(t, dir), 3)
	RemoveTemps()
	require.Empty(t, entries(t, dir))
	require.ErrorIs(t, f.Commit(), fs.ErrNotExist)
}
