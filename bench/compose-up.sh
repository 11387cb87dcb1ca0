#!/usr/bin/env bash
# tsstack up/down against Docker Compose's figures on this machine.
#   bench/compose-up.sh [SIZES…]   (default: 5 20 100; needs root; builds nothing — run `npm run build` first)
# Runs in a private network + mount namespace with a temporary engine root, on
# busybox images imported from busybox-static. Prints medians:
#   up -d from nothing, no-op second up (CLI start included; also via hyperfine), down,
#   and monitor memory per running container (RSS / PSS).
# Peers: docker-compose / podman-compose run side by side when installed;
# otherwise the reference figures from ../shared/BENCH-NOTES.md are used.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/busybox-world.sh
in_private_ns "$0" "$@"
shift
SIZES=("${@:-5 20 100}")
SIZES=(${SIZES[@]})
busybox_world bench

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v n="$1" 'BEGIN {printf "%.0f", n/1e6}'; }

# docker-compose's medians here (BENCH-NOTES.md, 2026-11-28), seconds: up, no-op up, down
declare -A DC_UP=([5]=4.09 [20]=14.1) DC_NOOP=([5]=0.75 [20]=0.94) DC_DOWN=([5]=1.65 [20]=4.0)

for p in docker-compose podman-compose; do
  if command -v "$p" >/dev/null; then echo "peer $p: installed (driven side by side by bench/compare.sh; the ratios below use the reference figures)"; else echo "peer $p: not installed — using the reference figures from ../shared/BENCH-NOTES.md (bench/compare.sh measures docker-compose side by side)"; fi
done
echo "runtime: ${TSSTACK_BENCH_RUNTIME:-tsstack-runtime}"
printf '\n%-6s %12s %12s %14s %12s %14s %14s   %s\n' services "up -d (ms)" "no-op (ms)" "no-op hf (ms)" "down (ms)" "RSS/ctr (KiB)" "PSS/ctr (KiB)" "vs docker-compose (up / no-op / down)"

for n in "${SIZES[@]}"; do
  mkdir -p "$WORK/stack"
  busybox_stack "$n" > "$WORK/stack/stack.yaml"
  cd "$WORK/stack"
  reps=3; (( n >= 100 )) && reps=1
  ups=(); noops=(); downs=(); rss=0; pss=0; hf=-
  for ((r = 0; r < reps; r++)); do
    t0=$(now); $T ${TSSTACK_BENCH_RUNTIME:+--runtime $TSSTACK_BENCH_RUNTIME} up -d >/dev/null 2>"$WORK/up.err" || { cat "$WORK/up.err"; exit 1; }; t1=$(now)
    ups+=($((t1 - t0)))
    for k in 1 2 3; do
      t0=$(now); $T up -d >/dev/null 2>"$WORK/noop.err" || { echo "no-op up failed:"; cat "$WORK/noop.err"; }; t1=$(now); noops+=($((t1 - t0)))
    done
    if (( r == 0 )) && command -v hyperfine >/dev/null && command -v jq >/dev/null; then
      hyperfine -N -w 3 -r 20 --export-json "$WORK/hf.json" "$T up -d" >/dev/null 2>&1 && hf=$(jq '.results[0].median * 1000 | floor' "$WORK/hf.json")
    fi
    if (( r == 0 )); then
      # Monitor processes of this root: their memory per container.
      for pid in $(pgrep -f "tsstack-monitor" || true); do
        grep -q "$WORK" "/proc/$pid/cmdline" 2>/dev/null || grep -qa "$WORK" "/proc/$pid/environ" 2>/dev/null || continue
        r1=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        p1=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
        rss=$((rss + ${r1:-0})); pss=$((pss + ${p1:-0}))
      done
    fi
    t0=$(now); $T down >/dev/null 2>"$WORK/down.err" || { echo "down failed:"; cat "$WORK/down.err"; }; t1=$(now)
    downs+=($((t1 - t0)))
  done
  up=$(printf '%s\n' "${ups[@]}" | median); noop=$(printf '%s\n' "${noops[@]}" | median); down=$(printf '%s\n' "${downs[@]}" | median)
  ratio="-"
  if [[ -n "${DC_UP[$n]:-}" ]]; then
    ratio=$(awk -v a="$up" -v b="${DC_UP[$n]}" -v c="$noop" -v d="${DC_NOOP[$n]}" -v e="$down" -v f="${DC_DOWN[$n]}" \
      'BEGIN {printf "%.1fx faster / %.1fx / %.1fx  (dc %.2fs / %.2fs / %.2fs)", b*1e9/a, d*1e9/c, f*1e9/e, b, d, f}')
  fi
  printf '%-6s %12s %12s %14s %12s %14s %14s   %s\n' "$n" "$(ms "$up")" "$(ms "$noop")" "$hf" "$(ms "$down")" "$((rss / n))" "$((pss / n))" "$ratio"
  cd "$WORK"
done
echo
echo "no-op: median of 3 per repetition (the first after up plans in full and records the converged state; later ones check stamps only);"
echo "no-op hf: hyperfine -N -w 3 -r 20 'tsstack up -d' on the converged stack (median)."
if command -v hyperfine >/dev/null && command -v jq >/dev/null; then
  hyperfine -N -w 3 -r 20 --export-json "$WORK/hf.json" "node -e 0" >/dev/null 2>&1 && echo "node -e 0 now (floor, hyperfine median): $(jq '.results[0].median * 1000 | floor' "$WORK/hf.json") ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
fi
echo "before the start-up work (2026-11-28 08:55, same script): no-op 140 ms (5 services), 143 ms (20); node -e 0 ~60 ms here"
echo "before the down work (2026-11-28 09:05, same script): down 680 ms (5 services), 1652 ms (20), ~5.3 s (100)"
echo "targets (issue 6): 20 services up >= 10x faster than docker-compose; no-op up < 100 ms; down <= 0.2x docker-compose"
