package agent

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/internal/kube"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/tree"
	"github.com/sysrec/sysrec/recording"
	"github.com/sysrec/sysrec/syscalls"
	"github.com/sysrec/sysrec/violations"
)

// fakeSession is a recording session whose snapshot the test sets.
type fakeSession struct {
	mu   sync.Mutex
	snap *containers.Snapshot
}

func (f *fakeSession) Snapshot() (*containers.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap, nil
}

func (f *fakeSession) set(t *testing.T, ns, workload, container string, labels map[string]string, pods []string, names ...string) {
	t.Helper()
	p, err := profiles.Generate(map[syscalls.Arch][]string{syscalls.X86_64: names}, profiles.ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = &containers.Snapshot{Workloads: []containers.Workload{{
		Entry:     tree.Entry{Namespace: ns, Workload: workload, Container: container, Pods: pods, Replicas: len(pods)},
		Profile:   p,
		PodLabels: labels,
	}}}
}

// setArgs sets a workload as a container session records it: its names
// and argument values besides the profile made from them.
func (f *fakeSession) setArgs(t *testing.T, ns, workload, container string, labels map[string]string, pods []string, args profiles.RecordedArgs, names ...string) {
	t.Helper()
	rec := map[syscalls.Arch][]string{syscalls.X86_64: names}
	p, err := profiles.GenerateArgs(rec, args, profiles.ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = &containers.Snapshot{Workloads: []containers.Workload{{
		Entry:     tree.Entry{Namespace: ns, Workload: workload, Container: container, Pods: pods, Replicas: len(pods)},
		Profile:   p,
		Syscalls:  rec,
		Args:      args,
		PodLabels: labels,
	}}}
}

func kubeClient(t *testing.T) client.Client {
	t.Helper()
	cfg := testenv.KubeAPI(t)
	c, err := kube.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newAgent(t *testing.T, c client.Client, node string, sess Snapshotter) (*Agent, string) {
	t.Helper()
	root := t.TempDir()
	a, err := New(Options{Node: node, SeccompRoot: root, Session: sess, Client: c, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return a, root
}

func get(t *testing.T, c client.Client, key types.NamespacedName) *v1alpha1.SyscallRecording {
	t.Helper()
	var r v1alpha1.SyscallRecording
	if err := c.Get(context.Background(), key, &r); err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	return &r
}

func nodeEntry(r *v1alpha1.SyscallRecording, node string) *v1alpha1.NodeResult {
	for i := range r.Status.Nodes {
		if r.Status.Nodes[i].Node == node {
			return &r.Status.Nodes[i]
		}
	}
	return nil
}

// TestAgentsReportInstallAndAttribute runs two agents, for two nodes,
// against a real API server: each writes its own entry of the
// recording's status without touching the other's, each installs the
// profile merged from both, and a violation of a pod that runs it is
// reported on the recording.
func TestAgentsReportInstallAndAttribute(t *testing.T) {
	c := kubeClient(t)
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "default", Name: "web"}
	rec := &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       v1alpha1.SyscallRecordingSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	if err := c.Create(ctx, rec); err != nil {
		t.Fatalf("creating the recording: %v", err)
	}

	labels := map[string]string{"app": "web", "pod-template-hash": "abc"}
	sa, sb, other := &fakeSession{}, &fakeSession{}, &fakeSession{}
	sa.set(t, "default", "web", "app", labels, []string{"web-abc-1"}, "read", "write")
	sb.set(t, "default", "web", "app", labels, []string{"web-abc-2"}, "read", "mkdir")
	a, rootA := newAgent(t, c, "node-a", sa)
	b, rootB := newAgent(t, c, "node-b", sb)
	for _, ag := range []*Agent{a, b} {
		if err := ag.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	// A workload that the selector does not select is left out.
	other.set(t, "default", "db", "app", map[string]string{"app": "db"}, []string{"db-0"}, "socket")
	if err := func() error { o, _ := newAgent(t, c, "node-c", other); return o.Sync(ctx) }(); err != nil {
		t.Fatalf("sync: %v", err)
	}

	r := get(t, c, key)
	for node, want := range map[string][]string{"node-a": {"read", "write"}, "node-b": {"mkdir", "read"}} {
		e := nodeEntry(r, node)
		if e == nil || len(e.Containers) != 1 {
			t.Fatalf("%s's entry: got %+v, want one container", node, e)
		}
		if got := e.Containers[0].Syscalls[string(syscalls.X86_64)]; !slices.Equal(got, want) {
			t.Errorf("%s recorded: got %v, want %v", node, got, want)
		}
	}
	if e := nodeEntry(r, "node-c"); e == nil || len(e.Containers) != 0 {
		t.Errorf("node-c's entry: got %+v, want an entry with no container", e)
	}

	// What the controller publishes: the union of the nodes.
	merged, err := recording.Publish(r, recording.Merge(r.Status.Nodes), v1alpha1.StageAudit)
	if err != nil {
		t.Fatal(err)
	}
	if got := merged[0].Syscalls[string(syscalls.X86_64)]; !slices.Equal(got, []string{"mkdir", "read", "write"}) {
		t.Fatalf("merged: got %v, want mkdir, read and write", got)
	}
	patch := &v1alpha1.SyscallRecording{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SyscallRecording"},
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Status:     v1alpha1.SyscallRecordingStatus{Profiles: merged, Stage: v1alpha1.StageAudit},
	}
	if err := c.Status().Patch(ctx, patch, client.Apply, client.FieldOwner("test-controller"), client.ForceOwnership); err != nil {
		t.Fatalf("publishing the profiles: %v", err)
	}

	for _, x := range []struct {
		ag   *Agent
		root string
	}{{a, rootA}, {b, rootB}} {
		if err := x.ag.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
		data, err := os.ReadFile(filepath.Join(x.root, merged[0].LocalhostProfile))
		if err != nil {
			t.Fatalf("the installed profile: %v", err)
		}
		p, err := profiles.Parse(data, "installed")
		if err != nil {
			t.Fatal(err)
		}
		completed := profiles.Completed(p)
		got := slices.DeleteFunc(p.AllowedNames(), func(n string) bool { _, ok := completed[n]; return ok })
		if !slices.Equal(got, []string{"mkdir", "read", "write"}) || len(completed) == 0 || p.DefaultAction != profiles.ActLog {
			t.Errorf("installed on %s: got %v and completions %v with %s, want mkdir, read and write, some completions, with SCMP_ACT_LOG", x.ag.opts.Node, got, completed, p.DefaultAction)
		}
	}
	r = get(t, c, key)
	for _, node := range []string{"node-a", "node-b"} {
		e := nodeEntry(r, node)
		if e == nil || len(e.Installed) != 1 || e.Installed[0].Version != merged[0].Version {
			t.Errorf("%s's installed: got %+v, want version %s", node, e, merged[0].Version)
		}
	}
	if len(r.Status.Profiles) != 1 {
		t.Errorf("the agents' writes dropped the controller's profiles: got %+v", r.Status.Profiles)
	}

	// A pod on node-a that runs the profile makes a syscall it lacks.
	lp := merged[0].LocalhostProfile
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{
			Name: "app", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}},
		}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatalf("creating the pod: %v", err)
	}
	procs := fakeProcs{42: {PodName: "probe", PodNamespace: "default", Name: "app"}, 43: {PodName: "web-abc-1", PodNamespace: "default", Name: "app"}}
	if !a.Violation(ctx, procs, violations.Record{PID: 42, Syscall: "socket", Action: "SCMP_ACT_LOG", Time: time.Now()}) {
		t.Fatal("a violation of a pod that runs the profile: got not attributed, want attributed")
	}
	if a.Violation(ctx, procs, violations.Record{PID: 43, Syscall: "socket", Action: "SCMP_ACT_LOG", Time: time.Now()}) {
		t.Error("a violation of a pod that does not exist: got attributed, want not")
	}
	if a.Violation(ctx, procs, violations.Record{PID: 44, Syscall: "socket", Action: "SCMP_ACT_LOG", Time: time.Now()}) {
		t.Error("a violation of a process in no container: got attributed, want not")
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	r = get(t, c, key)
	e := nodeEntry(r, "node-a")
	if e == nil || len(e.Violations) != 1 || e.Violations[0].Syscall != "socket" || e.Violations[0].Pod != "probe" || e.Violations[0].Count != 1 {
		t.Errorf("node-a's violations: got %+v, want socket once in probe", e)
	}
	if err := recording.CanPromote(r, time.Now()); err == nil {
		t.Error("promotion with a violation a moment ago: got granted, want refused")
	}
}

type fakeProcs map[int]*cri.Container

func (f fakeProcs) Container(_ context.Context, pid int) *cri.Container { return f[pid] }

// TestAgentWritesOnTheWayOut: a SIGTERM (the end of Run's context) writes
// what was recorded since the last interval.
func TestAgentWritesOnTheWayOut(t *testing.T) {
	c := kubeClient(t)
	key := types.NamespacedName{Namespace: "default", Name: "late"}
	rec := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	if err := c.Create(context.Background(), rec); err != nil {
		t.Fatalf("creating the recording: %v", err)
	}
	s := &fakeSession{}
	s.set(t, "default", "late", "app", map[string]string{"app": "late"}, []string{"late-1"}, "read")
	a, _ := newAgent(t, c, "node-a", s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	testenv.WaitFor(t, 30*time.Second, func() error { return a.Ready() })
	s.set(t, "default", "late", "app", map[string]string{"app": "late"}, []string{"late-1"}, "read", "openat")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	e := nodeEntry(get(t, c, key), "node-a")
	if e == nil || len(e.Containers) != 1 || !slices.Equal(e.Containers[0].Syscalls[string(syscalls.X86_64)], []string{"openat", "read"}) {
		t.Errorf("after the agent stopped: got %+v, want openat and read", e)
	}
}

// Socket values as the recorder encodes them: domain<<8 | type.
const (
	inetStream  = 2<<8 | 1  // AF_INET, SOCK_STREAM
	inet6Stream = 10<<8 | 1 // AF_INET6, SOCK_STREAM
	unixDgram   = 1<<8 | 2  // AF_UNIX, SOCK_DGRAM
)

// socketRules returns the address families that p allows socket with,
// and whether it allows socket by name.
func socketRules(t *testing.T, p *profiles.Profile) (families []uint64, byName bool) {
	t.Helper()
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

// TestAgentsReportArgs: each agent writes the argument values its node
// recorded into its entry, the API server keeps them (the CRD's schema
// has them), and the profile merged from both nodes, which each agent
// installs, allows socket with the families of both and no other.
func TestAgentsReportArgs(t *testing.T) {
	c := kubeClient(t)
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "default", Name: "net"}
	rec := &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       v1alpha1.SyscallRecordingSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "net"}}},
	}
	if err := c.Create(ctx, rec); err != nil {
		t.Fatalf("creating the recording: %v", err)
	}
	labels := map[string]string{"app": "net"}
	sa, sb := &fakeSession{}, &fakeSession{}
	// node-a's replica also made threads: clone3's flags are captured
	// into clone's values, and clone3 keeps an entry without values.
	sa.setArgs(t, "default", "net", "app", labels, []string{"net-1"},
		profiles.RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{inetStream}}, "clone": {Values: []uint64{0}}, "clone3": {}}},
		"clone", "clone3", "read", "socket")
	sb.setArgs(t, "default", "net", "app", labels, []string{"net-2"},
		profiles.RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{unixDgram, inet6Stream}}}}, "socket", "write")
	a, rootA := newAgent(t, c, "node-a", sa)
	b, rootB := newAgent(t, c, "node-b", sb)
	for _, ag := range []*Agent{a, b} {
		if err := ag.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}

	r := get(t, c, key)
	x86 := string(syscalls.X86_64)
	threads := []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "clone", Values: []int64{0}}, {Arch: x86, Syscall: "clone3"}}
	for node, wantArgs := range map[string][]v1alpha1.SyscallArgs{
		"node-a": append(slices.Clone(threads), v1alpha1.SyscallArgs{Arch: x86, Syscall: "socket", Values: []int64{inetStream}}),
		"node-b": {{Arch: x86, Syscall: "socket", Values: []int64{unixDgram, inet6Stream}}},
	} {
		e := nodeEntry(r, node)
		if e == nil || len(e.Containers) != 1 {
			t.Fatalf("%s's entry: got %+v, want one container", node, e)
		}
		if got := e.Containers[0].Args; !reflect.DeepEqual(got, wantArgs) {
			t.Errorf("%s's args, read back from the API server: got %+v, want %+v", node, got, wantArgs)
		}
	}

	merged, err := recording.Publish(r, recording.Merge(r.Status.Nodes), v1alpha1.StageEnforce)
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := append(slices.Clone(threads), v1alpha1.SyscallArgs{Arch: x86, Syscall: "socket", Values: []int64{unixDgram, inetStream, inet6Stream}})
	if len(merged) != 1 || !reflect.DeepEqual(merged[0].Args, wantArgs) {
		t.Fatalf("merged: got %+v, want socket with the values of both nodes", merged)
	}
	patch := &v1alpha1.SyscallRecording{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "SyscallRecording"},
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Status:     v1alpha1.SyscallRecordingStatus{Profiles: merged, Stage: v1alpha1.StageEnforce},
	}
	if err := c.Status().Patch(ctx, patch, client.Apply, client.FieldOwner("test-controller"), client.ForceOwnership); err != nil {
		t.Fatalf("publishing the profiles: %v", err)
	}
	if got := get(t, c, key).Status.Profiles; len(got) != 1 || !reflect.DeepEqual(got[0].Args, wantArgs) {
		t.Fatalf("the published profile, read back: got %+v, want args %+v", got, wantArgs)
	}

	for _, x := range []struct {
		ag   *Agent
		root string
	}{{a, rootA}, {b, rootB}} {
		if err := x.ag.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
		data, err := os.ReadFile(filepath.Join(x.root, merged[0].LocalhostProfile))
		if err != nil {
			t.Fatalf("the installed profile on %s: %v", x.ag.opts.Node, err)
		}
		if v := recording.Version(data); v != merged[0].Version {
			t.Errorf("installed on %s: version %s, published %s", x.ag.opts.Node, v, merged[0].Version)
		}
		p, err := profiles.Parse(data, "installed")
		if err != nil {
			t.Fatal(err)
		}
		if fams, byName := socketRules(t, p); byName || !slices.Equal(fams, []uint64{1, 2, 10}) || p.DefaultAction != profiles.ActErrno {
			t.Errorf("installed on %s: socket for families %v, by name %v, default %s; want AF_UNIX, AF_INET and AF_INET6 only, SCMP_ACT_ERRNO:\n%s",
				x.ag.opts.Node, fams, byName, p.DefaultAction, data)
		}
		if !slices.ContainsFunc(p.Syscalls, func(s profiles.Syscall) bool {
			return slices.Equal(s.AllNames(), []string{"clone3"}) && s.Action == profiles.ActErrno && s.ErrnoRet != nil && *s.ErrnoRet == 38
		}) {
			t.Errorf("installed on %s: clone3 does not fail with ENOSYS:\n%s", x.ag.opts.Node, data)
		}
	}
	r = get(t, c, key)
	for _, node := range []string{"node-a", "node-b"} {
		if e := nodeEntry(r, node); e == nil || len(e.Installed) != 1 || e.Installed[0].Version != merged[0].Version {
			t.Errorf("%s's installed: got %+v, want version %s", node, e, merged[0].Version)
		}
	}
}

