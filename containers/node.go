package containers

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/recorder"
)

// NodeOptions say how OpenNode finds a node's runtimes and containers.
type NodeOptions struct {
	// CgroupFS is where the host's cgroup file system is mounted: the
	// cgroup2 mount itself, or a hybrid hierarchy's /sys/fs/cgroup, whose
	// "unified" holds it. "" finds the cgroup2 mount in /proc/self/mounts.
	CgroupFS string
	// PodRoots are the kubelet's pod cgroups below the cgroup2 mount; nil
	// for PodCgroupRoots.
	PodRoots []string
	// PodsOnly records the kubelet's pods only, not the containers that
	// containerd runs in its other namespaces.
	PodsOnly bool
	// Recorder configures the recorder; OpenNode sets its Logger and
	// ContainerRoots.
	Recorder recorder.Options
	Logger   *slog.Logger
}

// Node is a recorder in container mode for a node's containers.
type Node struct {
	Recorder *recorder.Recorder
	// Cgroup2 is the cgroup2 mount, and Roots the directories below it
	// whose containers are recorded.
	Cgroup2 string
	Roots   []string
}

// OpenNode starts recording the containers of a node whose runtimes conn
// connects to (cri.Connect). A runtime that an automatic connection did
// not reach is logged: its containers are named by their cgroup.
func OpenNode(conn *cri.Conn, opts NodeOptions) (*Node, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if conn.CRIErr != nil {
		log.Warn("no CRI runtime answered; containers are named by their cgroup only", "err", conn.CRIErr)
	}
	if conn.ContainerdErr != nil {
		log.Warn("containerd does not answer; plain containerd containers are named by their cgroup only", "err", conn.ContainerdErr)
	}
	n := &Node{}
	var err error
	if n.Cgroup2, err = Cgroup2(opts.CgroupFS); err != nil {
		return nil, err
	}
	var nss []string
	if !opts.PodsOnly {
		nss = conn.ContainerdNamespaces
	}
	if n.Roots, err = Roots(n.Cgroup2, opts.PodRoots, nss, log); err != nil {
		return nil, err
	}
	ro := opts.Recorder
	ro.Logger, ro.ContainerRoots = log, n.Roots
	if n.Recorder, err = recorder.New(ro); err != nil {
		return nil, err
	}
	return n, nil
}

// Close stops recording.
func (n *Node) Close() error { return n.Recorder.Close() }

// Cgroup2 finds the cgroup2 mount: dir itself, or dir/unified on a
// hybrid hierarchy; with dir "", the one /proc/self/mounts lists.
func Cgroup2(dir string) (string, error) {
	if dir == "" {
		return recorder.Cgroup2Mount("/proc/self/mounts")
	}
	for _, d := range []string{dir, filepath.Join(dir, "unified")} {
		var st unix.Statfs_t
		if err := unix.Statfs(d, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return d, nil
		}
	}
	return "", fmt.Errorf("finding the cgroup v2 mount: neither %s nor %s/unified is one: mount the host's /sys/fs/cgroup there", dir, dir)
}
