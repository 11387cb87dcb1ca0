#!/usr/bin/env bash
# Overlay mount/unmount of a container root: one syscall through koffi against mount(8)/umount(8).
# Usage: npx tsc -p . && bash bench/overlay-mount.sh   (RUNS=N, default 40)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/bench/overlay-mount.js ]] || { echo "build first: npx tsc -p ." >&2; exit 1; }
exec unshare --mount --propagation private -- node dist/bench/overlay-mount.js
