// Package controller is sysrec's merge controller: it watches
// SyscallRecordings, merges what every node's agent reported into one
// profile per container, publishes the profiles in the recording's status
// (which the agents install) and in a ConfigMap or Security Profiles
// Operator SeccompProfiles, and decides promotions from Audit to
// Enforce.
//
// The agents own their entries of status.nodes; the controller owns the
// rest of the status. Each writes with server-side apply under its own
// field manager, so neither overwrites the other.
//
// Plan is the pure part: what the controller wants, from a recording and
// the time. The reconciler only reads, compares and writes.
package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/profiles"
	"github.com/sysrec/sysrec/profiles/kube"
	"github.com/sysrec/sysrec/recording"
)

// FieldOwner is the controller's field manager.
const FieldOwner = "sysrec-controller"

// Labels on the objects the controller writes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelRecording = "sysrec.dev/recording"
)

// Condition reasons.
const (
	ReasonAllNodes           = "AllNodes"
	ReasonPending            = "Pending"
	ReasonNoProfiles         = "NoProfiles"
	ReasonEnforcing          = "Enforcing"
	ReasonAudit              = "Audit"
	ReasonViolationsInWindow = "ViolationsInWindow"
)

// SeccompProfileAPIVersion and SeccompProfileKind name the Security
// Profiles Operator's profile object.
const (
	SeccompProfileAPIVersion = "security-profiles-operator.x-k8s.io/v1beta1"
	SeccompProfileKind       = "SeccompProfile"
)

// WarningNoSeccompProfileCRD is the warning when the recording asks for
// SeccompProfiles and the cluster does not know the kind.
const WarningNoSeccompProfileCRD = "the SeccompProfile CRD is not installed: install the Security Profiles Operator, or set spec.output.seccompProfile to false"

// Status is the part of a recording's status that the controller owns:
// all of it but nodes. Its JSON is the controller's apply patch, so that
// a field left empty is one the controller no longer sets.
type Status struct {
	Phase      string               `json:"phase,omitempty"`
	Ends       *metav1.Time         `json:"ends,omitempty"`
	Profiles   []v1alpha1.Profile   `json:"profiles,omitempty"`
	Stage      v1alpha1.Stage       `json:"stage,omitempty"`
	Warnings   []string             `json:"warnings,omitempty"`
	Violations []v1alpha1.Violation `json:"violations,omitempty"`
	Conditions []metav1.Condition   `json:"conditions,omitempty"`
}

// CurrentStatus is the controller's part of r's status as it is.
func CurrentStatus(r *v1alpha1.SyscallRecording) Status {
	s := r.Status
	return Status{
		Phase: s.Phase, Ends: s.Ends, Profiles: s.Profiles, Stage: s.Stage,
		Warnings: s.Warnings, Violations: s.Violations, Conditions: s.Conditions,
	}
}

// Equal reports whether s and o would write the same status: nil and
// empty are the same, as they are once written.
func (s Status) Equal(o Status) bool {
	a, errA := json.Marshal(s)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && string(a) == string(b)
}

// Plan is what the controller wants for a recording at one time.
type Plan struct {
	// Status is the controller's part of the status.
	Status Status
	// Content is each profile's JSON, by container.
	Content map[string][]byte
	// ConfigMap holds the profiles; nil when the recording wants none.
	ConfigMap *corev1.ConfigMap
	// SeccompProfiles hold the profiles, one per container, as the
	// Security Profiles Operator's objects; empty when not wanted.
	SeccompProfiles []*unstructured.Unstructured
	// PromoteErr says why a promotion that the recording asks for is
	// refused; nil when none is asked for or it is granted.
	PromoteErr error
}

