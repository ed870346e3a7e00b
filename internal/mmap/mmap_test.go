package mmap

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.bin")
	require.NoError(t, os.WriteFile(full, []byte("hello, mapping"), 0o644))
	empty := filepath.Join(dir, "empty.bin")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	tests := []struct {
		name    string
		path    string
		want    []byte
		wantErr string
	}{
		{"file", full, []byte("hello, mapping"), ""},
		{"empty", empty, []byte{}, ""},
		{"missing", filepath.Join(dir, "missing.bin"), nil, "missing.bin"},
		{"directory", dir, nil, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(tc.path)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, err, tc.path)
				require.Nil(t, f)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, f.Data)
			require.NoError(t, f.Close())
			require.Nil(t, f.Data)
			require.NoError(t, f.Close(), "Close is idempotent")
		})
	}
}

func TestCloseNil(t *testing.T) {
	var f *File
	require.NoError(t, f.Close())
}

func TestOpenWith(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	require.NoError(t, os.WriteFile(path, []byte("abc"), 0o644))
	bad := errors.New("bad data")
	tests := []struct {
		name    string
		path    string
		parse   func(string, []byte) (string, error)
		want    string
		wantErr string
	}{
		{"ok", path, func(name string, data []byte) (string, error) { return name + "=" + string(data), nil }, path + "=abc", ""},
		{"parse error", path, func(string, []byte) (string, error) { return "x", bad }, "", "bad data"},
		{"missing", filepath.Join(dir, "missing.bin"), nil, "", "fmt: open " + filepath.Join(dir, "missing.bin")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, m, err := OpenWith("fmt", tc.path, tc.parse)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Zero(t, v)
				require.Nil(t, m)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
			require.NoError(t, m.Close())
		})
	}
}
