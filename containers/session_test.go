package containers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sysrec/sysrec/bpf"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recorder"
	"github.com/sysrec/sysrec/syscalls"
)

const x86 = syscalls.Arch("SCMP_ARCH_X86_64")

// fakeRecorder is a Recorder whose cgroups the test sets.
type fakeRecorder struct {
	mu       sync.Mutex
	names    map[uint64]string
	recs     map[uint64]*recorder.Recording
	finished map[uint64]*recorder.Recording // for PopFinished
	drops    bpf.DropStats
}

func newFakeRecorder() *fakeRecorder {
	return &fakeRecorder{names: map[uint64]string{}, recs: map[uint64]*recorder.Recording{}}
}

// set puts cgroup id, named name, with a recording of names.
func (f *fakeRecorder) set(id uint64, name string, r *recorder.Recording) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names[id] = name
	f.recs[id] = r
}

func (f *fakeRecorder) CgroupIDs() ([]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []uint64
	for id := range f.recs {
		ids = append(ids, id)
	}
	return ids, nil
}

func (f *fakeRecorder) CgroupName(id uint64) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.names[id]
	return n, ok
}

func (f *fakeRecorder) Cgroups() (map[uint64]*recorder.Recording, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uint64]*recorder.Recording{}
	for id, r := range f.recs {
		out[id] = r
	}
	return out, nil
}

func (f *fakeRecorder) DropStats() (bpf.DropStats, error) { return f.drops, nil }

func (f *fakeRecorder) FilterCapture() recorder.FilterCapture { return recorder.CaptureNone }

// popper is a fakeRecorder that frees finished cgroups.
type popper struct{ *fakeRecorder }

// finish moves cgroup id to the finished ones.
func (p popper) finish(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished == nil {
		p.finished = map[uint64]*recorder.Recording{}
	}
	p.finished[id] = p.recs[id]
	delete(p.recs, id)
}

// PopFinished is as recorder.Recorder's: the name moves to the
// recording.
func (p popper) PopFinished() (map[uint64]*recorder.Recording, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.finished
	p.finished = nil
	for id, r := range out {
		r.Cgroup = p.names[id]
		delete(p.names, id)
	}
	return out, nil
}

// The recorder's Recorder hands finished cgroups over.
var _ finisher = (*recorder.Recorder)(nil)

// fakeResolver names cgroups from a table, and counts its calls.
type fakeResolver struct {
	mu    sync.Mutex
	byCg  map[string]*cri.Container
	calls map[string]int
	err   error
}

func (f *fakeResolver) Resolve(ctx context.Context, path string) (*cri.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[path]++
	if f.err != nil {
		return nil, f.err
	}
	if c, ok := f.byCg[path]; ok {
		return c, nil
	}
	return &cri.Container{}, nil
}

func (f *fakeResolver) set(path string, c *cri.Container) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byCg[path] = c
}

func replica(pod, image string) *cri.Container {
	return &cri.Container{ID: pod, Name: "app", Image: image, PodName: pod, PodNamespace: "shop", Workload: "web", WorkloadKind: cri.KindDeployment}
}

func rec(names ...string) *recorder.Recording {
	return &recorder.Recording{Syscalls: map[syscalls.Arch][]string{x86: names}}
}

