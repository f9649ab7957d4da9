package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Stage is what a recording's installed profiles do with a syscall that
// was not recorded.
// +kubebuilder:validation:Enum=Audit;Enforce
type Stage string

const (
	// StageAudit installs profiles whose default action is SCMP_ACT_LOG:
	// an unrecorded syscall runs, and the kernel logs it, which the
	// agents report as a violation.
	StageAudit Stage = "Audit"
	// StageEnforce installs profiles whose default action is
	// SCMP_ACT_ERRNO: an unrecorded syscall fails with EPERM.
	StageEnforce Stage = "Enforce"
)

// Phases of a recording.
const (
	PhaseRecording = "Recording"
	PhaseCompleted = "Completed"
)

// Condition types on a recording's status.
const (
	// ConditionInstalled is True when every agent that reports on the
	// recording holds the current version of each of its profiles.
	ConditionInstalled = "Installed"
	// ConditionPromoted is True when the profiles published are the
	// enforcing ones; False with a reason when a promotion was refused.
	ConditionPromoted = "Promoted"
)

// SyscallRecordingSpec selects what to record and says what to make of it.
type SyscallRecordingSpec struct {
	// Selector selects the pods to record, in the recording's namespace.
	Selector metav1.LabelSelector `json:"selector"`
	// Containers, when not empty, names the containers to record; the
	// others are left out.
	// +optional
	Containers []string `json:"containers,omitempty"`
	// Duration, when set, ends the recording that long after it was
	// created; without it the recording lasts until it is deleted.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// Stage is Audit (the default) or Enforce. Setting it to Enforce is
	// the promotion, which is refused while violations newer than
	// Promotion.Window exist, unless Promotion.Force is set.
	// +optional
	// +kubebuilder:default=Audit
	Stage Stage `json:"stage,omitempty"`
	// Promotion says when a promotion to Enforce is granted.
	// +optional
	Promotion Promotion `json:"promotion,omitempty"`
	// Output says which objects hold the merged profiles, besides the
	// kubelet's seccomp directory of every node.
	// +optional
	Output Output `json:"output,omitempty"`
}

