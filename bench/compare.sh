#!/usr/bin/env bash
# tsstack side by side with Docker 20.10 + docker-compose 1.29 and Podman 4.3, all
# installed from Debian, in ONE run: every figure of issue 14's table, measured
# interleaved round-robin (each round measures every figure once for every tool,
# tsstack first in odd rounds, the peers first in even ones), so drift of a shared
# machine hits both sides alike. Prints medians, min/max, the per-round ratio and
# the machine load, then stops and removes everything it started.
#
#   bench/compare.sh [--quick]        (root; `npm run build` first; ≤ 15 min, --quick ≤ 3 min)
#
# Where everything runs (../shared/BENCH-NOTES.md): the whole script in a private
# mount namespace; tsstack, dockerd and podman each in a network namespace of its
# own (`ip netns add` + `nsenter --net=`, never `ip netns exec`), each with its own
# data root under one temporary directory; podman additionally in a mount namespace
# of its own where crun can start on this hybrid cgroup host and where CNI's state
# lands on tmpfs. Docker's and Podman's containers go to cgroup parents named after
# this run, removed at the end. No image is pulled: one busybox root filesystem
# (busybox-static) is imported into all three. Each tool's per-boot state (tsstack's run
# root, dockerd's exec root, podman's runroot) is on a tmpfs, as their defaults under
# /run are; their data roots are on the disk, as under /var/lib.
# Environment: TSSTACK_COMPARE_ROUNDS overrides the number of rounds of the cheaper figures;
# TSSTACK_COMPARE_RAW=FILE copies every sample there (figure|tool|round|µs or KiB);
# TSSTACK_COMPARE_FIGURES=build,watch measures only those figures (of run, up, build, watch; default all).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
REPO=$PWD

source bench/lib/preamble.sh
bench_args compare.sh "$@"

if [[ "${1:-}" != "--inside" ]]; then
  bench_require compare.sh
  # The peers, from Debian, when missing.
  declare -A need=([dockerd]=docker.io [docker-compose]=docker-compose [podman]=podman [runc]=runc
                   [crun]=crun [redis-cli]=redis-tools [hyperfine]=hyperfine [busybox]=busybox-static [jq]=jq)
  mapfile -t missing < <(bench_missing)
  [[ -x /usr/bin/docker ]] || missing+=(docker.io)
  bench_install "${missing[@]}"
  # stdin /dev/null, from a terminal too: tsstack's run and exec pass a stdin that can carry input on to
  # the container (a terminal: with a pty), as Compose does, and `docker run` without -i reads none
  exec unshare --mount --propagation private -- bash ${TSSTACK_BENCH_TRACE:+-x} "$self" --inside "$@" </dev/null
fi

# ---------------------------------------------------------------- settings
if ((QUICK)); then
  R_RUN=3 R_5=2 R_20=1 R_200=1 R_BUILD=3 WATCH_S=10 BIG=100
else
  R_RUN=15 R_5=7 R_20=7 R_200=3 R_BUILD=15 WATCH_S=20 BIG=200
fi
if [[ -n "${TSSTACK_COMPARE_ROUNDS:-}" ]]; then R_RUN=$TSSTACK_COMPARE_ROUNDS R_5=$TSSTACK_COMPARE_ROUNDS R_20=$TSSTACK_COMPARE_ROUNDS R_BUILD=$TSSTACK_COMPARE_ROUNDS; fi
FIGURES=",${TSSTACK_COMPARE_FIGURES:-run,up,build,watch},"
want() { [[ $FIGURES == *",$1,"* ]]; }
ROUNDS=$(printf '%s\n' $R_RUN $R_5 $R_20 $R_200 $R_BUILD | sort -n | tail -1)
START=$(date +%s)

