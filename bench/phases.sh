#!/usr/bin/env bash
# Where a `run --rm` of /bin/true and an `up -d` of N busybox services from nothing spend their
# time, phase by phase: the CLI's own timestamps (TSSTACK_TRACE_PHASES=1, src/util/phase-trace.ts),
# ms since the process started and the CPU time its JavaScript thread had by then, for the last of
# RUNS runs of each (the earlier ones warm the code cache, the model cache and the project network).
# No profiler: the figures are the command's own.
#   bench/phases.sh [N=20] [RUNS=3]   (root, after `npm run build`; own netns, mount ns and root)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/busybox-world.sh
in_private_ns "$0" "$@"
shift
N=${1:-20}; RUNS=${2:-3}
busybox_world phases "$N"
T="$REPO/bin/tsstack.js" # the installed command's way: its first line starts Node
mkdir -p "$WORK/rr" && printf 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n' > "$WORK/rr/stack.yaml"
trap '(cd "$WORK/stack" && $T down -v >/dev/null 2>&1) || true; $T -f "$WORK/rr/stack.yaml" -p rr down -v >/dev/null 2>&1 || true; world_remove' EXIT

echo "run --rm of /bin/true (ms since the process started):"
export TSSTACK_TRACE_PHASES=1 # in every run: the model cache keys on the whole environment
for ((i = 1; i < RUNS; i++)); do $T -f "$WORK/rr/stack.yaml" -p rr run --rm t >/dev/null 2>&1; done
$T -f "$WORK/rr/stack.yaml" -p rr run --rm t 2>&1 >/dev/null | sed -n 's/^phase /  /p'

echo "up -d of $N services from nothing (the first create, start and the last of each):"
for ((i = 1; i < RUNS; i++)); do $T up -d >/dev/null 2>&1; $T down >/dev/null 2>&1; done
$T up -d 2>&1 >/dev/null | sed -n 's/^phase /  /p' | awk '
  / (create|start) / { split($0, a, ":"); step = $4 ":" a[2]; if (!(step in first)) { first[step] = $0; order[++n] = step } last[step] = $0; next }
  { print }
  END { for (i = 1; i <= n; i++) { print first[order[i]] "  (first)"; print last[order[i]] "  (last)" } }'
