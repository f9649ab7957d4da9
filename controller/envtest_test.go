package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/controller"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recording"
)

// kubeBin holds the kube-apiserver and etcd that scripts/kube-build.sh
// builds; SYSREC_KUBE_BIN overrides it.
const kubeBin = "/var/lib/sysrec-test/kube-build/v1.37.2-etcd-v3.7.3/bin"

// logWriter sends logs to the test until it ends.
type logWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) stop() { w.mu.Lock(); w.done = true; w.mu.Unlock() }

// startAPIServer starts etcd and kube-apiserver with sysrec's CRD, or
// skips the test when they are not built.
func startAPIServer(t *testing.T) (*envtest.Environment, *runtime.Scheme) {
	dir := kubeBin
	if d := os.Getenv("SYSREC_KUBE_BIN"); d != "" {
		dir = d
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		if os.Getenv("SYSREC_REQUIRE_CLUSTER") != "1" {
			t.Skipf("no kube-apiserver to test against (%v): build it with scripts/kube-build.sh, or set SYSREC_KUBE_BIN", err)
		}
		t.Fatalf("SYSREC_REQUIRE_CLUSTER=1 and no kube-apiserver: %v", err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: dir,
		CRDDirectoryPaths:     []string{filepath.Join("..", "deploy", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting kube-apiserver and etcd from %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return env, scheme
}

// applyNode writes a node's entry of status.nodes as that node's agent
// does: server-side apply under its own field manager.
func applyNode(ctx context.Context, c client.Client, key types.NamespacedName, n v1alpha1.NodeResult) error {
	patch, err := json.Marshal(map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "SyscallRecording",
		"metadata":   map[string]any{"name": key.Name, "namespace": key.Namespace},
		"status":     map[string]any{"nodes": []v1alpha1.NodeResult{n}},
	})
	if err != nil {
		return err
	}
	obj := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}}
	return c.Status().Patch(ctx, obj, client.RawPatch(types.ApplyPatchType, patch), client.FieldOwner("sysrec-agent/"+n.Node), client.ForceOwnership)
}

// eventually polls check until it returns nil, and fails the test with
// its last error after a while.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startController starts an API server and the controller against it,
// for the test's lifetime, and returns a client of the API server.
func startController(t *testing.T) (context.Context, client.Client, *slog.Logger) {
	env, scheme := startAPIServer(t)
	lw := &logWriter{t: t}
	t.Cleanup(lw.stop)
	log := slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))

	opts := controller.ManagerOptions()
	opts.Scheme = scheme
	opts.Metrics = metricsserver.Options{BindAddress: "0"}
	// Each test starts its own manager, in one process: the controller's
	// name repeats.
	skip := true
	opts.Controller.SkipNameValidation = &skip
	mgr, err := ctrl.NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := controller.Setup(mgr, log, controller.Options{Resync: time.Second}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("the manager: %v", err)
		}
	})

	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, c, log
}

