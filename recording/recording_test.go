package recording_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recording"
	"github.com/sysrec/sysrec/syscalls"
)

const x86 = "SCMP_ARCH_X86_64"

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestLocalhostProfileParse(t *testing.T) {
	p := recording.LocalhostProfile("shop", "web", "app")
	if p != "sysrec/shop/web/app.json" {
		t.Fatalf("LocalhostProfile = %q", p)
	}
	ns, name, c, ok := recording.Parse(p)
	if !ok || ns != "shop" || name != "web" || c != "app" {
		t.Fatalf("Parse(%q) = %q %q %q %v", p, ns, name, c, ok)
	}
	for _, bad := range []string{
		"", "app.json", "sysrec/shop/web/app", "other/shop/web/app.json", "sysrec/shop/web/sub/app.json",
		"sysrec/../web/app.json", "sysrec/shop/../app.json", "sysrec/shop/web/.json", "sysrec/shop//app.json",
		"/sysrec/shop/web/app.json",
	} {
		if _, _, _, ok := recording.Parse(bad); ok {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
}

func TestContentVersion(t *testing.T) {
	names := map[string][]string{x86: {"read", "write", "exit_group"}}
	audit, err := recording.Content(names, nil, v1alpha1.StageAudit)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := recording.Content(map[string][]string{x86: {"write", "exit_group", "read"}}, nil, v1alpha1.StageAudit)
	if string(audit) != string(again) {
		t.Errorf("the order of names changed the content:\n%s\n%s", audit, again)
	}
	enforce, err := recording.Content(names, nil, "Enforce")
	if err != nil {
		t.Fatal(err)
	}
	var a, e struct {
		DefaultAction string   `json:"defaultAction"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(audit, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(enforce, &e); err != nil {
		t.Fatal(err)
	}
	if a.DefaultAction != "SCMP_ACT_LOG" || e.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Errorf("default actions: Audit %s, Enforce %s", a.DefaultAction, e.DefaultAction)
	}
	if !reflect.DeepEqual(a.Architectures, []string{x86}) {
		t.Errorf("architectures = %v", a.Architectures)
	}
	va, ve := recording.Version(audit), recording.Version(enforce)
	if len(va) != 16 || va == ve || va != recording.Version(again) {
		t.Errorf("versions: audit %q, enforce %q, again %q", va, ve, recording.Version(again))
	}
}

func node(name string, containers ...v1alpha1.NodeContainer) v1alpha1.NodeResult {
	return v1alpha1.NodeResult{Node: name, Containers: containers}
}

func ctr(name string, pods []string, syscalls ...string) v1alpha1.NodeContainer {
	return v1alpha1.NodeContainer{Name: name, Pods: pods, Syscalls: map[string][]string{x86: syscalls}}
}

func TestMerge(t *testing.T) {
	a := node("a", ctr("app", []string{"web-1"}, "read", "write"), ctr("sidecar", []string{"web-1"}, "poll"))
	b := node("b", ctr("app", []string{"web-2", "web-3"}, "write", "mkdir"))
	got := recording.Merge([]v1alpha1.NodeResult{a, b})
	want := []v1alpha1.Profile{
		{Container: "app", Syscalls: map[string][]string{x86: {"mkdir", "read", "write"}}, Nodes: []string{"a", "b"}, Replicas: 3},
		{Container: "sidecar", Syscalls: map[string][]string{x86: {"poll"}}, Nodes: []string{"a"}, Replicas: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %+v\nwant %+v", got, want)
	}
	if rev := recording.Merge([]v1alpha1.NodeResult{b, a}); !reflect.DeepEqual(rev, want) {
		t.Errorf("Merge depends on the order of nodes: %+v", rev)
	}
	// The inputs are not changed.
	if !reflect.DeepEqual(a.Containers[0].Syscalls[x86], []string{"read", "write"}) {
		t.Errorf("Merge changed its input: %v", a.Containers[0].Syscalls)
	}
	if got := recording.Merge(nil); len(got) != 0 {
		t.Errorf("Merge(nil) = %v", got)
	}
}

func TestPublish(t *testing.T) {
	r := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
	r.Status.Nodes = []v1alpha1.NodeResult{
		node("a", ctr("app", []string{"web-1"}, "read")),
		node("b", ctr("app", []string{"web-2"}, "write")),
	}
	merged := recording.Merge(r.Status.Nodes)
	pub, err := recording.Publish(r, merged, v1alpha1.StageAudit)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := recording.Content(map[string][]string{x86: {"read", "write"}}, nil, v1alpha1.StageAudit)
	p := pub[0]
	if p.Version != recording.Version(content) || p.Stage != v1alpha1.StageAudit || p.LocalhostProfile != "sysrec/shop/web/app.json" || len(p.InstalledOn) != 0 {
		t.Fatalf("Publish = %+v", p)
	}
	// b holds the version, a an older one.
	r.Status.Nodes[0].Installed = []v1alpha1.InstalledProfile{{Container: "app", Version: "0123456789abcdef"}}
	r.Status.Nodes[1].Installed = []v1alpha1.InstalledProfile{{Container: "app", Version: p.Version}, {Container: "other", Version: p.Version}}
	pub, _ = recording.Publish(r, merged, v1alpha1.StageAudit)
	if !reflect.DeepEqual(pub[0].InstalledOn, []string{"b"}) {
		t.Errorf("InstalledOn = %v, want [b]", pub[0].InstalledOn)
	}
	// The enforcing profile is another version, which b does not hold.
	enf, _ := recording.Publish(r, merged, v1alpha1.StageEnforce)
	if enf[0].Version == p.Version || len(enf[0].InstalledOn) != 0 || enf[0].Stage != v1alpha1.StageEnforce {
		t.Errorf("enforcing profile = %+v", enf[0])
	}
	if merged[0].Version != "" {
		t.Errorf("Publish changed its input: %+v", merged[0])
	}
}

func TestActiveEnds(t *testing.T) {
	r := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)}}
	if !recording.Ends(r).IsZero() || !recording.Active(r, t0.Add(1000*time.Hour)) {
		t.Error("a recording without a duration ends")
	}
	r.Spec.Duration = &metav1.Duration{Duration: time.Hour}
	if end := recording.Ends(r); !end.Equal(t0.Add(time.Hour)) {
		t.Errorf("Ends = %v", end)
	}
	if !recording.Active(r, t0.Add(59*time.Minute)) || recording.Active(r, t0.Add(time.Hour)) {
		t.Error("Active is wrong around the end")
	}
	r.Spec.Duration = nil
	r.DeletionTimestamp = &metav1.Time{Time: t0}
	if recording.Active(r, t0) {
		t.Error("a deleted recording is active")
	}
}

func viol(c, sc, pod string, count int64, last time.Time) v1alpha1.Violation {
	return v1alpha1.Violation{Container: c, Syscall: sc, Pod: pod, Count: count, Last: metav1.NewTime(last)}
}

func TestViolations(t *testing.T) {
	a := v1alpha1.NodeResult{Node: "a", Violations: []v1alpha1.Violation{
		viol("app", "mkdir", "web-1", 2, t0), viol("app", "ptrace", "web-1", 1, t0.Add(-time.Hour)),
	}}
	b := v1alpha1.NodeResult{Node: "b", Violations: []v1alpha1.Violation{viol("app", "mkdir", "web-2", 3, t0.Add(time.Minute))}}
	got := recording.Violations([]v1alpha1.NodeResult{a, b})
	if len(got) != 2 {
		t.Fatalf("Violations = %+v", got)
	}
	m := got[0]
	if m.Syscall != "mkdir" || m.Count != 5 || m.Pod != "web-2" || m.Node != "b" || !m.Last.Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("newest = %+v", m)
	}
	if got[1].Syscall != "ptrace" || got[1].Node != "a" {
		t.Errorf("second = %+v", got[1])
	}
	if rev := recording.Violations([]v1alpha1.NodeResult{b, a}); !reflect.DeepEqual(rev, got) {
		t.Errorf("Violations depends on the order of nodes:\n%+v\n%+v", rev, got)
	}
}

func TestStageCanPromote(t *testing.T) {
	r := &v1alpha1.SyscallRecording{}
	r.Status.Nodes = []v1alpha1.NodeResult{{Node: "a", Violations: []v1alpha1.Violation{viol("app", "mkdir", "web-1", 1, t0.Add(-5*time.Minute))}}}
	if s, err := recording.Stage(r, t0); s != v1alpha1.StageAudit || err != nil {
		t.Errorf("no promotion asked: %s, %v", s, err)
	}
	r.Spec.Stage = v1alpha1.StageEnforce
	s, err := recording.Stage(r, t0)
	if s != v1alpha1.StageAudit || !errors.Is(err, recording.ErrRecentViolations) {
		t.Fatalf("violation 5m ago, window 10m: %s, %v", s, err)
	}
	for _, want := range []string{"mkdir", "app", "web-1", "node a", "force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	r.Spec.Promotion.Window = &metav1.Duration{Duration: time.Minute}
	if s, err := recording.Stage(r, t0); s != v1alpha1.StageEnforce || err != nil {
		t.Errorf("window 1m: %s, %v", s, err)
	}
	r.Spec.Promotion.Window = nil
	r.Spec.Promotion.Force = true
	if s, err := recording.Stage(r, t0); s != v1alpha1.StageEnforce || err != nil {
		t.Errorf("forced: %s, %v", s, err)
	}
	if err := recording.CanPromote(r, t0); err != nil {
		t.Errorf("CanPromote forced: %v", err)
	}
	// Once granted, a later violation does not demote.
	r.Spec.Promotion.Force = false
	r.Status.Stage = v1alpha1.StageEnforce
	if s, err := recording.Stage(r, t0); s != v1alpha1.StageEnforce || err != nil {
		t.Errorf("granted before: %s, %v", s, err)
	}
	// Back to Audit on request.
	r.Spec.Stage = v1alpha1.StageAudit
	if s, _ := recording.Stage(r, t0); s != v1alpha1.StageAudit {
		t.Errorf("spec Audit: %s", s)
	}
}

func TestUnionCountNow(t *testing.T) {
	a := map[string][]string{x86: {"read"}}
	u := recording.Union(a, map[string][]string{x86: {"write", "read"}, "SCMP_ARCH_X86": {"read"}})
	if !reflect.DeepEqual(u[x86], []string{"read", "write"}) || recording.Count(u) != 2 {
		t.Errorf("Union = %v, Count = %d", u, recording.Count(u))
	}
	if n := recording.Now(t0.Add(1500 * time.Millisecond)); !n.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("Now = %v", n)
	}
}

// Socket values as the recorder encodes them: domain<<8 | type.
const (
	inetStream  = 2<<8 | 1  // AF_INET, SOCK_STREAM
	inet6Stream = 10<<8 | 1 // AF_INET6, SOCK_STREAM
	unixDgram   = 1<<8 | 2  // AF_UNIX, SOCK_DGRAM
)

func sock(values ...int64) v1alpha1.SyscallArgs {
	return v1alpha1.SyscallArgs{Arch: x86, Syscall: "socket", Values: values}
}

// socketRules returns the address families that content allows socket
// with, and whether it allows socket by name.
func socketRules(t *testing.T, content []byte) (families []uint64, byName bool) {
	t.Helper()
	p, err := profiles.Parse(content, "content")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Syscalls {
		if s.Action != profiles.ActAllow || !slices.Contains(s.AllNames(), "socket") {
			continue
		}
		if len(s.Args) == 0 {
			byName = true
			continue
		}
		if s.Args[0].Index != 0 || s.Args[0].Op != profiles.OpEqualTo {
			t.Fatalf("socket's rule %+v does not compare the domain", s)
		}
		families = append(families, s.Args[0].Value)
	}
	slices.Sort(families)
	return families, byName
}

// TestContentWithoutArgs: a recording without argument values gets the
// profile that `sysrec record` writes for its names (completed and
// grouped), whether args is nil or empty, and its version does not move
// by accident.
func TestContentWithoutArgs(t *testing.T) {
	names := map[string][]string{x86: {"read", "write", "exit_group"}, "SCMP_ARCH_X86": {"read"}}
	for _, s := range []v1alpha1.Stage{v1alpha1.StageAudit, v1alpha1.StageEnforce} {
		got, err := recording.Content(names, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := profiles.Build(map[syscalls.Arch][]string{syscalls.X86_64: names[x86], syscalls.X86: names["SCMP_ARCH_X86"]}, nil,
			profiles.BuildOptions{DefaultAction: recording.Action(s), Groups: true})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := profiles.Marshal(p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s without args:\n%s\nwant what record writes\n%s", s, got, want)
		}
		if empty, _ := recording.Content(names, []v1alpha1.SyscallArgs{}, s); !bytes.Equal(empty, want) {
			t.Errorf("%s with an empty list of args differs from the names-only content", s)
		}
	}
	// The version of a names-only profile, as computed when completion
	// and groups came in: a change here changes every installed profile.
	audit, _ := recording.Content(map[string][]string{x86: {"read", "write", "exit_group"}}, nil, v1alpha1.StageAudit)
	if v := recording.Version(audit); v != "e71ea9e2d7a2a890" {
		t.Errorf("the names-only version moved: %s", v)
	}
}

func TestArgsRecordedRoundTrip(t *testing.T) {
	r := profiles.RecordedArgs{
		syscalls.X86_64: {"socket": {Values: []uint64{inet6Stream, inetStream}}, "clone": {Values: []uint64{0}}, "clone3": {}, "ioctl": {Overflow: true}},
		syscalls.X86:    {"socketcall": {Values: []uint64{1}}},
	}
	got := recording.Args(r)
	want := []v1alpha1.SyscallArgs{
		{Arch: "SCMP_ARCH_X86", Syscall: "socketcall", Values: []int64{1}},
		{Arch: x86, Syscall: "clone", Values: []int64{0}},
		{Arch: x86, Syscall: "clone3"}, // captured (into clone's values): it stays
		{Arch: x86, Syscall: "ioctl", Overflow: true},
		{Arch: x86, Syscall: "socket", Values: []int64{inetStream, inet6Stream}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Args = %+v\nwant %+v", got, want)
	}
	back := recording.Recorded(got)
	if !reflect.DeepEqual(back[syscalls.X86_64]["socket"].Values, []uint64{inetStream, inet6Stream}) || !back[syscalls.X86_64]["ioctl"].Overflow || len(back) != 2 || len(back[syscalls.X86_64]) != 4 {
		t.Errorf("Recorded(Args(r)) = %+v", back)
	}
	if recording.Args(nil) != nil || recording.Recorded(nil) != nil {
		t.Error("no values do not convert to nil")
	}
	// The input is not changed (Args sorts a copy).
	if !reflect.DeepEqual(r[syscalls.X86_64]["socket"].Values, []uint64{inet6Stream, inetStream}) {
		t.Errorf("Args changed its input: %v", r[syscalls.X86_64]["socket"].Values)
	}
}

// TestMergeArgs: merging two nodes unions each syscall's values, and the
// published profile allows socket with the families of both.
func TestMergeArgs(t *testing.T) {
	ca := ctr("app", []string{"web-1"}, "read", "socket")
	ca.Args = []v1alpha1.SyscallArgs{sock(inetStream)}
	cb := ctr("app", []string{"web-2"}, "socket", "write")
	cb.Args = []v1alpha1.SyscallArgs{sock(unixDgram, inet6Stream)}
	a, b := node("a", ca), node("b", cb)
	got := recording.Merge([]v1alpha1.NodeResult{a, b})
	if len(got) != 1 || !reflect.DeepEqual(got[0].Args, []v1alpha1.SyscallArgs{sock(unixDgram, inetStream, inet6Stream)}) {
		t.Fatalf("Merge = %+v, want socket with the values of both nodes", got)
	}
	if rev := recording.Merge([]v1alpha1.NodeResult{b, a}); !reflect.DeepEqual(rev, got) {
		t.Errorf("Merge depends on the order of nodes:\n%+v\n%+v", rev, got)
	}
	if !reflect.DeepEqual(cb.Args[0].Values, []int64{unixDgram, inet6Stream}) {
		t.Errorf("Merge changed its input: %v", cb.Args)
	}
	if n := recording.Count(got[0].Syscalls); n != 3 {
		t.Errorf("Count = %d, want 3: values do not count", n)
	}

	r := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}
	pub, err := recording.Publish(r, got, v1alpha1.StageEnforce)
	if err != nil {
		t.Fatal(err)
	}
	content, err := recording.Content(pub[0].Syscalls, pub[0].Args, pub[0].Stage)
	if err != nil {
		t.Fatal(err)
	}
	if pub[0].Version != recording.Version(content) {
		t.Errorf("version %s is not the content's", pub[0].Version)
	}
	fams, byName := socketRules(t, content)
	if byName || !slices.Equal(fams, []uint64{1, 2, 10}) {
		t.Errorf("socket: families %v, by name %v; want AF_UNIX, AF_INET and AF_INET6 only:\n%s", fams, byName, content)
	}
	names, _ := recording.Content(pub[0].Syscalls, nil, pub[0].Stage)
	if recording.Version(names) == pub[0].Version {
		t.Error("the values did not change the version")
	}
}

// TestMergeArgsByName: a node whose values overflowed, or that recorded
// socket without capturing its argument (an agent with other --args, or
// an older one), allows socket by name in the merged profile.
func TestMergeArgsByName(t *testing.T) {
	ca := ctr("app", []string{"web-1"}, "socket")
	ca.Args = []v1alpha1.SyscallArgs{sock(inetStream)}
	over := ctr("app", []string{"web-2"}, "socket")
	over.Args = []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "socket", Values: []int64{unixDgram}, Overflow: true}}
	uncaptured := ctr("app", []string{"web-3"}, "socket", "read")
	for name, other := range map[string]v1alpha1.NodeContainer{"overflow": over, "uncaptured": uncaptured} {
		for _, order := range [][]v1alpha1.NodeResult{{node("a", ca), node("b", other)}, {node("b", other), node("a", ca)}} {
			got := recording.Merge(order)
			if len(got) != 1 || len(got[0].Args) != 1 || !got[0].Args[0].Overflow {
				t.Fatalf("%s: Merge = %+v, want socket overflowed", name, got)
			}
			content, err := recording.Content(got[0].Syscalls, got[0].Args, v1alpha1.StageEnforce)
			if err != nil {
				t.Fatal(err)
			}
			if fams, byName := socketRules(t, content); !byName || len(fams) != 0 {
				t.Errorf("%s: socket families %v, by name %v; want by name only", name, fams, byName)
			}
		}
	}
	// A node that did not record socket at all does not widen it.
	none := ctr("app", []string{"web-4"}, "read")
	got := recording.Merge([]v1alpha1.NodeResult{node("a", ca), node("b", none)})
	if !reflect.DeepEqual(got[0].Args, []v1alpha1.SyscallArgs{sock(inetStream)}) {
		t.Errorf("a node without socket: Args = %+v", got[0].Args)
	}
}

// TestContentArgsDeterministic: equal inputs give equal bytes, whatever
// the order of the entries and values.
func TestContentArgsDeterministic(t *testing.T) {
	names := map[string][]string{x86: {"socket", "read", "clone", "clone3"}}
	args := []v1alpha1.SyscallArgs{sock(inet6Stream, inetStream), {Arch: x86, Syscall: "clone", Values: []int64{0}}}
	want, err := recording.Content(names, args, v1alpha1.StageEnforce)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		shuffled := []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "clone", Values: []int64{0}}, sock(inetStream, inet6Stream, inetStream)}
		got, err := recording.Content(map[string][]string{x86: {"clone3", "clone", "read", "socket"}}, shuffled, v1alpha1.StageEnforce)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the order of args changed the content:\n%s\n%s", got, want)
		}
	}
	if fams, byName := socketRules(t, want); byName || !slices.Equal(fams, []uint64{2, 10}) {
		t.Errorf("socket: families %v, by name %v", fams, byName)
	}
}
