#!/usr/bin/env bash
# The story `make demo` tells, in three steps: record the demo workload,
# run it under its own profile (it works), then under the same profile with
# one recorded syscall taken out (it fails, and sysrec names the syscall
# the profile denied it). It exits non-zero if any step does not turn out
# so.
#
#   demo/demo.sh SYSREC DEMO   the sysrec and demo binaries to use
set -euo pipefail

sysrec=${1:?usage: demo/demo.sh SYSREC DEMO}
demo=${2:?usage: demo/demo.sh SYSREC DEMO}
profile=demo-profile.json
broken=demo-profile-without-mkdirat.json
removed=mkdirat # os.MkdirTemp's syscall

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. record the demo workload (an HTTP server and client, a temporary file, a child process)" \
	"$sysrec record -o $profile -- $demo"
"$sysrec" record -o "$profile" -- "$demo"
cat "$profile"

step "2. run it under its own profile: it works" "$sysrec run --profile $profile -- $demo"
"$sysrec" run --profile "$profile" -- "$demo" 2> >(tee demo-run.err >&2)
wait
echo "exit status 0"
if grep -q "these syscalls:" demo-run.err; then
	echo "(The workload worked, but took a path the recording never saw, and the"
	echo " profile denied a syscall there: the Go runtime, for one, calls sched_yield"
	echo " only when its threads contend. A recording sees only the paths a run takes.)"
fi

# The profile lists one name a line, sorted; mkdirat is never the last
# name of a Go program's list (mmap follows it), so the JSON stays valid,
# and lint below proves it.
grep -v "^ *\"$removed\",\$" "$profile" >"$broken"
"$sysrec" lint "$broken" >/dev/null
if grep -q "\"$removed\"" "$broken"; then
	echo "demo: could not take $removed out of $profile" >&2
	exit 1
fi

step "3. take $removed out of the profile: sysrec diff predicts the break" "$sysrec diff $profile $broken"
# diff exits 1 when the deployed profile would break the workload; show
# its denied rows only.
"$sysrec" diff "$profile" "$broken" | grep -E '[[:space:]]denied[[:space:]]' || true

step "4. run it under that profile: it fails, and sysrec names the denied syscall" \
	"$sysrec run --profile $broken -- $demo"
status=0
"$sysrec" run --profile "$broken" -- "$demo" 2> >(tee demo-run.err >&2) || status=$?
wait
echo "exit status $status"
if [ "$status" -eq 0 ]; then
	echo "demo: the workload ran although the profile denies $removed" >&2
	exit 1
fi
if ! grep -q "^  $removed " demo-run.err; then
	echo "demo: sysrec did not name $removed as denied" >&2
	exit 1
fi
rm -f demo-run.err
printf '\nThe profile is in %s; the one without %s in %s.\n' "$profile" "$removed" "$broken"
