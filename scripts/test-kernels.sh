#!/usr/bin/env bash
# make test-kernels: boots Debian's kernels under qemu (TCG emulation: no
# KVM is needed) and runs, inside each, the recorder's and the CLI's
# tests, `sysrec record` and `sysrec run` end to end, from static
# binaries built from the tree.
#
#   scripts/test-kernels.sh [--prepare] [KERNEL...]
#
# KERNEL is one of the matrix's (default: all of them, one at a time):
#   x86_64-6.1   Debian 12's linux-image-6.1.0-*-cloud-amd64
#   arm64-6.1    Debian 12's linux-image-6.1.0-*-arm64
# This VM's own kernel is the third of the matrix: `make test` runs there.
# --prepare downloads and builds the initramfs images but boots nothing.
#
# Each guest boots from an initramfs: busybox-static of the guest's
# architecture, scripts/kernels/init as /init, the recorder's test binary
# (CGO_ENABLED=0 go test -c), sysrec and the CLI's test binary (cgo,
# libseccomp.a linked in statically), the tests' C programs built with
# gcc -static where internal/testenv looks for them (the workload, and
# on x86_64 the i386 program, gcc -m32), real tools (dash as /bin/sh,
# coreutils, tar, find) and strace, with their libraries, and the files
# of the tree that the tests read. /init prints marker lines on the
# serial console (see its header); the guest passes when it prints
# "SYSREC-KTEST DONE PASS". A guest that does not boot, hangs (qemu runs
# under timeout), or fails a test fails the kernel.
#
# Downloads are cached under $SYSREC_KERNELS_CACHE
# (/var/lib/sysrec-test/kernels):
#   debs/                the .debs, from apt-get download
#   <kernel>/vmlinuz-*   the kernel, extracted from its .deb
#   sysroot-arm64/       arm64 busybox, strace, libc, libseccomp-dev and
#                        the tools
#   build/<kernel>/      the initramfs and its tree (rebuilt each run)
#   logs/<kernel>.log    the guest's serial console of the last run
#
# Environment: SYSREC_KERNEL_TIMEOUT (seconds a guest may run, default
# 1800), SYSREC_KERNEL_ABI (e.g. 57: that ABI instead of the newest that
# apt knows), SYSREC_KERNEL_TEST_SKIP (a -test.skip pattern of more
# tests to leave out), SYSREC_KERNEL_CPUS (the guest's CPUs, default 1),
# GO (the go command).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

GO=${GO:-go}
cache=${SYSREC_KERNELS_CACHE:-/var/lib/sysrec-test/kernels}
guest_timeout=${SYSREC_KERNEL_TIMEOUT:-1800}
# One CPU: with two, the x86_64 6.1 guest under TCG livelocks in the
# kernel's int3 text patching (syscall_trace_enter, when a test attaches
# or detaches sys_enter) and reports soft lockups.
guest_cpus=${SYSREC_KERNEL_CPUS:-1}
all_kernels=(x86_64-6.1 arm64-6.1)

# Tests that cannot run in a guest, which has no container runtime and
# no Kubernetes: make test runs them on this VM. The recorder's:
skip_tests='^(TestContainerRecording|TestRunningContainersAreAdopted)$'
# The CLI's (cmd/sysrec):
skip_cli_tests='^(TestRecordContainers|TestRecordContainersCrun|TestRecordContainersLiveView|TestRecordContainersWithoutCRI|TestRecordCtrContainers|TestRecordFiftyConcurrentContainers|TestRecordRunningContainers|TestRecordContainersFlushAndContinue|TestRecordContainersProvenance|TestArgRulesContainers|TestDiffContainer|TestViolationsAttribution|TestControllerPromoteRecordingsAgainstAPIServer)$'
# More to skip, a -test.skip pattern of either package's tests (e.g. to
# get past a test that hangs a guest while it is being looked into).
if [ -n "${SYSREC_KERNEL_TEST_SKIP:-}" ]; then
	skip_tests="$skip_tests|$SYSREC_KERNEL_TEST_SKIP"
	skip_cli_tests="$skip_cli_tests|$SYSREC_KERNEL_TEST_SKIP"
