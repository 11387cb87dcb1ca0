#!/usr/bin/env bash
# Memory of tsstack-monitor per container: PSS and RSS from /proc/PID/smaps_rollup
# of the monitor and of its guard (the kill-on-close child, tsstack-guard), with N
# containers running `sleep` under each installed runtime. Target (issue 14):
# ≤ 1 MiB RSS and ≤ 0.3 MB PSS per container.
# Peers measured on this kind of host (../shared/BENCH-NOTES.md): conmon 2.0 MB RSS /
# 0.42 MB PSS; containerd-shim 13.3 MB RSS / 3.1 MB PSS.
#   Usage: bench/monitor-memory.sh [N=10]      (as root; runs in its own net+mount namespace)
set -euo pipefail
N=${1:-10}
cd "$(dirname "$0")/.."
if [[ -z "${TSSTACK_BENCH_INNER:-}" ]]; then
  node scripts/build-native.mjs >/dev/null 2>&1 || true
  exec env TSSTACK_BENCH_INNER=1 unshare --net --mount --propagation private -- "$0" "$@"
fi
MON=$PWD/native/bin/tsstack-monitor
work=$(mktemp -d /tmp/tsstack-bench-mon.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]]; do sleep 0.05; done; done
  rm -rf "$work"
}
trap cleanup EXIT

# a read-only busybox root shared by every container
rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$rootfs/bin/$a"; done

kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/smaps_rollup"; }

runtimes=()
[[ -x native/bin/tsstack-runtime ]] && runtimes+=("$PWD/native/bin/tsstack-runtime")
command -v runc >/dev/null && runtimes+=("$(command -v runc)")

for rt in "${runtimes[@]}"; do
  name=$(basename "$rt")
  mons=()
  for i in $(seq 1 "$N"); do
    b=$work/$name-$i
    mkdir -p "$b/bundle"
    (cd "$b/bundle" && runc spec --rootless=false >/dev/null 2>&1 || runc spec)
    jq --arg r "$rootfs" --arg cg "tsstack/bench-$name-$i" \
      '.root={path:$r,readonly:true} | .process.terminal=false | .process.args=["sleep","1000"] | .linux.cgroupsPath=$cg' \
      "$b/bundle/config.json" > "$b/c.json" && mv "$b/c.json" "$b/bundle/config.json"
    pid=$("$MON" --runtime "$rt" --runtime-root "$work/rt-$name" --id "bench-$name-$i" --bundle "$b/bundle" \
      --state "$b/state.json" --log "$b/log.json" --socket "$b/ctl.sock" --stop-timeout 100)
    pids+=("$pid"); mons+=("$pid")
  done
  sleep 0.5
  mpss=0; mrss=0; gpss=0; grss=0
  for p in "${mons[@]}"; do
    mpss=$((mpss + $(kb "$p" Pss))); mrss=$((mrss + $(kb "$p" Rss)))
    g=$(pgrep -P "$p" -x tsstack-guard || true)
    if [[ -n $g ]]; then gpss=$((gpss + $(kb "$g" Pss))); grss=$((grss + $(kb "$g" Rss))); fi
  done
  printf '%-16s N=%-3s monitor: PSS %4d KiB  RSS %4d KiB | guard: PSS %4d KiB  RSS %4d KiB | total per container: PSS %4d KiB (%.2f MiB) RSS %4d KiB\n' \
    "$name" "$N" $((mpss / N)) $((mrss / N)) $((gpss / N)) $((grss / N)) $(((mpss + gpss) / N)) "$(echo "($mpss + $gpss) / $N / 1024" | bc -l)" $(((mrss + grss) / N))
  printf '%-16s ratio of PSS per container: vs conmon (0.42 MB) %.2fx, vs containerd-shim (3.1 MB) %.2fx\n' "$name" \
    "$(echo "($mpss + $gpss) / $N * 1024 / 420000" | bc -l)" "$(echo "($mpss + $gpss) / $N * 1024 / 3100000" | bc -l)"
  for p in "${mons[@]}"; do kill -TERM "$p"; done
done
