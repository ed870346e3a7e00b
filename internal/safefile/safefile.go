// Package safefile is the one place golem opens the files a user names:
// inputs are read only when they are regular files (a FIFO, device or
// socket is refused without blocking), and outputs are written through a
// temporary file in the same directory that replaces the target only when
// the whole file is written, never replaces anything but a regular file, and
// replaces an existing file only when the caller allows it (--force).
//
// Temporary files are removed on every exit path the program controls: an
// error, a cancelled context (Ctrl-C, SIGTERM), or Abort. For exits it does
// not control (a second Ctrl-C that must stop at once) RemoveTemps removes
// every temporary file still open.
package safefile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// ErrExists is returned by Create when the target exists and Force is not set.
var ErrExists = errors.New("already exists (pass --force to replace it)")

// ErrNotRegular is returned when a path names something other than a
// regular file (a directory, FIFO, device, socket or symbolic link) where
// golem needs a regular file.
var ErrNotRegular = errors.New("not a regular file")

// kind names what a non-regular file is, for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

// notRegular is the error for path of mode m.
func notRegular(op, path string, m fs.FileMode) error {
	return &os.PathError{Op: op, Path: path, Err: fmt.Errorf("%w: it is %s", ErrNotRegular, kind(m))}
}

// OpenRegular opens path for reading when it is a regular file. The open
// itself never blocks (a FIFO with no writer would block a plain open), and
// anything that is not a regular file is refused with an error naming the
// path and what it is.
func OpenRegular(path string) (*os.File, error) {
	if path == "" {
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("empty path")}
	}
	f, err := openNonblock(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, notRegular("open", path, st.Mode())
	}
	if err := clearNonblock(f); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return f, nil
}

// ReadFile reads the whole regular file at path; files larger than limit
// bytes (when limit > 0) are refused without being read.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if limit > 0 && st.Size() > limit {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("file of %d bytes exceeds the limit of %d", st.Size(), limit)}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return data, nil
}

// Options configure Create.
type Options struct {
	// Force allows replacing an existing regular file.
	Force bool
	// Perm is the new file's permission bits (0: 0o644).
	Perm fs.FileMode
}

// CheckTarget reports whether Create would accept path as a target: it
// must be non-empty, its directory must exist, and it must be absent or
// (with force) an existing regular file that is not read-only. Commands
// call it before long work so that a bad output path fails at once.
func CheckTarget(path string, force bool) error {
	if path == "" {
		return &os.PathError{Op: "create", Path: path, Err: errors.New("empty output path")}
	}
	dir := filepath.Dir(path)
	dst, err := os.Stat(dir)
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: fmt.Errorf("directory %s: %w", dir, unwrapPath(err))}
	}
	if !dst.IsDir() {
		return &os.PathError{Op: "create", Path: path, Err: fmt.Errorf("%s is not a directory", dir)}
	}
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return &os.PathError{Op: "create", Path: path, Err: unwrapPath(err)}
	case !st.Mode().IsRegular():
		return &os.PathError{Op: "create", Path: path, Err: fmt.Errorf("%w: it is %s; golem replaces only regular files", ErrNotRegular, kind(st.Mode()))}
	case st.Mode().Perm()&0o222 == 0:
		return &os.PathError{Op: "create", Path: path, Err: errors.New("the existing file is read-only; golem does not replace it")}
	case !force:
		return &os.PathError{Op: "create", Path: path, Err: ErrExists}
	}
	return nil
}

// unwrapPath returns the inner error of a *PathError, so messages do not
// repeat the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// File is an output being written: a temporary file beside the target.
// Write to it, then Commit to move it into place, or Abort; after either,
// further calls do nothing. Writes fail once ctx is done.
type File struct {
	ctx    context.Context
	path   string
	force  bool
	f      *os.File
	closed bool
}

