#!/usr/bin/env bash
# Installs, from Debian's packages, what sysrec's build steps need. It is
# idempotent: packages already installed are left alone, and apt-get runs
# only when something is missing.
#
#   scripts/install-deps.sh build     gcc, libseccomp's headers, pkg-config (cgo)
#   scripts/install-deps.sh test      strace, gcc (and gcc -m32), libseccomp (resolver and headers), chromium (sysrec report), ...
#   scripts/install-deps.sh generate  clang-14, llvm-14, libbpf-dev
#   scripts/install-deps.sh groups    systemd (systemd-analyze, for make update-groups)
#   scripts/install-deps.sh bench     strace, bpftrace, linux-perf, gcc
#   scripts/install-deps.sh runtimes  containerd, runc, crun, busybox-static, CNI plugins
#   scripts/install-deps.sh crio      what building and running CRI-O needs (conmon, skopeo, ...)
#   scripts/install-deps.sh cluster   what scripts/cluster.sh's test cluster needs (both runtimes, CNI, openssl, ...)
#   scripts/install-deps.sh kernels   what make test-kernels needs: qemu (x86_64, arm64), cpio, gcc -m32 and an arm64 cross gcc
#   scripts/install-deps.sh all       test, generate and runtimes
set -euo pipefail

declare -A groups=(
	[build]="gcc libc6-dev libseccomp-dev pkg-config"
	[test]="strace gcc libc6-dev gcc-12-multilib seccomp libseccomp-dev pkg-config util-linux chromium"
	[generate]="clang-14 llvm-14 libbpf-dev"
	[groups]="systemd"
	[bench]="strace bpftrace linux-perf gcc libc6-dev tar"
	[runtimes]="containerd runc crun busybox-static containernetworking-plugins"
	[crio]="libseccomp-dev libc6-dev gcc pkg-config make conmon runc skopeo golang-github-containers-common busybox-static containernetworking-plugins iptables iproute2"
	# gcc-12-multilib, not gcc-multilib: that conflicts with the cross
	# compilers (both own the asm include link), gcc-12-multilib does not.
	[kernels]="qemu-system-x86 qemu-system-arm cpio gcc-12-multilib gcc-aarch64-linux-gnu libc6-dev-arm64-cross busybox-static strace gzip"
	[cluster]="containerd runc libseccomp-dev libc6-dev gcc pkg-config make conmon skopeo golang-github-containers-common busybox-static containernetworking-plugins iptables iproute2 openssl curl util-linux tar"
)

want=()
for g in "${@:-all}"; do
	case "$g" in
	all) want+=(${groups[build]} ${groups[test]} ${groups[generate]} ${groups[runtimes]}) ;;
	build | test | generate | groups | bench | runtimes | crio | cluster | kernels) want+=(${groups[$g]}) ;;
	*) echo "install-deps: unknown group $g (want build, test, generate, groups, bench, runtimes, crio, cluster, kernels or all)" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}: run as root, or install them yourself" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
