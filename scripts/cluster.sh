#!/usr/bin/env bash
# Starts, on this one machine, a real two-node Kubernetes test cluster with
# sysrec's agent deployed from its locally built image, and tears it down.
# docs/cluster.md describes what runs where; ../shared/KUBERNETES.md has the
# facts and workarounds it builds on.
#
#   scripts/cluster.sh start   start (or reuse, or repair) the cluster; print
#                              KUBECONFIG=..., CONTAINERD_ADDRESS=... and
#                              CRIO_ADDRESS=... (CRI socket paths) on stdout
#   scripts/cluster.sh env     print those lines for a running cluster
#   scripts/cluster.sh stop    tear everything down (idempotent)
#
# Components: etcd, kube-apiserver (127.0.0.1:6443), kube-controller-manager,
# kube-scheduler, and two kubelets: node sysrec-a on a containerd of its own
# and node sysrec-b on a CRI-O of its own. None of them shares a socket,
# directory, cgroup or bridge with scripts/containerd.sh's or
# scripts/crio.sh's test runtimes, which may run at the same time.
#
# SYSREC_CLUSTER_NO_AGENT=1 starts the cluster without building and
# deploying the agent. Every wait has a deadline and names its log file.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
repo=$PWD

run=/run/sysrec-cluster
lib=/var/lib/sysrec-test/cluster
# The runtimes' roots stay outside $lib: the agent's DaemonSet mounts $lib,
# and CRI-O refuses a private hostPath mount that holds its storage root.
rtlib=/var/lib/sysrec-test/cluster-runtimes
logs=$run/logs
pki=$lib/pki
admin=$lib/admin.kubeconfig
nodes="sysrec-a sysrec-b"
etcd_client=127.0.0.1:12379
etcd_peer=127.0.0.1:12380
apiserver=127.0.0.1:6443
crio_version=v1.34.0
crio_build=/var/lib/sysrec-test/crio-build/$crio_version
crictl_version=v1.37.0
crictl_dir=/var/lib/sysrec-test/cri-tools/$crictl_version
busybox_image=localhost/busybox:sysrec
pause_image=localhost/pause:sysrec
agent_image=localhost/sysrec:dev
agent_tar=$repo/bin/sysrec-image.tar
agent_ns=sysrec-system
go=$(command -v go || echo /usr/local/go/bin/go)

# Per node: its IP (an address on lo: the kubelet refuses a loopback node
# IP, and the agents' hostNetwork pods bind their ports to it), kubelet
# ports, pod subnet and CNI bridge.
declare -A node_ip=([sysrec-a]=10.243.0.1 [sysrec-b]=10.243.0.2)
declare -A kubelet_port=([sysrec-a]=10250 [sysrec-b]=10251)
declare -A healthz_port=([sysrec-a]=10248 [sysrec-b]=10258)
declare -A subnet=([sysrec-a]=10.244.0.0/24 [sysrec-b]=10.244.1.0/24)
declare -A bridge=([sysrec-a]=sysrec-a0 [sysrec-b]=sysrec-b0)
declare -A runtime=([sysrec-a]=containerd [sysrec-b]=crio)
# The CRI sockets are where the agent's pods find them (the DaemonSet
# mounts $lib, not /run/sysrec-cluster).
declare -A cri_sock=([sysrec-a]=$lib/sysrec-a/cri.sock [sysrec-b]=$lib/sysrec-b/cri.sock)

log() { echo "cluster.sh: $(date +%T) $*" >&2; }

# die MESSAGE [LOGFILE] fails with MESSAGE and the tail of LOGFILE.
die() {
	log "error: $1"
	if [ -n "${2:-}" ] && [ -f "$2" ]; then
		log "last lines of $2:"
		tail -25 "$2" | sed 's/^/    /' >&2
	fi
	exit 1
}

kubectl() { "$kbin/kubectl" --kubeconfig "$admin" "$@"; }

# --- processes ---------------------------------------------------------

pidfile() { echo "$run/$1.pid"; }

# live PID: PID runs and is not a zombie (the daemons are reparented to
# PID 1, which may reap them late).
live() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

# alive NAME: the process this script started as NAME still runs (its
# pidfile names a live process running the binary recorded with it).
alive() {
	local pf pid exe want
	pf=$(pidfile "$1")
	[ -f "$pf" ] || return 1
	pid=$(cat "$pf")
	live "$pid" || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	want=$(cat "$run/$1.exe" 2>/dev/null) || return 1
	[ "${exe% (deleted)}" = "$want" ]
}

