package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/internal/kube"
	"github.com/sysrec/sysrec/internal/testenv"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/syscalls"
)

// The test cluster's nodes, and where their kubelets read Localhost
// profiles (scripts/cluster.sh).
var (
	nodes       = []string{"sysrec-a", "sysrec-b"}
	clusterRoot = "/var/lib/sysrec-test/cluster"
)

const (
	image = "localhost/busybox:sysrec"
	// The agent reports every 10 s; the controller reconciles on change.
	converge = 3 * time.Minute
)

func seccompDir(node string) string { return filepath.Join(clusterRoot, node, "kubelet", "seccomp") }

// cluster connects to the cluster that SYSREC_KUBECONFIG names; without
// it the test is skipped (a failure under SYSREC_REQUIRE_BPF=1).
func cluster(t *testing.T) client.Client {
	t.Helper()
	path := os.Getenv("SYSREC_KUBECONFIG")
	if path == "" {
		testenv.Skip(t, "SYSREC_KUBECONFIG is not set: start a cluster with scripts/cluster.sh start")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	c, err := kube.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// namespace creates a namespace of the test's own, deleted at its end.
func namespace(t *testing.T, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating a namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), ns, client.PropagationPolicy(metav1.DeletePropagationForeground))
	})
	t.Cleanup(func() {
		if t.Failed() {
			dump(t, c, ns.Name)
		}
	})
	return ns.Name
}

// dump logs what a failed test leaves in its namespace: the pods'
// states, the events and the recording.
func dump(t *testing.T, c client.Client, ns string) {
	ctx := context.Background()
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns)); err == nil {
		for _, p := range pods.Items {
			for _, s := range p.Status.ContainerStatuses {
				t.Logf("pod %s on %s: %s, container %s: %+v", p.Name, p.Spec.NodeName, p.Status.Phase, s.Name, s.State)
			}
			if len(p.Status.ContainerStatuses) == 0 {
				t.Logf("pod %s on %s: %s %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
			}
		}
	}
	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(ns)); err == nil {
		for _, e := range events.Items {
			t.Logf("event %s/%s: %s %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	if r, err := getRecording(c, ns); err == nil {
		t.Logf("recording status: %+v", r.Status)
	}
}

// agentsReady waits for the agent on every node and the controller.
func agentsReady(t *testing.T, c client.Client) {
	t.Helper()
	testenv.WaitFor(t, converge, func() error {
		var pods corev1.PodList
		if err := c.List(context.Background(), &pods, client.InNamespace("sysrec-system"), client.MatchingLabels{"app.kubernetes.io/name": "sysrec"}); err != nil {
			return err
		}
		ready := map[string]bool{}
		for _, p := range pods.Items {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					ready[p.Labels["app.kubernetes.io/component"]+"/"+p.Spec.NodeName] = true
				}
			}
		}
		for _, n := range nodes {
			if !ready["agent/"+n] {
				return fmt.Errorf("no ready agent on %s (ready: %v)", n, ready)
			}
		}
		for k := range ready {
			if strings.HasPrefix(k, "controller/") {
				return nil
			}
		}
		return fmt.Errorf("no ready controller (ready: %v)", ready)
	})
}

// webDeployment runs one replica per node; the one on sysrec-b alone
// calls sync(2), so only the second node's recording holds it.
func webDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	script := `while true; do if [ "$NODE" = sysrec-b ]; then sync; fi; cat /proc/self/stat >/dev/null; sleep 1; done`
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					// One replica of each revision per node, rollouts too.
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector:  &metav1.LabelSelector{MatchLabels: labels},
						MatchLabelKeys: []string{appsv1.DefaultDeploymentUniqueLabelKey},
					}},
					Containers: []corev1.Container{{
						Name: "app", Image: image, ImagePullPolicy: corev1.PullNever,
						Command: []string{"/bin/sh", "-c", script},
						Env:     []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
					}},
				},
			},
		},
	}
}

// available waits until every replica of the deployment, at its latest
// generation, is available, one on each node.
func available(t *testing.T, c client.Client, ns string) {
	t.Helper()
	testenv.WaitFor(t, converge, func() error {
		var d appsv1.Deployment
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "web"}, &d); err != nil {
			return err
		}
		s := d.Status
		if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != 2 || s.AvailableReplicas != 2 || s.Replicas != 2 {
			return fmt.Errorf("deployment status %+v", s)
		}
		var pods corev1.PodList
		if err := c.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return err
		}
		on := map[string]bool{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				on[p.Spec.NodeName] = true
			}
		}
		if len(on) != 2 {
			return fmt.Errorf("running replicas on %v, want one on each node", on)
		}
		return nil
	})
}

func getRecording(c client.Client, ns string) (*v1alpha1.SyscallRecording, error) {
	var r v1alpha1.SyscallRecording
	err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "web"}, &r)
	return &r, err
}

