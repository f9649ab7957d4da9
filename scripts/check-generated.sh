#!/usr/bin/env bash
# Fails when the committed generated files (bpf2go objects and bindings,
# syscall tables and groups, the Kubernetes API's deep copies and CRD, deploy/sysrec.yaml)
# differ from what `make generate` makes from their sources.
# It regenerates in a scratch copy, so the work tree is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$scratch"
# The API first: deploy embeds the CRD that it writes.
(cd "$scratch" && go generate ./bpf ./bench ./syscalls ./api/v1alpha1 ./deploy)

status=0
generated() {
	(cd "$1" && ls bpf/*_bpfel.go bpf/*_bpfel.o bench/*_bpfel.go bench/*_bpfel.o syscalls/zsyscalls.go syscalls/zgroups.go \
		api/v1alpha1/zz_generated.deepcopy.go deploy/crd/*.yaml deploy/sysrec.yaml 2>/dev/null || true)
}
# Both sides' files: one that generate adds (a new CRD) differs too.
for f in $( (generated .; generated "$scratch") | sort -u); do
	if [ ! -e "$f" ] || [ ! -e "$scratch/$f" ] || ! cmp -s "$f" "$scratch/$f"; then
		echo "check-generated: $f differs from its sources: run make generate and commit" >&2
		status=1
	fi
done
[ $status -eq 0 ] && echo "check-generated: generated files match their sources"
exit $status