# stop_proc NAME [SECONDS]: TERM, then KILL after SECONDS (default 15).
stop_proc() {
	local name=$1 secs=${2:-15} pid deadline
	if alive "$name"; then
		pid=$(cat "$(pidfile "$name")")
		log "stopping $name (pid $pid)"
		kill "$pid" 2>/dev/null || true
		deadline=$((SECONDS + secs))
		while live "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		if live "$pid"; then
			log "$name did not exit on TERM in ${secs}s; killing it"
			kill -9 "$pid" 2>/dev/null || true
			deadline=$((SECONDS + 5))
			while live "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		fi
	fi
	rm -f "$(pidfile "$name")" "$run/$name.exe" "$run/$name.fp"
}

# ensure NAME BINARY ARGS...: starts BINARY as NAME unless it already runs
# with the same command line and configuration (the files in $fp_files).
# A running one with another configuration is restarted.
ensure() {
	local name=$1 bin=$2 fp
	shift 2
	fp=$({ printf '%s\n' "$bin" "$@"; for f in ${fp_files:-}; do cat "$f"; done; } | sha256sum | cut -d' ' -f1)
	if alive "$name" && [ "$(cat "$run/$name.fp" 2>/dev/null)" = "$fp" ]; then
		return 0
	fi
	stop_proc "$name"
	log "starting $name (log: $logs/$name.log)"
	# fd 9 holds the start/stop lock; the daemons must not inherit it.
	setsid "$bin" "$@" >>"$logs/$name.log" 2>&1 </dev/null 9>&- &
	echo $! >"$(pidfile "$name")"
	echo "$bin" >"$run/$name.exe"
	echo "$fp" >"$run/$name.fp"
}

# wait_for NAME SECONDS WHAT CMD...: runs CMD until it succeeds, failing
# after SECONDS or as soon as the process NAME dies, with NAME's log.
wait_for() {
	local name=$1 secs=$2 what=$3 deadline
	shift 3
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if [ -f "$(pidfile "$name")" ] && ! alive "$name"; then
			die "$what: $name exited" "$logs/$name.log"
		fi
		[ $SECONDS -lt $deadline ] || die "$what: not done after ${secs}s" "$logs/$name.log"
		sleep 0.2
	done
}

# --- build -------------------------------------------------------------

