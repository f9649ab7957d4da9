package tree

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/syscalls"
)

func provenanceIndex() *Index {
	t0 := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	return &Index{Profiles: []Entry{{
		Profile: "shop/web/app.json", Namespace: "shop", Workload: "web", Container: "app",
		Images: []string{"busybox"}, Pods: []string{"web-1", "web-2"}, Replicas: 2, Syscalls: 3,
		Inputs: 2,
		Provenance: map[syscalls.Arch]map[string]provenance.Syscall{
			syscalls.X86_64: {
				"getdents64": {Origin: &provenance.Origin{Exe: "/bin/ls", Comm: "ls", PID: 9, TID: 9, Time: t0}, Seen: 1},
				"read":       {Seen: 2},
				"capset":     {Completion: "the OCI runtime calls it"},
			},
		},
	}}}
}

// The index keeps each syscall's provenance on one line, and reads back
// as written.
func TestIndexProvenance(t *testing.T) {
	dir := t.TempDir()
	idx := provenanceIndex()
	if err := WriteIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`          "getdents64": { "origin": { "exe": "/bin/ls", "comm": "ls", "pid": 9, "tid": 9, "time": "2026-12-01T21:00:00Z" }, "seen": 1 },`,
		`          "read": { "seen": 2 }`,
		`          "capset": { "completion": "the OCI runtime calls it" },`,
		`      "images": [`,
	} {
		if !bytes.Contains(data, []byte("\n"+line+"\n")) {
			t.Errorf("index lacks the line\n%s\nin\n%s", line, data)
		}
	}
	got, err := ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, idx) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, idx)
	}
	f := got.Profiles[0].ProvenanceFile()
	if f == nil || f.Inputs != 2 || f.Profile != "shop/web/app.json" || f.Syscalls[syscalls.X86_64]["read"].Seen != 2 {
		t.Errorf("ProvenanceFile: %+v", f)
	}
	if (&Entry{}).ProvenanceFile() != nil {
		t.Error("an entry without provenance has a provenance file")
	}
}

func TestFindEntry(t *testing.T) {
	dir := t.TempDir()
	if err := WriteIndex(dir, provenanceIndex()); err != nil {
		t.Fatal(err)
	}
	index, e, err := FindEntry(filepath.Join(dir, "shop", "web", "app.json"))
	if err != nil || e == nil || e.Profile != "shop/web/app.json" || index != filepath.Join(dir, IndexFile) {
		t.Errorf("FindEntry: %q, %+v, %v", index, e, err)
	}
	// Relative paths work too.
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.MkdirAll(filepath.Join(dir, "shop", "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(filepath.Join(dir, "shop")); err != nil {
		t.Fatal(err)
	}
	if _, e, err := FindEntry("web/app.json"); err != nil || e == nil {
		t.Errorf("FindEntry of a relative path: %+v, %v", e, err)
	}
	if index, e, err := FindEntry("web/other.json"); err != nil || e != nil || index == "" {
		t.Errorf("a profile the index does not list: %q, %+v, %v", index, e, err)
	}
	if _, _, err := FindEntry("/nonexistent-dir-sysrec/a/b/c.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no index above: %v, want fs.ErrNotExist", err)
	}
}