// start starts a session that polls only when the test asks for a
// Snapshot.
func start(t *testing.T, r Recorder, opts Options) *Session {
	t.Helper()
	opts.Interval = time.Hour
	if opts.Build.DefaultAction == "" {
		opts.Build.DefaultAction = profiles.ActErrno
	}
	s, err := Start(context.Background(), r, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func snapshot(t *testing.T, s *Session) *Snapshot {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return snap
}

func names(p *profiles.Profile) []string {
	var out []string
	for _, r := range p.Syscalls {
		out = append(out, r.Names...)
	}
	return out
}

func TestReplicasGroup(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-7c9d8f6b5-x2k4q", "web:1"),
		"/b": replica("web-7c9d8f6b5-q8zzt", "web:2"),
		"/c": replica("web-7c9d8f6b5-r4n2m", "web:1"),
		"/s": {ID: "sandbox"}, // no pod name: a sandbox
	}}
	fr.set(1, "a", rec("read", "write"))
	fr.set(2, "b", &recorder.Recording{Syscalls: map[syscalls.Arch][]string{x86: {"openat"}}, Adopted: 1})
	fr.set(3, "c", &recorder.Recording{Syscalls: map[syscalls.Arch][]string{x86: {"read"}}, Filtered: 2})
	fr.set(4, "s", rec("pause"))
	s := start(t, fr, Options{Resolver: res, Runtime: "containerd"})
	snap := snapshot(t, s)

	if len(snap.Workloads) != 1 {
		t.Fatalf("got %d workloads, want 1 (three replicas of one Deployment; the sandbox left out): %+v", len(snap.Workloads), snap.Workloads)
	}
	w := snap.Workloads[0]
	e := w.Entry
	if e.Profile != "shop/web/app.json" || e.Kind != cri.KindDeployment || e.Runtime != "containerd" {
		t.Errorf("entry: got profile %q kind %q runtime %q, want shop/web/app.json, Deployment, containerd", e.Profile, e.Kind, e.Runtime)
	}
	slices.Sort(e.Pods)
	if want := []string{"web-7c9d8f6b5-q8zzt", "web-7c9d8f6b5-r4n2m", "web-7c9d8f6b5-x2k4q"}; !slices.Equal(e.Pods, want) || e.Replicas != 3 {
		t.Errorf("pods: got %v (%d replicas), want %v (3)", e.Pods, e.Replicas, want)
	}
	slices.Sort(e.Images)
	if want := []string{"web:1", "web:2"}; !slices.Equal(e.Images, want) {
		t.Errorf("images: got %v, want %v", e.Images, want)
	}
	if !e.Partial || !e.Filtered {
		t.Errorf("flags: got partial %v filtered %v, want both set (one replica adopted, one filtered)", e.Partial, e.Filtered)
	}
	got := names(w.Profile)
	for _, n := range []string{"read", "write", "openat", "execve"} { // execve: the OCI runtime's
		if !slices.Contains(got, n) {
			t.Errorf("profile: got %v, want %s in it", got, n)
		}
	}
	if slices.Contains(got, "pause") {
		t.Errorf("profile: got %v, want no syscall of the sandbox", got)
	}
	if e.Syscalls != len(got) {
		t.Errorf("entry syscalls: got %d, want %d", e.Syscalls, len(got))
	}
	if len(snap.Containers) != 3 || snap.Cgroups != 4 {
		t.Errorf("got %d containers of %d cgroups, want 3 of 4", len(snap.Containers), snap.Cgroups)
	}
}

func TestFilter(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": {Name: "app", PodName: "web-1", PodNamespace: "shop", Workload: "web", WorkloadKind: cri.KindPod},
		"/b": {Name: "sidecar", PodName: "web-1", PodNamespace: "shop", Workload: "web", WorkloadKind: cri.KindPod},
		"/c": {Name: "app", PodName: "db-0", PodNamespace: "shop", Workload: "db", WorkloadKind: cri.KindPod},
		"/d": {Name: "app", PodName: "web-1", PodNamespace: "other", Workload: "web", WorkloadKind: cri.KindPod},
	}}
	for i, n := range []string{"a", "b", "c", "d"} {
		fr.set(uint64(i+1), n, rec("read"))
	}
	for _, tc := range []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"all", Filter{}, []string{"other/web/app.json", "shop/db/app.json", "shop/web/app.json", "shop/web/sidecar.json"}},
		{"namespace", Filter{Namespaces: []string{"shop"}}, []string{"shop/db/app.json", "shop/web/app.json", "shop/web/sidecar.json"}},
		{"pod", Filter{Pod: regexp.MustCompile("^web-")}, []string{"other/web/app.json", "shop/web/app.json", "shop/web/sidecar.json"}},
		{"container", Filter{Namespaces: []string{"shop"}, Container: "app"}, []string{"shop/db/app.json", "shop/web/app.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := snapshot(t, start(t, fr, Options{Resolver: res, Filter: tc.filter}))
			var got []string
			for _, w := range snap.Workloads {
				got = append(got, w.Entry.Profile)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if tc.filter.Set() != (tc.name != "all") {
				t.Errorf("Set: got %v, want %v", tc.filter.Set(), tc.name != "all")
			}
		})
	}
}

