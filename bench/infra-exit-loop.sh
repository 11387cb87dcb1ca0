#!/usr/bin/env bash
# Runs ava test files N times, each run in fresh network + mount namespaces (as
# scripts/test.sh does), and prints the median wall time per run and how many
# runs had a worker that "Failed to exit" (a handle or timer kept alive after
# the file's last test) or a failing test. For checking that test files end
# cleanly under repetition, e.g. after a change to the engine's polling loops.
#   Usage: bench/infra-exit-loop.sh N [ava files/dirs…]   (default: 5 dist/test/cli/compose-e2e.test.js)
#   TSSTACK_EXIT_LOOP_TIMEOUT: ava's --timeout per run (default 100s: a hung worker is reported, not waited for)
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}; shift || true
files=("$@"); [[ ${#files[@]} -gt 0 ]] || files=(dist/test/cli/compose-e2e.test.js)
timeout=${TSSTACK_EXIT_LOOP_TIMEOUT:-100s}
out=$(mktemp -d /tmp/tsstack-exit-loop.XXXXXX)
times=(); hung=0; failed=0
# the logs stay (and are named) when a run hung or failed
trap '(( hung + failed )) && echo "logs: $out" || rm -rf "$out"' EXIT
for i in $(seq 1 "$n"); do
  s=$(date +%s%N)
  unshare --net --mount --propagation private -- bash -c 'ip link set lo up; exec npx ava --timeout="$0" "$@"' "$timeout" "${files[@]}" >"$out/$i.log" 2>&1
  e=$(date +%s%N)
  ms=$(( (e - s) / 1000000 ))
  times+=("$ms")
  h=$(grep -c 'Failed to exit' "$out/$i.log"); f=$(grep -cE '^ +✘ \[fail\]' "$out/$i.log")
  (( h > 0 )) && hung=$((hung + 1))
  (( f > 0 )) && failed=$((failed + 1))
  echo "run $i: ${ms} ms, failed to exit: $h, failed tests: $f"
  grep -E '^ +✘|Failed to exit' "$out/$i.log" | sed 's/^/    /'
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}')
echo "runs: $n  median: ${median} ms  failed to exit: $hung/$n  with failing tests: $failed/$n"