func TestControllerAgainstAPIServer(t *testing.T) {
	ctx, c, log := startController(t)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "shop", Name: "web"}
	rec := &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       v1alpha1.SyscallRecordingSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	if err := c.Create(ctx, rec); err != nil {
		t.Fatalf("creating the recording: %v", err)
	}

	// Two agents report what their replicas did.
	now := recording.Now(time.Now())
	nodeA := v1alpha1.NodeResult{Node: "node-a", Updated: now, Containers: []v1alpha1.NodeContainer{
		{Name: "app", Pods: []string{"web-1"}, Syscalls: map[string][]string{x86: {"read", "write"}}},
	}}
	nodeB := v1alpha1.NodeResult{Node: "node-b", Updated: now, Containers: []v1alpha1.NodeContainer{
		{Name: "app", Pods: []string{"web-2"}, Syscalls: map[string][]string{x86: {"mkdir", "write"}}},
	}}
	for _, n := range []v1alpha1.NodeResult{nodeA, nodeB} {
		if err := applyNode(ctx, c, key, n); err != nil {
			t.Fatalf("applying %s's entry: %v", n.Node, err)
		}
	}

	get := func() *v1alpha1.SyscallRecording {
		r := &v1alpha1.SyscallRecording{}
		if err := c.Get(ctx, key, r); err != nil {
			t.Fatalf("reading the recording: %v", err)
		}
		return r
	}
	var app v1alpha1.Profile
	eventually(t, "the merged profile in the status", func() error {
		r := get()
		if len(r.Status.Profiles) != 1 {
			return fmt.Errorf("profiles %+v", r.Status.Profiles)
		}
		app = r.Status.Profiles[0]
		if got := strings.Join(app.Syscalls[x86], ","); got != "mkdir,read,write" || app.Replicas != 2 {
			return fmt.Errorf("profile %+v", app)
		}
		if len(r.Status.Nodes) != 2 {
			return fmt.Errorf("the controller's write lost the agents' entries: %+v", r.Status.Nodes)
		}
		in := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionInstalled)
		if in == nil || in.Status != metav1.ConditionFalse || in.Reason != controller.ReasonPending {
			return fmt.Errorf("Installed %+v", in)
		}
		return nil
	})
	eventually(t, "the ConfigMap", func() error {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "sysrec-web"}, cm); err != nil {
			return err
		}
		if v := recording.Version([]byte(cm.Data["app.json"])); v != app.Version {
			return fmt.Errorf("app.json version %s, status says %s", v, app.Version)
		}
		if ref := metav1.GetControllerOf(cm); ref == nil || ref.Name != "web" {
			return fmt.Errorf("owner %+v", cm.OwnerReferences)
		}
		return nil
	})

	// Both agents install that version; node-a also saw a violation.
	nodeA.Installed = []v1alpha1.InstalledProfile{{Container: "app", Version: app.Version}}
	nodeA.Violations = []v1alpha1.Violation{{Container: "app", Syscall: "ptrace", Pod: "web-1", Count: 1, Last: recording.Now(time.Now().Add(-time.Minute))}}
	nodeB.Installed = nodeA.Installed
	for _, n := range []v1alpha1.NodeResult{nodeA, nodeB} {
		if err := applyNode(ctx, c, key, n); err != nil {
			t.Fatalf("applying %s's entry: %v", n.Node, err)
		}
	}
	eventually(t, "Installed on every node", func() error {
		r := get()
		in := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionInstalled)
		if in == nil || in.Status != metav1.ConditionTrue || in.Reason != controller.ReasonAllNodes {
			return fmt.Errorf("Installed %+v", in)
		}
		if len(r.Status.Violations) != 1 || r.Status.Violations[0].Node != "node-a" {
			return fmt.Errorf("violations %+v", r.Status.Violations)
		}
		return nil
	})

	// A steady recording is not written again on resync.
	rv := get().ResourceVersion
	time.Sleep(3 * time.Second)
	if r := get(); r.ResourceVersion != rv {
		t.Errorf("the controller rewrote a steady recording: resourceVersion %s, then %s: %+v", rv, r.ResourceVersion, r.Status.Conditions)
	}

	// The CLI's promotion is refused with a violation a minute old.
	if _, err := controller.Promote(ctx, c, log, key, 10*time.Minute, false, time.Now()); !errors.Is(err, recording.ErrRecentViolations) {
		t.Fatalf("Promote with a recent violation: %v", err)
	}
	if get().Spec.Stage == v1alpha1.StageEnforce {
		t.Fatal("a refused promotion changed spec.stage")
	}
	// Asked for anyway, without the CLI, the controller refuses it.
	if err := c.Patch(ctx, get(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"stage":"Enforce"}}`))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the promotion refused", func() error {
		r := get()
		pr := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionPromoted)
		if pr == nil || pr.Status != metav1.ConditionFalse || pr.Reason != controller.ReasonViolationsInWindow || !strings.Contains(pr.Message, "ptrace") {
			return fmt.Errorf("Promoted %+v", pr)
		}
		if r.Status.Stage != v1alpha1.StageAudit {
			return fmt.Errorf("stage %s", r.Status.Stage)
		}
		return nil
	})
	// Forced, it is granted: the enforcing profile is published.
	if _, err := controller.Promote(ctx, c, log, key, 10*time.Minute, true, time.Now()); err != nil {
		t.Fatalf("forced Promote: %v", err)
	}
	eventually(t, "the promotion granted", func() error {
		r := get()
		pr := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionPromoted)
		if pr == nil || pr.Status != metav1.ConditionTrue || pr.Reason != controller.ReasonEnforcing {
			return fmt.Errorf("Promoted %+v", pr)
		}
		if r.Status.Stage != v1alpha1.StageEnforce || len(r.Status.Profiles) != 1 || r.Status.Profiles[0].Version == app.Version {
			return fmt.Errorf("stage %s, profiles %+v", r.Status.Stage, r.Status.Profiles)
		}
		// The agents hold the auditing version only now.
		in := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionInstalled)
		if in == nil || in.Status != metav1.ConditionFalse {
			return fmt.Errorf("Installed %+v", in)
		}
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "sysrec-web"}, cm); err != nil {
			return err
		}
		if !strings.Contains(cm.Data["app.json"], "SCMP_ACT_ERRNO") {
			return fmt.Errorf("ConfigMap app.json %s", cm.Data["app.json"])
		}
		return nil
	})

	// SeccompProfiles without the operator's CRD: a warning, no failure.
	if err := c.Patch(ctx, get(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"output":{"seccompProfile":true}}}`))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the missing CRD warned about", func() error {
		r := get()
		if !strings.Contains(strings.Join(r.Status.Warnings, "\n"), "SeccompProfile CRD is not installed") {
			return fmt.Errorf("warnings %q", r.Status.Warnings)
		}
		return nil
	})
	// No ConfigMap asked for any more: the controller deletes its own.
	if err := c.Patch(ctx, get(), client.RawPatch(types.MergePatchType, []byte(`{"spec":{"output":{"configMap":false}}}`))); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ConfigMap deleted", func() error {
		err := c.Get(ctx, types.NamespacedName{Namespace: "shop", Name: "sysrec-web"}, &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	// An agent's later write keeps the controller's fields.
	nodeB.Updated = recording.Now(time.Now())
	if err := applyNode(ctx, c, key, nodeB); err != nil {
		t.Fatal(err)
	}
	if r := get(); len(r.Status.Profiles) != 1 || r.Status.Stage != v1alpha1.StageEnforce || len(r.Status.Nodes) != 2 {
		t.Errorf("after an agent's write: %+v", r.Status)
	}
}