// clock is a clock that the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestResolverCache(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{"/a": replica("web-1", "web:1")}}
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fr.set(1, "a", rec("read"))
	s := start(t, fr, Options{Resolver: res, TTL: time.Minute, Now: clk.Now})

	snapshot(t, s)
	snapshot(t, s)
	if n := res.calls["/a"]; n != 1 {
		t.Errorf("within the TTL: got %d calls of the resolver, want 1", n)
	}
	clk.add(2 * time.Minute)
	snapshot(t, s)
	if n := res.calls["/a"]; n != 2 {
		t.Errorf("after the TTL: got %d calls of the resolver, want 2", n)
	}

	// The container goes; its cgroup id is reused by another.
	res.set("/b", &cri.Container{Name: "db", PodName: "db-0", PodNamespace: "shop", Workload: "db", WorkloadKind: cri.KindStatefulSet})
	fr.set(1, "b", rec("write"))
	snap := snapshot(t, s)
	if res.calls["/b"] != 1 {
		t.Errorf("reused cgroup id: got %d calls of the resolver for the new cgroup, want 1", res.calls["/b"])
	}
	if len(snap.Containers) != 1 || snap.Containers[0].Info.PodName != "db-0" {
		t.Fatalf("reused cgroup id: got containers %+v, want db-0 only, not the old web-1", snap.Containers)
	}
	if len(snap.Workloads) != 1 || snap.Workloads[0].Entry.Profile != "shop/db/db.json" {
		t.Errorf("reused cgroup id: got workloads %+v, want shop/db/db.json only", snap.Workloads)
	}
}

func TestResolverGoneKeepsName(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{"/a": replica("web-1", "web:1")}}
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	fr.set(1, "a", rec("read"))
	s := start(t, fr, Options{Resolver: res, TTL: time.Minute, Now: clk.Now})
	snapshot(t, s)
	// The runtime forgets the container; its recording is still there.
	res.set("/a", &cri.Container{ID: "a"})
	clk.add(2 * time.Minute)
	snap := snapshot(t, s)
	if len(snap.Workloads) != 1 || snap.Workloads[0].Entry.Workload != "web" {
		t.Errorf("got workloads %+v, want web: a container the runtime forgot keeps its name", snap.Workloads)
	}
}

func TestResolverErrorRetried(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{"/a": replica("web-1", "web:1")}, err: errors.New("runtime busy")}
	fr.set(1, "a", rec("read"))
	s := start(t, fr, Options{Resolver: res})
	snap := snapshot(t, s)
	if len(snap.Workloads) != 0 || len(snap.Warnings) != 1 || !strings.Contains(snap.Warnings[0], "not attributed") {
		t.Errorf("resolver failing: got workloads %+v, warnings %q; want none and one 'not attributed' warning", snap.Workloads, snap.Warnings)
	}
	res.mu.Lock()
	res.err = nil
	res.mu.Unlock()
	if snap := snapshot(t, s); len(snap.Workloads) != 1 {
		t.Errorf("resolver answering again: got %d workloads, want 1", len(snap.Workloads))
	}
}

