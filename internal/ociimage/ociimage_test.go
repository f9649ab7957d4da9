package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is what a test checks of a layer's tar entry.
type entry struct {
	typ     byte
	mode    int64
	target  string
	content string
}

func testSpec(t *testing.T) Spec {
	t.Helper()
	host := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(host, []byte("#!binary\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Spec{
		Files: append(BaseLayout(),
			File{Path: "/usr/bin/tool", Mode: 0o755, HostPath: host},
			File{Path: "/etc/motd", Content: []byte("hi\n")},
			File{Path: "/usr/bin/suid", Mode: fs.ModeSetuid | 0o755, Content: []byte{}},
			Symlink("/bin/tool", "../usr/bin/tool"),
		),
		Entrypoint: []string{"/usr/bin/tool"},
		Cmd:        []string{"--help"},
		Env:        []string{"PATH=/usr/bin"},
		Labels:     map[string]string{"org.opencontainers.image.title": "tool"},
		WorkingDir: "/tmp",
		User:       "65534",
	}
}

// writeRead writes img as a docker-archive and reads it back.
func writeRead(t *testing.T, ref string, img v1.Image) v1.Image {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteDockerArchiveFile(p, ref, img); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(p, &tag)
	if err != nil {
		t.Fatalf("reading back %s: %v", p, err)
	}
	return back
}

func layerEntries(t *testing.T, img v1.Image) (map[string]entry, []string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]entry{}
	var order []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s: uid %d gid %d mtime %v, want 0, 0, the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = entry{typ: h.Typeflag, mode: h.Mode, target: h.Linkname, content: string(b)}
		order = append(order, h.Name)
	}
	return got, order
}

func TestBuildReadBack(t *testing.T) {
	img, err := Build(testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	back := writeRead(t, "localhost/tool:dev", img)

	got, order := layerEntries(t, back)
	want := map[string]entry{
		"bin/":         {typ: tar.TypeDir, mode: 0o755},
		"bin/tool":     {typ: tar.TypeSymlink, mode: 0o777, target: "../usr/bin/tool"},
		"dev/":         {typ: tar.TypeDir, mode: 0o755},
		"etc/":         {typ: tar.TypeDir, mode: 0o755},
		"etc/motd":     {typ: tar.TypeReg, mode: 0o644, content: "hi\n"},
		"proc/":        {typ: tar.TypeDir, mode: 0o555},
		"sys/":         {typ: tar.TypeDir, mode: 0o555},
		"tmp/":         {typ: tar.TypeDir, mode: 0o1777},
		"usr/":         {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/":     {typ: tar.TypeDir, mode: 0o755},
		"usr/bin/suid": {typ: tar.TypeReg, mode: 0o4755},
		"usr/bin/tool": {typ: tar.TypeReg, mode: 0o755, content: "#!binary\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layer:\n got %v\nwant %v", got, want)
	}
	if !sortedStrings(order) {
		t.Errorf("entries not sorted: %v", order)
	}

	cfg, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"/usr/bin/tool"}) || !reflect.DeepEqual(c.Cmd, []string{"--help"}) ||
		!reflect.DeepEqual(c.Env, []string{"PATH=/usr/bin"}) || c.Labels["org.opencontainers.image.title"] != "tool" ||
		c.WorkingDir != "/tmp" || c.User != "65534" {
		t.Errorf("config: %+v", c)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH || !cfg.Created.Equal(time.Unix(0, 0)) {
		t.Errorf("os %s arch %s created %v, want linux, %s, the epoch", cfg.OS, cfg.Architecture, cfg.Created, runtime.GOARCH)
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("diff ids: %v", cfg.RootFS.DiffIDs)
	}

	// The archive holds the image as built: same image id and digest.
	for _, f := range []func(v1.Image) (v1.Hash, error){v1.Image.ConfigName, v1.Image.Digest} {
		a, _ := f(img)
		b, _ := f(back)
		if a != b {
			t.Errorf("read back %s, built %s", b, a)
		}
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// TestReproducible builds the same spec twice, in a different file order,
// and wants the same bytes.
func TestReproducible(t *testing.T) {
	spec := testSpec(t)
	archive := func(s Spec) []byte {
		img, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteDockerArchive(&buf, "localhost/tool:dev", img); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a := archive(spec)
	time.Sleep(1100 * time.Millisecond) // a build that used the clock would differ
	rev := spec
	rev.Files = nil
	for i := len(spec.Files) - 1; i >= 0; i-- {
		rev.Files = append(rev.Files, spec.Files[i])
	}
	if b := archive(rev); !bytes.Equal(a, b) {
		t.Error("two builds of the same spec differ")
	}

	img1, _ := Build(spec)
	img2, _ := Build(rev)
	d1, _ := img1.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("digests %s and %s", d1, d2)
	}
	spec.Created = time.Unix(1700000000, 0)
	img3, _ := Build(spec)
	if d3, _ := img3.Digest(); d3 == d1 {
		t.Error("a different Created gives the same digest")
	}
}

func TestDockerArchiveTag(t *testing.T) {
	img, err := Build(Spec{Files: []File{{Path: "/a", Content: []byte("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"localhost/sysrec:dev":                    "localhost/sysrec:dev",
		"docker.io/library/sysrec-busybox:latest": "docker.io/library/sysrec-busybox:latest",
		"localhost/pause":                         "localhost/pause:latest",
	} {
		var buf bytes.Buffer
		if err := WriteDockerArchive(&buf, ref, img); err != nil {
			t.Fatal(err)
		}
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || !reflect.DeepEqual(m[0].RepoTags, []string{want}) {
			t.Errorf("%s: manifest %+v, want RepoTags [%s]", ref, m, want)
		}
	}
}

func TestLayerTarErrors(t *testing.T) {
	for _, tc := range []struct {
		files []File
		want  string
	}{
		{[]File{{Path: "rel", Content: []byte{}}}, "not an absolute path"},
		{[]File{{Path: "/", Mode: fs.ModeDir}}, "root"},
		{[]File{{Path: "/a", Content: []byte{}}, {Path: "/a/", Content: []byte{}}}, "twice"},
		{[]File{{Path: "/a", Content: []byte{}}, {Path: "/a/b", Content: []byte{}}}, "not a directory"},
		{[]File{{Path: "/a"}}, "neither content nor a host path"},
		{[]File{{Path: "/a", HostPath: "/nonexistent/x"}}, "no such file"},
		{[]File{{Path: "/a", Mode: fs.ModeSymlink}}, "without a target"},
		{[]File{{Path: "/a", Mode: fs.ModeNamedPipe}}, "unsupported"},
	} {
		_, err := LayerTar(tc.files, time.Unix(0, 0))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error with %q", tc.files, err, tc.want)
		}
	}
}

func TestBusyboxFiles(t *testing.T) {
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skipf("%s: %v (Debian's busybox-static)", bb, err)
	}
	files, err := BusyboxFiles(bb)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, f := range files[1:] {
		links[f.Path] = f.Target
	}
	if files[0].Path != "/bin/busybox" || files[0].Mode != 0o755 || links["/bin/sh"] != "busybox" || links["/bin/sleep"] != "busybox" {
		t.Errorf("got %+v and links %v, want /bin/busybox and /bin/sh, /bin/sleep -> busybox", files[0], links)
	}
	if _, err := Build(Spec{Files: files}); err != nil {
		t.Fatal(err)
	}
}
