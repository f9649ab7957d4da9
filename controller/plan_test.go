package controller_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/controller"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/recording"
)

const x86 = "SCMP_ARCH_X86_64"

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func testRecording() *v1alpha1.SyscallRecording {
	r := &v1alpha1.SyscallRecording{ObjectMeta: metav1.ObjectMeta{
		Name: "web", Namespace: "shop", UID: "uid-1", Generation: 3, CreationTimestamp: metav1.NewTime(t0),
	}}
	r.Spec.Duration = &metav1.Duration{Duration: time.Hour}
	r.Status.Nodes = []v1alpha1.NodeResult{
		{Node: "b", Containers: []v1alpha1.NodeContainer{{Name: "app", Pods: []string{"web-2"}, Syscalls: map[string][]string{x86: {"write", "mkdir"}}}}},
		{Node: "a", Containers: []v1alpha1.NodeContainer{
			{Name: "app", Pods: []string{"web-1"}, Syscalls: map[string][]string{x86: {"read", "write"}}},
			{Name: "sidecar", Pods: []string{"web-1"}, Syscalls: map[string][]string{x86: {"poll"}}},
		}},
	}
	return r
}

func cond(t *testing.T, s controller.Status, typ string) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(s.Conditions, typ)
	if c == nil {
		t.Fatalf("no %s condition in %+v", typ, s.Conditions)
	}
	return *c
}

func TestPlanMergesNodes(t *testing.T) {
	r := testRecording()
	p, err := controller.NewPlan(r, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Status
	if s.Phase != v1alpha1.PhaseRecording || s.Stage != v1alpha1.StageAudit || !s.Ends.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("phase %s, stage %s, ends %v", s.Phase, s.Stage, s.Ends)
	}
	if len(s.Profiles) != 2 || s.Profiles[0].Container != "app" || s.Profiles[1].Container != "sidecar" {
		t.Fatalf("profiles = %+v", s.Profiles)
	}
	app := s.Profiles[0]
	if got := strings.Join(app.Syscalls[x86], ","); got != "mkdir,read,write" || app.Replicas != 2 || strings.Join(app.Nodes, ",") != "a,b" {
		t.Errorf("app = %+v", app)
	}
	// The ConfigMap holds exactly what the agents rebuild and check.
	cm := p.ConfigMap
	if cm == nil || cm.Name != "sysrec-web" || cm.Namespace != "shop" || len(cm.Data) != 2 {
		t.Fatalf("ConfigMap = %+v", cm)
	}
	want, _ := recording.Content(app.Syscalls, app.Args, v1alpha1.StageAudit)
	if cm.Data["app.json"] != string(want) || recording.Version([]byte(cm.Data["app.json"])) != app.Version {
		t.Errorf("ConfigMap app.json = %s, version %s", cm.Data["app.json"], app.Version)
	}
	if cm.Labels[controller.LabelManagedBy] != "sysrec" || cm.Labels[controller.LabelRecording] != "web" {
		t.Errorf("labels = %v", cm.Labels)
	}
	if ref := metav1.GetControllerOf(cm); ref == nil || ref.UID != "uid-1" || ref.Kind != "SyscallRecording" || ref.APIVersion != "sysrec.dev/v1alpha1" {
		t.Errorf("owner = %+v", cm.OwnerReferences)
	}
	if len(p.SeccompProfiles) != 0 {
		t.Errorf("SeccompProfiles not asked for: %v", p.SeccompProfiles)
	}
	in := cond(t, s, v1alpha1.ConditionInstalled)
	if in.Status != metav1.ConditionFalse || in.Reason != controller.ReasonPending || !strings.Contains(in.Message, "app version "+app.Version+" on a, b") || in.ObservedGeneration != 3 {
		t.Errorf("Installed = %+v", in)
	}
	if pr := cond(t, s, v1alpha1.ConditionPromoted); pr.Status != metav1.ConditionFalse || pr.Reason != controller.ReasonAudit {
		t.Errorf("Promoted = %+v", pr)
	}
	// Ended.
	if p, _ := controller.NewPlan(r, t0.Add(2*time.Hour)); p.Status.Phase != v1alpha1.PhaseCompleted {
		t.Errorf("phase after the duration = %s", p.Status.Phase)
	}
}

