package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sysrec/sysrec/internal/ociimage"
)

// defaultPath is the PATH of an image whose -env does not set one.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// options are mkimage's parsed command line.
type options struct {
	out, tag   string
	files      []ociimage.File
	busybox    string
	entrypoint []string
	cmd        []string
	env        []string
	labels     map[string]string
	workdir    string
	user       string
	arch       string
	created    time.Time
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// argvFlag is a command: a JSON array of strings, or words separated by
// white space.
type argvFlag struct{ argv *[]string }

func (a argvFlag) String() string {
	if a.argv == nil {
		return ""
	}
	return strings.Join(*a.argv, " ")
}

func (a argvFlag) Set(v string) error {
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		var argv []string
		if err := json.Unmarshal([]byte(v), &argv); err != nil {
			return fmt.Errorf("not a JSON array of strings: %w", err)
		}
		*a.argv = argv
		return nil
	}
	*a.argv = strings.Fields(v)
	return nil
}

const usage = `usage: mkimage -o FILE -tag REF [flags]

Builds a one-layer container image from host files, reproducibly (fixed
timestamps, root ownership, sorted entries), and writes it as a
docker-archive tar that 'ctr -n k8s.io images import FILE' and
'skopeo copy docker-archive:FILE containers-storage:REF' (CRI-O) read.
The image always holds /tmp (1777), /dev, /etc, /proc and /sys.

Example:
  mkimage -o bin/sysrec-image.tar -tag localhost/sysrec:dev \
    -file bin/sysrec-static:/usr/bin/sysrec -entrypoint /usr/bin/sysrec

Flags:
`

// parseArgs parses mkimage's command line.
func parseArgs(args []string, stderr io.Writer) (*options, error) {
	o := &options{labels: map[string]string{}}
	var files, dirs, links, envs, labels listFlag
	created := os.Getenv("SOURCE_DATE_EPOCH")
	fl := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	fl.StringVar(&o.out, "o", "", "the docker-archive `file` to write (required)")
	fl.StringVar(&o.tag, "tag", "", "the image's `reference`, such as localhost/sysrec:dev (required)")
	fl.Var(&files, "file", "`HOST:IMAGE[:MODE]`: copy the host file to the absolute image path, with the octal MODE or the host file's permissions (repeatable)")
	fl.Var(&dirs, "dir", "`IMAGE[:MODE]`: a directory, 0755 unless MODE is given (repeatable)")
	fl.Var(&links, "symlink", "`IMAGE:TARGET`: a symbolic link (repeatable)")
	fl.StringVar(&o.busybox, "busybox", "", "add this static busybox `binary` as /bin/busybox, with a /bin link for each of its applets")
	fl.Var(argvFlag{&o.entrypoint}, "entrypoint", "the `command` the image runs: a JSON array, or words separated by spaces")
	fl.Var(argvFlag{&o.cmd}, "cmd", "the default `arguments` (after the entrypoint, or the command without one): a JSON array, or words separated by spaces")
	fl.Var(&envs, "env", "`NAME=VALUE` in the image's environment (repeatable); PATH defaults to the usual directories")
	fl.Var(&labels, "label", "`NAME=VALUE`: an image label (repeatable)")
	fl.StringVar(&o.workdir, "workdir", "", "the working `directory`")
	fl.StringVar(&o.user, "user", "", "the `user` the image runs as, such as 65534 or 0:0")
	fl.StringVar(&o.arch, "arch", "", "the image's `GOARCH` (default: mkimage's own)")
	fl.StringVar(&created, "created", created, "the creation time of the image and its files, in Unix `seconds` (default $SOURCE_DATE_EPOCH, else 0)")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if o.out == "" || o.tag == "" {
		return nil, errors.New("-o and -tag are required")
	}
	if created != "" {
		secs, err := strconv.ParseInt(created, 10, 64)
		if err != nil || secs < 0 {
			return nil, fmt.Errorf("-created %q: not a number of seconds", created)
		}
		o.created = time.Unix(secs, 0)
	}

	o.files = ociimage.BaseLayout()
	for _, f := range files {
		file, err := parseFile(f)
		if err != nil {
			return nil, fmt.Errorf("-file %s: %w", f, err)
		}
		o.files = append(o.files, file)
	}
	for _, d := range dirs {
		p, mode, hasMode := strings.Cut(d, ":")
		perm := fs.FileMode(0o755)
		if hasMode {
			var err error
			if perm, err = parseMode(mode); err != nil {
				return nil, fmt.Errorf("-dir %s: %w", d, err)
			}
		}
		o.files = replace(o.files, ociimage.Dir(p, perm))
	}
	for _, l := range links {
		p, target, ok := strings.Cut(l, ":")
		if !ok || target == "" {
			return nil, fmt.Errorf("-symlink %s: want IMAGE:TARGET", l)
		}
		o.files = append(o.files, ociimage.Symlink(p, target))
	}

	pathSet := false
	for _, e := range envs {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-env %s: want NAME=VALUE", e)
		}
		pathSet = pathSet || k == "PATH"
		o.env = append(o.env, e)
	}
	if !pathSet {
		o.env = append([]string{defaultPath}, o.env...)
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-label %s: want NAME=VALUE", l)
		}
		o.labels[k] = v
	}
	if len(o.labels) == 0 {
		o.labels = nil
	}
	return o, nil
}

// parseFile parses HOST:IMAGE[:MODE].
func parseFile(v string) (ociimage.File, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ociimage.File{}, errors.New("want HOST:IMAGE[:MODE]")
	}
	fi, err := os.Stat(parts[0])
	if err != nil {
		return ociimage.File{}, err
	}
	if !fi.Mode().IsRegular() {
		return ociimage.File{}, fmt.Errorf("%s is not a regular file", parts[0])
	}
	perm := fi.Mode().Perm()
	if len(parts) == 3 {
		if perm, err = parseMode(parts[2]); err != nil {
			return ociimage.File{}, err
		}
	}
	return ociimage.File{Path: parts[1], Mode: perm, HostPath: parts[0]}, nil
}

// parseMode parses an octal mode such as 0755 or 1777 into permission
// bits and the setuid, setgid and sticky bits.
func parseMode(s string) (fs.FileMode, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, fmt.Errorf("mode %q: not an octal mode", s)
	}
	m := fs.FileMode(n & 0o777)
	if n&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// replace puts f in files in place of an entry of the base layout with the
// same path, or appends it.
func replace(files []ociimage.File, f ociimage.File) []ociimage.File {
	for i := range files {
		if files[i].Path == f.Path {
			files[i] = f
			return files
		}
	}
	return append(files, f)
}

// spec returns the image that the options describe.
func (o *options) spec() (ociimage.Spec, error) {
	files := o.files
	if o.busybox != "" {
		bb, err := ociimage.BusyboxFiles(o.busybox)
		if err != nil {
			return ociimage.Spec{}, err
		}
		files = append(files, bb...)
	}
	return ociimage.Spec{
		Files: files, Entrypoint: o.entrypoint, Cmd: o.cmd, Env: o.env, Labels: o.labels,
		WorkingDir: o.workdir, User: o.user, Architecture: o.arch, Created: o.created,
	}, nil
}
