// Package kubelet installs seccomp profiles where the kubelet reads
// Localhost profiles, below /var/lib/kubelet/seccomp, without following a
// symbolic link that a container could have planted there.
package kubelet

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/profiles"
)

// SeccompRoot is where the kubelet looks for Localhost profiles: a pod's
// localhostProfile "sysrec/web.json" is the file
// /var/lib/kubelet/seccomp/sysrec/web.json on its node.
const SeccompRoot = "/var/lib/kubelet/seccomp"

// File is a profile to install: Rel is its slash-separated path below the
// install directory, as a pod's localhostProfile names it after the
// directory ("ns/web/app.json").
type File struct {
	Rel  string
	Data []byte
}

// Install writes each file to root/dir/file.Rel, creating directories
// 0755 and files 0644. Every profile is parsed first and none is written
// if one is invalid.
//
// root is trusted (it is where the kubelet reads profiles); everything
// below it is not: it may be shared with containers that mount it. So no
// symbolic link below root is followed: each directory is opened relative
// to its parent with O_NOFOLLOW, and a link planted where a directory
// should be is an error. Each file is written to a temporary file in its
// directory and renamed over the target, so the kubelet sees the old
// profile or the new one, and a link at the target is replaced, not
// followed.
//
// It returns the paths written.
func Install(root, dir string, files []File) ([]string, error) {
	if err := CheckRel(dir); err != nil {
		return nil, fmt.Errorf("install directory %q: %w", dir, err)
	}
	var errs []error
	for _, f := range files {
		if err := CheckRel(f.Rel); err != nil {
			errs = append(errs, fmt.Errorf("profile path %q: %w", f.Rel, err))
			continue
		}
		if !strings.HasSuffix(f.Rel, ".json") {
			errs = append(errs, fmt.Errorf("profile path %q: want a name ending in .json", f.Rel))
			continue
		}
		if _, err := profiles.Parse(f.Data, f.Rel); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("not installing any profile: %w", errors.Join(errs...))
	}

	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the install root %s: %w", root, err)
	}
	defer unix.Close(rootFD)
	var written []string
	for _, f := range files {
		rel := path.Join(dir, f.Rel)
		target := filepath.Join(root, filepath.FromSlash(rel))
		if err := writeBelow(rootFD, rel, f.Data); err != nil {
			return written, fmt.Errorf("installing %s: %w", target, err)
		}
		written = append(written, target)
	}
	return written, nil
}

// CheckRel accepts a relative slash-separated path whose elements are
// plain names: no "..", ".", empty element, hidden name (which the
// temporary files use) or NUL.
func CheckRel(rel string) error {
	if rel == "" {
		return errors.New("empty path")
	}
	for _, e := range strings.Split(rel, "/") {
		switch {
		case e == "":
			return errors.New("want a relative path without empty elements")
		case e[0] == '.':
			return fmt.Errorf("element %q: want no \".\", \"..\" or hidden names", e)
		case strings.ContainsRune(e, 0):
			return fmt.Errorf("element %q: contains NUL", e)
		}
	}
	return nil
}

// writeBelow writes data to rel below the directory dirFD, creating the
// directories on the way without following links.
func writeBelow(dirFD int, rel string, data []byte) error {
	elems := strings.Split(rel, "/")
	fd := dirFD
	defer func() {
		if fd != dirFD {
			unix.Close(fd)
		}
	}()
	for _, e := range elems[:len(elems)-1] {
		next, err := openDir(fd, e)
		if err != nil {
			return err
		}
		if fd != dirFD {
			unix.Close(fd)
		}
		fd = next
	}
	return replaceAt(fd, elems[len(elems)-1], data)
}

// openDir opens, creating it 0755 if needed, the directory name in dirFD,
// and fails if name is a symbolic link or not a directory.
func openDir(dirFD int, name string) (int, error) {
	created := false
	if err := unix.Mkdirat(dirFD, name, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("creating directory %s: %w", name, err)
	}
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("%s is a symbolic link or not a directory: refusing to follow it; remove it if it is not meant to be there", name)
		}
		return -1, fmt.Errorf("opening directory %s: %w", name, err)
	}
	if created {
		// The umask may have taken bits from 0755.
		if err := unix.Fchmod(fd, 0o755); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setting the mode of directory %s: %w", name, err)
		}
	}
	return fd, nil
}

// replaceAt writes data to a temporary file in dirFD, syncs it and renames
// it to name.
func replaceAt(dirFD int, name string, data []byte) error {
	var tmp string
	var fd int
	for i := 0; ; i++ {
		tmp = fmt.Sprintf(".%s.tmp-%d-%d", name, os.Getpid(), i)
		var err error
		fd, err = unix.Openat(dirFD, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) || i >= 100 {
			return fmt.Errorf("creating a temporary file for %s: %w", name, err)
		}
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.Renameat(dirFD, tmp, dirFD, name)
	}
	if err != nil {
		unix.Unlinkat(dirFD, tmp, 0)
		return fmt.Errorf("writing %s: %w", name, err)
	}
	unix.Fsync(dirFD) // persist the rename; failing here is harmless
	return nil
}
