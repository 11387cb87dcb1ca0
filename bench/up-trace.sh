#!/usr/bin/env bash
# Where an `up -d` of N services from nothing spends its time: N busybox services
# (as in bench/compare.sh) are brought up with every engine part's calls timed
# (bench/down-trace.ts), then again under `node --cpu-prof`, then under
# `strace -f -c` (syscalls, forks and fsyncs of the CLI and what it spawns);
# each time taken down again after.
#   bench/up-trace.sh [N=20]   (needs root and `npm run build`; own netns, mount ns and root)
# The CPU profile is left in $TSSTACK_BENCH_PROF (default /tmp/tsstack-up-prof), the
# strace summary in $TSSTACK_BENCH_PROF/strace.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/busybox-world.sh
in_private_ns "$0" "$@"
shift
N=${1:-20}
trace_world uptrace "$N" /tmp/tsstack-up-prof

# once untimed: the first up makes the network (and starts the DNS server), as compare.sh's first round
$T up -d >/dev/null 2>&1; $T down >/dev/null 2>&1

for i in 1 2 3; do
  t0=$(now); $T up -d >/dev/null 2>&1; t1=$(now)
  echo "up -d of $N services, plain: $(( (t1 - t0) / 1000000 )) ms wall"
  $T down >/dev/null 2>&1
done

t0=$(now); node "$REPO/dist/bench/down-trace.js" up -d >/dev/null 2>"$WORK/trace.err"; t1=$(now)
echo "up -d of $N services, traced: $(( (t1 - t0) / 1000000 )) ms wall"
grep -v '^\(container\|network\|volume\|service\):' "$WORK/trace.err"
$T down >/dev/null 2>&1

t0=$(now); node --cpu-prof --cpu-prof-dir="$PROF" "$REPO/bin/tsstack.js" up -d >/dev/null 2>&1; t1=$(now)
echo
echo "up -d of $N services under --cpu-prof: $(( (t1 - t0) / 1000000 )) ms wall; profile in $PROF"
$T down >/dev/null 2>&1

# strace -f follows the monitors, which outlive the CLI: it is sent SIGTERM (it then
# detaches and writes its summary) once the CLI has exited.
traced() { # traced OUT STRACE-OPTION…: up -d under strace -o OUT
  local out=$1; shift
  rm -f "$WORK/done"
  strace -I1 -f -o "$out" "$@" -- sh -c "node '$REPO/bin/tsstack.js' up -d >/dev/null 2>&1; touch '$WORK/done'" &
  local sp=$!
  while [[ ! -e $WORK/done ]]; do sleep 0.1; done
  sleep 0.2; kill -TERM "$sp"; wait "$sp" || true
  $T down >/dev/null 2>&1
}
traced "$PROF/strace.txt" -c
traced "$PROF/strace-events.txt" -qq -e trace=execve,fsync,fdatasync,clone,clone3,vfork,fork,mount,unshare,setns
ev=$PROF/strace-events.txt
echo
echo "under strace -f, per up -d of $N: $(grep -c 'execve(' "$ev") execve,"\
  "$(grep -cE ' (clone|clone3|vfork|fork)\(' "$ev") clone/fork/vfork,"\
  "$(grep -cE ' f(data)?sync\(' "$ev") fsync/fdatasync,"\
  "$(grep -c ' mount(' "$ev") mount, $(grep -c ' unshare(' "$ev") unshare, $(grep -c ' setns(' "$ev") setns"
echo "execs by binary:"; grep -o 'execve("[^"]*"' "$PROF/strace-events.txt" | sort | uniq -c | sort -rn
head -30 "$PROF/strace.txt"
left=$(ip -o link | grep -c ' vt' || true)
echo "veths left: $left; mounts left under the root: $(grep -c "$WORK" /proc/self/mountinfo || true)"
