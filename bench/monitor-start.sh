#!/usr/bin/env bash
# What the monitor adds to a container's life: start→exit of `/bin/true` in a busybox
# bundle through tsstack-monitor (detach, create, start, reap, delete, state file) versus
# the same runtime's `run` alone, for each installed runtime. Prints medians and ratios.
#   Usage: bench/monitor-start.sh [runs=30]     (as root; runs in its own net+mount namespace)
set -euo pipefail
RUNS=${1:-30}
cd "$(dirname "$0")/.."
if [[ -z "${TSSTACK_BENCH_INNER:-}" ]]; then
  node scripts/build-native.mjs >/dev/null 2>&1 || true
  exec env TSSTACK_BENCH_INNER=1 unshare --net --mount --propagation private -- "$0" "$@"
fi
MON=$PWD/native/bin/tsstack-monitor
work=$(mktemp -d /tmp/tsstack-bench-start.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$rootfs/bin/$a"; done
mkdir -p "$work/bundle"
(cd "$work/bundle" && runc spec)
jq --arg r "$rootfs" '.root={path:$r,readonly:true} | .process.terminal=false | .process.args=["/bin/true"] | .linux.cgroupsPath="tsstack/bench-start"' \
  "$work/bundle/config.json" > "$work/c.json" && mv "$work/c.json" "$work/bundle/config.json"

now_ms() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for rt in "$PWD/native/bin/tsstack-runtime" "$(command -v runc || true)"; do
  [[ -x $rt ]] || continue
  name=$(basename "$rt")
  direct=(); viamon=()
  for i in $(seq 1 "$RUNS"); do
    t0=$(now_ms); "$rt" --root "$work/rt" run --bundle "$work/bundle" "d$i" >/dev/null 2>&1 </dev/null; t1=$(now_ms)
    direct+=($(( (t1 - t0) / 1000 )))
    t0=$(now_ms)
    pid=$("$MON" --runtime "$rt" --runtime-root "$work/rt" --id "m$i" --bundle "$work/bundle" --state "$work/s$i.json" --log "$work/l$i.json")
    # wait for the monitor to finish (it is not our child): bash builtins only, no forks in the loop
    while read -r _ _ s _ 2>/dev/null < "/proc/$pid/stat" && [[ $s != Z ]]; do :; done
    t1=$(now_ms)
    viamon+=($(( (t1 - t0) / 1000 )))
    grep -q '"status":"exited"' "$work/s$i.json" || { echo "run $i: monitor did not record the exit" >&2; exit 1; }
  done
  d=$(printf '%s\n' "${direct[@]}" | median); m=$(printf '%s\n' "${viamon[@]}" | median)
  printf '%-16s start→exit /bin/true, median of %d: %s run %.1f ms | via tsstack-monitor %.1f ms | monitor overhead %.1f ms (%.2fx)\n' \
    "$name" "$RUNS" "$name" "$(echo "$d/1000" | bc -l)" "$(echo "$m/1000" | bc -l)" "$(echo "($m-$d)/1000" | bc -l)" "$(echo "$m/$d" | bc -l)"
done