func TestPopFinished(t *testing.T) {
	fr := popper{newFakeRecorder()}
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-1", "web:1"),
		"/b": replica("web-2", "web:2"),
	}}
	fr.set(1, "a", rec("read"))
	s := start(t, fr, Options{Resolver: res})
	snapshot(t, s)
	fr.finish(1)
	fr.set(2, "b", rec("write"))
	snap := snapshot(t, s)
	if len(s.cgroups) != 1 || s.cgroups[1] != nil {
		t.Errorf("state after cgroup 1 finished: got %d cgroups (%v), want only cgroup 2's", len(s.cgroups), s.cgroups)
	}
	if len(snap.Workloads) != 1 {
		t.Fatalf("got %d workloads, want 1", len(snap.Workloads))
	}
	e := snap.Workloads[0].Entry
	if e.Replicas != 2 || snap.Cgroups != 2 {
		t.Errorf("got %d replicas of %d cgroups, want 2 of 2 (one finished, one running)", e.Replicas, snap.Cgroups)
	}
	got := names(snap.Workloads[0].Profile)
	if !slices.Contains(got, "read") || !slices.Contains(got, "write") {
		t.Errorf("profile: got %v, want read (finished replica) and write (running one)", got)
	}
	// A container that came and went between two polls is attributed
	// by the name its recording carries.
	res.set("/c", replica("web-3", "web:3"))
	fr.set(3, "c", rec("close"))
	fr.finish(3)
	snap = snapshot(t, s)
	if e := snap.Workloads[0].Entry; e.Replicas != 3 || !slices.Contains(names(snap.Workloads[0].Profile), "close") {
		t.Errorf("after a short-lived replica: got %d replicas, profile %v; want 3, with close", e.Replicas, names(snap.Workloads[0].Profile))
	}
	// Snapshots do not change what was folded.
	fr.finish(2)
	snap = snapshot(t, s)
	if e := snap.Workloads[0].Entry; e.Replicas != 3 || len(s.cgroups) != 0 || snap.Cgroups != 3 || s.cache.len() != 0 {
		t.Errorf("after all finished: got %d replicas of %d cgroups, %d cgroup states, %d cached names; want 3 of 3, 0 and 0", e.Replicas, snap.Cgroups, len(s.cgroups), s.cache.len())
	}
}

// TestForget: a finished workload that its owner no longer wants leaves
// the session's memory and its snapshots.
func TestForget(t *testing.T) {
	fr := popper{newFakeRecorder()}
	res := &fakeResolver{byCg: map[string]*cri.Container{"/a": replica("web-1", "web:1")}}
	fr.set(1, "a", rec("read"))
	s := start(t, fr, Options{Resolver: res})
	snapshot(t, s)
	if n := s.Forget(func(*Workload) bool { return false }); n != 0 {
		t.Errorf("forgetting while the only container runs: got %d dropped, want 0", n)
	}
	fr.finish(1)
	snapshot(t, s)
	if n := s.Forget(func(*Workload) bool { return true }); n != 0 {
		t.Errorf("keeping all: got %d dropped, want 0", n)
	}
	if n := s.Forget(func(w *Workload) bool { return w.Entry.Workload != "web" }); n != 1 || len(s.finished) != 0 {
		t.Errorf("forgetting web: got %d dropped, %d left, want 1 and 0", n, len(s.finished))
	}
	if snap := snapshot(t, s); len(snap.Workloads) != 0 {
		t.Errorf("after forgetting: got %d workloads, want 0", len(snap.Workloads))
	}
}

