#!/usr/bin/env bash
# Fails when the committed generated files (bpf2go objects and bindings,
# syscall tables) differ from what `make generate` makes from their sources.
# It regenerates in a scratch copy, so the work tree is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$scratch"
(cd "$scratch" && go generate ./bpf ./bench ./syscalls)

status=0
for f in bpf/*_bpfel.go bpf/*_bpfel.o bench/*_bpfel.go bench/*_bpfel.o syscalls/zsyscalls.go; do
	if ! cmp -s "$f" "$scratch/$f"; then
		echo "check-generated: $f differs from its sources: run make generate and commit" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-generated: generated files match their sources"
exit $status
