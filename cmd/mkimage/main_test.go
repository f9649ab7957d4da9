package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// mkimage runs mkimage and returns its exit status and output.
func mkimage(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	status := run(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func TestImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sysrec-static")
	if err := os.WriteFile(bin, []byte("\x7fELF static"), 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	args := []string{"-o", out, "-tag", "localhost/sysrec:dev",
		"-file", bin + ":/usr/bin/sysrec:0755", "-file", bin + ":/usr/bin/copy",
		"-dir", "/var/lib/sysrec:0700", "-symlink", "/sbin/sysrec:../usr/bin/sysrec",
		"-entrypoint", "/usr/bin/sysrec", "-cmd", `["agent", "--node name"]`,
		"-env", "SYSREC_LOG=debug", "-label", "org.opencontainers.image.source=https://example.test/sysrec",
		"-created", "0"}
	status, stdout, stderr := mkimage(t, args...)
	if status != 0 || !strings.Contains(stdout, "image id sha256:") {
		t.Fatalf("status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	tag, _ := name.NewTag("localhost/sysrec:dev")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/bin/sysrec"}) || !reflect.DeepEqual(c.Cmd, []string{"agent", "--node name"}) ||
		!reflect.DeepEqual(c.Env, []string{defaultPath, "SYSREC_LOG=debug"}) ||
		c.Labels["org.opencontainers.image.source"] != "https://example.test/sysrec" {
		t.Errorf("config %+v", c)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	modes := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
	}
	for p, want := range map[string]int64{
		"usr/bin/sysrec": 0o755, "usr/bin/copy": 0o700, "var/lib/sysrec/": 0o700, "var/lib/": 0o755,
		"tmp/": 0o1777, "sbin/sysrec": 0o777, "proc/": 0o555,
	} {
		if got, ok := modes[p]; !ok || got != want {
			t.Errorf("%s: mode %o (present %t), want %o", p, got, ok, want)
		}
	}

	// The same command again, later: the same bytes.
	time.Sleep(1100 * time.Millisecond)
	if status, _, stderr := mkimage(t, args...); status != 0 {
		t.Fatalf("second run: %d, %s", status, stderr)
	}
	if second, _ := os.ReadFile(out); !bytes.Equal(first, second) {
		t.Error("two runs of the same command wrote different archives")
	}
}

func TestSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	o, err := parseArgs([]string{"-o", "x", "-tag", "a/b:c"}, io.Discard)
	if err != nil || !o.created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("got %v, %v; want 1700000000", o, err)
	}
	o, err = parseArgs([]string{"-o", "x", "-tag", "a/b:c", "-created", "5", "-env", "PATH=/bin", "-entrypoint", "/bin/sh -c true"}, io.Discard)
	if err != nil || !o.created.Equal(time.Unix(5, 0)) || !reflect.DeepEqual(o.env, []string{"PATH=/bin"}) ||
		!reflect.DeepEqual(o.entrypoint, []string{"/bin/sh", "-c", "true"}) {
		t.Errorf("got %+v, %v", o, err)
	}
}

func TestBadArgs(t *testing.T) {
	host := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(host, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"-o", "x"},
		{"-o", "x", "-tag", "a:b", "extra"},
		{"-o", "x", "-tag", "a:b", "-file", host},
		{"-o", "x", "-tag", "a:b", "-file", "/nonexistent:/x"},
		{"-o", "x", "-tag", "a:b", "-file", host + ":/x:999"},
		{"-o", "x", "-tag", "a:b", "-file", filepath.Dir(host) + ":/x"},
		{"-o", "x", "-tag", "a:b", "-dir", "/x:abc"},
		{"-o", "x", "-tag", "a:b", "-symlink", "/x"},
		{"-o", "x", "-tag", "a:b", "-env", "NOVALUE"},
		{"-o", "x", "-tag", "a:b", "-label", "=v"},
		{"-o", "x", "-tag", "a:b", "-created", "yesterday"},
		{"-o", "x", "-tag", "a:b", "-cmd", "[1]"},
	} {
		if status, _, stderr := mkimage(t, args...); status != 2 || stderr == "" {
			t.Errorf("%q: status %d, stderr %q; want 2 and a message", args, status, stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	if status, _, stderr := mkimage(t, "-o", out, "-tag", "a:b", "-file", host+":relative"); status != 1 || !strings.Contains(stderr, "absolute") {
		t.Errorf("relative image path: status %d, %q", status, stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed build left %s: %v", out, err)
	}
	if status, _, stderr := mkimage(t, "-h"); status != 0 || !strings.Contains(stderr, "usage: mkimage") {
		t.Errorf("-h: %d, %q", status, stderr)
	}
}

func TestBusybox(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skipf("/bin/busybox: %v (Debian's busybox-static)", err)
	}
	out := filepath.Join(t.TempDir(), "bb.tar")
	status, stdout, stderr := mkimage(t, "-o", out, "-tag", "docker.io/library/sysrec-busybox:latest",
		"-busybox", "/bin/busybox", "-env", "PATH=/bin",
		"-cmd", `["/bin/sh","-c","trap 'exit 0' TERM INT; sleep 2147483647 & wait"]`)
	if status != 0 {
		t.Fatalf("%d: %s %s", status, stdout, stderr)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil || len(m) != 1 || m[0].RepoTags[0] != "docker.io/library/sysrec-busybox:latest" {
		t.Errorf("manifest %+v, %v", m, err)
	}
}