WORK=$(mktemp -d /tmp/tsstack-compare.XXXXXX)
chmod 755 "$WORK"
# per-boot state on a tmpfs of this run's mount namespace (unmounted with the rest by cleanup)
RUNFS=$WORK/tmpfs
mkdir -p "$RUNFS" && mount -t tmpfs -o mode=755 tsstack-compare "$RUNFS"
TAG=tsb$$
NS_TS=$TAG-ts NS_DK=$TAG-docker NS_PM=$TAG-podman
SAMPLES=$WORK/samples LOADS=$WORK/loads LOG=$WORK/log
: > "$SAMPLES"; : > "$LOADS"; : > "$LOG"
dockerd_pid= podman_holder= cg= sampler=

source scripts/lib/cgroup.sh
cleanup() {
  set +e
  trap - EXIT INT TERM
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
  echo "stopping what this run started…" >&2
  # tsstack: every project of this root, then its own leftovers
  if [[ -d $WORK/root ]]; then
    for p in ts5 ts20 tsbig rr build watch; do ts -p "$p" down -v >/dev/null 2>&1; done
  fi
  # docker: compose projects, containers, then dockerd (which stops its containerd)
  if [[ -n $dockerd_pid ]]; then
    for n in 5 20; do dc -p "dc$n" -f "$WORK/s$n/stack.yaml" down -t 0 >/dev/null 2>&1; done
    ids=$(dk ps -aq 2>/dev/null); [[ -n $ids ]] && dk rm -f $ids >/dev/null 2>&1
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    ctd=$(cat "$RUNFS/docker-exec/containerd/containerd.pid" 2>/dev/null)
    for _ in $(seq 100); do [[ -n $ctd ]] && kill -0 "$ctd" 2>/dev/null || break; sleep 0.2; done
  fi
  # podman: containers, then the process that holds its mount namespace
  if [[ -n $podman_holder ]]; then
    pm rm -af -t 0 >/dev/null 2>&1
    kill -TERM "$podman_holder" 2>/dev/null; wait "$podman_holder" 2>/dev/null
  fi
  # processes of this run still alive (named, then ended by pid)
  for pid in $(grep -l -s -a "$WORK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    [[ -s /proc/$pid/cmdline ]] || continue
    echo "left running: $pid $(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null)" >&2
    kill -KILL "$pid" 2>/dev/null
  done
  grep -o " $WORK/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for n in "$NS_TS" "$NS_DK" "$NS_PM"; do ip netns del "$n" 2>/dev/null; done
  # the cgroup parents Docker and Podman used for this run
  for h in /sys/fs/cgroup/*/; do
    for d in "$h$TAG-docker" "$h$TAG-podman"; do
      [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  remove_cgroup "$cg"
  for _ in 1 2 3; do rm -rf "$WORK" 2>/dev/null && break; sleep 1; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the three sides
ip netns add "$NS_TS"; ip netns add "$NS_DK"; ip netns add "$NS_PM"
for n in "$NS_TS" "$NS_DK" "$NS_PM"; do ip -n "$n" link set lo up; done

# tsstack: its root under $WORK, socket programs attached to a cgroup of this run's own
export TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$RUNFS/tsstack
cg=$(private_cgroup tsstack-compare)
export TSSTACK_SOCKET_LB_CGROUP=${cg:-off}
# The commands as small scripts (not shell functions), so `timeout` and `env` can run them.
mkdir -p "$WORK/bin"; export PATH=$WORK/bin:$PATH
wrap() { printf '#!/bin/sh\n%s\n' "$2" > "$WORK/bin/$1"; chmod +x "$WORK/bin/$1"; }
# tsstack as its installed command runs: bin/tsstack.js through its first line (which starts Node
# without NODE_EXTRA_CA_CERTS, set in this machine's environment: src/util/extra-ca.ts)
wrap ts "exec nsenter --net=/var/run/netns/$NS_TS $REPO/bin/tsstack.js \"\$@\""

# Docker: dockerd in its own netns with its own data root, exec root and socket
export DOCKER_HOST=unix://$WORK/docker.sock
mkdir -p "$WORK/docker/tmp"
# TMPDIR: the containerd it starts dumps its stacks there when stopped (removed with $WORK)
TMPDIR=$WORK/docker/tmp nsenter --net="/var/run/netns/$NS_DK" setsid dockerd --data-root "$WORK/docker/data" --exec-root "$RUNFS/docker-exec" \
  -H "$DOCKER_HOST" --pidfile "$WORK/docker/docker.pid" --bip 10.231.0.1/24 --cgroup-parent "/$TAG-docker" \
  >"$WORK/docker/dockerd.log" 2>&1 &
dockerd_pid=$!
wrap dk 'exec /usr/bin/docker "$@"'
wrap dc 'exec docker-compose "$@"'

# Podman: its own netns and mount namespace (a process holds them); crun sees an
# empty cgroup.controllers in the v2 hierarchy there (hybrid host, BENCH-NOTES.md);
# CNI's state and the per-container netns files live on tmpfs there.
mkdir -p "$WORK/podman/tmp" && : > "$WORK/podman/empty"
nsenter --net="/var/run/netns/$NS_PM" unshare --mount --propagation private -- sh -c '
  mount --bind "$1/empty" /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null
  for d in /var/lib/cni /run/netns /run/cni; do mkdir -p "$d" && mount -t tmpfs tmpfs "$d"; done
  exec sleep 100000' holder "$WORK/podman" &
podman_holder=$!
wrap pm "export TMPDIR=$WORK/podman/tmp; exec nsenter -t $podman_holder --mount --net podman --root $WORK/podman/root \
  --runroot $RUNFS/podman-run --tmpdir $WORK/podman/tmp --cgroup-manager cgroupfs --events-backend file \"\$@\""
PM_RUN=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096 --cgroup-parent "/$TAG-podman")

# ---------------------------------------------------------------- helpers
now() { date +%s%N; }
# sample FIGURE TOOL ROUND CMD…: times CMD (ms) into $SAMPLES; a failure is logged and recorded as such
sample() {
  local fig=$1 tool=$2 r=$3; shift 3
  local t0 t1
  t0=$(now)
  if timeout 600 "$@" >>"$LOG" 2>&1; then
    t1=$(now); echo "$fig|$tool|$r|$(( (t1 - t0) / 1000 ))" >> "$SAMPLES"
  else
    echo "FAILED (round $r) $fig / $tool: $*" >&2; tail -5 "$LOG" >&2
    echo "$fig|$tool|$r|FAIL" >> "$SAMPLES"
  fi
}
value() { echo "$1|$2|$3|$4" >> "$SAMPLES"; }
stack() { # stack FILE N: N busybox services sleeping
  { echo "services:"
    for ((i = 0; i < $2; i++)); do
      printf '  s%d:\n    image: busybox:latest\n    command: ["sleep", "1000000"]\n    stop_signal: SIGKILL\n' "$i"
    done; } > "$1"
}
# mem NAME PATTERN: sum of VmRSS and Pss (KiB) of processes whose comm is NAME and
# whose command line mentions PATTERN (this run's directory)
mem() {
  local rss=0 pss=0 n=0 pid r p
  for pid in $(pgrep -x "$1"); do
    grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null || continue
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null); p=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
    rss=$((rss + ${r:-0})); pss=$((pss + ${p:-0})); n=$((n + 1))
  done
  echo "$rss $pss $n"
}
# tsstack's supervisors: monitors of this root (comm tsstack-mon) and their guards
ts_mem() {
  local mrss=0 grss=0 pss=0 n=0 pid g r p
  for pid in $(pgrep -x tsstack-mon); do
    grep -qa -- "$WORK" "/proc/$pid/cmdline" 2>/dev/null || continue
    n=$((n + 1))
    for g in $pid $(pgrep -P "$pid" -x tsstack-guard); do
      r=$(awk '/^VmRSS/ {print $2}' "/proc/$g/status" 2>/dev/null); p=$(awk '/^Pss:/ {print $2}' "/proc/$g/smaps_rollup" 2>/dev/null)
      if [[ $g == "$pid" ]]; then mrss=$((mrss + ${r:-0})); else grss=$((grss + ${r:-0})); fi
      pss=$((pss + ${p:-0}))
    done
  done
  echo "$mrss $grss $pss $n"
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------- setup
echo "bench/compare.sh $(date -u '+%Y-%m-%d %H:%M UTC')  $( ((QUICK)) && echo '--quick')  on $(nproc) CPUs, kernel $(uname -r)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -n ${NODE_EXTRA_CA_CERTS:-} ]] && echo "NODE_EXTRA_CA_CERTS is set here ($NODE_EXTRA_CA_CERTS): node -e 0 is measured with it and without it; tsstack's launcher starts Node without it"
echo "versions: tsstack $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src native || echo '+changes'); $(/usr/bin/docker --version | cut -d, -f1); $(docker-compose --version | cut -d, -f1); $(podman --version); $(crun --version | head -1); $(runc --version | head -1); node $(node --version)"

node --input-type=module -e "const { makeBusyboxRootfs } = await import('$REPO/dist/test/helpers/rootfs.js'); makeBusyboxRootfs('$WORK/bb');"
tar -C "$WORK/bb" -c . > "$WORK/bb.tar"
ts image import "$WORK/bb" busybox:latest >>"$LOG"
for _ in $(seq 150); do dk info >/dev/null 2>&1 && break; sleep 0.2; done
dk info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -20 "$WORK/docker/dockerd.log"; exit 1; }
dk import "$WORK/bb.tar" busybox:latest >>"$LOG"
pm import "$WORK/bb.tar" busybox:latest >>"$LOG" 2>&1

# podman's runtime: crun (its default) when it starts here, else runc — said below
PM_RT=crun
pm run --rm "${PM_RUN[@]}" busybox:latest /bin/true >>"$LOG" 2>&1 || PM_RT=runc
[[ $PM_RT == runc ]] && { PM_RUN+=(--runtime runc); pm run --rm "${PM_RUN[@]}" busybox:latest /bin/true >>"$LOG" 2>&1; }

# stacks: the same file for tsstack and docker-compose
for n in 5 20 "$BIG"; do mkdir -p "$WORK/s$n" && stack "$WORK/s$n/stack.yaml" "$n"; done
mkdir -p "$WORK/rr" && printf 'services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n' > "$WORK/rr/stack.yaml"
ts -f "$WORK/rr/stack.yaml" -p rr run --rm t >>"$LOG" 2>&1   # first run creates the project network
dk run --rm busybox:latest /bin/true >>"$LOG" 2>&1

# build: a 5-step Dockerfile with a 50 MB COPY, the same context for both
mkdir -p "$WORK/build/ctx/data"
for i in $(seq 0 49); do head -c 1048576 /dev/urandom > "$WORK/build/ctx/data/f$i"; done
printf 'FROM busybox:latest\nCOPY data/ /data/\nRUN ls /data | wc -l > /count\nENV A=1\nRUN echo $A > /a\nCMD ["sh"]\n' > "$WORK/build/ctx/Dockerfile"
printf 'services:\n  b:\n    build: ./ctx\n    image: benchbuild:latest\n' > "$WORK/build/stack.yaml"
BUILDER=BuildKit
t0=$(now); ts -f "$WORK/build/stack.yaml" -p build build >>"$LOG" 2>&1; t1=$(now); ts_cold=$(( (t1 - t0) / 1000 ))
t0=$(now)
if ! DOCKER_BUILDKIT=1 dk build -q -t benchbuild:latest "$WORK/build/ctx" >>"$LOG" 2>&1; then
  BUILDER=legacy
  t0=$(now); DOCKER_BUILDKIT=0 dk build -q -t benchbuild:latest "$WORK/build/ctx" >>"$LOG" 2>&1
fi
t1=$(now); dk_cold=$(( (t1 - t0) / 1000 ))
DK_BUILD_ENV=$([[ $BUILDER == BuildKit ]] && echo 1 || echo 0)

# watch: a build context of 10 000 files
mkdir -p "$WORK/watch/app"
for d in $(seq 0 99); do mkdir -p "$WORK/watch/app/src/d$d"; for f in $(seq 0 99); do echo "$d/$f" > "$WORK/watch/app/src/d$d/f$f.txt"; done; done
printf 'FROM busybox:latest\nCMD ["sleep", "86400"]\n' > "$WORK/watch/app/Dockerfile"
printf 'services:\n  app:\n    build: ./app\n    stop_signal: SIGKILL\n' > "$WORK/watch/stack.yaml"
echo "setup done after $(( $(date +%s) - START )) s (dockerd up, busybox imported into all three; podman runtime: $PM_RT; docker builder: $BUILDER)"

# ---------------------------------------------------------------- one round of each figure
fig_run() { # run --rm of /bin/true, and node -e 0
  local r=$1
  local a=(sample run tsstack "$r" ts -f "$WORK/rr/stack.yaml" -p rr run --rm t)
  local b=(sample run docker "$r" dk run --rm busybox:latest /bin/true)
  local c=(sample run podman "$r" pm run --rm "${PM_RUN[@]}" busybox:latest /bin/true)
  if ((r % 2)); then "${a[@]}"; "${b[@]}"; "${c[@]}"; else "${c[@]}"; "${b[@]}"; "${a[@]}"; fi
  sample run node "$r" node -e 0
  [[ -n ${NODE_EXTRA_CA_CERTS:-} ]] && sample run nodebare "$r" env -u NODE_EXTRA_CA_CERTS node -e 0
  return 0
}
ts_stack() { # ts_stack N R: up from nothing, first no-op, later no-op (median of 3), down
  local n=$1 r=$2 p=ts$1 k; [[ $n == "$BIG" && $n != 5 && $n != 20 ]] && p=tsbig
  local f=(-f "$WORK/s$n/stack.yaml" -p "$p")
  sample "up$n" tsstack "$r" ts "${f[@]}" up -d
  sample "noop1-$n" tsstack "$r" ts "${f[@]}" up -d
  for k in 1 2 3; do sample "noop-$n" tsstack "$r" ts "${f[@]}" up -d; done
  if [[ $n == 5 ]]; then read -r mrss grss pss cnt < <(ts_mem); ((cnt)) && { value memrss tsstack "$r" $(((mrss + grss) / cnt)); value mempss tsstack "$r" $((pss / cnt)); value memmon tsstack "$r" $((mrss / cnt)); value memguard tsstack "$r" $((grss / cnt)); }; fi
  sample "down$n" tsstack "$r" ts "${f[@]}" down
}
dc_stack() {
  local n=$1 r=$2 k
  local f=(-f "$WORK/s$n/stack.yaml" -p "dc$n")
  sample "up$n" compose "$r" dc "${f[@]}" up -d
  sample "noop1-$n" compose "$r" dc "${f[@]}" up -d
  for k in 1 2 3; do sample "noop-$n" compose "$r" dc "${f[@]}" up -d; done
  if [[ $n == 5 ]]; then read -r rss pss cnt < <(mem containerd-shim "$WORK"); value memrss shim "$r" $((rss / n)); value mempss shim "$r" $((pss / n)); fi
  sample "down$n" compose "$r" dc "${f[@]}" down
}
pm_mem() { # 5 containers under podman: conmon per container
  local r=$1 i
  for i in 1 2 3 4 5; do pm run -d "${PM_RUN[@]}" --name "m$i" busybox:latest sleep 1000000 >>"$LOG" 2>&1; done
  sleep 0.5
  read -r rss pss cnt < <(mem conmon "$WORK")
  ((cnt)) && { value memrss conmon "$r" $((rss / cnt)); value mempss conmon "$r" $((pss / cnt)); }
  pm rm -f -t 0 m1 m2 m3 m4 m5 >>"$LOG" 2>&1
}
fig_stack() {
  local n=$1 r=$2
  if [[ $n == "$BIG" ]]; then ts_stack "$n" "$r"; return; fi
  if ((r % 2)); then ts_stack "$n" "$r"; dc_stack "$n" "$r"; else dc_stack "$n" "$r"; ts_stack "$n" "$r"; fi
  [[ $n == 5 ]] && pm_mem "$r"
  return 0
}
fig_build() { # fully cached build, as the command line does it
  local r=$1
  local a=(sample build tsstack "$r" ts -f "$WORK/build/stack.yaml" -p build build)
  local b=(sample build docker "$r" env DOCKER_BUILDKIT=$DK_BUILD_ENV /usr/bin/docker build -q -t benchbuild:latest "$WORK/build/ctx")
  if ((r % 2)); then "${a[@]}"; "${b[@]}"; else "${b[@]}"; "${a[@]}"; fi
}
fig_watch() { # idle `up --watch` over the 10 000-file context: CPU and RSS of the CLI process
  local out=$WORK/watch.out pid i t0 t1 rss
  ( cd "$WORK/watch" && exec nsenter --net="/var/run/netns/$NS_TS" "$REPO/bin/tsstack.js" -f stack.yaml -p watch up --watch ) >"$out" 2>&1 &
  pid=$!
  for i in $(seq 900); do grep -q "watching for changes" "$out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if ! grep -q "watching for changes" "$out"; then echo "watch did not start:" >&2; tail -5 "$out" >&2; kill -INT "$pid" 2>/dev/null; wait "$pid"; return 0; fi
  sleep 2
  local slice k; slice=$(awk -v s="$WATCH_S" 'BEGIN {print s / 4}')
  for k in 1 2 3 4; do # four slices: CPU in each (ticks/s = % of a core), RSS at its end
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); sleep "$slice"; t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    value watchcpu tsstack "$k" "$(awk -v a="$t0" -v b="$t1" -v s="$slice" 'BEGIN {printf "%.2f", (b - a) / s}')"
    value watchrss tsstack "$k" $((rss / 1024))
  done
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
  ts -f "$WORK/watch/stack.yaml" -p watch down >>"$LOG" 2>&1 || true
}

# the 1-min load average every 5 s while the figures run
( while :; do echo "s $(loadavg)" >> "$LOADS"; sleep 5; done ) &
sampler=$!
for ((r = 1; r <= ROUNDS; r++)); do
  printf 'round %d/%d (load %s, %d s)\n' "$r" "$ROUNDS" "$(loadavg)" $(( $(date +%s) - START )) >&2
  ((r <= R_RUN)) && want run && fig_run "$r"
  ((r <= R_5)) && want up && fig_stack 5 "$r"
  ((r <= R_20)) && want up && fig_stack 20 "$r"
  ((r <= R_200)) && want up && fig_stack "$BIG" "$r"
  ((r <= R_BUILD)) && want build && fig_build "$r"
done
want watch && fig_watch
kill "$sampler"; sampler=
echo "end $(loadavg)" >> "$LOADS"

# ---------------------------------------------------------------- the table
echo
echo "Medians over rounds (min–max, n); ratio = tsstack ÷ peer within each round: median (min–max)."
awk -F'|' -v big="$BIG" -v builder="$BUILDER" -v pmrt="$PM_RT" -v tscold="$ts_cold" -v dkcold="$dk_cold" -v watchs="$WATCH_S" '
  function med(key,   n, i, j, t, a) {
    n = split(vals[key], a, " "); if (!n) return ""
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    lo = a[1]; hi = a[n]; cnt = n
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function pmed(str,   n, i, j, t, a) { # median of the samples of one round (no-op up: 3 per round)
    n = split(str, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function s(us) { return us >= 1e6 ? sprintf("%.2f s", us / 1e6) : sprintf("%.0f ms", us / 1e3) }
  function row(label, key, unit,   m) {
    m = med(key); if (m == "") { printf "  %-44s %s\n", label, "no sample"; return }
    if (unit == "t") printf "  %-44s %9s  (%s – %s, n=%d)%s\n", label, s(m), s(lo), s(hi), cnt, fails[key] ? "  FAILED " fails[key] "x" : ""
    else if (unit == "kib") printf "  %-44s %9s  (%s – %s KiB, n=%d)\n", label, sprintf("%d KiB", m), lo, hi, cnt
    else printf "  %-44s %9s  (%s – %s, n=%d)\n", label, m unit, lo, hi, cnt
  }
  function ratio(label, fa, ta, fb, tb,   r, k, x) {
    delete rv; x = ""
    for (r = 1; r <= 20; r++) if ((fa SUBSEP ta SUBSEP r) in v && (fb SUBSEP tb SUBSEP r) in v && v[fb, tb, r] > 0) x = x " " v[fa, ta, r] / v[fb, tb, r]
    vals["ratio"] = x; k = med("ratio"); if (k == "") return
    printf "  %-44s %8.2fx  (%.2f – %.2f, n=%d)\n", label, k, lo, hi, cnt
  }
  $4 == "FAIL" { fails[$1 SUBSEP $2]++; next }
  { vals[$1 SUBSEP $2] = vals[$1 SUBSEP $2] " " $4; per[$1, $2, $3] = per[$1, $2, $3] " " $4; v[$1, $2, $3] = pmed(per[$1, $2, $3]) }
  # up -d of the big stack: the time per service beyond 20, within each round
  END {
    for (r = 1; r <= 20; r++) if (("up" big SUBSEP "tsstack" SUBSEP r) in v && ("up20" SUBSEP "tsstack" SUBSEP r) in v)
      vals["extra" SUBSEP "tsstack"] = vals["extra" SUBSEP "tsstack"] " " (v["up" big, "tsstack", r] - v["up20", "tsstack", r]) / (big - 20)
    print "run --rm of a service, /bin/true   (target: tsstack ≤ node -e 0 + 120 ms and ≤ 0.2× docker)"
    row("tsstack run --rm", "run" SUBSEP "tsstack", "t")
    row("docker run --rm", "run" SUBSEP "docker", "t")
    row("podman run --rm (" pmrt ")", "run" SUBSEP "podman", "t")
    row("node -e 0 (the floor)", "run" SUBSEP "node", "t")
    if (("run" SUBSEP "nodebare") in vals) row("node -e 0 without NODE_EXTRA_CA_CERTS", "run" SUBSEP "nodebare", "t")
    ratio("tsstack ÷ docker", "run", "tsstack", "run", "docker")
    ratio("tsstack ÷ podman", "run", "tsstack", "run", "podman")
    for (r = 1; r <= 20; r++) if (("run" SUBSEP "tsstack" SUBSEP r) in v && ("run" SUBSEP "node" SUBSEP r) in v)
      vals["over" SUBSEP "node"] = vals["over" SUBSEP "node"] " " v["run", "tsstack", r] - v["run", "node", r]
    row("tsstack − node -e 0", "over" SUBSEP "node", "t")
    for (r = 1; r <= 20; r++) if (("run" SUBSEP "tsstack" SUBSEP r) in v && ("run" SUBSEP "nodebare" SUBSEP r) in v)
      vals["overbare" SUBSEP "node"] = vals["overbare" SUBSEP "node"] " " v["run", "tsstack", r] - v["run", "nodebare", r]
    if (("overbare" SUBSEP "node") in vals) row("tsstack − node -e 0 without the variable", "overbare" SUBSEP "node", "t")
    print "up -d of busybox services from nothing   (target: 20 services ≤ 0.07× compose; " big " ≤ 8 s, ≤ 35 ms per extra service)"
    row("tsstack, 5 services", "up5" SUBSEP "tsstack", "t")
    row("docker-compose, 5 services", "up5" SUBSEP "compose", "t")
    ratio("tsstack ÷ compose, 5", "up5", "tsstack", "up5", "compose")
    row("tsstack, 20 services", "up20" SUBSEP "tsstack", "t")
    row("docker-compose, 20 services", "up20" SUBSEP "compose", "t")
    ratio("tsstack ÷ compose, 20", "up20", "tsstack", "up20", "compose")
    row("tsstack, " big " services", "up" big SUBSEP "tsstack", "t")
    row("tsstack, per service beyond 20", "extra" SUBSEP "tsstack", "t")
    print "no-op up -d: first after a change / later (median of 3 per round)   (target: ≤ node -e 0 + 40 ms)"
    n = split("5 20 " big, sz, " ")
    for (i = 1; i <= n; i++) {
      row("tsstack, " sz[i] " services, first", "noop1-" sz[i] SUBSEP "tsstack", "t")
      row("tsstack, " sz[i] " services, later", "noop-" sz[i] SUBSEP "tsstack", "t")
      if (sz[i] != big) {
        row("docker-compose, " sz[i] " services, first", "noop1-" sz[i] SUBSEP "compose", "t")
        row("docker-compose, " sz[i] " services, later", "noop-" sz[i] SUBSEP "compose", "t")
        ratio("tsstack ÷ compose, " sz[i] ", later", "noop-" sz[i], "tsstack", "noop-" sz[i], "compose")
      }
    }
    print "down   (target: 5 services ≤ 0.15× compose)"
    row("tsstack, 5 services", "down5" SUBSEP "tsstack", "t")
    row("docker-compose, 5 services", "down5" SUBSEP "compose", "t")
    ratio("tsstack ÷ compose, 5", "down5", "tsstack", "down5", "compose")
    row("tsstack, 20 services", "down20" SUBSEP "tsstack", "t")
    row("docker-compose, 20 services", "down20" SUBSEP "compose", "t")
    row("tsstack, " big " services", "down" big SUBSEP "tsstack", "t")
    print "fully cached build, 50 MB COPY + 2 RUN   (target: ≤ 1.0× docker " builder ")"
    row("tsstack build", "build" SUBSEP "tsstack", "t")
    row("docker build (" builder ")", "build" SUBSEP "docker", "t")
    ratio("tsstack ÷ docker", "build", "tsstack", "build", "docker")
    printf "  %-44s %9s / %s (docker %s)\n", "first build (once, not interleaved)", s(tscold), s(dkcold), builder
    print "supervisor per container, 5 containers, KiB   (target: ≤ 1 MiB RSS, ≤ 0.3 MB PSS)"
    row("tsstack-monitor + guard, RSS", "memrss" SUBSEP "tsstack", "kib")
    row("  of which tsstack-monitor, RSS", "memmon" SUBSEP "tsstack", "kib")
    row("  of which tsstack-guard, RSS", "memguard" SUBSEP "tsstack", "kib")
    row("tsstack-monitor + guard, PSS", "mempss" SUBSEP "tsstack", "kib")
    row("conmon (podman), RSS", "memrss" SUBSEP "conmon", "kib")
    row("conmon (podman), PSS", "mempss" SUBSEP "conmon", "kib")
    row("containerd-shim-runc-v2 (docker), RSS", "memrss" SUBSEP "shim", "kib")
    row("containerd-shim-runc-v2 (docker), PSS", "mempss" SUBSEP "shim", "kib")
    ratio("tsstack ÷ conmon, RSS", "memrss", "tsstack", "memrss", "conmon")
    ratio("tsstack ÷ conmon, PSS", "mempss", "tsstack", "mempss", "conmon")
    print "idle up --watch over a 10 000-file build context, " watchs " s in 4 slices   (target: ≤ 0.5 % of a core, ≤ 100 MiB)"
    row("CPU, % of a core", "watchcpu" SUBSEP "tsstack", " %")
    row("RSS of the CLI process", "watchrss" SUBSEP "tsstack", " MiB")
  }' "$SAMPLES"
echo
awk '$1 == "end" {e = $2; next} {a[++n] = $2}
  END {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    printf "machine load (1-min average every 5 s while measuring, %d CPUs): median %.2f, min %.2f, max %.2f (n=%d); at the end %.2f\n", '"$(nproc)"', (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[1], a[n], n, e
  }' "$LOADS"
echo "run took $(( $(date +%s) - START )) s"
[[ -n "${TSSTACK_COMPARE_RAW:-}" ]] && cp "$SAMPLES" "$TSSTACK_COMPARE_RAW"
true
