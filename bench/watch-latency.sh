#!/usr/bin/env bash
# Watch mode: save → visible-in-container latency for a sync rule and for an env
# edit (recreates one container), and the watcher's idle CPU over a 10 000-file
# build context. Medians. Runs in a network + mount namespace of its own.
# Usage: bench/watch-latency.sh [sync runs (15)] [env runs (7)]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p . >/dev/null || true
unshare --net --mount --propagation private -- bash -c 'ip link set lo up; exec node dist/bench/watch-latency.js "$@"' bench "$@"
