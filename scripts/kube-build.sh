#!/usr/bin/env bash
# Builds, once, the Kubernetes and etcd binaries that scripts/cluster.sh
# runs, from the Go module proxy alone (no release downloads are reachable
# from CI), and caches them per version under /var/lib/sysrec-test. Later
# runs print the directory at once. The cold build takes about 20 minutes on
# 2 cores; ../shared/KUBERNETES.md has the facts it builds on.
#
#   scripts/kube-build.sh     print the directory that holds the binaries
set -euo pipefail

kube=v1.37.2
staging=v0.37.2
etcd=v3.7.3
cache=/var/lib/sysrec-test/kube-build
bin=$cache/$kube-etcd-$etcd/bin
go=$(command -v go || echo /usr/local/go/bin/go)
want="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd pause"

have_all() {
	local b
	for b in $want; do [ -x "$bin/$b" ] || return 1; done
}

# wrapper MODULE REQUIRE... writes a small module that requires the given
# modules; for Kubernetes it points every published staging module at its
# release (the main module's ./staging replaces don't apply to a dependency).
wrapper() {
	local dir=$1
	shift
	mkdir -p "$dir"
	{
		echo "module sysrec.test/kubebuild"
		echo "go 1.26.0"
		local m
		for m in "$@"; do echo "require $m"; done
	} >"$dir/go.mod"
}

build_kube() {
	local dir=$cache/src-kube src
	src=$(cd / && GOFLAGS= "$go" mod download -json "k8s.io/kubernetes@$kube" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -n "$src" ] || { echo "kube-build.sh: go mod download of k8s.io/kubernetes $kube failed" >&2; exit 1; }
	wrapper "$dir" "k8s.io/kubernetes $kube"
	sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$src/go.mod" |
		grep -v -e sample-cli-plugin -e sample-controller |
		while read -r m; do echo "replace $m => $m $staging"; done >>"$dir/go.mod"
	echo 'package tools' >"$dir/tools.go"
	local ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $p.gitVersion=$kube -X $p.gitMajor=1 -X $p.gitMinor=37 -X $p.gitTreeState=clean"
	done
	(cd "$dir" && GOFLAGS=-mod=mod "$go" mod tidy -e >/dev/null 2>&1 || true)
	(cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath -ldflags "$ld" -o "$bin/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl) >&2
	# The pod sandbox's pause binary, from Kubernetes' own source: there is
	# no registry to pull a pause image from.
	gcc -Os -static -o "$bin/pause.tmp" "$src/build/pause/linux/pause.c" >&2
	mv "$bin/pause.tmp" "$bin/pause"
}

build_etcd() {
	local dir=$cache/src-etcd
	wrapper "$dir" "go.etcd.io/etcd/server/v3 $etcd"
	(cd "$dir" && GOFLAGS=-mod=mod "$go" get "go.etcd.io/etcd/server/v3@$etcd" >/dev/null 2>&1 || true)
	(cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3) >&2
}

if ! have_all; then
	echo "kube-build.sh: building Kubernetes $kube and etcd $etcd into $bin (about 20 minutes the first time)" >&2
	mkdir -p "$bin"
	[ -x "$bin/etcd" ] || build_etcd
	build_kube
	have_all || { echo "kube-build.sh: the build left binaries missing in $bin" >&2; exit 1; }
fi
echo "$bin"