// NewPlan computes what the controller wants for r at now.
func NewPlan(r *v1alpha1.SyscallRecording, now time.Time) (*Plan, error) {
	stage, promoteErr := recording.Stage(r, now)
	published, err := recording.Publish(r, recording.Merge(r.Status.Nodes), stage)
	if err != nil {
		return nil, fmt.Errorf("publishing the profiles of recording %s/%s: %w", r.Namespace, r.Name, err)
	}
	p := &Plan{PromoteErr: promoteErr, Content: map[string][]byte{}}
	for _, prof := range published {
		content, err := recording.Content(prof.Syscalls, prof.Args, prof.Stage)
		if err != nil {
			return nil, fmt.Errorf("container %s of recording %s/%s: %w", prof.Container, r.Namespace, r.Name, err)
		}
		p.Content[prof.Container] = content
	}

	s := &p.Status
	s.Phase = v1alpha1.PhaseCompleted
	if recording.Active(r, now) {
		s.Phase = v1alpha1.PhaseRecording
	}
	if end := recording.Ends(r); !end.IsZero() {
		t := metav1.NewTime(end.UTC().Truncate(time.Second))
		s.Ends = &t
	}
	s.Profiles = published
	s.Stage = stage
	s.Warnings = NodeWarnings(r.Status.Nodes)
	s.Violations = recording.Violations(r.Status.Nodes)
	s.Conditions = conditions(r, published, stage, promoteErr, now)

	if r.Spec.Output.ConfigMap == nil || *r.Spec.Output.ConfigMap {
		p.ConfigMap = ConfigMap(r, published, p.Content)
	}
	if r.Spec.Output.SeccompProfile {
		for _, prof := range published {
			u, err := SeccompProfile(r, prof.Container, p.Content[prof.Container])
			if err != nil {
				return nil, err
			}
			p.SeccompProfiles = append(p.SeccompProfiles, u)
		}
	}
	return p, nil
}

// Warn adds a warning to the status.
func (p *Plan) Warn(w string) { p.Status.Warnings = append(p.Status.Warnings, w) }

// NodeWarnings are what the nodes' reports say the profiles may miss:
// each node's own warnings, containers recorded only in part or under a
// filter, and the recorder's drops. The nodes come in name order.
func NodeWarnings(nodes []v1alpha1.NodeResult) []string {
	sorted := slices.Clone(nodes)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Node < sorted[j].Node })
	var out []string
	for _, n := range sorted {
		for _, w := range n.Warnings {
			out = append(out, fmt.Sprintf("node %s: %s", n.Node, w))
		}
		for _, c := range n.Containers {
			if c.Partial {
				out = append(out, fmt.Sprintf("node %s: container %s: a replica ran before the agent recorded it; the profile may miss the syscalls it made then", n.Node, c.Name))
			}
			if c.Filtered {
				out = append(out, fmt.Sprintf("node %s: container %s: a replica ran under a seccomp filter, whose denied syscalls the recorder cannot see", n.Node, c.Name))
			}
		}
		for _, d := range []struct {
			name string
			n    int64
		}{
			{"lostTasks", n.Drops.LostTasks},
			{"outOfRange", n.Drops.OutOfRange},
			{"targetMissing", n.Drops.TargetMissing},
			{"cgroupsFull", n.Drops.CgroupsFull},
			{"eventsLost", n.Drops.EventsLost},
		} {
			if d.n != 0 {
				out = append(out, fmt.Sprintf("node %s: the recorder dropped data (%s: %d); the profiles may miss syscalls", n.Node, d.name, d.n))
			}
		}
	}
	return out
}

