#!/usr/bin/env bash
# run --rm of /bin/true and down of 5 busybox services, two builds of tsstack interleaved round by round
# (order alternating), in a private network and mount namespace with a root of its own; prints medians,
# min–max, the per-round new ÷ old ratio and the 1-min load.
#   bench/ab-run-down.sh OLD_REPO NEW_REPO [ROUNDS=12]   (root; both built; OLD_REPO e.g. a `git archive`
#   of main inside this checkout, built with ../node_modules/.bin/tsc, with native/bin copied)
set -euo pipefail
if [[ "${1:-}" != "--inside" ]]; then exec unshare --net --mount --propagation private -- bash "$0" --inside "$@" </dev/null; fi # (stdin: see compare.sh)
shift; OLD=$(realpath "$1"); NEW=$(realpath "$2"); R=${3:-12}
ip link set lo up
WORK=$(mktemp -d /tmp/tsstack-abrd.XXXXXX)
export TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$WORK/run
cleanup() { for b in $OLD $NEW; do node $b/bin/tsstack.js -p rr down -v >/dev/null 2>&1 || true; (cd "$WORK/s5" && node $b/bin/tsstack.js down -v >/dev/null 2>&1) || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
node --input-type=module -e "const { makeBusyboxRootfs } = await import('$NEW/dist/test/helpers/rootfs.js'); makeBusyboxRootfs('$WORK/bb');"
node $NEW/bin/tsstack.js image import "$WORK/bb" busybox:latest >/dev/null
mkdir -p "$WORK/rr" "$WORK/s5" && printf 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n' > "$WORK/rr/stack.yaml"
{ echo "services:"; for ((i = 0; i < 5; i++)); do printf '  s%d:\n    image: busybox:latest\n    command: ["sleep", "1000000"]\n    stop_signal: SIGKILL\n' "$i"; done; } > "$WORK/s5/stack.yaml"
node $NEW/bin/tsstack.js -f $WORK/rr/stack.yaml -p rr run --rm t # the first run makes the project network
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1-t0)/1000000 )); }
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r=1;r<=R;r++)); do
  if ((r % 2)); then order="$OLD $NEW"; else order="$NEW $OLD"; fi
  for b in $order; do echo "run $([[ $b == "$OLD" ]] && echo old || echo new) $(ms node $b/bin/tsstack.js -f $WORK/rr/stack.yaml -p rr run --rm t)"; done
  echo "node0 x $(ms node -e 0)"
  for b in $order; do
    (cd $WORK/s5 && node $b/bin/tsstack.js up -d >/dev/null 2>&1)
    echo "down $([[ $b == "$OLD" ]] && echo old || echo new) $(cd $WORK/s5 && ms node $b/bin/tsstack.js down)"
  done
  echo "load $(cut -d' ' -f1 /proc/loadavg)"
done | tee "$WORK/out" >/dev/null
python3 - "$WORK/out" <<'PY'
import sys, statistics as st, collections
v = collections.defaultdict(list); load = []; ratio = collections.defaultdict(list); cur = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 3 and p[2].isdigit(): v[p[0] + ' ' + p[1]].append(int(p[2])); cur[p[0] + ' ' + p[1]] = int(p[2])
    if len(p) == 2 and p[0] == 'load':
        load.append(float(p[1]))
        for k in ('run', 'down'):
            if f'{k} new' in cur and f'{k} old' in cur: ratio[k].append(cur[f'{k} new'] / cur[f'{k} old'])
        cur = {}
for k in sorted(v): print(f"{k:10} median {st.median(v[k]):5.0f} ms  ({min(v[k])}–{max(v[k])}, n={len(v[k])})")
for k in ratio: print(f"{k} new ÷ old per round: median {st.median(ratio[k]):.2f} ({min(ratio[k]):.2f}–{max(ratio[k]):.2f})")
print(f"1-min load: median {st.median(load)} ({min(load)}–{max(load)})")
PY
