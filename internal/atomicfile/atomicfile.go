// Package atomicfile writes files that users rely on so that a reader
// sees either the old content or the new, never a torn write: data goes to
// a temporary file in the same directory, which is synced and renamed over
// the target.
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
	"os"
	"path/filepath"
)

// File is a pending write of one file.
type File struct {
	*os.File
	path    string
	perm    os.FileMode
	done    bool
	inPlace bool // a device or FIFO, written directly
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
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, unwrapPath(err))
	}
	return &File{File: f, path: path, perm: perm}, nil
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
	tmp := f.Name()
	err := f.Chmod(f.perm)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	// Persist the rename itself; failing to sync a directory is harmless.
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort discards the write. It is a no-op after Commit, so it can be
// deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	f.File.Close()
	if f.inPlace {
		return nil
	}
	return os.Remove(f.Name())
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