// Socket values as the recorder encodes them: domain<<8 | type.
const (
	inetStream  = 2<<8 | 1  // AF_INET, SOCK_STREAM
	inet6Stream = 10<<8 | 1 // AF_INET6, SOCK_STREAM
)

// TestControllerPublishesArgs: node entries with argument values for
// socket, applied through the API server, give a published profile whose
// content allows socket with the recorded families only; a node whose
// values overflowed widens socket to an allow by name.
func TestControllerPublishesArgs(t *testing.T) {
	ctx, c, _ := startController(t)
	key := types.NamespacedName{Namespace: "default", Name: "net"}
	rec := &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
		Spec:       v1alpha1.SyscallRecordingSpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "net"}}},
	}
	if err := c.Create(ctx, rec); err != nil {
		t.Fatalf("creating the recording: %v", err)
	}
	sock := func(overflow bool, values ...int64) []v1alpha1.SyscallArgs {
		return []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "socket", Values: values, Overflow: overflow}}
	}
	now := recording.Now(time.Now())
	nodeA := v1alpha1.NodeResult{Node: "node-a", Updated: now, Containers: []v1alpha1.NodeContainer{
		{Name: "app", Pods: []string{"net-1"}, Syscalls: map[string][]string{x86: {"read", "socket"}}, Args: sock(false, inetStream)},
	}}
	nodeB := v1alpha1.NodeResult{Node: "node-b", Updated: now, Containers: []v1alpha1.NodeContainer{
		{Name: "app", Pods: []string{"net-2"}, Syscalls: map[string][]string{x86: {"socket", "write"}}, Args: sock(false, inet6Stream)},
	}}
	for _, n := range []v1alpha1.NodeResult{nodeA, nodeB} {
		if err := applyNode(ctx, c, key, n); err != nil {
			t.Fatalf("applying %s's entry: %v", n.Node, err)
		}
	}
	// The CRD keys the list by architecture and syscall.
	dup := nodeA
	dup.Containers = []v1alpha1.NodeContainer{nodeA.Containers[0]}
	dup.Containers[0].Args = append(sock(false, inetStream), sock(false, inet6Stream)...)
	if err := applyNode(ctx, c, key, dup); err == nil || !strings.Contains(err.Error(), "duplicate entries") {
		t.Errorf("an entry with socket's values twice: got %v, want refused as duplicate entries", err)
	}

	get := func() *v1alpha1.SyscallRecording {
		r := &v1alpha1.SyscallRecording{}
		if err := c.Get(ctx, key, r); err != nil {
			t.Fatalf("reading the recording: %v", err)
		}
		return r
	}
	// content waits for the published profile and the ConfigMap's copy,
	// and returns the families that it allows socket with.
	content := func(what string, wantArgs []v1alpha1.SyscallArgs) (families []uint64, byName bool) {
		t.Helper()
		var app v1alpha1.Profile
		eventually(t, what, func() error {
			r := get()
			if len(r.Status.Profiles) != 1 || !reflect.DeepEqual(r.Status.Profiles[0].Args, wantArgs) {
				return fmt.Errorf("profiles %+v, want args %+v", r.Status.Profiles, wantArgs)
			}
			app = r.Status.Profiles[0]
			cm := &corev1.ConfigMap{}
			if err := c.Get(ctx, types.NamespacedName{Namespace: key.Namespace, Name: "sysrec-net"}, cm); err != nil {
				return err
			}
			if v := recording.Version([]byte(cm.Data["app.json"])); v != app.Version {
				return fmt.Errorf("app.json version %s, status says %s", v, app.Version)
			}
			return nil
		})
		want, err := recording.Content(app.Syscalls, app.Args, app.Stage)
		if err != nil {
			t.Fatal(err)
		}
		if recording.Version(want) != app.Version {
			t.Fatalf("%s: version %s is not that of the content the agents make", what, app.Version)
		}
		p, err := profiles.Parse(want, "app.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Syscalls {
			if s.Action != profiles.ActAllow || !slices.Contains(s.AllNames(), "socket") {
				continue
			}
			if len(s.Args) == 0 {
				byName = true
			} else {
				families = append(families, s.Args[0].Value)
			}
		}
		slices.Sort(families)
		return families, byName
	}
	if fams, byName := content("socket for both nodes' families", sock(false, inetStream, inet6Stream)); byName || !slices.Equal(fams, []uint64{2, 10}) {
		t.Errorf("socket for families %v, by name %v; want AF_INET and AF_INET6 only", fams, byName)
	}

	// node-b's values overflow: socket is allowed by name.
	nodeB.Containers[0].Args = sock(true, inet6Stream)
	if err := applyNode(ctx, c, key, nodeB); err != nil {
		t.Fatalf("applying node-b's entry: %v", err)
	}
	if fams, byName := content("socket by name", sock(true, inetStream, inet6Stream)); !byName || len(fams) != 0 {
		t.Errorf("socket for families %v, by name %v; want by name only", fams, byName)
	}
}
