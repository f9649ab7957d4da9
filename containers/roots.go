package containers

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sysrec/sysrec/cri"
	"github.com/sysrec/sysrec/recorder"
)

// PodCgroupRoots are the cgroup v2 directories, below the cgroup2 mount,
// under which the kubelet (cgroupfs and systemd drivers) puts pods.
var PodCgroupRoots = []string{"kubepods", "kubepods.slice"}

// Roots returns the cgroup v2 directories below cg2 (the cgroup2 mount)
// under which containers run: the kubelet's pod cgroups (podRoots, below
// cg2, or PodCgroupRoots when nil; those that exist), and one per
// containerd namespace (ctr run puts a container at /<namespace>/<id>).
// A namespace's directory is created if missing, as runc would for its
// first container, so that containers started later are recorded too.
// At most recorder.MaxContainerRoots are returned; log says which were
// left out.
func Roots(cg2 string, podRoots, containerdNamespaces []string, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if podRoots == nil {
		podRoots = PodCgroupRoots
	}
	var roots []string
	for _, r := range podRoots {
		if fi, err := os.Stat(filepath.Join(cg2, r)); err == nil && fi.IsDir() {
			roots = append(roots, filepath.Join(cg2, r))
		}
	}
	for _, ns := range containerdNamespaces {
		dir := filepath.Join(cg2, cri.SanitizeName(ns))
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			log.Warn("containerd namespace not recorded: creating its cgroup failed", "namespace", ns, "err", err)
			continue
		}
		roots = append(roots, dir)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no container cgroups under %s (looked for %v and containerd namespaces): is a container runtime running on this node?", cg2, podRoots)
	}
	if len(roots) > recorder.MaxContainerRoots {
		log.Warn("too many container cgroup roots; recording the first ones only", "max", recorder.MaxContainerRoots, "skipped", roots[recorder.MaxContainerRoots:])
		roots = roots[:recorder.MaxContainerRoots]
	}
	return roots, nil
}