// published waits until the recording's profile for container app
// satisfies ok and is installed on every node, and returns it.
func published(t *testing.T, c client.Client, ns string, ok func(*v1alpha1.SyscallRecording, *v1alpha1.Profile) error) v1alpha1.Profile {
	t.Helper()
	var out v1alpha1.Profile
	testenv.WaitFor(t, converge, func() error {
		r, err := getRecording(c, ns)
		if err != nil {
			return err
		}
		var p *v1alpha1.Profile
		for i := range r.Status.Profiles {
			if r.Status.Profiles[i].Container == "app" {
				p = &r.Status.Profiles[i]
			}
		}
		if p == nil {
			return fmt.Errorf("no profile for container app yet (status %+v)", r.Status)
		}
		if err := ok(r, p); err != nil {
			return err
		}
		if !slices.Equal(p.InstalledOn, nodes) {
			return fmt.Errorf("version %s installed on %v, want %v", p.Version, p.InstalledOn, nodes)
		}
		if !meta.IsStatusConditionTrue(r.Status.Conditions, v1alpha1.ConditionInstalled) {
			return fmt.Errorf("condition Installed not true: %+v", r.Status.Conditions)
		}
		out = *p
		return nil
	})
	// The kubelets read the files: the version the status names is there.
	for _, n := range nodes {
		path := filepath.Join(seccompDir(n), out.LocalhostProfile)
		prof, err := profiles.ParseFile(path)
		if err != nil {
			t.Fatalf("the profile on %s: %v", n, err)
		}
		if want := recordingAction(out.Stage); prof.DefaultAction != want {
			t.Errorf("the profile on %s: got default action %s, want %s", n, prof.DefaultAction, want)
		}
	}
	return out
}

func recordingAction(s v1alpha1.Stage) profiles.Action {
	if s == v1alpha1.StageEnforce {
		return profiles.ActErrno
	}
	return profiles.ActLog
}

// probe runs a pod, not selected by the recording, under the profile on
// node, that makes mkdir(2), which the recording never saw, and returns
// its container's exit code and termination message.
func probe(t *testing.T, c client.Client, ns, name, node, localhost string) (int32, string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "probe"}},
		Spec: corev1.PodSpec{
			NodeName: node, RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &localhost}},
			Containers: []corev1.Container{{
				Name: "app", Image: image, ImagePullPolicy: corev1.PullNever,
				// busybox forks each mkdir, which exits at once, and the
				// agent names the process of an audit record through
				// /proc: one that has gone by then is counted as
				// unattributed (see README). So the probe tries again,
				// and the test asks for one attributed record of ten.
				Command: []string{"/bin/sh", "-c", "mkdir /tmp/probe 2>/dev/termination-log; rc=$?; " +
					"for i in 1 2 3 4 5 6 7 8 9; do mkdir /tmp/probe$i 2>/dev/null; sleep 0.3; done; exit $rc"},
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}
	if err := c.Create(context.Background(), pod); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
	var code int32
	var msg string
	testenv.WaitFor(t, converge, func() error {
		var p corev1.Pod
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), &p); err != nil {
			return err
		}
		for _, s := range p.Status.ContainerStatuses {
			if term := s.State.Terminated; term != nil {
				code, msg = term.ExitCode, term.Message
				return nil
			}
			if w := s.State.Waiting; w != nil && w.Reason == "CreateContainerError" {
				return fmt.Errorf("pod %s cannot start: %s", name, w.Message)
			}
		}
		return fmt.Errorf("pod %s: %s", name, p.Status.Phase)
	})
	return code, msg
}

