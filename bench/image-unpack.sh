#!/usr/bin/env bash
# Layer unpack throughput (~50 MB layer: plain, gzip, zstd) against GNU tar,
# and pull time from a loopback docker-registry against skopeo.
# Usage: npx tsc -p . && bash bench/image-unpack.sh   (RUNS=N to change the number of runs, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/bench/image-unpack.js ]] || { echo "build first: npx tsc -p ." >&2; exit 1; }
exec unshare --net --mount --propagation private -- bash -c 'ip link set lo up; node dist/bench/image-unpack.js'
