// Package cri tells sysrec which container, pod and workload a traced
// process belongs to, so that a recording made on a Kubernetes node ends up
// in a profile per container rather than one per process.
//
// The authoritative answer comes from the Container Runtime Interface that
// containerd and CRI-O serve: given a container ID, the runtime knows the
// pod, its namespace and its labels. The container ID itself is read from
// the process's cgroup path (cgroup.go), because every runtime puts a
// container into a cgroup named after its ID. When no CRI endpoint answers
// (plain Docker or Podman, or a runtime socket that is not mounted), that
// ID is still available and is what the profile is keyed by.
//
// Pods are ephemeral and their names carry random suffixes, but replicas of
// one Deployment, StatefulSet, DaemonSet or Job run the same code and need
// the same syscalls. WorkloadName (workload.go) recovers the owning
// workload's name from the pod's name and labels, so that all replicas land
// in one profile and a rescheduled pod extends it instead of starting a new
// one. SanitizeName turns namespace, workload and container names into
// path elements that cannot escape the output directory.
package cri