# build_crio builds CRI-O into the cache that scripts/crio.sh uses, the
# same way, unless it is there already.
build_crio() {
	[ -x "$crio_build/crio" ] && [ -x "$crio_build/pinns" ] && return
	log "building CRI-O $crio_version (minutes, once; log: $logs/build-crio.log)"
	local dir
	dir=$(cd / && GOFLAGS='' "$go" mod download -json "github.com/cri-o/cri-o@$crio_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] || die "go mod download of cri-o $crio_version failed"
	mkdir -p "$crio_build"
	rm -rf "$crio_build/src"
	cp -r "$dir" "$crio_build/src"
	chmod -R u+w "$crio_build/src"
	(cd "$crio_build/src" && GOFLAGS='' "$go" build -mod=mod -trimpath \
		-tags "containers_image_openpgp exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper seccomp" \
		-o "$crio_build/crio.tmp" ./cmd/crio) >>"$logs/build-crio.log" 2>&1 || die "building CRI-O failed" "$logs/build-crio.log"
	make -C "$crio_build/src/pinns" >>"$logs/build-crio.log" 2>&1 || die "building pinns failed" "$logs/build-crio.log"
	cp "$crio_build/src/bin/pinns" "$crio_build/pinns"
	mv "$crio_build/crio.tmp" "$crio_build/crio"
}

# build_crictl builds crictl (not packaged by Debian), which removes the
# pod sandboxes at teardown and helps to debug the nodes.
build_crictl() {
	[ -x "$crictl_dir/crictl" ] && return
	log "building crictl $crictl_version (about a minute, once)"
	mkdir -p "$crictl_dir"
	(cd / && GOFLAGS='' GOBIN="$crictl_dir" "$go" install "sigs.k8s.io/cri-tools/cmd/crictl@$crictl_version") \
		>>"$logs/build-crictl.log" 2>&1 || die "building crictl failed" "$logs/build-crictl.log"
}

crictl() {
	local sock=$1
	shift
	"$crictl_dir/crictl" --config /dev/null --timeout 30s -r "unix://$sock" -i "unix://$sock" "$@"
}

# --- certificates ------------------------------------------------------

# cert NAME SUBJECT EXTKEYUSAGE [SAN]: a key and a certificate signed by
# the cluster's CA, unless they exist.
cert() {
	local name=$1 subj=$2 eku=$3 san=${4:-}
	[ -f "$pki/$name.crt" ] && [ -f "$pki/$name.key" ] && return
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$eku"
		[ -z "$san" ] || echo "subjectAltName=$san"
	} >"$pki/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subj" 2>/dev/null
	openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
		-days 3650 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
	rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# kubeconfig FILE CERTNAME: a kubeconfig for the API server with the
# client certificate CERTNAME.
kubeconfig() {
	cat >"$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: sysrec
  cluster:
    server: https://$apiserver
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key
contexts:
- name: sysrec
  context: {cluster: sysrec, user: $2}
current-context: sysrec
YAML
}

make_pki() {
	mkdir -p "$pki"
	chmod 700 "$pki"
	if [ ! -f "$pki/ca.crt" ] || [ ! -f "$pki/ca.key" ]; then
		log "making the cluster's CA and certificates in $pki"
		rm -f "$pki"/*
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" \
			-days 3650 -subj "/CN=sysrec-cluster-ca" 2>/dev/null
	fi
	if [ ! -f "$pki/sa.key" ]; then
		openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
		openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	fi
	cert apiserver "/CN=kube-apiserver" serverAuth \
		"IP:127.0.0.1,IP:127.0.0.2,IP:10.96.0.1,IP:${node_ip[sysrec-a]},IP:${node_ip[sysrec-b]},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
	cert admin "/O=system:masters/CN=sysrec-admin" clientAuth
	cert controller-manager "/CN=system:kube-controller-manager" clientAuth
	cert scheduler "/CN=system:kube-scheduler" clientAuth
	local n
	for n in $nodes; do
		cert "kubelet-$n" "/O=system:nodes/CN=system:node:$n" clientAuth
		cert "kubelet-$n-serving" "/CN=system:node:$n" serverAuth "IP:${node_ip[$n]},IP:127.0.0.1,DNS:$n"
	done
	kubeconfig "$admin" admin
	kubeconfig "$lib/controller-manager.kubeconfig" controller-manager
	kubeconfig "$lib/scheduler.kubeconfig" scheduler
	for n in $nodes; do kubeconfig "$lib/$n/kubelet.kubeconfig" "kubelet-$n"; done
}

# --- host setup --------------------------------------------------------

cgroup_mounts() { findmnt -rn -t cgroup,cgroup2 -o TARGET | sort -u; }

# make_cgroups creates each node's cgroupRoot in every hierarchy (the
# kubelet insists that it exists), with the root's cpus and mems.
make_cgroups() {
	local m n f
	for m in $(cgroup_mounts); do
		for n in $nodes; do
			mkdir -p "$m/$n"
			for f in cpuset.cpus cpuset.mems; do
				if [ -f "$m/$n/$f" ] && [ -z "$(cat "$m/$n/$f")" ]; then
					cat "$m/$f" >"$m/$n/$f"
				fi
			done
		done
	done
}

# node IPs: addresses on lo outside 127/8.
add_node_ips() {
	local n
	for n in $nodes; do
		ip -4 addr show dev lo | grep " ${node_ip[$n]}/32 " >/dev/null ||
			ip addr add "${node_ip[$n]}/32" dev lo label lo:sysrec
	done
}

write_cni() {
	local n=$1
	mkdir -p "$run/$n/cni"
	cat >"$run/$n/cni/10-$n.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "$n",
  "plugins": [{
    "type": "bridge",
    "bridge": "${bridge[$n]}",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": "${subnet[$n]}"}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": "$run/$n/ipam"
    }
  }]
}
JSON
}

# --- images ------------------------------------------------------------

# archive DIR TAG CMD: DIR/image.tar, a docker-archive of DIR/rootfs.
archive() {
	local dir=$1 tag=$2 cmd=$3 diff arch
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir/rootfs" -cf "$dir/layer.tar" .
	diff=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
	arch=$(dpkg --print-architecture)
	cat >"$dir/config.json" <<JSON
{"architecture":"$arch","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":$cmd},"rootfs":{"type":"layers","diff_ids":["sha256:$diff"]}}
JSON
	echo "[{\"Config\":\"config.json\",\"RepoTags\":[\"$tag\"],\"Layers\":[\"layer.tar\"]}]" >"$dir/manifest.json"
	tar -C "$dir" -cf "$dir/image.tar" manifest.json config.json layer.tar
}

# image_tar NAME: the path of a docker-archive of the busybox or pause
# image, built on first use.
image_tar() {
	local dir=$run/images/$1
	if [ ! -f "$dir/image.tar" ]; then
		rm -rf "$dir"
		mkdir -p "$dir/rootfs/bin"
		case $1 in
		busybox)
			# The busybox image of scripts/testruntime.sh, with this
			# cluster's tag.
			# shellcheck disable=SC2034 # build_image reads $image
			(. "$repo/scripts/testruntime.sh" && image=$busybox_image && build_image "$dir") >&2
			;;
		pause)
			cp "$kbin/pause" "$dir/rootfs/pause"
			archive "$dir" "$pause_image" '["/pause"]'
			;;
		esac
	fi
	echo "$dir/image.tar"
}

ctr_a() { ctr -a "${cri_sock[sysrec-a]}" -n k8s.io "$@"; }
crio_storage() { echo "overlay@$rtlib/sysrec-b/crio/storage+$run/sysrec-b/crio/storage"; }
skopeo_b() { skopeo --policy "$run/sysrec-b/crio/policy.json" "$@"; }

# import NODE NAME TAR [force]: imports TAR (a path, or busybox or pause
# for image_tar) as image NAME into NODE's runtime unless it holds it
# (with force, always: the name then moves to the new image).
import() {
	local n=$1 name=$2 tar=$3 force=${4:-}
	case $tar in /*) ;; *) tar=$(image_tar "$tar") ;; esac
	case ${runtime[$n]} in
	containerd)
		[ -z "$force" ] && ctr_a images ls -q | grep -x "$name" >/dev/null && return
		ctr_a images import "$tar" >>"$logs/images.log" 2>&1 || die "importing $name into $n's containerd" "$logs/images.log"
		ctr_a images ls -q | grep -x "$name" >/dev/null || die "$tar did not import as $name into $n's containerd" "$logs/images.log"
		;;
	crio)
		[ -z "$force" ] && skopeo_b inspect --raw "containers-storage:[$(crio_storage)]$name" >/dev/null 2>&1 && return
		skopeo_b copy --quiet "docker-archive:$tar" "containers-storage:[$(crio_storage)]$name" >>"$logs/images.log" 2>&1 ||
			die "importing $name into $n's CRI-O" "$logs/images.log"
		;;
	esac
}

# --- runtimes ----------------------------------------------------------

start_containerd() {
	local n=$1 d=$run/$1
	mkdir -p "$d/containerd-state" "$rtlib/$n/containerd" "$rtlib/$n/opt"
	write_cni "$n"
	cat >"$d/containerd.toml" <<TOML
version = 2
root = "$rtlib/$n/containerd"
state = "$d/containerd-state"
[grpc]
  address = "${cri_sock[$n]}"
[plugins."io.containerd.internal.v1.opt"]
  path = "$rtlib/$n/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni"
    max_conf_num = 1
TOML
	fp_files="$d/containerd.toml $d/cni/10-$n.conflist" ensure "$n-containerd" "$(command -v containerd)" --config "$d/containerd.toml"
	wait_for "$n-containerd" 30 "$n's containerd answering on ${cri_sock[$n]}" ctr -a "${cri_sock[$n]}" version
}

start_crio() {
	local n=$1 d=$run/$1/crio st=$rtlib/$1/crio
	mkdir -p "$d/conf.d" "$d/exits" "$d/attach" "$d/ns" "$d/pods" "$d/runc" "$st"
	write_cni "$n"
	# CRI-O always gives the infra container oomScoreAdj -998, and the
	# kubelet gives Guaranteed pods -997; both need CAP_SYS_RESOURCE, which
	# this machine lacks. This runc wrapper makes negative values 0.
	install -m 0755 "$repo/scripts/runc-nooom" "$d/runc-wrapper"
	echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$d/policy.json"
	cat >"$d/crio.conf" <<TOML
[crio]
root = "$st/storage"
runroot = "$d/storage"
storage_driver = "overlay"
log_dir = "$d/pods"
version_file = "$d/version"
version_file_persist = "$st/version"
clean_shutdown_file = "$st/clean.shutdown"
internal_wipe = true

[crio.api]
listen = "${cri_sock[$n]}"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
seccomp_profile = "/usr/share/containers/seccomp.json"
apparmor_profile = ""
selinux = false
pinns_path = "$crio_build/pinns"
container_exits_dir = "$d/exits"
container_attach_socket_dir = "$d/attach"
namespaces_dir = "$d/ns"
hooks_dir = []
irqbalance_config_file = ""
irqbalance_config_restore_file = ""
cdi_spec_dirs = []
decryption_keys_path = "$d/keys"

[crio.runtime.runtimes.runc]
runtime_path = "$d/runc-wrapper"
runtime_type = "oci"
runtime_root = "$d/runc"
monitor_path = "/usr/bin/conmon"
monitor_cgroup = "pod"
monitor_env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

[crio.image]
pause_image = "$pause_image"
pause_command = "/pause"
signature_policy = "$d/policy.json"
signature_policy_dir = "$d/policies"
global_auth_file = ""

[crio.network]
network_dir = "$run/$n/cni"
plugin_dirs = ["/usr/lib/cni"]

[crio.metrics]
enable_metrics = false

[crio.nri]
enable_nri = false
TOML
	fp_files="$d/crio.conf $run/$n/cni/10-$n.conflist" ensure "$n-crio" "$crio_build/crio" --config "$d/crio.conf" --config-dir "$d/conf.d"
	wait_for "$n-crio" 60 "$n's CRI-O answering on ${cri_sock[$n]}" \
		"$crio_build/crio" --config "$d/crio.conf" --config-dir "$d/conf.d" status --socket "${cri_sock[$n]}" info
}

# --- kubernetes --------------------------------------------------------

apiserver_ready() {
	curl -sf --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
		"https://$apiserver/readyz" | grep -x ok >/dev/null
}

healthz() { curl -sfk --max-time 5 "https://127.0.0.1:$1/healthz" | grep -x ok >/dev/null; }

start_control_plane() {
	mkdir -p "$lib/etcd"
	chmod 700 "$lib/etcd"
	ensure etcd "$kbin/etcd" --name sysrec --data-dir "$lib/etcd" \
		--listen-client-urls "http://$etcd_client" --advertise-client-urls "http://$etcd_client" \
		--listen-peer-urls "http://$etcd_peer" --initial-advertise-peer-urls "http://$etcd_peer" \
		--initial-cluster "sysrec=http://$etcd_peer" --unsafe-no-fsync --log-level warn
	wait_for etcd 60 "etcd healthy on $etcd_client" sh -c "curl -sf --max-time 2 http://$etcd_client/health | grep -q '\"health\":\"true\"'"

	ensure apiserver "$kbin/kube-apiserver" \
		--etcd-servers "http://$etcd_client" \
		--bind-address 127.0.0.1 --secure-port 6443 --advertise-address 127.0.0.1 --endpoint-reconciler-type none \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$pki/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--service-cluster-ip-range 10.96.0.0/16 \
		--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
		--allow-privileged=true --profiling=false --cert-dir "$lib/apiserver-certs" --v=1
	wait_for apiserver 120 "kube-apiserver ready on $apiserver" apiserver_ready

	ensure controller-manager "$kbin/kube-controller-manager" \
		--kubeconfig "$lib/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$lib/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$lib/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 10257 --cert-dir "$lib/controller-manager-certs" \
		--leader-elect=false --root-ca-file "$pki/ca.crt" \
		--service-account-private-key-file "$pki/sa.key" --use-service-account-credentials \
		--cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
		--profiling=false --v=1
	ensure scheduler "$kbin/kube-scheduler" \
		--kubeconfig "$lib/scheduler.kubeconfig" \
		--authentication-kubeconfig "$lib/scheduler.kubeconfig" \
		--authorization-kubeconfig "$lib/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 10259 --cert-dir "$lib/scheduler-certs" \
		--leader-elect=false --profiling=false --v=1
	wait_for controller-manager 60 "kube-controller-manager healthy on 127.0.0.1:10257" healthz 10257
	wait_for scheduler 60 "kube-scheduler healthy on 127.0.0.1:10259" healthz 10259
}

start_kubelet() {
	local n=$1 root=$lib/$1/kubelet
	mkdir -p "$root/seccomp" "$lib/$n/manifests" "$lib/$n/volume-plugins"
	cat >"$lib/$n/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://${cri_sock[$n]}
imageServiceEndpoint: unix://${cri_sock[$n]}
address: ${node_ip[$n]}
port: ${kubelet_port[$n]}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthz_port[$n]}
tlsCertFile: $pki/kubelet-$n-serving.crt
tlsPrivateKeyFile: $pki/kubelet-$n-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /$n
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
makeIPTablesUtilChains: false
seccompDefault: false
staticPodPath: $lib/$n/manifests
podLogsDir: $lib/$n/pod-logs
volumePluginDir: $lib/$n/volume-plugins
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
  imagefs.inodesFree: 1%
YAML
	fp_files="$lib/$n/kubelet.yaml" ensure "$n-kubelet" "$kbin/kubelet" \
		--config "$lib/$n/kubelet.yaml" --kubeconfig "$lib/$n/kubelet.kubeconfig" \
		--root-dir "$root" --hostname-override "$n" --node-ip "${node_ip[$n]}" --v=1
}

node_ready() {
	[ "$(kubectl get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

# --- the agent ---------------------------------------------------------

agent_objects_ready() {
	local want=$1 line
	line=$(kubectl -n "$agent_ns" get ds -l app.kubernetes.io/name=sysrec \
		-o jsonpath='{range .items[*]}{.metadata.generation} {.status.observedGeneration} {.status.desiredNumberScheduled} {.status.numberReady} {.status.updatedNumberScheduled}{"\n"}{end}') || return 1
	[ -n "$line" ] || return 1
	echo "$line" | awk -v want="$want" '$1 != $2 || $3 != want || $4 != want || $5 != want { bad = 1 } END { exit bad }'
}

agent_deployments_ready() {
	local d
	for d in $(kubectl -n "$agent_ns" get deploy -l app.kubernetes.io/name=sysrec -o name); do
		kubectl -n "$agent_ns" rollout status "$d" --timeout=5s >/dev/null 2>&1 || return 1
	done
}

deploy_agent() {
	if [ -n "${SYSREC_CLUSTER_NO_AGENT:-}" ]; then
		log "SYSREC_CLUSTER_NO_AGENT is set: not deploying the agent"
		return
	fi
	if ! make -n image >/dev/null 2>&1; then
		log "warning: the Makefile has no 'image' target yet: not importing $agent_image nor deploying the agent"
		return
	fi
	log "building sysrec and its image (log: $logs/make.log)"
	make build image >>"$logs/make.log" 2>&1 || die "make build image failed" "$logs/make.log"
	[ -f "$agent_tar" ] || die "make image did not write $agent_tar" "$logs/make.log"
	local sum n changed=
	sum=$(sha256sum "$agent_tar" | cut -d' ' -f1)
	for n in $nodes; do
		if [ "$(cat "$rtlib/$n/agent-image.sha256" 2>/dev/null)" != "$sum" ]; then
			import "$n" "$agent_image" "$agent_tar" force
			echo "$sum" >"$rtlib/$n/agent-image.sha256"
			changed=1
		else
			import "$n" "$agent_image" "$agent_tar"
		fi
	done

	local yaml=$run/agent.yaml
	if ! bin/sysrec export deploy --help 2>&1 | grep -- --api-server >/dev/null; then
		log "warning: bin/sysrec has no 'export deploy' yet: the agent is not deployed"
		return
	fi
	bin/sysrec export deploy --image "$agent_image" --image-pull-policy Never --api-server "$apiserver" \
		--seccomp-root '/var/lib/sysrec-test/cluster/$(NODE_NAME)/kubelet/seccomp' \
		--runtime-endpoint 'unix:///var/lib/sysrec-test/cluster/$(NODE_NAME)/cri.sock' \
		--pod-cgroup-root '/$(NODE_NAME)/kubepods' >"$yaml" 2>"$logs/export-deploy.log" ||
		die "sysrec export deploy failed" "$logs/export-deploy.log"
	local existed=
	kubectl -n "$agent_ns" get ds -l app.kubernetes.io/name=sysrec -o name 2>/dev/null | grep . >/dev/null && existed=1
	kubectl apply --server-side --force-conflicts -f "$yaml" >>"$logs/kubectl.log" 2>&1 ||
		die "kubectl apply of the agent's objects ($yaml) failed" "$logs/kubectl.log"
	if [ -n "$existed" ] && [ -n "$changed" ]; then
		log "the agent's image changed: restarting its pods"
		kubectl -n "$agent_ns" rollout restart ds -l app.kubernetes.io/name=sysrec >>"$logs/kubectl.log" 2>&1 || true
		kubectl -n "$agent_ns" rollout restart deploy -l app.kubernetes.io/name=sysrec >>"$logs/kubectl.log" 2>&1 || true
	fi
	local deadline=$((SECONDS + 180))
	until agent_objects_ready 2; do
		if [ $SECONDS -ge $deadline ]; then
			kubectl -n "$agent_ns" get ds,pods -o wide >&2 || true
			die "the agent's DaemonSet did not get a ready pod on each node in 180s; see 'kubectl -n $agent_ns describe pods', 'kubectl -n $agent_ns logs', $logs/sysrec-a-kubelet.log and $logs/sysrec-b-kubelet.log"
		fi
		sleep 1
	done
	log "the agent runs on both nodes"
	# The controller's Deployment: waited for, but only warned about, since
	# the cluster serves the agent without it.
	deadline=$((SECONDS + 60))
	until agent_deployments_ready; do
		if [ $SECONDS -ge $deadline ]; then
			log "warning: the agent's controller Deployment is not available after 60s:"
			kubectl -n "$agent_ns" get deploy,pods -l app.kubernetes.io/component=controller -o wide >&2 || true
			return
		fi
		sleep 1
	done
	log "the agent's controller is available"
}

# --- start / stop ------------------------------------------------------

print_env() {
	echo "KUBECONFIG=$admin"
	echo "CONTAINERD_ADDRESS=${cri_sock[sysrec-a]}"
	echo "CRIO_ADDRESS=${cri_sock[sysrec-b]}"
}

start() {
	local t0=$SECONDS n
	scripts/install-deps.sh cluster >&2
	kbin=$(scripts/kube-build.sh) || die "scripts/kube-build.sh failed"
	build_crio
	build_crictl
	# Daemons of an earlier cluster that no pidfile names (their pidfiles
	# were lost) would hold its ports: tear everything down first.
	local orphans
	orphans=$(unowned_procs daemons)
	if [ -n "$orphans" ]; then
		log "processes of an earlier cluster that no pidfile names: $(echo $orphans); tearing it down first"
		stop
	fi
	mkdir -p "$run" "$logs" "$lib"
	for n in $nodes; do mkdir -p "$run/$n" "$lib/$n" "$rtlib/$n"; done
	make_pki
	add_node_ips
	make_cgroups
	start_control_plane

	start_containerd sysrec-a
	start_crio sysrec-b
	for n in $nodes; do
		import "$n" "$pause_image" pause
		import "$n" "$busybox_image" busybox
	done
	for n in $nodes; do start_kubelet "$n"; done
	for n in $nodes; do
		wait_for "$n-kubelet" 120 "node $n Ready" node_ready "$n"
	done
	# Pods are refused until the namespace's ServiceAccount exists, and
	# their token volumes need the root CA's ConfigMap.
	wait_for controller-manager 60 "ServiceAccount default/default and ConfigMap default/kube-root-ca.crt created" \
		kubectl -n default get serviceaccount/default configmap/kube-root-ca.crt
	deploy_agent
	log "cluster up in $((SECONDS - t0))s; nodes: $(kubectl get nodes --no-headers 2>/dev/null | awk '{printf "%s %s; ", $1, $2}')"
	print_env
}

# our_procs [daemons]: leftovers of this cluster that no pidfile names any
# more (containerd shims, conmon, or daemons whose pidfile was lost):
# processes of the cluster's binaries whose command line names its
# directories. With "daemons", only the daemons that pidfiles track.
our_procs() {
	local p exe cmd names="etcd kube-apiserver kube-controller-manager kube-scheduler kubelet containerd crio"
	[ "${1:-}" = daemons ] || names="$names containerd-shim-runc-v2 containerd-shim conmon pinns runc"
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		live "${p#/proc/}" || continue
		case " $names " in *" ${exe##*/} "*) ;; *) continue ;; esac
		cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case $cmd in *"$run/"* | *"$lib/"* | *"$rtlib/"*) echo "${p#/proc/}" ;; esac
	done
}