fi

# Which sys_enter program each kernel is expected to load; empty to only
# report it (TestSysEnterProgram asserts SYSREC_WANT_SYS_ENTER).
declare -A want_sys_enter=(
	[x86_64-6.1]=sys_enter
	[arm64-6.1]=sys_enter
)

log() { echo "test-kernels: $*" >&2; }
die() {
	log "$*"
	exit 1
}

prepare_only=0
kernels=()
for a in "$@"; do
	case "$a" in
	--prepare) prepare_only=1 ;;
	x86_64-6.1 | arm64-6.1) kernels+=("$a") ;;
	*) die "unknown argument $a (want --prepare, ${all_kernels[*]})" ;;
	esac
done
[ ${#kernels[@]} -gt 0 ] || kernels=("${all_kernels[@]}")

[ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and apt-get downloads into a root-owned cache"
scripts/install-deps.sh kernels build >&2
mkdir -p "$cache/debs" "$cache/logs" "$cache/build"

arch_of() { case "$1" in x86_64-*) echo amd64 ;; arm64-*) echo arm64 ;; esac; }

# ensure_arm64_apt makes apt know arm64 packages.
ensure_arm64_apt() {
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		log "adding the arm64 architecture to dpkg"
		dpkg --add-architecture arm64
		apt-get update -qq >&2
	elif ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
		apt-get update -qq >&2
	fi
}

# fetch PKG prints the path of PKG's cached .deb, downloading it first if
# no .deb of that package is cached. PKG may carry an :arch.
fetch() {
	local pkg=$1 name=${1%%:*} arch=amd64
	[[ $1 == *:* ]] && arch=${1##*:}
	local have
	have=$(ls "$cache/debs/${name}_"*"_${arch}.deb" "$cache/debs/${name}_"*"_all.deb" 2>/dev/null | sort -V | tail -n1 || true)
	if [ -z "$have" ]; then
		log "downloading $pkg"
		# As root: the cache is not the _apt user's to write.
		(cd "$cache/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >&2) || die "apt-get download $pkg failed"
		have=$(ls "$cache/debs/${name}_"*"_${arch}.deb" "$cache/debs/${name}_"*"_all.deb" 2>/dev/null | sort -V | tail -n1 || true)
		[ -n "$have" ] || die "apt-get download $pkg left no .deb in $cache/debs"
	fi
	echo "$have"
}

# kernel_package KERNEL prints the newest linux-image package of its
# flavour that apt knows (or of SYSREC_KERNEL_ABI), or, where apt knows
# none (no network), the newest one cached.
kernel_package() {
	local flavour suffix=""
	case "$1" in
	x86_64-6.1) flavour=cloud-amd64 ;;
	arm64-6.1) flavour=arm64 suffix=:arm64 ;;
	esac
	local abi=${SYSREC_KERNEL_ABI:-}
	if [ -z "$abi" ]; then
		abi=$(apt-cache search --names-only "^linux-image-6\.1\.0-[0-9]+-$flavour\$" 2>/dev/null |
			sed -n "s/^linux-image-6\.1\.0-\([0-9]*\)-$flavour .*/\1/p" | sort -n | tail -n1)
	fi
	if [ -z "$abi" ]; then
		abi=$(ls "$cache/debs/" | sed -n "s/^linux-image-6\.1\.0-\([0-9]*\)-${flavour}_.*/\1/p" | sort -n | tail -n1)
	fi
	[ -n "$abi" ] || die "no linux-image-6.1.0-*-$flavour package known to apt or cached"
	echo "linux-image-6.1.0-$abi-$flavour$suffix"
}

# fetch_kernel KERNEL prints the path of its extracted vmlinuz.
fetch_kernel() {
	local k=$1 pkg deb dir
	[ "$(arch_of "$k")" = arm64 ] && ensure_arm64_apt
	pkg=$(kernel_package "$k")
	deb=$(fetch "$pkg")
	dir=$cache/$k/$(basename "$deb" .deb)
	if ! ls "$dir"/boot/vmlinuz-* >/dev/null 2>&1; then
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir.tmp" --wildcards './boot/vmlinuz-*'
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
	fi
	ls "$dir"/boot/vmlinuz-* | head -n1
}

# arm64_sysroot extracts the arm64 packages that the guest and the
# static cgo build need, once each, and prints the directory.
arm64_sysroot() {
	ensure_arm64_apt
	local root=$cache/sysroot-arm64 pkg deb
	mkdir -p "$root/.done"
	for pkg in busybox-static libc6 strace libseccomp2 libseccomp-dev $guest_tool_packages; do
		deb=$(fetch "$pkg:arm64")
		if [ ! -e "$root/.done/$(basename "$deb")" ]; then
			dpkg-deb -x "$deb" "$root"
			touch "$root/.done/$(basename "$deb")"
		fi
	done
	echo "$root"
}

# The real programs that the tests run (ls, sh, tar, find, ...): the
# origin tests tell executables apart by inode, and busybox's applets are
# all one file; strace -f is the reference for what they make. Copied
# from the host on x86_64, from the arm64 packages' files on arm64.
# /bin/true stays busybox's, static: TestContainerChurn runs it 5000
# times, and a dynamic one takes 3.5 times as long under TCG.
guest_tools="dash ls cat cp mv rm mkdir rmdir touch ln chmod sleep uname tr echo env sort head tail wc id readlink stat date tar find"
guest_tool_packages="dash coreutils tar findutils libselinux1 libacl1 libattr1 libpcre2-8-0"

# add_tools ROOT SYSROOT copies guest_tools, with their libraries, from
# SYSROOT ("" for the host) into ROOT's /bin, where they take the place
# of busybox's applets; dash is /bin/sh.
add_tools() {
	local root=$1 sysroot=$2 tool src
	for tool in $guest_tools; do
		src=""
		for dir in /bin /usr/bin; do
			if [ -f "$sysroot$dir/$tool" ]; then
				src=$sysroot$dir/$tool
				break
			fi
		done
		[ -n "$src" ] || die "no $tool under ${sysroot:-/}bin or usr/bin"
		cp -L "$src" "$root/bin/$tool"
		copy_elf_deps "$root" "$sysroot" "$src"
	done
	ln -sf dash "$root/bin/sh"
}

# copy_elf_deps ROOT SYSROOT FILE copies FILE's shared libraries, and
# theirs, from SYSROOT ("" for the host) into ROOT at the same paths.
copy_elf_deps() {
	local root=$1 sysroot=$2 file=$3 lib path dir found
	local interp
	interp=$(readelf -l "$file" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	if [ -n "$interp" ] && [ ! -e "$root$interp" ]; then
		mkdir -p "$root$(dirname "$interp")"
		cp -L "$sysroot$interp" "$root$interp"
	fi
	for lib in $(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		found=""
		for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu /lib64 /lib; do
			path=$dir/$lib
			if [ -e "$sysroot$path" ]; then
				found=$path
				break
			fi
		done
		[ -n "$found" ] || die "no $lib for $file under ${sysroot:-/}"
		if [ ! -e "$root$found" ]; then
			mkdir -p "$root$(dirname "$found")"
			cp -L "$sysroot$found" "$root$found"
			copy_elf_deps "$root" "$sysroot" "$sysroot$found"
		fi
	done
}

# build_image KERNEL builds the guest's initramfs and prints its path.
build_image() {
	local k=$1 arch goarch cc sysroot="" root img workload
	arch=$(arch_of "$k")
	root=$cache/build/$k/root
	img=$cache/build/$k/initrd.cpio.gz
	rm -rf "$root" && mkdir -p "$root"/{bin,sysrec,tmp,proc,sys,dev,run,root,etc}
	# The files of the tree that the tests read, by paths relative to
	# their package's directory, where /init runs them.
	mkdir -p "$root"/src/{recorder,cmd/sysrec,profiles}
	cp -r deploy "$root/src/deploy"
	cp -r profiles/testdata "$root/src/profiles/testdata"
	case "$arch" in
	amd64)
		goarch=amd64 cc=gcc
		cp /bin/busybox "$root/bin/busybox"
		mkdir -p "$root/usr/bin"
		cp /usr/bin/strace "$root/usr/bin/strace"
		copy_elf_deps "$root" "" /usr/bin/strace
		add_tools "$root" ""
		;;
	arm64)
		goarch=arm64 cc=aarch64-linux-gnu-gcc
		sysroot=$(arm64_sysroot)
		cp "$sysroot/bin/busybox" "$root/bin/busybox"
		mkdir -p "$root/usr/bin"
		cp "$sysroot/usr/bin/strace" "$root/usr/bin/strace"
		copy_elf_deps "$root" "$sysroot" "$sysroot/usr/bin/strace"
		add_tools "$root" "$sysroot"
		;;
	esac
	log "$k: building the test binaries (GOARCH=$goarch)"
	CGO_ENABLED=0 GOARCH=$goarch "$GO" test -c -o "$root/sysrec/recorder.test" ./recorder
	# sysrec and the CLI's tests (which run their test binary as sysrec)
	# with cgo, for libseccomp, linked statically: the guest has no
	# shared libseccomp. For arm64 from the arm64 libseccomp-dev.
	local cgo_env=(CGO_ENABLED=1 "GOARCH=$goarch" "CC=$cc")
	if [ -n "$sysroot" ]; then
		cgo_env+=(PKG_CONFIG_SYSROOT_DIR="$sysroot" PKG_CONFIG_LIBDIR="$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig")
	fi
	local static=(-trimpath -tags osusergo,netgo -ldflags '-s -w -linkmode external -extldflags "-static"')
	env "${cgo_env[@]}" "$GO" build "${static[@]}" -o "$root/sysrec/sysrec" ./cmd/sysrec >"$cache/build/$k/cgo.log" 2>&1 &&
		env "${cgo_env[@]}" "$GO" test -c "${static[@]}" -o "$root/sysrec/sysrec.test" ./cmd/sysrec >>"$cache/build/$k/cgo.log" 2>&1 ||
		die "$k: the static cgo build of sysrec or its tests failed: $(tail -n 20 "$cache/build/$k/cgo.log")"
	# The tests' C programs, where internal/testenv looks for them in the
	# guest (TMPDIR=/tmp there), since the guest has no gcc: the workload,
	# and on x86_64 the static i386 program.
	workload=/tmp/sysrec-workload-$(sha256sum internal/testenv/testdata/workload.c | cut -c1-12)/workload
	mkdir -p "$root$(dirname "$workload")"
	$cc -static -O2 -pthread -o "$root$workload" internal/testenv/testdata/workload.c
	local i386=""
	if [ "$arch" = amd64 ]; then
		i386=/tmp/sysrec-i386-$(sha256sum internal/testenv/testdata/i386.c | cut -c1-12)/i386
		mkdir -p "$root$(dirname "$i386")"
		gcc -m32 -static -O2 -o "$root$i386" internal/testenv/testdata/i386.c
	fi
	chmod -R a+rX "$root/tmp"
	chmod 1777 "$root/tmp"

	cp scripts/kernels/init "$root/init"
	chmod 755 "$root/init"
	local scmp=SCMP_ARCH_X86_64
	[ "$arch" = arm64 ] && scmp=SCMP_ARCH_AARCH64
	cat >"$root/sysrec/env" <<-EOF
		SYSREC_ARCH=$scmp
		SYSREC_I386=$i386
		SYSREC_TEST_SKIP='$skip_tests'
		SYSREC_CLI_TEST_SKIP='$skip_cli_tests'
		export SYSREC_WANT_SYS_ENTER='${want_sys_enter[$k]}'
	EOF
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$img.tmp"
	mv "$img.tmp" "$img"
	log "$k: initramfs $(du -h "$img" | cut -f1) ($img)"
	echo "$img"
}

qpid=""
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_guest KERNEL VMLINUZ INITRD boots the guest, with its console going
# to the log and to stderr, and judges it from the markers.
declare -A result detail
run_guest() {
	local k=$1 kernel=$2 initrd=$3 out=$cache/logs/$1.log
	local qemu
	case "$(arch_of "$k")" in
	amd64) qemu=(qemu-system-x86_64 -accel tcg -M q35 -cpu max -append "console=ttyS0 panic=-1 quiet") ;;
	arm64) qemu=(qemu-system-aarch64 -accel tcg -M virt -cpu max,pauth-impdef=on -append "console=ttyAMA0 panic=-1 quiet") ;;
	esac
	log "$k: booting $(basename "$kernel") under qemu (timeout ${guest_timeout}s; console in $out)"
	local start=$SECONDS
	: >"$out"
	timeout -k 10 "$guest_timeout" "${qemu[@]}" -m 2G -smp "$guest_cpus" -display none -monitor none -serial stdio \
		-no-reboot -kernel "$kernel" -initrd "$initrd" </dev/null >"$out" 2>&1 &
	qpid=$!
	local status=0
	# The console as it comes, for whoever watches; the log is what counts.
	# (In the background: bash runs the INT/TERM trap, which stops qemu,
	# only between foreground commands, and wait is interruptible.)
	tail -n +1 -f --pid=$qpid "$out" >&2 &
	local tpid=$!
	wait "$qpid" || status=$?
	qpid=""
	wait "$tpid" 2>/dev/null || true
	local took=$((SECONDS - start))
	local booted done_line fails
	booted=$(grep -a '^SYSREC-KTEST BOOTED' "$out" | head -n1 | tr -d '\r' || true)
	done_line=$(grep -a '^SYSREC-KTEST DONE' "$out" | tail -n1 | tr -d '\r' || true)
	fails=$(grep -a '^SYSREC-KTEST FAIL' "$out" | tr -d '\r' | cut -d' ' -f3 | tr '\n' ' ' || true)
	local npass nfail nskip
	npass=$(grep -ac '^SYSREC-KTEST PASS' "$out" || true)
	nfail=$(grep -ac '^SYSREC-KTEST FAIL' "$out" || true)
	nskip=$(grep -ac '^SYSREC-KTEST SKIP' "$out" || true)
	local sysenter
	sysenter=$(grep -a '^SYSREC-KTEST INFO sys_enter program:' "$out" | head -n1 | sed 's/^SYSREC-KTEST INFO //' | tr -d '\r' || true)
	local d="${took}s wall, $npass passed, $nfail failed, $nskip skipped"
	[ -n "$booted" ] && d+="; booted: ${booted#SYSREC-KTEST BOOTED }"
	[ -n "$sysenter" ] && d+="; $sysenter"
	if [ -z "$booted" ]; then
		result[$k]=FAIL
		d+="; did not boot to /init (qemu exit status $status)"
	elif [ -z "$done_line" ]; then
		result[$k]=FAIL
		d+="; no DONE marker (timed out or crashed: qemu exit status $status)"
	elif [[ $done_line == "SYSREC-KTEST DONE PASS"* ]]; then
		result[$k]=PASS
		d+="; ${done_line#SYSREC-KTEST DONE PASS }"
	else
		result[$k]=FAIL
		d+="; ${done_line#SYSREC-KTEST DONE FAIL }"
	fi
	[ -n "$fails" ] && d+="; failed: $fails"
	detail[$k]=$d
}

declare -A vmlinuz initrd
for k in "${kernels[@]}"; do
	vmlinuz[$k]=$(fetch_kernel "$k")
	initrd[$k]=$(build_image "$k")
done
if [ $prepare_only -eq 1 ]; then
	for k in "${kernels[@]}"; do
		log "$k: ready: ${vmlinuz[$k]} ${initrd[$k]}"
	done
	exit 0
fi

# One guest at a time: two at once on two cores gave soft lockups.
for k in "${kernels[@]}"; do
	run_guest "$k" "${vmlinuz[$k]}" "${initrd[$k]}"
done

echo
echo "test-kernels summary:"
status=0
for k in "${kernels[@]}"; do
	printf '  %-12s %s  %s\n' "$k" "${result[$k]}" "${detail[$k]}"
	[ "${result[$k]}" = PASS ] || status=1
done
exit $status
