// Package containers records the containers of a node, one seccomp
// profile per container of a workload: replicas of one Deployment,
// StatefulSet, DaemonSet or Job share a profile.
//
// A Session polls a Recorder (the recorder package's, in container mode)
// for the container cgroups it tracks, names each through a Resolver (CRI,
// containerd's API, or the cgroup's name alone: see cri.Conn and
// cri.ResolveCgroup), selects them with a Filter, and groups their
// recordings into Workloads. Snapshot gives the results at any time;
// Snapshot.Write writes them as a profile tree (package profiles/tree).
//
// Processes names the container of a process, for tools that see pids
// rather than cgroups (seccomp audit records).
package containers
