#!/usr/bin/env bash
# Start→exit latency of /bin/true in a busybox bundle: tsstack-runtime `run`,
# crun, runc, and the floor `unshare -fpmiun --mount-proc true`; prints
# hyperfine medians and ratios. Targets (issue 3): ≤ crun, ≤ ½ runc, ≤ 3× floor.
#   Usage: bench/runtime-start.sh [runs]   (root; runs inside its own net+mount ns)
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
RUNS=${1:-30}
if [ -z "${TSSTACK_BENCH_INNER:-}" ]; then
  node scripts/build-native.mjs >/dev/null
  exec env TSSTACK_BENCH_INNER=1 unshare --net --mount --propagation private -- "$self" "$@"
fi
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/tsstack-bench-rt.XXXXXX)
trap 'umount "$work/state" 2>/dev/null; rm -rf "$work"' EXIT
# State directories on tmpfs for every runtime, as their defaults (/run/…) are
# on a normal host; here /run is on the disk. (Private mount namespace: see above.)
mkdir -p "$work/state" && mount -t tmpfs tmpfs "$work/state"
mkdir -p "$work/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
ln -s busybox "$work/rootfs/bin/sh"
: > "$work/empty"

# The same bundle for every runtime: what `runc spec` makes, running /bin/true.
cat > "$work/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
    "env": ["PATH=/bin"], "cwd": "/",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
    "noNewPrivileges": true},
  "root": {"path": "$work/rootfs", "readonly": true},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "cgroupsPath": "/tsstack-bench",
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON

TS=$PWD/native/bin/tsstack-runtime
names=(); cmds=()
names+=("tsstack-runtime"); cmds+=("$TS --root $work/state/ts run --bundle $work b1")
if command -v crun >/dev/null; then
  names+=("crun")
  cmds+=("unshare -m --propagation private -- sh -c 'mount --bind $work/empty /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; exec crun --root $work/state/crun run --bundle $work b2'")
fi
if command -v runc >/dev/null; then names+=("runc"); cmds+=("runc --root $work/state/runc run --bundle $work b3"); fi
names+=("floor"); cmds+=("unshare -fpmiun --mount-proc true")

args=(--warmup 3 --runs "$RUNS" --style none --export-json "$work/out.json" -N)
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine "${args[@]}" >/dev/null 2>&1

echo "start→exit of /bin/true (median of $RUNS runs; crun wrapped in unshare -m, see ../shared/BENCH-NOTES.md)"
jq -r '.results[] | "\(.command) \(.median)"' "$work/out.json" | awk '
  { name[NR] = $1; med[$1] = $2 * 1000 }
  END {
    for (i = 1; i <= NR; i++) printf "  %-16s %8.2f ms\n", name[i], med[name[i]]
    ts = med["tsstack-runtime"]
    if ("crun" in med)  printf "  tsstack/crun   %6.2fx  (target ≤ 1)\n",   ts / med["crun"]
    if ("runc" in med)  printf "  tsstack/runc   %6.2fx  (target ≤ 0.5)\n", ts / med["runc"]
    printf "  tsstack/floor  %6.2fx  (target ≤ 3)\n", ts / med["floor"]
  }'
