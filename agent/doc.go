// Package agent is sysrec's Kubernetes node agent: it records the
// containers of its node (through the containers package), reports what
// the pods that each SyscallRecording selects did as its node's entry of
// the recording's status, installs the recording's merged profiles into
// the kubelet's seccomp directory, and attributes the seccomp audit
// records of its node to the recordings whose profiles the pods run.
//
// Kubernetes is its only coordination: every agent owns one entry of
// status.nodes through server-side apply, and the controller package
// merges the entries.
package agent
