#!/usr/bin/env bash
# up -d of N busybox services from nothing (then down, untimed), two builds of tsstack interleaved
# round by round (order alternating), in a private network and mount namespace with a root of its own
# under /tmp as bench/compare.sh's; prints medians, min–max, the per-round new ÷ old ratio, the CLI's
# CPU (user + system: all its threads) and its JavaScript thread's alone (read from /proc at exit by a
# preloaded script), the CPU of everything the `up` ran outside the containers' own cgroups (CLI,
# monitors, guards, runtime; a cgroup v1 cpuacct group of this run's own, when there is one), and the
# 1-min load. CPU holds better than wall time on a loaded machine.
#   bench/ab-up.sh OLD_REPO NEW_REPO [ROUNDS=10] [N=20]   (root; both built; OLD_REPO e.g. a copy of
#   main's bin/, dist/, package.json and native/bin inside this checkout)
set -euo pipefail
if [[ "${1:-}" != "--inside" ]]; then exec unshare --net --mount --propagation private -- bash "$0" --inside "$@" </dev/null; fi # (stdin: see compare.sh)
shift; OLD=$(realpath "$1"); NEW=$(realpath "$2"); R=${3:-10}; N=${4:-20}
ip link set lo up
WORK=$(mktemp -d /tmp/tsstack-abup.XXXXXX)
export TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$WORK/run
CG=; [[ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]] && CG=/sys/fs/cgroup/cpuacct/tsstack-abup-$$ && mkdir "$CG"
cleanup() {
  for b in $OLD $NEW; do (cd "$WORK/s" && node $b/bin/tsstack.js down -v >/dev/null 2>&1) || true; done
  [[ -n $CG ]] && for _ in $(seq 30); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
node --input-type=module -e "const { makeBusyboxRootfs } = await import('$NEW/dist/test/helpers/rootfs.js'); makeBusyboxRootfs('$WORK/bb');"
node $NEW/bin/tsstack.js image import "$WORK/bb" busybox:latest >/dev/null
mkdir -p "$WORK/s"
{ echo "services:"; for ((i = 0; i < N; i++)); do printf '  s%d:\n    image: busybox:latest\n    command: ["sleep", "1000000"]\n    stop_signal: SIGKILL\n' "$i"; done; } > "$WORK/s/stack.yaml"
# the JavaScript thread's CPU (utime + stime of the task whose id is the pid), in ms, at exit
cat > "$WORK/main-cpu.cjs" <<'JS'
process.on('exit', () => {
  try {
    const f = require('fs').readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    require('fs').writeFileSync(process.env.AB_MAIN_CPU, String(Math.round(((+f[11]) + (+f[12])) * 1000 / 100)));
  } catch { /* not Linux's /proc */ }
});
JS
cd "$WORK/s"
node $NEW/bin/tsstack.js up -d >/dev/null 2>&1; node $NEW/bin/tsstack.js down >/dev/null 2>&1 # the network, and each build's code cache
node $OLD/bin/tsstack.js up -d >/dev/null 2>&1; node $OLD/bin/tsstack.js down >/dev/null 2>&1
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r=1;r<=R;r++)); do
  if ((r % 2)); then order="$OLD $NEW"; else order="$NEW $OLD"; fi
  for b in $order; do
    t0=$(date +%s%N)
    c0=$([[ -n $CG ]] && cat "$CG/cpuacct.usage" || echo 0)
    AB_MAIN_CPU=$WORK/main NODE_OPTIONS="--require $WORK/main-cpu.cjs" /usr/bin/time -f '%U %S' -o "$WORK/cpu" \
      sh -c "${CG:+echo \$\$ > $CG/cgroup.procs; }exec node $b/bin/tsstack.js up -d" >/dev/null 2>&1
    t1=$(date +%s%N)
    c1=$([[ -n $CG ]] && cat "$CG/cpuacct.usage" || echo 0)
    read -r u s < "$WORK/cpu"
    echo "up $([[ $b == "$OLD" ]] && echo old || echo new) $(( (t1-t0)/1000000 )) $(python3 -c "print(round(($u+$s)*1000))") $(cat "$WORK/main") $(( (c1-c0)/1000000 ))"
    node $b/bin/tsstack.js down >/dev/null 2>&1
  done
  echo "load $(cut -d' ' -f1 /proc/loadavg)"
done | tee "$WORK/out" >/dev/null
python3 - "$WORK/out" "$N" <<'PY'
import sys, statistics as st, collections
v = collections.defaultdict(list); cpu = collections.defaultdict(list); main = collections.defaultdict(list); tree = collections.defaultdict(list); load = []; ratio = []; cur = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 6 and p[0] == 'up': v[p[1]].append(int(p[2])); cpu[p[1]].append(int(p[3])); main[p[1]].append(int(p[4])); tree[p[1]].append(int(p[5])); cur[p[1]] = int(p[2])
    if len(p) == 2 and p[0] == 'load':
        load.append(float(p[1]))
        if 'new' in cur and 'old' in cur: ratio.append(cur['new'] / cur['old'])
        cur = {}
for k in ('old', 'new'): print(f"up -d of {sys.argv[2]}, {k}: median {st.median(v[k]):5.0f} ms ({min(v[k])}–{max(v[k])}, n={len(v[k])}); CLI CPU median {st.median(cpu[k]):.0f} ms, of which its JavaScript thread {st.median(main[k]):.0f} ms; with monitors and runtime {st.median(tree[k]):.0f} ms")
print(f"new ÷ old per round: median {st.median(ratio):.2f} ({min(ratio):.2f}–{max(ratio):.2f})")
print(f"1-min load: median {st.median(load)} ({min(load)}–{max(load)})")
PY
