package provenance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sysrec/sysrec/syscalls"
)

var t0 = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func TestPath(t *testing.T) {
	for in, want := range map[string]string{
		"app.json":         "app.provenance.json",
		"dir/app.json":     "dir/app.provenance.json",
		"app":              "app.provenance.json",
		"/a.b/profile.yml": "/a.b/profile.provenance.json",
	} {
		if got := Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}

// One recording: every name seen once, with its origin where the
// recording has one; completion adds only what was not recorded, and
// only where the name is a syscall.
func TestRecorded(t *testing.T) {
	ls := Origin{Exe: "/usr/bin/ls", Comm: "ls", PID: 7, TID: 7, Time: t0}
	f := Recorded("app.json",
		map[syscalls.Arch][]string{syscalls.X86_64: {"getdents64", "read"}, syscalls.X86: {"read"}},
		map[syscalls.Arch]map[string]Origin{syscalls.X86_64: {"getdents64": ls}},
		map[string]string{"restart_syscall": "a frozen sleep restarts through it", "read": "never used", "newfstatat": "x86_64 only"})
	want := &File{Profile: "app.json", Inputs: 1, Syscalls: map[syscalls.Arch]map[string]Syscall{
		syscalls.X86_64: {
			"getdents64":      {Origin: &ls, Seen: 1},
			"read":            {Seen: 1},
			"restart_syscall": {Completion: "a frozen sleep restarts through it"},
			"newfstatat":      {Completion: "x86_64 only"},
		},
		syscalls.X86: {
			"read":            {Seen: 1},
			"restart_syscall": {Completion: "a frozen sleep restarts through it"},
		},
	}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v\nwant %+v", f, want)
	}
}

// Merging adds inputs and sightings, keeps the earliest origin, and a
// name that one input recorded counts as recorded.
func TestMerge(t *testing.T) {
	early := Origin{Comm: "a", PID: 1, Time: t0}
	late := Origin{Comm: "b", PID: 2, Time: t0.Add(time.Second)}
	a := Recorded("a.json", map[syscalls.Arch][]string{syscalls.X86_64: {"read", "futex"}},
		map[syscalls.Arch]map[string]Origin{syscalls.X86_64: {"read": late}},
		map[string]string{"restart_syscall": "pause"})
	b := Recorded("b.json", map[syscalls.Arch][]string{syscalls.X86_64: {"read", "restart_syscall"}},
		map[syscalls.Arch]map[string]Origin{syscalls.X86_64: {"read": early}}, nil)
	three := &File{Inputs: 3, Syscalls: map[syscalls.Arch]map[string]Syscall{syscalls.X86_64: {"read": {Seen: 3}}}}
	m := Merge("out.json", a, nil, b, three)
	if m.Inputs != 5 || m.Profile != "out.json" {
		t.Fatalf("inputs %d, profile %q: want 5, out.json", m.Inputs, m.Profile)
	}
	got := m.Syscalls[syscalls.X86_64]
	if s := got["read"]; s.Seen != 5 || s.Origin == nil || s.Origin.Comm != "a" {
		t.Errorf("read: %+v: want seen 5 and the earliest origin", s)
	}
	if s := got["futex"]; s.Seen != 1 {
		t.Errorf("futex: %+v: want seen 1", s)
	}
	if s := got["restart_syscall"]; s.Seen != 1 || s.Completion != "" {
		t.Errorf("restart_syscall: %+v: recorded by b, so not completion", s)
	}
	// Merge copies: changing the result leaves the inputs alone.
	m.Syscalls[syscalls.X86_64]["read"].Origin.Comm = "changed"
	if b.Syscalls[syscalls.X86_64]["read"].Origin.Comm != "a" {
		t.Error("Merge shares origins with its inputs")
	}
}

func TestWriteRead(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "app.json"))
	o := Origin{Exe: "/bin/sh", Comm: "sh", PID: 3, Time: t0}
	f := Recorded("app.json", map[syscalls.Arch][]string{syscalls.X86_64: {"execve"}}, map[syscalls.Arch]map[string]Origin{syscalls.X86_64: {"execve": o}}, nil)
	f.ProfileSHA256 = Digest([]byte("{}"))
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Errorf("read back %+v, want %+v", got, f)
	}
	if !got.Describes([]byte("{}")) || got.Describes([]byte("{ }")) {
		t.Error("Describes does not follow the digest")
	}
	if !(&File{}).Describes([]byte("x")) {
		t.Error("a file without a digest describes any profile")
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil {
		t.Error("a truncated sidecar reads")
	}
}

func TestRare(t *testing.T) {
	for _, tc := range []struct {
		seen, inputs int
		want         bool
	}{{1, 1, false}, {1, 2, false}, {1, 3, true}, {1, 10, true}, {4, 10, true}, {5, 10, false}, {10, 10, false}} {
		if got := Rare(tc.seen, tc.inputs); got != tc.want {
			t.Errorf("Rare(%d, %d) = %v, want %v", tc.seen, tc.inputs, got, tc.want)
		}
	}
}

// A sidecar keeps each syscall on one line, and reads back as written.
func TestEncodeInline(t *testing.T) {
	o := Origin{Exe: "/bin/sh", Comm: "sh\n{", PID: 3, Time: t0}
	f := Recorded("app.json", map[syscalls.Arch][]string{syscalls.X86_64: {"execve", "read"}}, map[syscalls.Arch]map[string]Origin{syscalls.X86_64: {"execve": o}}, map[string]string{"restart_syscall": "pause"})
	data, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "profile": "app.json",
  "inputs": 1,
  "syscalls": {
    "SCMP_ARCH_X86_64": {
      "execve": { "origin": { "exe": "/bin/sh", "comm": "sh\n{", "pid": 3, "time": "2026-12-01T21:00:00Z" }, "seen": 1 },
      "read": { "seen": 1 },
      "restart_syscall": { "completion": "pause" }
    }
  }
}
`
	if string(data) != want {
		t.Errorf("got\n%s\nwant\n%s", data, want)
	}
	var back File
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(&back, f) {
		t.Errorf("read back %+v, %v", back, err)
	}
}
