#!/usr/bin/env bash
# Where a `down` spends its time: N services (busybox, SIGKILL to stop) are
# brought up, then taken down with every engine part's calls timed
# (bench/down-trace.ts), then again under `node --cpu-prof`.
#   bench/down-trace.sh [N=20]   (needs root and `npm run build`; own netns, mount ns and root)
# Prints the call table (n, sum, mean, max, window in ms since process start)
# and the wall time of each down; the CPU profile is left in $TSSTACK_BENCH_PROF
# (default /tmp/tsstack-down-prof) for chrome://inspect or `node --prof`-style tools.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/busybox-world.sh
in_private_ns "$0" "$@"
shift
N=${1:-20}
trace_world downtrace "$N" /tmp/tsstack-down-prof

$T up -d >/dev/null 2>&1
t0=$(now); node "$REPO/dist/bench/down-trace.js" down >/dev/null 2>"$WORK/trace.err"; t1=$(now)
echo "down of $N services, traced: $(( (t1 - t0) / 1000000 )) ms wall"
grep -v '^\(container\|network\|volume\):' "$WORK/trace.err"

$T up -d >/dev/null 2>&1
t0=$(now); node --cpu-prof --cpu-prof-dir="$PROF" "$REPO/bin/tsstack.js" down >/dev/null 2>&1; t1=$(now)
echo
echo "down of $N services under --cpu-prof: $(( (t1 - t0) / 1000000 )) ms wall; profile in $PROF"
left=$(ip -o link | grep -c ' vt' || true)
echo "veths left: $left; mounts left under the root: $(grep -c "$WORK" /proc/self/mountinfo || true)"