// Promotion configures the step from Audit to Enforce.
type Promotion struct {
	// Window is how recent a violation must be to refuse a promotion;
	// 10m when not set.
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`
	// Force promotes even with recent violations.
	// +optional
	Force bool `json:"force,omitempty"`
}

// Output selects the objects that the merged profiles are written to.
type Output struct {
	// ConfigMap writes a ConfigMap named sysrec-<recording> in the
	// recording's namespace, one key per container (the default).
	// +optional
	// +kubebuilder:default=true
	ConfigMap *bool `json:"configMap,omitempty"`
	// SeccompProfile writes a Security Profiles Operator SeccompProfile
	// per container (security-profiles-operator.x-k8s.io/v1beta1).
	// +optional
	SeccompProfile bool `json:"seccompProfile,omitempty"`
}

// SyscallRecordingStatus is written by two kinds of writers, each owning
// its own fields through server-side apply: every node's agent owns its
// entry of Nodes, and the controller owns the rest.
type SyscallRecordingStatus struct {
	// Phase is Recording or Completed.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Ends is when a recording with a duration stops.
	// +optional
	Ends *metav1.Time `json:"ends,omitempty"`
	// Nodes are the agents' partial results, one entry per node.
	// +optional
	// +listType=map
	// +listMapKey=node
	Nodes []NodeResult `json:"nodes,omitempty"`
	// Profiles are the merged profiles, one per container.
	// +optional
	// +listType=map
	// +listMapKey=container
	Profiles []Profile `json:"profiles,omitempty"`
	// Stage is the stage of the profiles that are published.
	// +optional
	Stage Stage `json:"stage,omitempty"`
	// Warnings say what the profiles may miss, and why.
	// +optional
	Warnings []string `json:"warnings,omitempty"`
	// Violations are the syscalls that pods running a profile of this
	// recording made although the profile does not allow them, over all
	// nodes.
	// +optional
	Violations []Violation `json:"violations,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NodeResult is one node agent's report.
type NodeResult struct {
	Node string `json:"node"`
	// Updated is when the agent last wrote this entry.
	Updated metav1.Time `json:"updated"`
	// Containers are what the node recorded, per container name.
	// +optional
	// +listType=map
	// +listMapKey=name
	Containers []NodeContainer `json:"containers,omitempty"`
	// Drops counts what the node's recorder lost; all zero means nothing.
	// +optional
	Drops Drops `json:"drops,omitempty"`
	// Installed are the profile versions in the node's kubelet seccomp
	// directory.
	// +optional
	// +listType=map
	// +listMapKey=container
	Installed []InstalledProfile `json:"installed,omitempty"`
	// Violations are the unallowed syscalls seen on the node.
	// +optional
	Violations []Violation `json:"violations,omitempty"`
	// Warnings are the node's own.
	// +optional
	Warnings []string `json:"warnings,omitempty"`
}

// NodeContainer is what one node recorded of one container of the
// selected pods.
type NodeContainer struct {
	Name string `json:"name"`
	// Syscalls are the names recorded, per architecture (SCMP_ARCH_X86_64, ...).
	Syscalls map[string][]string `json:"syscalls"`
	// Args are the values of the captured arguments of the syscalls
	// recorded, one entry per architecture and syscall, sorted by both.
	// A recorded syscall without an entry was not captured: the profile
	// allows it by name.
	// +optional
	// +listType=map
	// +listMapKey=arch
	// +listMapKey=syscall
	Args []SyscallArgs `json:"args,omitempty"`
	// Pods are the selected pods on the node that ran the container.
	// +optional
	Pods []string `json:"pods,omitempty"`
	// Partial: a replica ran before the agent started recording it.
	// +optional
	Partial bool `json:"partial,omitempty"`
	// Filtered: a replica ran under a seccomp filter, whose denied
	// syscalls never reach the recorder.
	// +optional
	Filtered bool `json:"filtered,omitempty"`
}

// SyscallArgs are the values that one syscall's captured argument took
// on one architecture; a profile allows the syscall only with these
// values (socket only for the address families used, clone only with the
// namespace flags asked for).
type SyscallArgs struct {
	// Arch is the architecture, as in Syscalls (SCMP_ARCH_X86_64, ...).
	Arch string `json:"arch"`
	// Syscall is the syscall's name.
	Syscall string `json:"syscall"`
	// Values are the distinct values, sorted, encoded as the recorder
	// captures them (profiles.ArgKind): for socket, the domain shifted
	// left by 8 ORed with the type without SOCK_NONBLOCK and
	// SOCK_CLOEXEC; for clone and unshare, the namespace flags asked
	// for; for setns, the nstype; for personality, prctl and ioctl, the
	// persona, option or request (its low 32 bits); for mmap and
	// mprotect, prot's PROT_WRITE and PROT_EXEC bits. Every encoding is
	// below 2^63; they are the unsigned values as int64s.
	// +optional
	Values []int64 `json:"values,omitempty"`
	// Overflow: the syscall is allowed by name, since a replica used
	// more distinct values than the recorder keeps (or, in a merged
	// profile, a node recorded the syscall without capturing them).
	// +optional
	Overflow bool `json:"overflow,omitempty"`
}

// Drops mirrors the recorder's drop counters.
type Drops struct {
	LostTasks     int64 `json:"lostTasks,omitempty"`
	OutOfRange    int64 `json:"outOfRange,omitempty"`
	TargetMissing int64 `json:"targetMissing,omitempty"`
	CgroupsFull   int64 `json:"cgroupsFull,omitempty"`
	EventsLost    int64 `json:"eventsLost,omitempty"`
}

// InstalledProfile is a profile version a node holds.
type InstalledProfile struct {
	Container string `json:"container"`
	Version   string `json:"version"`
}

// Profile is one merged profile.
type Profile struct {
	Container string `json:"container"`
	// LocalhostProfile is the path to put in a pod's
	// seccompProfile.localhostProfile.
	LocalhostProfile string `json:"localhostProfile"`
	// Version identifies the profile's content: the first 16 hex digits
	// of its SHA-256.
	Version string `json:"version"`
	// Stage is the stage whose default action the content has.
	Stage Stage `json:"stage"`
	// Syscalls are the merged names, per architecture.
	Syscalls map[string][]string `json:"syscalls"`
	// Args are the merged values of the captured arguments, as in
	// NodeContainer: the union over the nodes. An entry is marked
	// Overflow, and its syscall allowed by name, when some node recorded
	// the syscall without capturing its argument.
	// +optional
	// +listType=map
	// +listMapKey=arch
	// +listMapKey=syscall
	Args []SyscallArgs `json:"args,omitempty"`
	// Nodes are the nodes that contributed.
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// Replicas counts the pods that contributed, over all nodes.
	// +optional
	Replicas int `json:"replicas,omitempty"`
	// InstalledOn are the nodes that hold this version.
	// +optional
	InstalledOn []string `json:"installedOn,omitempty"`
}

// Violation is a syscall that a profile's default action caught.
type Violation struct {
	Container string `json:"container"`
	Syscall   string `json:"syscall"`
	// Pod is the last pod that made it.
	// +optional
	Pod string `json:"pod,omitempty"`
	// +optional
	Node  string `json:"node,omitempty"`
	Count int64  `json:"count"`
	// Last is when it was last seen.
	Last metav1.Time `json:"last"`
}

// SyscallRecording records the syscalls of the pods it selects on every
// node, merges them into one profile per container, and installs the
// profiles on every node.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=srec
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.status.stage`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SyscallRecording struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SyscallRecordingSpec   `json:"spec"`
	Status SyscallRecordingStatus `json:"status,omitempty"`
}

// SyscallRecordingList is a list of SyscallRecordings.
//
// +kubebuilder:object:root=true
type SyscallRecordingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SyscallRecording `json:"items"`
}