func TestWrite(t *testing.T) {
	fr := newFakeRecorder()
	fr.drops = bpf.DropStats{EventsLost: 2}
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-1", "web:1"),
		"/b": {Name: "app/x", PodName: "j-1", PodNamespace: "batch", Workload: "../j", WorkloadKind: cri.KindJob},
	}}
	fr.set(1, "a", &recorder.Recording{Syscalls: map[syscalls.Arch][]string{x86: {"read"}}, Adopted: 1})
	fr.set(2, "b", rec("write"))
	fr.set(3, "lost", rec("read")) // no container: resolver says so
	fr.mu.Lock()
	delete(fr.names, 3) // its announcement was lost
	fr.mu.Unlock()
	dir := t.TempDir()
	snap := snapshot(t, start(t, fr, Options{Resolver: res}))
	if _, err := snap.Write(dir); err != nil {
		t.Fatalf("Write: %v", err)
	}
	idx, err := tree.ReadIndex(dir)
	if err != nil {
		t.Fatalf("ReadIndex: %v", err)
	}
	var paths []string
	for _, e := range idx.Profiles {
		paths = append(paths, e.Profile)
		p, err := profiles.ParseFile(filepath.Join(dir, e.Profile))
		if err != nil {
			t.Errorf("profile %s: %v", e.Profile, err)
			continue
		}
		if p.DefaultAction != profiles.ActErrno {
			t.Errorf("profile %s: got default action %s, want %s", e.Profile, p.DefaultAction, profiles.ActErrno)
		}
	}
	if want := []string{"batch/_.._j/app_x.json", "shop/web/app.json"}; !slices.Equal(paths, want) {
		t.Errorf("index profiles: got %v, want %v", paths, want)
	}
	if idx.Drops.EventsLost != 2 || idx.FilterCapture != string(recorder.CaptureNone) {
		t.Errorf("index: got drops %+v, filterCapture %q; want 2 events lost, %q", idx.Drops, idx.FilterCapture, recorder.CaptureNone)
	}
	var partial, unattributed, drops int
	for _, w := range idx.Warnings {
		switch {
		case strings.HasPrefix(w, "shop/web/app.json: a replica already ran"):
			partial++
		case strings.HasPrefix(w, "cgroup 3: not attributed"):
			unattributed++
		case strings.HasPrefix(w, "kernel-side drops"):
			drops++
		}
		if strings.Contains(w, "--") {
			t.Errorf("warning %q names a command-line flag", w)
		}
	}
	if partial != 1 || unattributed != 1 || drops != 1 || len(idx.Warnings) != 3 {
		t.Errorf("warnings: got %q, want one partial, one unattributed, one drops", idx.Warnings)
	}
	if _, err := os.Stat(filepath.Join(dir, "shop", "web", "app.json")); err != nil {
		t.Errorf("profile file: %v", err)
	}
}

