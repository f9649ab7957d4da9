package containers

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/profiles/provenance"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

// recWith is a recording of names whose first calls origins gives.
func recWith(origins map[string]provenance.Origin, names ...string) *recorder.Recording {
	r := rec(names...)
	r.Origins = map[syscalls.Arch]map[string]provenance.Origin{x86: origins}
	return r
}

// The index keeps each workload's provenance: Seen counts the replicas
// (cgroups) that recorded a name, over finished and running ones, the
// earliest first call is kept, and the runtime's syscalls are said to
// be the runtime's. A continued tree adds to it.
func TestProvenance(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	fr := popper{newFakeRecorder()}
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-1", "web:1"),
		"/b": replica("web-2", "web:1"),
		"/c": replica("web-3", "web:1"),
	}}
	late := provenance.Origin{Exe: "/app/web", Comm: "web", PID: 20, Time: t0.Add(time.Second)}
	early := provenance.Origin{Exe: "/bin/sh", Comm: "sh", PID: 10, Time: t0}
	fr.set(1, "a", recWith(map[string]provenance.Origin{"read": late}, "read", "futex"))
	fr.set(2, "b", recWith(map[string]provenance.Origin{"read": early}, "read"))
	fr.set(3, "c", rec("read"))
	s := start(t, fr, Options{Resolver: res})
	snapshot(t, s)
	fr.finish(1)
	fr.finish(2)
	// Snapshots of running replicas do not count them twice.
	snapshot(t, s)
	snap := snapshot(t, s)
	e := snap.Workloads[0].Entry
	if e.Inputs != 3 {
		t.Errorf("inputs: got %d, want 3 replicas", e.Inputs)
	}
	got := e.Provenance[x86]
	if r := got["read"]; r.Seen != 3 || r.Origin == nil || r.Origin.Comm != "sh" {
		t.Errorf("read: got %+v, want seen 3, first made by sh", r)
	}
	if f := got["futex"]; f.Seen != 1 || !provenance.Rare(f.Seen, e.Inputs) {
		t.Errorf("futex: got %+v, want seen 1 of 3", f)
	}
	if x := got["execve"]; x.Seen != 0 || x.Completion == "" {
		t.Errorf("execve, the runtime's: got %+v, want a completion reason", x)
	}

	dir := t.TempDir()
	if _, err := snap.Write(dir); err != nil {
		t.Fatal(err)
	}
	previous, sessions, err := ReadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := previous[0].Entry; p.Inputs != 3 || p.Provenance[x86]["read"].Seen != 3 {
		t.Errorf("read back: %+v", p)
	}
	next := newFakeRecorder()
	next.set(4, "a", rec("futex"))
	snap = snapshot(t, start(t, next, Options{Resolver: res, Previous: previous, PreviousSessions: sessions}))
	e = snap.Workloads[0].Entry
	if e.Inputs != 4 || e.Provenance[x86]["futex"].Seen != 2 || e.Provenance[x86]["read"].Seen != 3 {
		t.Errorf("continued: inputs %d, %+v; want 4, futex seen 2, read 3", e.Inputs, e.Provenance[x86])
	}
	// The snapshots of the continued session leave its previous
	// workloads as they were.
	if p := previous[0].Entry; p.Inputs != 3 || p.Provenance[x86]["futex"].Seen != 1 {
		t.Errorf("previous changed: %+v", p)
	}

	// An index from before provenance: its profiles count as one input.
	idx, err := tree.ReadIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx.Profiles[0].Inputs, idx.Profiles[0].Provenance = 0, nil
	if err := tree.WriteIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	previous, _, err = ReadTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := previous[0].Entry; p.Inputs != 1 || p.Provenance[x86]["futex"].Seen != 1 || p.Provenance[x86]["execve"].Seen != 1 {
		t.Errorf("an old index: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "shop", "web", "app.json")); err != nil {
		t.Fatal(err)
	}
}
