#!/usr/bin/env bash
# `cp` into and out of a running container, 50 MB tree.   Usage: npx tsc -p . && bash bench/cp.sh   (RUNS=N, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/bench/cp.js ]] || { echo "build first: npx tsc -p ." >&2; exit 1; }
exec unshare --mount --propagation private -- node dist/bench/cp.js