// TestRecorded: a workload's names and values go into its node entry as
// they were recorded; one without its names (read from an earlier
// session's tree) gives every name its profile's rules name, by name.
func TestRecorded(t *testing.T) {
	args := profiles.RecordedArgs{syscalls.X86_64: {"socket": {Values: []uint64{inetStream}}, "clone": {Values: []uint64{0}}}}
	rec := map[syscalls.Arch][]string{syscalls.X86_64: {"clone", "clone3", "read", "socket"}}
	p, err := profiles.GenerateArgs(rec, args, profiles.ActErrno)
	if err != nil {
		t.Fatal(err)
	}
	names, got := recorded(&containers.Workload{Profile: p, Syscalls: rec, Args: args})
	want := []v1alpha1.SyscallArgs{
		{Arch: string(syscalls.X86_64), Syscall: "clone", Values: []int64{0}},
		{Arch: string(syscalls.X86_64), Syscall: "socket", Values: []int64{inetStream}},
	}
	if !reflect.DeepEqual(names, recording.Names(rec)) || !reflect.DeepEqual(got, want) {
		t.Errorf("recorded: got %v, %+v; want %v, %+v", names, got, rec, want)
	}
	names, got = recorded(&containers.Workload{Profile: p})
	if w := []string{"clone", "clone3", "read", "socket"}; !slices.Equal(names[string(syscalls.X86_64)], w) || got != nil {
		t.Errorf("recorded from the profile only: got %v, %+v; want %v by name", names, got, w)
	}
}