// TestRecordingToEnforcedProfile: a SyscallRecording turns a running
// Deployment, with a replica on each of two nodes, into one merged
// profile installed on both nodes; the Deployment runs under it; a pod
// that makes a syscall the recording never saw is reported as a
// violation at the Audit stage, and fails with EPERM once the recording
// is promoted to Enforce.
func TestRecordingToEnforcedProfile(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	agentsReady(t, c)
	ns := namespace(t, c)

	if err := c.Create(ctx, webDeployment(ns)); err != nil {
		t.Fatalf("creating the deployment: %v", err)
	}
	available(t, c, ns)
	start := time.Now()
	rec := &v1alpha1.SyscallRecording{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.SyscallRecordingSpec{
			Selector:  metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Promotion: v1alpha1.Promotion{Window: &metav1.Duration{Duration: time.Hour}},
		},
	}
	if err := c.Create(ctx, rec); err != nil {
		t.Fatalf("creating the recording: %v", err)
	}

	// One profile from both nodes: sync(2) was made on sysrec-b only.
	audit := published(t, c, ns, func(r *v1alpha1.SyscallRecording, p *v1alpha1.Profile) error {
		names := p.Syscalls["SCMP_ARCH_X86_64"]
		if !slices.Contains(names, "sync") || !slices.Contains(names, "nanosleep") && !slices.Contains(names, "clock_nanosleep") {
			return fmt.Errorf("merged profile %v lacks sync (from sysrec-b) or the sleep", names)
		}
		if !slices.Equal(p.Nodes, nodes) || p.Replicas < 2 {
			return fmt.Errorf("contributors: nodes %v, %d replicas; want both nodes, 2 replicas", p.Nodes, p.Replicas)
		}
		if p.Stage != v1alpha1.StageAudit {
			return fmt.Errorf("stage %s, want Audit", p.Stage)
		}
		return nil
	})
	t.Logf("from the recording's creation to the merged profile on every node: %s", time.Since(start).Round(time.Millisecond))
	if slices.Contains(audit.Syscalls["SCMP_ARCH_X86_64"], "mkdir") {
		t.Fatalf("the web pods made mkdir: the probe below would prove nothing")
	}
	var cm corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "sysrec-web"}, &cm); err != nil {
		t.Errorf("the ConfigMap output: %v", err)
	} else if p, err := profiles.Parse([]byte(cm.Data["app.json"]), "app.json"); err != nil {
		t.Errorf("the ConfigMap's app.json: %v", err)
	} else {
		// The shell forks: the agents captured clone's namespace flags (none),
		// so clone is allowed without namespace flags only.
		plain, err1 := p.Evaluate(profiles.Query{Arch: syscalls.X86_64, Name: "clone", Args: [6]uint64{uint64(unix.SIGCHLD)}})
		newNet, err2 := p.Evaluate(profiles.Query{Arch: syscalls.X86_64, Name: "clone", Args: [6]uint64{uint64(unix.SIGCHLD) | profiles.CloneNewNet}})
		if err := errors.Join(err1, err2); err != nil || plain.Action != profiles.ActAllow || newNet.Rule != profiles.RuleDefault {
			t.Errorf("clone in the merged profile: got %+v for no namespace and %+v for CLONE_NEWNET (%v); want allowed, and the default action:\n%s", plain, newNet, err, cm.Data["app.json"])
		}
	}

	// The Deployment rolls out under the Localhost profile.
	var d appsv1.Deployment
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	lp := audit.LocalhostProfile
	d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &lp}}
	if err := c.Update(ctx, &d); err != nil {
		t.Fatalf("patching the deployment to use %s: %v", lp, err)
	}
	available(t, c, ns)

	// Audit: mkdir runs, and is reported as a violation of the recording.
	if code, msg := probe(t, c, ns, "probe-audit", nodes[0], lp); code != 0 {
		t.Fatalf("mkdir under the Audit profile: got exit %d (%q), want 0", code, msg)
	}
	testenv.WaitFor(t, converge, func() error {
		r, err := getRecording(c, ns)
		if err != nil {
			return err
		}
		for _, v := range r.Status.Violations {
			if (v.Syscall == "mkdir" || v.Syscall == "mkdirat") && v.Container == "app" && v.Pod == "probe-audit" && v.Node == nodes[0] {
				return nil
			}
		}
		return fmt.Errorf("no mkdir violation of probe-audit on %s in %+v", nodes[0], r.Status.Violations)
	})

	// Promotion is refused while that violation is in the window...
	promote := func(force bool) {
		t.Helper()
		r, err := getRecording(c, ns)
		if err != nil {
			t.Fatal(err)
		}
		r.Spec.Stage = v1alpha1.StageEnforce
		r.Spec.Promotion.Force = force
		if err := c.Update(ctx, r); err != nil {
			t.Fatalf("promoting: %v", err)
		}
	}
	promote(false)
	testenv.WaitFor(t, converge, func() error {
		r, err := getRecording(c, ns)
		if err != nil {
			return err
		}
		cond := meta.FindStatusCondition(r.Status.Conditions, v1alpha1.ConditionPromoted)
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "ViolationsInWindow" || r.Status.Stage != v1alpha1.StageAudit {
			return fmt.Errorf("stage %s, condition %+v; want Audit, refused for ViolationsInWindow", r.Status.Stage, cond)
		}
		return nil
	})
	// ... and granted when forced.
	promote(true)
	enforced := published(t, c, ns, func(_ *v1alpha1.SyscallRecording, p *v1alpha1.Profile) error {
		if p.Stage != v1alpha1.StageEnforce {
			return fmt.Errorf("stage %s, want Enforce", p.Stage)
		}
		return nil
	})
	if enforced.Version == audit.Version {
		t.Errorf("the enforcing profile has the audit one's version %s", audit.Version)
	}

	// Enforce: the Deployment still runs under it, and mkdir fails with EPERM.
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Annotations = map[string]string{"sysrec.dev/restarted": time.Now().Format(time.RFC3339)}
	if err := c.Update(ctx, &d); err != nil {
		t.Fatalf("restarting the deployment: %v", err)
	}
	available(t, c, ns)
	code, msg := probe(t, c, ns, "probe-enforce", nodes[1], lp)
	if code == 0 || !strings.Contains(msg, "Operation not permitted") {
		t.Errorf("mkdir under the enforcing profile: got exit %d (%q), want a failure with EPERM", code, msg)
	}
}
