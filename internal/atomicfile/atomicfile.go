// Package atomicfile writes files that users rely on so that a reader
// sees either the old content or the new, never a torn write: data goes to
// a temporary file in the same directory, which is synced and then put in
// place of the target in one step.
//
// The temporary file has no name (O_TMPFILE) until Commit links it into
// the directory and renames it over the target, so a process killed
// before Commit, even by SIGKILL, leaves nothing behind: the kernel frees
// the unnamed file with its last descriptor. Where the file system does
// not support O_TMPFILE, a named temporary file beside the target is used
// instead, which only Abort or Commit removes.
//
// Create opens the temporary file at once, so a path that cannot be
// written fails before any long work that would produce its content. An
// existing path that is not a regular file (a device such as /dev/null, a
// FIFO, /dev/stdout) is written in place: there is nothing to replace, and
// renaming over it would destroy it.
package atomicfile

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// File is a pending write of one file.
type File struct {
	*os.File
	path    string
	perm    os.FileMode
	done    bool
	inPlace bool   // a device or FIFO, written directly
	tmp     string // the named temporary file; "" for an unnamed one
}

// Create starts writing path. Nothing is visible at path until Commit.
func Create(path string, perm os.FileMode) (*File, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, fmt.Errorf("writing %s: is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, unwrapPath(err))
		}
		return &File{File: f, path: path, inPlace: true}, nil
	}
	dir := filepath.Dir(path)
	f, err := createUnnamed(dir, path)
	if err == nil {
		return &File{File: f, path: path, perm: perm}, nil
	}
	if !unnamedUnsupported(err) {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return createNamed(dir, path, perm)
}

// createUnnamed opens an unnamed file in dir, which Commit links in.
func createUnnamed(dir, path string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	// Commit links the file in through its /proc/self/fd link; without
	// /proc, a named file is the way that works.
	if err := unix.Access(procFD(fd), unix.F_OK); err != nil {
		unix.Close(fd)
		return nil, unix.EOPNOTSUPP
	}
	return os.NewFile(uintptr(fd), path), nil
}

// unnamedUnsupported reports whether an O_TMPFILE open failed because the
// kernel or the file system lacks it, rather than because the directory
// cannot be written: a file system without it says EOPNOTSUPP, a kernel
// older than 3.11 sees O_DIRECTORY|O_WRONLY and says EISDIR, and some
// say EINVAL.
func unnamedUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL)
}

// createNamed creates a named temporary file beside path.
func createNamed(dir, path string, perm os.FileMode) (*File, error) {
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, unwrapPath(err))
	}
	return &File{File: f, path: path, perm: perm, tmp: f.Name()}, nil
}

// Commit makes the written content visible at the path.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("writing %s: already committed or aborted", f.path)
	}
	f.done = true
	if f.inPlace {
		if err := f.File.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
		return nil
	}
	err := f.Chmod(f.perm)
	if err == nil {
		err = f.Sync()
	}
	if err == nil && f.tmp == "" {
		err = f.linkUnnamed()
	}
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil && f.tmp != "" {
		err = os.Rename(f.tmp, f.path)
	}
	if err != nil {
		if f.tmp != "" {
			os.Remove(f.tmp)
		}
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	// Persist the link or rename itself; failing to sync a directory is
	// harmless.
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// linkUnnamed gives the unnamed file the target's name. A link cannot
// replace a file, so where one exists the file is linked under a random
// name and renamed over it at once: the random name exists only between
// those two calls.
func (f *File) linkUnnamed() error {
	src := procFD(int(f.Fd()))
	err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, f.path, unix.AT_SYMLINK_FOLLOW)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	dir, base := filepath.Split(f.path)
	for try := 0; ; try++ {
		tmp := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64(), 36))
		err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW)
		if errors.Is(err, unix.EEXIST) && try < 100 {
			continue
		}
		if err != nil {
			return err
		}
		if err := unix.Rename(tmp, f.path); err != nil {
			unix.Unlink(tmp)
			return err
		}
		return nil
	}
}

// procFD is the /proc link through which fd can be linked into a
// directory.
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// Abort discards the write. It is a no-op after Commit, so it can be
// deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	f.File.Close()
	if f.tmp == "" {
		return nil // an unnamed file goes with its descriptor
	}
	return os.Remove(f.tmp)
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// unwrapPath drops the temporary name from a *PathError, which would only
// confuse a user: the error is about the directory.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