// A session started on a tree that an earlier one wrote merges into its
// profiles, and its index counts both sessions.
func TestContinue(t *testing.T) {
	dir := t.TempDir()
	if ws, n, err := ReadTree(dir); err != nil || ws != nil || n != 0 {
		t.Fatalf("ReadTree of an empty directory: got %v, %d, %v; want nothing", ws, n, err)
	}
	first := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-1", "web:1"),
		"/b": replica("web-2", "web:1"),
		"/o": {Name: "db", PodName: "db-0", PodNamespace: "shop", Workload: "db", WorkloadKind: cri.KindStatefulSet},
	}}
	first.set(1, "a", rec("flock"))
	first.set(3, "o", rec("fsync"))
	if _, err := snapshot(t, start(t, first, Options{Resolver: res})).Write(dir); err != nil {
		t.Fatalf("Write: %v", err)
	}

	previous, sessions, err := ReadTree(dir)
	if err != nil || len(previous) != 2 || sessions != 1 {
		t.Fatalf("ReadTree: got %d workloads, %d sessions, %v; want 2 and 1", len(previous), sessions, err)
	}
	second := newFakeRecorder()
	second.set(2, "b", rec("getrandom"))
	snap := snapshot(t, start(t, second, Options{Resolver: res, Previous: previous, PreviousSessions: sessions}))
	idx, err := snap.Write(dir)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if snap.Sessions != 2 || idx.Sessions != 2 {
		t.Errorf("got %d sessions (index: %d), want 2", snap.Sessions, idx.Sessions)
	}
	if len(snap.Workloads) != 2 {
		t.Fatalf("got %d workloads, want 2 (web continued, db kept): %+v", len(snap.Workloads), snap.Workloads)
	}
	db, web := snap.Workloads[0], snap.Workloads[1]
	if got := names(web.Profile); !slices.Contains(got, "flock") || !slices.Contains(got, "getrandom") {
		t.Errorf("web's profile: got %v, want flock (first session) and getrandom (second)", got)
	}
	if slices.Sort(web.Entry.Pods); !slices.Equal(web.Entry.Pods, []string{"web-1", "web-2"}) || web.Entry.Replicas != 2 {
		t.Errorf("web's pods: got %v (%d replicas), want web-1 and web-2", web.Entry.Pods, web.Entry.Replicas)
	}
	if got := names(db.Profile); !slices.Contains(got, "fsync") || db.Entry.Profile != "shop/db/db.json" {
		t.Errorf("db, recorded by the first session only: got %s with %v, want shop/db/db.json with fsync", db.Entry.Profile, got)
	}
	p, err := profiles.ParseFile(filepath.Join(dir, "shop", "web", "app.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !slices.Contains(got, "flock") || !slices.Contains(got, "getrandom") {
		t.Errorf("web's profile on disk: got %v, want flock and getrandom", got)
	}

	if err := os.WriteFile(filepath.Join(dir, "shop", "web", "app.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadTree(dir); err == nil || !strings.Contains(err.Error(), "app.json") {
		t.Errorf("ReadTree of a tree with a broken profile: got %v, want an error naming it", err)
	}
}

// A Flusher rewrites only the profiles that changed since it last wrote.
func TestFlusherWritesChanges(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-1", "web:1"),
		"/o": {Name: "db", PodName: "db-0", PodNamespace: "shop", Workload: "db", WorkloadKind: cri.KindStatefulSet},
	}}
	fr.set(1, "a", rec("read"))
	fr.set(2, "o", rec("fsync"))
	s := start(t, fr, Options{Resolver: res})
	dir := t.TempDir()
	f := NewFlusher(dir)
	inode := func(rel string) uint64 {
		t.Helper()
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	if _, err := f.Write(snapshot(t, s)); err != nil {
		t.Fatal(err)
	}
	web, db := inode("shop/web/app.json"), inode("shop/db/db.json")
	fr.set(1, "a", rec("read", "flock"))
	if _, err := f.Write(snapshot(t, s)); err != nil {
		t.Fatal(err)
	}
	// An atomic write puts a new file in place: a new inode.
	if got := inode("shop/web/app.json"); got == web {
		t.Errorf("web's profile changed, but got the same file (inode %d), want it rewritten", got)
	}
	if got := inode("shop/db/db.json"); got != db {
		t.Errorf("db's profile did not change, but got a new file (inode %d, was %d), want it left alone", got, db)
	}
	p, err := profiles.ParseFile(filepath.Join(dir, "shop", "web", "app.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !slices.Contains(got, "flock") {
		t.Errorf("web's profile: got %v, want flock in it", got)
	}
}

// late is a fakeRecorder whose cgroup 2 appears after the session's poll
// has listed the cgroups: only the read of the recordings has it, with
// its name, as the recorder's Cgroups does once it has drained the
// announcements.
type late struct{ *fakeRecorder }

func (l late) CgroupIDs() ([]uint64, error) { return []uint64{1}, nil }

func (l late) CgroupName(id uint64) (string, bool) {
	if id == 2 {
		return "", false
	}
	return l.fakeRecorder.CgroupName(id)
}

func (l late) Cgroups() (map[uint64]*recorder.Recording, error) {
	out, err := l.fakeRecorder.Cgroups()
	if r := out[2]; r != nil {
		c := *r
		c.Cgroup = "b"
		out[2] = &c
	}
	return out, err
}

// A container that a snapshot's read of the recordings is the first to
// see is named then, not reported as unattributed.
func TestSnapshotNamesLateCgroups(t *testing.T) {
	fr := newFakeRecorder()
	res := &fakeResolver{byCg: map[string]*cri.Container{
		"/a": replica("web-1", "web:1"),
		"/b": replica("web-2", "web:1"),
	}}
	fr.set(1, "a", rec("read"))
	fr.set(2, "b", rec("flock"))
	snap := snapshot(t, start(t, late{fr}, Options{Resolver: res}))
	if len(snap.Warnings) != 0 {
		t.Errorf("got warnings %q, want none", snap.Warnings)
	}
	if len(snap.Workloads) != 1 || snap.Workloads[0].Entry.Replicas != 2 || !slices.Contains(names(snap.Workloads[0].Profile), "flock") {
		t.Errorf("got workloads %+v, want web with 2 replicas, flock from the late one", snap.Workloads)
	}
}