func TestPlanInstalled(t *testing.T) {
	r := testRecording()
	p, _ := controller.NewPlan(r, t0)
	for i := range r.Status.Nodes {
		for _, prof := range p.Status.Profiles {
			r.Status.Nodes[i].Installed = append(r.Status.Nodes[i].Installed, v1alpha1.InstalledProfile{Container: prof.Container, Version: prof.Version})
		}
	}
	// a lacks sidecar's version.
	r.Status.Nodes[1].Installed[1].Version = "0000000000000000"
	r.Status.Conditions = p.Status.Conditions
	p2, _ := controller.NewPlan(r, t0.Add(time.Minute))
	in := cond(t, p2.Status, v1alpha1.ConditionInstalled)
	if in.Status != metav1.ConditionFalse || !strings.Contains(in.Message, "sidecar") || strings.Contains(in.Message, "app version") {
		t.Errorf("Installed with sidecar missing on a = %+v", in)
	}
	if !in.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("lastTransitionTime moved without a change: %v", in.LastTransitionTime)
	}
	r.Status.Nodes[1].Installed[1].Version = p.Status.Profiles[1].Version
	r.Status.Conditions = p2.Status.Conditions
	p3, _ := controller.NewPlan(r, t0.Add(2*time.Minute))
	in = cond(t, p3.Status, v1alpha1.ConditionInstalled)
	if in.Status != metav1.ConditionTrue || in.Reason != controller.ReasonAllNodes || !in.LastTransitionTime.Time.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("Installed everywhere = %+v", in)
	}
	if strings.Join(p3.Status.Profiles[0].InstalledOn, ",") != "a,b" {
		t.Errorf("InstalledOn = %v", p3.Status.Profiles[0].InstalledOn)
	}
	// Reconciling again at a later time changes nothing: no write.
	r.Status.Conditions = p3.Status.Conditions
	cur := controller.CurrentStatus(r)
	cur.Phase, cur.Ends, cur.Profiles, cur.Stage = p3.Status.Phase, p3.Status.Ends, p3.Status.Profiles, p3.Status.Stage
	cur.Violations = []v1alpha1.Violation{}
	r.Status.Phase, r.Status.Ends, r.Status.Profiles, r.Status.Stage = cur.Phase, cur.Ends, cur.Profiles, cur.Stage
	p4, _ := controller.NewPlan(r, t0.Add(3*time.Minute))
	if !cur.Equal(p4.Status) {
		a, _ := json.Marshal(cur)
		b, _ := json.Marshal(p4.Status)
		t.Errorf("a steady recording would be written again:\n%s\n%s", a, b)
	}
}

func TestPlanPromotion(t *testing.T) {
	r := testRecording()
	r.Status.Nodes[0].Violations = []v1alpha1.Violation{{Container: "app", Syscall: "ptrace", Pod: "web-2", Count: 4, Last: metav1.NewTime(t0.Add(-2 * time.Minute))}}
	r.Spec.Stage = v1alpha1.StageEnforce
	p, _ := controller.NewPlan(r, t0)
	if p.Status.Stage != v1alpha1.StageAudit || p.PromoteErr == nil {
		t.Fatalf("stage %s, refusal %v", p.Status.Stage, p.PromoteErr)
	}
	pr := cond(t, p.Status, v1alpha1.ConditionPromoted)
	if pr.Status != metav1.ConditionFalse || pr.Reason != controller.ReasonViolationsInWindow || !strings.Contains(pr.Message, "ptrace") {
		t.Errorf("Promoted = %+v", pr)
	}
	if len(p.Status.Violations) != 1 || p.Status.Violations[0].Node != "b" || p.Status.Violations[0].Count != 4 {
		t.Errorf("violations = %+v", p.Status.Violations)
	}
	if !strings.Contains(p.ConfigMap.Data["app.json"], "SCMP_ACT_LOG") {
		t.Errorf("a refused promotion published the enforcing profile")
	}
	// After the window, granted.
	p, _ = controller.NewPlan(r, t0.Add(9*time.Minute))
	if p.Status.Stage != v1alpha1.StageEnforce || p.PromoteErr != nil {
		t.Fatalf("after the window: stage %s, refusal %v", p.Status.Stage, p.PromoteErr)
	}
	if pr := cond(t, p.Status, v1alpha1.ConditionPromoted); pr.Status != metav1.ConditionTrue || pr.Reason != controller.ReasonEnforcing {
		t.Errorf("Promoted = %+v", pr)
	}
	if !strings.Contains(p.ConfigMap.Data["app.json"], "SCMP_ACT_ERRNO") || p.Status.Profiles[0].Stage != v1alpha1.StageEnforce {
		t.Errorf("granted promotion did not publish the enforcing profile")
	}
}

