#!/usr/bin/env bash
# Runs every fuzz target of the module (each func FuzzXxx in a *_test.go
# file) for FUZZTIME, one after the other, and prints a line per target:
#
#   fuzz: FuzzParse ./profiles: 123456 execs in 15s
#
# It fails when a target finds a failing input (go test writes it to the
# package's testdata/fuzz/FuzzXxx/: fix the bug and commit the file), or
# makes fewer than MINEXECS executions: a target that barely runs finds
# nothing, as FuzzParse did while package profiles linked Kubernetes and
# the container runtimes, all of which go test -fuzz instruments.
#
# FUZZMINIMIZETIME caps the time a worker spends shrinking each input that
# found new code (go test's default is 60s, which in a short run is spent
# minimizing instead of fuzzing, and whose executions go uncounted when the
# run ends first).
#
# Usage: FUZZTIME=15s MINEXECS=10000 scripts/fuzz.sh
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
MINEXECS=${MINEXECS:-10000}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-1s}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# "PKG NAME" per target, from the committed and new test files.
mapfile -t targets < <(
	git ls-files --cached --others --exclude-standard -- '*_test.go' |
		xargs grep -H -o '^func Fuzz[A-Za-z0-9_]*' |
		sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz.*)$|./\1 \2|; s|^[^/]*_test\.go:func (Fuzz.*)$|. \1|' |
		sort -u
)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

status=0
summary=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	log="$logs/$name-${pkg//\//_}.log"
	echo "fuzz: running $name in $pkg for $FUZZTIME"
	if ! "$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" 2>&1 | tee "$log"; then
		summary+=("fuzz: $name $pkg: FAILED (see above)")
		status=1
		continue
	fi
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
	if [ -z "$execs" ]; then
		summary+=("fuzz: $name $pkg: no \"execs:\" line in go test's output")
		status=1
		continue
	fi
	line="fuzz: $name $pkg: $execs execs in $FUZZTIME"
	if [ "$execs" -lt "$MINEXECS" ]; then
		line+=", fewer than MINEXECS=$MINEXECS"
		status=1
	fi
	summary+=("$line")
	echo "$line"
done

echo
printf '%s\n' "${summary[@]}"
exit $status
