#!/usr/bin/env bash
# Layer unpack throughput (~50 MB layer: plain, gzip, zstd) against GNU tar,
# and pull time from a loopback docker-registry against skopeo.
# Usage: bash bench/image-unpack.sh   (RUNS=N to change the number of runs)
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p . >/dev/null || true
exec unshare --net --mount --propagation private -- bash -c 'ip link set lo up; node dist/bench/image-unpack.js'
