#!/usr/bin/env bash
# Starts a containerd for sysrec's integration tests, with its own socket,
# root and state directories so that it never touches a containerd the
# machine already runs, and imports a local busybox image (no registry is
# needed). Idempotent: a running test containerd is reused.
#
#   scripts/containerd.sh start   print the CRI endpoint once it answers
#   scripts/containerd.sh stop    stop the containerd this script started
#
# Facts it builds on (cgroupfs driver, restrict_oom_score_adj, a local
# sandbox image) are in ../shared/RUNTIMES.md.
set -euo pipefail
cd "$(dirname "$0")/.."

base=/run/sysrec-test
sock=$base/containerd.sock
pidfile=$base/containerd.pid
. scripts/testruntime.sh

stop() { stop_pidfile "$pidfile"; }

running() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && [ -S "$sock" ]
}

start() {
	scripts/install-deps.sh runtimes >&2
	free_cgroup2_controllers
	running || launch
	import_image
	echo "unix://$sock"
}

# free_cgroup2_controllers lets crun run on a hybrid cgroup host. crun
# refuses one whose cgroup2 hierarchy still holds controllers ("cgroups in
# hybrid mode not supported, drop all controllers from cgroupv2"), and on
# this kind of VM hugetlb is bound to cgroup2 only. Mounting such a
# controller as a v1 hierarchy, as systemd does on hybrid hosts, moves it
# out of cgroup2. A pure cgroup v2 host has no /sys/fs/cgroup/unified and
# is left alone.
free_cgroup2_controllers() {
	local unified=/sys/fs/cgroup/unified c
	[ -f "$unified/cgroup.controllers" ] || return 0
	for c in $(cat "$unified/cgroup.controllers"); do
		mkdir -p "/sys/fs/cgroup/$c"
		mountpoint -q "/sys/fs/cgroup/$c" && continue
		mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" ||
			echo "containerd.sh: cannot move the $c controller out of cgroup2; crun will refuse to run here" >&2
	done
}

# launch starts a containerd of the tests' own.
launch() {
	stop
	mkdir -p "$base/cni" /var/lib/sysrec-test/containerd
	cat >"$base/containerd.toml" <<TOML
version = 2
root = "/var/lib/sysrec-test/containerd"
state = "$base/containerd"
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$image"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "/usr/bin/crun"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$base/cni"
TOML
	setsid containerd --config "$base/containerd.toml" >"$base/containerd.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	for _ in $(seq 100); do
		[ -S "$sock" ] && ctr -a "$sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	if ! running; then
		echo "containerd.sh: containerd did not start; its log:" >&2
		tail -20 "$base/containerd.log" >&2
		exit 1
	fi
}

# import_image imports the test image where the tests need it.
import_image() {
	# The CRI plugin's namespace, and one for the tests' plain `ctr run`
	# containers.
	local ns tmp=""
	for ns in k8s.io sysrec-ctr; do
		if ! ctr -a "$sock" -n "$ns" images ls -q | grep -qx "$image"; then
			[ -n "$tmp" ] || { tmp=$(mktemp -d) && build_image "$tmp"; }
			ctr -a "$sock" -n "$ns" images import "$tmp/image.tar" >&2
		fi
	done
	[ -z "$tmp" ] || rm -rf "$tmp"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: scripts/containerd.sh start|stop" >&2; exit 2 ;;
esac