func TestPlanWarnings(t *testing.T) {
	r := testRecording()
	r.Status.Nodes[0].Containers[0].Partial = true
	r.Status.Nodes[1].Containers[1].Filtered = true
	r.Status.Nodes[1].Drops.EventsLost = 7
	r.Status.Nodes[0].Warnings = []string{"the kernel has no BTF"}
	p, _ := controller.NewPlan(r, t0)
	got := strings.Join(p.Status.Warnings, "\n")
	for _, want := range []string{
		"node a: container sidecar: a replica ran under a seccomp filter",
		"node a: the recorder dropped data (eventsLost: 7)",
		"node b: the kernel has no BTF",
		"node b: container app: a replica ran before the agent recorded it",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(got, "node a:") {
		t.Errorf("warnings are not in node order:\n%s", got)
	}
}

func TestPlanOutputs(t *testing.T) {
	r := testRecording()
	no := false
	r.Spec.Output = v1alpha1.Output{ConfigMap: &no, SeccompProfile: true}
	p, err := controller.NewPlan(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if p.ConfigMap != nil {
		t.Errorf("ConfigMap written although spec.output.configMap is false")
	}
	if len(p.SeccompProfiles) != 2 {
		t.Fatalf("SeccompProfiles = %v", p.SeccompProfiles)
	}
	u := p.SeccompProfiles[0]
	if u.GetName() != "web-app" || u.GetNamespace() != "shop" || u.GetKind() != "SeccompProfile" || u.GetAPIVersion() != controller.SeccompProfileAPIVersion {
		t.Errorf("SeccompProfile = %v", u.Object)
	}
	if u.GetLabels()[controller.LabelRecording] != "web" || len(u.GetOwnerReferences()) != 1 || u.GetOwnerReferences()[0].UID != "uid-1" {
		t.Errorf("SeccompProfile metadata = %v", u.Object["metadata"])
	}
	spec, _ := json.Marshal(u.Object["spec"])
	if !strings.Contains(string(spec), `"defaultAction":"SCMP_ACT_LOG"`) || !strings.Contains(string(spec), `"mkdir","read","write"`) {
		t.Errorf("SeccompProfile spec = %s", spec)
	}
	if _, ok := u.Object["metadata"].(map[string]any)["creationTimestamp"]; ok {
		t.Errorf("apply patch carries creationTimestamp")
	}
}

func TestStatusPatch(t *testing.T) {
	r := testRecording()
	p, _ := controller.NewPlan(r, t0)
	data, err := controller.StatusPatch(r, p.Status)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	status := m["status"].(map[string]any)
	if _, ok := status["nodes"]; ok {
		t.Errorf("the controller's patch names status.nodes, which the agents own: %s", data)
	}
	if m["kind"] != "SyscallRecording" || m["apiVersion"] != "sysrec.dev/v1alpha1" || m["spec"] != nil {
		t.Errorf("patch = %s", data)
	}
}

func TestSummarize(t *testing.T) {
	r := testRecording()
	p, _ := controller.NewPlan(r, t0)
	r.Status.Profiles, r.Status.Stage, r.Status.Phase, r.Status.Conditions = p.Status.Profiles, p.Status.Stage, p.Status.Phase, p.Status.Conditions
	s := controller.Summarize(r)
	if s.Name != "web" || len(s.Nodes) != 2 || len(s.Profiles) != 2 || s.Profiles[0].Syscalls != 3 || s.Installed != "False" || s.Requested != v1alpha1.StageAudit {
		t.Errorf("Summarize = %+v", s)
	}
}

// TestPlanArgs: the nodes' argument values are merged into the published
// profile, and its content (the ConfigMap's) has the argument rules;
// names-only nodes keep the content they had.
func TestPlanArgs(t *testing.T) {
	r := testRecording()
	before, err := controller.NewPlan(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	r.Status.Nodes[0].Containers[0].Syscalls[x86] = append(r.Status.Nodes[0].Containers[0].Syscalls[x86], "socket")
	r.Status.Nodes[0].Containers[0].Args = []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "socket", Values: []int64{10<<8 | 1}}}
	r.Status.Nodes[1].Containers[0].Syscalls[x86] = append(r.Status.Nodes[1].Containers[0].Syscalls[x86], "socket")
	r.Status.Nodes[1].Containers[0].Args = []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "socket", Values: []int64{2<<8 | 1}}}
	p, err := controller.NewPlan(r, t0)
	if err != nil {
		t.Fatal(err)
	}
	app, sidecar := p.Status.Profiles[0], p.Status.Profiles[1]
	want := []v1alpha1.SyscallArgs{{Arch: x86, Syscall: "socket", Values: []int64{2<<8 | 1, 10<<8 | 1}}}
	if !reflect.DeepEqual(app.Args, want) {
		t.Fatalf("app's args = %+v, want %+v", app.Args, want)
	}
	var rules []string
	prof, err := profiles.Parse([]byte(p.ConfigMap.Data["app.json"]), "app.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range prof.Syscalls {
		if slices.Contains(s.AllNames(), "socket") {
			rules = append(rules, fmt.Sprint(s.Args))
		}
	}
	if len(rules) != 2 || !strings.Contains(rules[0], "{0 2 0 SCMP_CMP_EQ}") || !strings.Contains(rules[1], "{0 10 0 SCMP_CMP_EQ}") {
		t.Errorf("socket's rules in app.json: %q, want AF_INET and AF_INET6", rules)
	}
	if sidecar.Args != nil || sidecar.Version != before.Status.Profiles[1].Version || p.ConfigMap.Data["sidecar.json"] != before.ConfigMap.Data["sidecar.json"] {
		t.Errorf("the names-only sidecar changed: %+v", sidecar)
	}
}
