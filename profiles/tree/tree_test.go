package tree

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// recorded is an index as record --containers writes it.
const recorded = `{
  "profiles": [
    {
      "profile": "shop/cart/app.json",
      "namespace": "shop",
      "workload": "cart",
      "workloadKind": "Deployment",
      "container": "app",
      "images": ["docker.io/library/busybox:1.37"],
      "pods": ["cart-7d4b9c8f6-x2k9q", "cart-7d4b9c8f6-z8m4p"],
      "replicas": 2,
      "runtime": "containerd",
      "firstSeen": "2025-11-30T10:00:00.123456789Z",
      "lastSeen": "2025-11-30T10:05:00+01:00",
      "syscalls": 61,
      "partial": true
    },
    {
      "profile": "default/ctr-1/ctr-1.json",
      "namespace": "default",
      "workload": "ctr-1",
      "workloadKind": "containerd",
      "container": "ctr-1",
      "images": [],
      "pods": ["ctr-1"],
      "replicas": 1,
      "runtime": "",
      "firstSeen": "2025-11-30T10:00:00Z",
      "lastSeen": "2025-11-30T10:00:01Z",
      "syscalls": 12,
      "incomplete": true,
      "filtered": true
    }
  ],
  "drops": {"lostTasks": 0, "outOfRange": 1, "targetMissing": 0, "cgroupsFull": 0, "eventsLost": 0},
  "filterCapture": "seccomp-entry",
  "warnings": ["shop/cart/app.json: a replica already ran when recording began"]
}
`

func TestParseIndex(t *testing.T) {
	idx, err := ParseIndex([]byte(recorded))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Profiles) != 2 || idx.Profiles[0].Profile != "shop/cart/app.json" || idx.Profiles[0].Replicas != 2 ||
		!idx.Profiles[0].Partial || !idx.Profiles[1].Filtered || idx.Drops.OutOfRange != 1 || !idx.Drops.Any() ||
		idx.FilterCapture != "seccomp-entry" || len(idx.Warnings) != 1 {
		t.Errorf("got %+v", idx)
	}
	if _, err := ParseIndex([]byte(`{"profiles": [], "unknown": {"from": "a newer sysrec"}}`)); err != nil {
		t.Errorf("unknown fields: %v", err)
	}

	for _, tc := range []struct{ name, data, want string }{
		{"not JSON", `{"profiles": [`, "decoding"},
		{"trailing data", `{"profiles": []} {}`, "decoding"},
		{"wrong type", `{"profiles": {}}`, "decoding"},
		{"escaping", `{"profiles": [{"profile": "../../etc/shadow.json"}]}`, `profiles[0]: profile "../../etc/shadow.json"`},
		{"dot-dot element", `{"profiles": [{"profile": "a/../b.json"}]}`, `".."`},
		{"absolute", `{"profiles": [{"profile": "/etc/a/b.json"}]}`, "want <namespace>"},
		{"absolute, three elements", `{"profiles": [{"profile": "/a/b.json"}]}`, "empty path element"},
		{"empty", `{"profiles": [{"profile": ""}]}`, "want <namespace>"},
		{"unclean", `{"profiles": [{"profile": "a//b.json"}]}`, "empty path element"},
		{"dot", `{"profiles": [{"profile": "a/./b.json"}]}`, `"."`},
		{"hidden", `{"profiles": [{"profile": "a/b/.c.json"}]}`, "hidden"},
		{"backslash", `{"profiles": [{"profile": "a/b\\..\\..\\c/d.json"}]}`, "letters, digits"},
		{"NUL", `{"profiles": [{"profile": "a/b/c\u0000.json"}]}`, "letters, digits"},
		{"not json", `{"profiles": [{"profile": "a/b/c.txt"}]}`, ".json"},
		{"too long", `{"profiles": [{"profile": "a/b/` + strings.Repeat("c", 300) + `.json"}]}`, "at most 255"},
		{"twice", `{"profiles": [{"profile": "a/b/c.json"}, {"profile": "a/b/c.json"}]}`, "profiles[1]: profile \"a/b/c.json\" is listed twice"},
		{"second entry", `{"profiles": [{"profile": "a/b/c.json"}, {"profile": "x/../c.json"}]}`, "profiles[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := ParseIndex([]byte(tc.data))
			if err == nil || idx != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %+v, %v; want an error mentioning %s", idx, err, tc.want)
			}
		})
	}
}

func TestWriteReadIndex(t *testing.T) {
	dir := t.TempDir()
	want := &Index{
		Profiles: []Entry{{
			Profile: "shop/cart/app.json", Namespace: "shop", Workload: "cart", Kind: "Deployment", Container: "app",
			Images: []string{"busybox"}, Pods: []string{"cart-1"}, Replicas: 1, Runtime: "cri-o",
			FirstSeen: time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC), LastSeen: time.Date(2025, 11, 30, 10, 1, 0, 0, time.UTC),
			Syscalls: 3,
		}},
		FilterCapture: "none",
	}
	if err := WriteIndex(dir, want); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil || !strings.HasSuffix(string(data), "}\n") || !strings.Contains(string(data), "\n  \"profiles\": [") {
		t.Errorf("index.json: got %q, %v; want indented JSON and a newline", data, err)
	}
	got, err := ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	if _, err := ReadIndex(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no index: got %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{"profiles": [{"profile": "../x/y.json"}]}`), 0o644)
	if _, err := ReadIndex(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, IndexFile)) {
		t.Errorf("hostile index: got %v, want an error naming the file", err)
	}
}

func TestWriteProfile(t *testing.T) {
	dir := t.TempDir()
	if err := WriteProfile(dir, "ns/web/app.json", []byte("{}\n")); err != nil {
		t.Fatalf("WriteProfile: got %v, want nil", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "ns", "web", "app.json"))
	if err != nil || string(got) != "{}\n" {
		t.Errorf("written profile: got %q, %v; want %q", got, err, "{}\n")
	}
	if err := WriteProfile(dir, "../web/app.json", []byte("{}")); err == nil {
		t.Errorf("WriteProfile of a path above dir: got nil error, want one")
	}
}