// temps is the registry of temporary files not yet committed or aborted.
var temps = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// Create starts writing path (see CheckTarget for the rules). Nothing
// appears at path until Commit.
func Create(ctx context.Context, path string, o Options) (*File, error) {
	if err := CheckTarget(path, o.Force); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	perm := o.Perm
	if perm == 0 {
		perm = 0o644
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".golem-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, unwrapPath(err))
	}
	temps.Lock()
	temps.m[f.Name()] = true
	temps.Unlock()
	out := &File{ctx: ctx, path: path, force: o.Force, f: f}
	if err := f.Chmod(perm); err != nil {
		out.Abort()
		return nil, fmt.Errorf("create %s: %w", path, unwrapPath(err))
	}
	return out, nil
}

// Name returns the target path.
func (f *File) Name() string { return f.path }

// Write writes p to the temporary file; it fails once the context is done.
func (f *File) Write(p []byte) (int, error) {
	if f.closed {
		return 0, fmt.Errorf("write %s: %w", f.path, os.ErrClosed)
	}
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := f.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", f.path, unwrapPath(err))
	}
	return n, nil
}

// Commit flushes the temporary file and renames it over the target, after
// checking the target again (it may have changed since Create). On failure
// the temporary file is removed.
func (f *File) Commit() error {
	if f.closed {
		return fmt.Errorf("commit %s: %w", f.path, os.ErrClosed)
	}
	if err := f.ctx.Err(); err != nil {
		f.Abort()
		return err
	}
	if err := f.f.Sync(); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.path, unwrapPath(err))
	}
	if err := f.f.Close(); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.path, unwrapPath(err))
	}
	if err := CheckTarget(f.path, f.force); err != nil {
		f.Abort()
		return err
	}
	if err := os.Rename(f.f.Name(), f.path); err != nil {
		f.Abort()
		return fmt.Errorf("write %s: %w", f.path, unwrapLink(err))
	}
	f.forget()
	return nil
}

// Abort removes the temporary file; the target is left as it was. It is
// safe to call after Commit (it then does nothing), so `defer f.Abort()`
// covers every early return.
func (f *File) Abort() {
	if f.closed {
		return
	}
	_ = f.f.Close()
	_ = os.Remove(f.f.Name())
	f.forget()
}

// forget marks f done and drops its temporary file from the registry.
func (f *File) forget() {
	f.closed = true
	temps.Lock()
	delete(temps.m, f.f.Name())
	temps.Unlock()
}

// Write creates path (see Create), calls write with a buffered writer to
// the temporary file and commits it. When write fails, or ctx is cancelled,
// nothing is left behind and the target is unchanged.
func Write(ctx context.Context, path string, o Options, write func(w io.Writer) error) error {
	f, err := Create(ctx, path, o)
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

// unwrapLink returns the inner error of a *LinkError.
func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// RemoveTemps removes every temporary file that is neither committed nor
// aborted. It is for a program that must exit at once (a second
// interrupt) and so will not run its deferred Aborts.
func RemoveTemps() {
	temps.Lock()
	defer temps.Unlock()
	for name := range temps.m {
		_ = os.RemoveAll(name)
		delete(temps.m, name)
	}
}

// CreateTemp creates a temporary file in dir (os.CreateTemp's pattern)
// registered like the outputs' temporary files, so that RemoveTemps
// removes it too; RemoveTemp removes it in the normal course.
func CreateTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	temps.Lock()
	temps.m[f.Name()] = true
	temps.Unlock()
	return f, nil
}

// RemoveTemp removes a file made by CreateTemp (a file already gone is no
// error) and forgets it.
func RemoveTemp(name string) error {
	temps.Lock()
	delete(temps.m, name)
	temps.Unlock()
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// TempDir is a temporary directory (for example for a generated model)
// registered like the temporary files, so that RemoveTemps removes it too.
type TempDir struct {
	// Path is the directory's path.
	Path string
}

// MkdirTemp creates a registered temporary directory in dir ("" for the
// system's) with the name pattern of os.MkdirTemp.
func MkdirTemp(dir, pattern string) (*TempDir, error) {
	p, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	temps.Lock()
	temps.m[p] = true
	temps.Unlock()
	return &TempDir{Path: p}, nil
}

// Remove deletes the directory and everything in it.
func (d *TempDir) Remove() error {
	temps.Lock()
	delete(temps.m, d.Path)
	temps.Unlock()
	return os.RemoveAll(d.Path)
}