// conditions sets Installed and Promoted on a copy of r's conditions, so
// that a condition's lastTransitionTime changes only with its status.
func conditions(r *v1alpha1.SyscallRecording, published []v1alpha1.Profile, stage v1alpha1.Stage, promoteErr error, now time.Time) []metav1.Condition {
	out := slices.Clone(r.Status.Conditions)
	at := recording.Now(now)
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&out, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: r.Generation, LastTransitionTime: at,
		})
	}

	var nodes []string
	for _, n := range r.Status.Nodes {
		nodes = append(nodes, n.Node)
	}
	sort.Strings(nodes)
	var lacking []string
	for _, p := range published {
		var missing []string
		for _, n := range nodes {
			if !slices.Contains(p.InstalledOn, n) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			lacking = append(lacking, fmt.Sprintf("%s version %s on %s", p.Container, p.Version, strings.Join(missing, ", ")))
		}
	}
	switch {
	case len(published) == 0:
		set(v1alpha1.ConditionInstalled, metav1.ConditionFalse, ReasonNoProfiles, "no node has reported a recorded container yet")
	case len(lacking) > 0:
		set(v1alpha1.ConditionInstalled, metav1.ConditionFalse, ReasonPending, "not installed yet: "+strings.Join(lacking, "; "))
	default:
		set(v1alpha1.ConditionInstalled, metav1.ConditionTrue, ReasonAllNodes,
			fmt.Sprintf("%d profiles installed on all %d nodes: %s", len(published), len(nodes), strings.Join(nodes, ", ")))
	}

	switch {
	case stage == v1alpha1.StageEnforce:
		set(v1alpha1.ConditionPromoted, metav1.ConditionTrue, ReasonEnforcing, "the enforcing profiles are published")
	case promoteErr != nil:
		set(v1alpha1.ConditionPromoted, metav1.ConditionFalse, ReasonViolationsInWindow, "promotion refused: "+promoteErr.Error())
	default:
		set(v1alpha1.ConditionPromoted, metav1.ConditionFalse, ReasonAudit, "the auditing profiles are published; set spec.stage to Enforce to promote them")
	}
	return out
}

// ConfigMapName is the name of recording name's ConfigMap.
func ConfigMapName(name string) string { return "sysrec-" + name }

// ConfigMapKey is the key of a container's profile in the ConfigMap.
func ConfigMapKey(container string) string { return container + ".json" }

// ConfigMap holds the profiles of r, one key per container.
func ConfigMap(r *v1alpha1.SyscallRecording, published []v1alpha1.Profile, content map[string][]byte) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            ConfigMapName(r.Name),
			Namespace:       r.Namespace,
			Labels:          Labels(r),
			OwnerReferences: []metav1.OwnerReference{OwnerReference(r)},
		},
		Data: map[string]string{},
	}
	for _, p := range published {
		cm.Data[ConfigMapKey(p.Container)] = string(content[p.Container])
	}
	return cm
}

// Labels are the labels of the objects that hold r's profiles.
func Labels(r *v1alpha1.SyscallRecording) map[string]string {
	return map[string]string{LabelManagedBy: "sysrec", LabelRecording: r.Name}
}

// OwnerReference makes r the controller of an object, which the garbage
// collector deletes with r.
func OwnerReference(r *v1alpha1.SyscallRecording) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(),
		Kind:       "SyscallRecording",
		Name:       r.Name,
		UID:        r.UID,
		Controller: &yes,
	}
}

// SeccompProfileName is the name of the SeccompProfile of a container of
// recording name.
func SeccompProfileName(name, container string) string { return name + "-" + container }

// SeccompProfile is the Security Profiles Operator's object for the
// profile content of a container of r.
func SeccompProfile(r *v1alpha1.SyscallRecording, container string, content []byte) (*unstructured.Unstructured, error) {
	name := SeccompProfileName(r.Name, container)
	prof, err := profiles.Parse(content, container+".json")
	if err != nil {
		return nil, fmt.Errorf("reading back the profile of container %s: %w", container, err)
	}
	obj, err := kube.SeccompProfile(name, r.Namespace, prof)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(obj.Spec)
	if err != nil {
		return nil, fmt.Errorf("encoding SeccompProfile %s: %w", name, err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("encoding SeccompProfile %s: %w", name, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(SeccompProfileAPIVersion)
	u.SetKind(SeccompProfileKind)
	u.SetName(name)
	u.SetNamespace(r.Namespace)
	u.SetLabels(Labels(r))
	u.SetOwnerReferences([]metav1.OwnerReference{OwnerReference(r)})
	return u, nil
}

// configMapCurrent reports whether have already is want: same data, our
// labels, and r as its controller.
func configMapCurrent(have, want *corev1.ConfigMap) bool {
	if !maps.Equal(have.Data, want.Data) || len(have.BinaryData) > 0 {
		return false
	}
	if !labelsHeld(have.Labels, want.Labels) {
		return false
	}
	ref := metav1.GetControllerOf(have)
	return ref != nil && ref.UID == want.OwnerReferences[0].UID
}