# unowned_procs: our_procs that no pidfile names.
unowned_procs() {
	local p
	for p in $(our_procs "$@"); do
		grep -qx "$p" "$run"/*.pid 2>/dev/null || echo "$p"
	done
}

# cgroup_procs: processes in the nodes' cgroups, in any hierarchy.
cgroup_procs() {
	local m n
	for m in $(cgroup_mounts); do
		for n in $nodes; do
			if [ -d "$m/$n" ]; then find "$m/$n" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
		done
	done | sort -u
}

# kill_all LISTFUNC WHAT: TERM, then KILL, what LISTFUNC lists.
kill_all() {
	local pids deadline
	pids=$($1)
	[ -n "$pids" ] || return 0
	log "stopping $2: $(echo $pids)"
	kill $pids 2>/dev/null || true
	deadline=$((SECONDS + 10))
	while [ -n "$($1)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	pids=$($1)
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
	deadline=$((SECONDS + 5))
	while [ -n "$($1)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	[ -z "$($1)" ] || log "warning: $2 still running: $($1)"
}

our_mounts() {
	findmnt -rn -o TARGET | awk -v re="^($run|$lib|$rtlib)(/|\$)" '$0 ~ re { print length, $0 }' | sort -rn | cut -d' ' -f2-
}

stop() {
	local n m deadline
	[ -n "${kbin:-}" ] || kbin=$(ls -d /var/lib/sysrec-test/kube-build/*/bin 2>/dev/null | head -1 || true)
	# 1. Delete the workloads and their pods while the kubelets run, so
	# that they unmount volumes and tear down sandboxes themselves.
	if alive apiserver && [ -x "$kbin/kubectl" ] && apiserver_ready; then
		log "deleting the cluster's workloads and pods"
		kubectl delete daemonsets,deployments,replicasets,statefulsets,jobs,cronjobs,replicationcontrollers \
			--all -A --wait=false >>"$logs/kubectl.log" 2>&1 || true
		kubectl delete pods --all -A --grace-period=5 --wait=false >>"$logs/kubectl.log" 2>&1 || true
		deadline=$((SECONDS + 60))
		while [ -n "$(kubectl get pods -A -o name 2>/dev/null)" ]; do
			if [ $SECONDS -ge $deadline ] || ! alive sysrec-a-kubelet || ! alive sysrec-b-kubelet; then
				log "pods left after 60s (or a kubelet is down); deleting them by force"
				kubectl delete pods --all -A --force --grace-period=0 >>"$logs/kubectl.log" 2>&1 || true
				break
			fi
			sleep 0.5
		done
	fi
	# 2. The kubelets, scheduler and controller-manager.
	for n in $nodes; do stop_proc "$n-kubelet" 30; done
	stop_proc scheduler
	stop_proc controller-manager
	# 3. Pod sandboxes, through the CRI (network teardown included).
	if [ -x "$crictl_dir/crictl" ]; then
		for n in $nodes; do
			if alive "$n-${runtime[$n]}"; then
				crictl "${cri_sock[$n]}" rmp -fa >>"$logs/crictl.log" 2>&1 ||
					log "warning: crictl rmp -fa on $n failed (see $logs/crictl.log)"
			fi
		done
	fi
	# 4. The runtimes, then the API server and etcd.
	stop_proc sysrec-a-containerd 20
	stop_proc sysrec-b-crio 20
	kill_all cgroup_procs "processes left in the nodes' cgroups"
	kill_all unowned_procs "leftover cluster processes"
	stop_proc apiserver
	stop_proc etcd
	kill_all our_procs "remaining cluster processes"
	# 5. Mounts under the cluster's directories (volumes, rootfs, shm,
	# network namespaces, CRI-O's storage).
	for m in $(our_mounts); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: cannot unmount $m"
	done
	# 6. The nodes' cgroups.
	for m in $(cgroup_mounts); do
		for n in $nodes; do
			[ -d "$m/$n" ] || continue
			find "$m/$n" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[ ! -d "$m/$n" ] || log "warning: cannot remove cgroup $m/$n"
		done
	done
	# 7. Links and addresses.
	for n in $nodes; do
		if ip link show "${bridge[$n]}" >/dev/null 2>&1; then
			for m in $(ip -o link show master "${bridge[$n]}" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
				ip link del "$m" 2>/dev/null || true
			done
			ip link del "${bridge[$n]}" || log "warning: cannot delete ${bridge[$n]}"
		fi
		! ip -4 addr show dev lo | grep " ${node_ip[$n]}/32 " >/dev/null || ip addr del "${node_ip[$n]}/32" dev lo
	done
	# Volatile state goes; logs, certificates, root-dirs and images stay.
	rm -rf "$lib/etcd"
	if [ -n "$(our_mounts)" ]; then
		log "warning: mounts are left under $run or $lib, so their files stay too:"
		our_mounts >&2
		return 1
	fi
	if [ -d "$run" ]; then
		find "$run" -mindepth 1 -maxdepth 1 ! -name logs ! -name lock -exec rm -rf {} + 2>/dev/null ||
			log "warning: cannot remove everything in $run"
	fi
	for n in $nodes; do
		rm -rf "$lib/$n/kubelet/pods" "$lib/$n/pod-logs"
		rm -f "$lib/$n/cri.sock" "$lib/$n/cri.sock.ttrpc"
	done
	# The kubelets' symlinks in /var/log/containers that point at them.
	for m in /var/log/containers/*.log; do
		case $(readlink "$m" 2>/dev/null) in "$lib/"*) rm -f "$m" ;; esac
	done
	log "stopped"
}

case "${1:-}" in
start | stop)
	mkdir -p "$run" "$logs"
	exec 9>"$run/lock"
	flock -w 600 9 || die "another scripts/cluster.sh holds $run/lock"
	"$1"
	;;
env)
	[ -f "$run/apiserver.pid" ] || die "the cluster does not run (scripts/cluster.sh start)"
	print_env
	;;
*) echo "usage: scripts/cluster.sh start|stop|env" >&2; exit 2 ;;
esac
