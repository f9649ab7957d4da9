#!/usr/bin/env bash
# Starts a CRI-O for sysrec's integration tests, with its own config,
# socket, root and state directories so that it never touches a CRI-O (or
# /etc/crio) the machine already has, and imports the local busybox image
# into its storage (no registry is needed). Debian has no CRI-O package, so
# the first start builds it from its Go module (minutes); later starts reuse
# the build. Idempotent: a running test CRI-O is reused.
#
#   scripts/crio.sh start   print the CRI endpoint once CRI-O answers
#   scripts/crio.sh stop    stop the CRI-O this script started
#
# Facts it builds on (cgroupfs, the oomScoreAdj wrapper, a local pause
# image) are in ../shared/RUNTIMES.md.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.34.0
base=/run/sysrec-test
state=/var/lib/sysrec-test/crio
build=/var/lib/sysrec-test/crio-build/$version
sock=$base/crio.sock
pidfile=$base/crio.pid
log=$base/crio.log
run=$base/crio
conf=$run/crio.conf
storage="overlay@$state/storage+$run/storage"
. scripts/testruntime.sh
go=$(command -v go || echo /usr/local/go/bin/go)

stop() { stop_pidfile "$pidfile"; }

answers() {
	[ -S "$sock" ] && "$build/crio" --config "$conf" --config-dir "$run/conf.d" status --socket "$sock" info >/dev/null 2>&1
}

running() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && answers
}

# build_crio builds crio and pinns from CRI-O's Go module into $build,
# unless they are there already.
build_crio() {
	[ -x "$build/crio" ] && [ -x "$build/pinns" ] && return
	echo "crio.sh: building CRI-O $version (takes minutes the first time)" >&2
	local dir
	dir=$(cd / && GOFLAGS= "$go" mod download -json "github.com/cri-o/cri-o@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] || { echo "crio.sh: go mod download of cri-o $version failed" >&2; exit 1; }
	mkdir -p "$build"
	rm -rf "$build/src"
	cp -r "$dir" "$build/src"
	chmod -R u+w "$build/src"
	(cd "$build/src" && GOFLAGS= "$go" build -mod=mod -trimpath \
		-tags "containers_image_openpgp exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper seccomp" \
		-o "$build/crio.tmp" ./cmd/crio) >&2
	make -C "$build/src/pinns" >&2
	cp "$build/src/bin/pinns" "$build/pinns"
	mv "$build/crio.tmp" "$build/crio"
}

write_config() {
	mkdir -p "$run/conf.d" "$run/cni" "$run/exits" "$run/attach" "$run/ns" "$run/pods" "$run/runc" "$state"
	# CRI-O always gives the infra container oomScoreAdj -998, which needs
	# CAP_SYS_RESOURCE; this runc wrapper makes negative values 0.
	install -m 0755 scripts/runc-nooom "$run/runc-wrapper"
	cat >"$run/policy.json" <<'JSON'
{"default":[{"type":"insecureAcceptAnything"}]}
JSON
	cat >"$conf" <<TOML
[crio]
root = "$state/storage"
runroot = "$run/storage"
storage_driver = "overlay"
log_dir = "$run/pods"
version_file = "$run/version"
version_file_persist = "$state/version"
clean_shutdown_file = "$state/clean.shutdown"
internal_wipe = true

[crio.api]
listen = "$sock"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
seccomp_profile = "/usr/share/containers/seccomp.json"
apparmor_profile = ""
selinux = false
pinns_path = "$build/pinns"
container_exits_dir = "$run/exits"
container_attach_socket_dir = "$run/attach"
namespaces_dir = "$run/ns"
hooks_dir = []
irqbalance_config_file = ""
irqbalance_config_restore_file = ""
cdi_spec_dirs = []
decryption_keys_path = "$run/keys"

[crio.runtime.runtimes.runc]
runtime_path = "$run/runc-wrapper"
runtime_type = "oci"
runtime_root = "$run/runc"
monitor_path = "/usr/bin/conmon"
monitor_cgroup = "pod"
monitor_env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

[crio.image]
pause_image = "$image"
pause_command = ""
signature_policy = "$run/policy.json"
signature_policy_dir = "$run/policies"
global_auth_file = ""

[crio.network]
network_dir = "$run/cni"
plugin_dirs = ["/usr/lib/cni"]

[crio.metrics]
enable_metrics = false

[crio.nri]
enable_nri = false
TOML
}

# import_image copies the local busybox image into CRI-O's storage.
import_image() {
	if skopeo --policy "$run/policy.json" inspect --raw "containers-storage:[$storage]$image" >/dev/null 2>&1; then
		return
	fi
	local tmp
	tmp=$(mktemp -d)
	build_image "$tmp"
	skopeo --policy "$run/policy.json" copy --quiet "docker-archive:$tmp/image.tar" "containers-storage:[$storage]$image" >&2
	rm -rf "$tmp"
}

start() {
	scripts/install-deps.sh crio >&2
	build_crio
	if running; then
		echo "unix://$sock"
		return
	fi
	stop
	write_config
	import_image
	setsid "$build/crio" --config "$conf" --config-dir "$run/conf.d" >"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	for _ in $(seq 300); do
		answers && break
		kill -0 "$(cat "$pidfile")" 2>/dev/null || break
		sleep 0.1
	done
	if ! running; then
		echo "crio.sh: CRI-O did not start; its log:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
	echo "unix://$sock"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: scripts/crio.sh start|stop" >&2; exit 2 ;;
esac
