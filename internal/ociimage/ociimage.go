// Package ociimage builds small, reproducible container images without a
// container engine: one layer made from a list of files, and an image
// config. It writes them as a docker-archive tar, the format that both
// `ctr images import` (containerd 1.6 and later) and CRI-O's
// `skopeo copy docker-archive:...` read.
//
// The same Spec always gives the same bytes, hence the same image id and
// manifest digest: every tar entry and the config carry Spec.Created (the
// Unix epoch by default), uid and gid 0, and entries are sorted by path.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sysrec/sysrec/internal/atomicfile"
)

// File is one entry of the image's layer.
type File struct {
	// Path is the absolute path in the image, such as /usr/bin/sysrec.
	Path string
	// Mode holds the permission bits (setuid, setgid and sticky included)
	// and the type: fs.ModeDir for a directory, fs.ModeSymlink for a
	// symbolic link, none for a regular file. Permission bits of 0 mean
	// 0755 for a directory, 0777 for a link and 0644 for a file.
	Mode fs.FileMode
	// Content is a regular file's content. When it is nil, the content is
	// read from HostPath.
	Content []byte
	// HostPath is the file on this machine that holds a regular file's
	// content.
	HostPath string
	// Target is a symbolic link's target.
	Target string
}

// Dir returns a directory entry.
func Dir(p string, perm fs.FileMode) File { return File{Path: p, Mode: fs.ModeDir | perm} }

// Symlink returns a symbolic link entry.
func Symlink(p, target string) File {
	return File{Path: p, Mode: fs.ModeSymlink | 0o777, Target: target}
}

// BaseLayout returns the directories that a minimal root file system
// holds: /tmp (1777) and the mount points /dev, /proc, /sys and /etc.
func BaseLayout() []File {
	return []File{
		Dir("/dev", 0o755), Dir("/etc", 0o755), Dir("/proc", 0o555),
		Dir("/sys", 0o555), Dir("/tmp", fs.ModeSticky|0o777),
	}
}

// Spec describes an image.
type Spec struct {
	Files      []File
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
	WorkingDir string
	User       string
	// Architecture is a GOARCH name; runtime.GOARCH when empty.
	Architecture string
	// Created stamps the config, its history and every layer entry; the
	// Unix epoch when zero.
	Created time.Time
}

// Build returns the image that spec describes. Parent directories that
// spec.Files does not list are added with mode 0755.
func Build(spec Spec) (v1.Image, error) {
	created := spec.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	created = created.UTC().Truncate(time.Second)
	layerTar, err := LayerTar(spec.Files, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "sysrec mkimage"},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture = spec.Architecture
	if cfg.Architecture == "" {
		cfg.Architecture = runtime.GOARCH
	}
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: created}
	cfg.Config = v1.Config{
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		Env:        spec.Env,
		Labels:     spec.Labels,
		WorkingDir: spec.WorkingDir,
		User:       spec.User,
	}
	return mutate.ConfigFile(img, cfg)
}

// LayerTar returns the uncompressed layer tar of files, with every entry
// stamped with mtime, owned by root, and sorted by path.
func LayerTar(files []File, mtime time.Time) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		p, err := cleanPath(f.Path)
		if err != nil {
			return nil, err
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("%s: listed twice", f.Path)
		}
		f.Path = p
		entries[p] = f
	}
	// The parents that the list leaves out.
	for p := range entries {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if e, ok := entries[d]; ok {
				if !e.Mode.IsDir() {
					return nil, fmt.Errorf("/%s: not a directory, but /%s is below it", d, p)
				}
				continue
			}
			entries[d] = Dir(d, 0o755)
		}
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := entries[p]
		hdr := &tar.Header{Name: p, ModTime: mtime, Format: tar.FormatPAX}
		perm := f.Mode.Perm()
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, p+"/"
			if perm == 0 {
				perm = 0o755
			}
		case f.Mode&fs.ModeSymlink != 0:
			if f.Target == "" {
				return nil, fmt.Errorf("/%s: symbolic link without a target", p)
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Target
			if perm == 0 {
				perm = 0o777
			}
		case f.Mode.IsRegular():
			hdr.Typeflag = tar.TypeReg
			if perm == 0 {
				perm = 0o644
			}
		default:
			return nil, fmt.Errorf("/%s: unsupported file type %s", p, f.Mode.Type())
		}
		hdr.Mode = int64(perm)
		if f.Mode&fs.ModeSetuid != 0 {
			hdr.Mode |= 0o4000
		}
		if f.Mode&fs.ModeSetgid != 0 {
			hdr.Mode |= 0o2000
		}
		if f.Mode&fs.ModeSticky != 0 {
			hdr.Mode |= 0o1000
		}
		var content []byte
		if hdr.Typeflag == tar.TypeReg {
			content = f.Content
			if content == nil {
				if f.HostPath == "" {
					return nil, fmt.Errorf("/%s: neither content nor a host path", p)
				}
				var err error
				if content, err = os.ReadFile(f.HostPath); err != nil {
					return nil, fmt.Errorf("/%s: %w", p, err)
				}
			}
			hdr.Size = int64(len(content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("/%s: %w", p, err)
		}
		if _, err := tw.Write(content); err != nil {
			return nil, fmt.Errorf("/%s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// cleanPath turns an absolute image path into a tar entry name.
func cleanPath(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("%q: not an absolute path", p)
	}
	c := strings.TrimPrefix(path.Clean(p), "/")
	if c == "" {
		return "", fmt.Errorf("%q: the root cannot be listed", p)
	}
	return c, nil
}

// WriteDockerArchive writes img, tagged ref (such as localhost/sysrec:dev),
// to w as a docker-archive tar.
func WriteDockerArchive(w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	return tarball.Write(tag, img, w)
}

// WriteDockerArchiveFile is WriteDockerArchive to the file at path, which
// it replaces only once the whole archive is written (internal/atomicfile).
func WriteDockerArchiveFile(path, ref string, img v1.Image) error {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := WriteDockerArchive(f, ref, img); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}
