# Sourced by scripts/containerd.sh and scripts/crio.sh: what both test
# runtimes share. They import the same local image, since no registry is
# reachable (see ../shared/RUNTIMES.md), and stop the daemon they started
# through its pidfile, never by name.

image=docker.io/library/sysrec-busybox:latest

# build_image writes DIR/image.tar, a docker-archive of a busybox-static
# root file system whose default command blocks until TERM, as a pod
# sandbox's must.
build_image() {
	local dir=$1 root=$1/rootfs
	mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list); do
		[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
	done
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$dir/layer.tar" .
	local diff
	diff=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
	local arch
	arch=$(go env GOARCH 2>/dev/null || dpkg --print-architecture)
	cat >"$dir/config.json" <<JSON
{"architecture":"$arch","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh","-c","trap 'exit 0' TERM INT; sleep 2147483647 & wait"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff"]}}
JSON
	cat >"$dir/manifest.json" <<JSON
[{"Config":"config.json","RepoTags":["$image"],"Layers":["layer.tar"]}]
JSON
	tar -C "$dir" -cf "$dir/image.tar" manifest.json config.json layer.tar
}

# stop_pidfile stops the process named by the pidfile $1, which the calling
# script wrote when it started it, waits up to 10 s for it to exit, and
# removes the pidfile.
stop_pidfile() {
	local pidfile=$1
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		kill "$(cat "$pidfile")"
		for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
	fi
	rm -f "$pidfile"
}
