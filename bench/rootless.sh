#!/usr/bin/env bash
# Rootless tsstack next to root tsstack and rootless Podman (Debian's podman 4.3), in
# ONE run, interleaved round-robin (each round measures every tool once, in an order
# that rotates), medians with min–max and the load:
#   - `run --rm` of /bin/true in busybox (default network);
#   - `up -d` of 5 services from nothing (then `down`, not timed); Podman: 5 × `run -d`;
#   - Redis SET/GET throughput (redis-benchmark) through the published 127.0.0.1 port
#     and straight to the container's address: rootless with tsstack-portd (the default:
#     the server listens on the host itself), through pasta and through slirp4netns
#     (TSSTACK_ROOTLESS_PORTS=forward, TSSTACK_ROOTLESS_NETWORK), root for reference,
#     rootless Podman (its rootlessport and slirp4netns; "direct" is the container's
#     address from inside its own network namespace, entered as root through its pid).
#     With portd the published Redis listens on the host, and inside its namespace only
#     portd's relay answers for it: "direct" is then a second Redis of the same image
#     and command, without a published port, in the same project. Target: published ≥
#     0.8× direct. Root, portd and Podman are measured in the same rounds (rotating order), so
#     tsstack-published ÷ podman-published is the peer comparison; pasta and slirp4netns
#     (the forwarders, TSSTACK_ROOTLESS_PORTS=forward) in rounds of their own after. Each figure twice: as
#     the target means it (-c 20, one request in flight per connection: every request
#     crosses the userspace hop alone, so on 2 shared cores the hop's wake-ups show in
#     full) and with -P 16 (pipelined: the hop's cost per request amortised).
#
#   bench/rootless.sh [--quick]      (root; `npm run build` first; ≤ 10 min, --quick ≤ 3 min)
#   bench/rootless.sh --report FILE  (the figures again from a TSSTACK_ROOTLESS_RAW file)
#
# Where it runs: the whole script in a network + mount namespace of its own (never the
# host's firewall or routes), which plays the host: a veth with 192.0.2.1/24 and a
# default route (pasta and slirp4netns need a host interface with a route), a 0666
# /dev/net/tun node bound over the real one (as on a desktop), and for crun on this
# hybrid cgroup host an empty cgroup.controllers bound over the unified one
# (../shared/BENCH-NOTES.md). The rootless tools run as an ordinary user the script
# creates with subordinate ids and removes at the end, with everything it left.
# Images are built locally: busybox from busybox-static, Redis from Debian's
# redis-server binary and the libraries it loads (as test/cli/_redis.ts does).
# TSSTACK_ROOTLESS_RAW=FILE copies every sample there (figure|tool|round|value).
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
REPO=$PWD
report() { # the medians of a samples file (figure|tool|round|value)
  awk -F'|' '
    function med(k,   n, i, j, t, a) { n = split(v[k], a, " "); for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      M[k] = (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2; lo[k] = a[1]; hi[k] = a[n]; cnt[k] = n; return M[k] }
    { k = $1 SUBSEP $2; v[k] = v[k] " " $4; figs[$1]; tls[$2]; pr[$1 SUBSEP $2 SUBSEP $3] = $4 }
    END {
      name["ts_root"] = "tsstack (root)"; name["ts_rl"] = "tsstack rootless"; name["pm"] = "podman rootless"
      name["ts_rl_portd"] = "tsstack rootless, portd"; name["ts_rl_pasta"] = "tsstack rootless, pasta"; name["ts_rl_slirp4netns"] = "tsstack rootless, slirp4netns"; name["pm_redis"] = "podman rootless (rootlessport)"
      split("run up5", tf, " "); label["run"] = "run --rm /bin/true (ms)"; label["up5"] = "up -d, 5 services from nothing (ms; podman: 5 × run -d)"
      for (f = 1; f <= 2; f++) { print label[tf[f]]; split("ts_root ts_rl pm", tt, " ")
        for (i = 1; i <= 3; i++) { k = tf[f] SUBSEP tt[i]; if (k in v) printf "  %-32s %7.0f  (%s–%s, n=%d)\n", name[tt[i]], med(k), lo[k], hi[k], cnt[k] } }
      split("ts_root ts_rl_portd ts_rl_pasta ts_rl_slirp4netns pm_redis", rt_, " ")
      for (pp = 1; pp <= 2; pp++) { sx = (pp == 1) ? "" : "16"
        if (pp == 1) print "Redis requests/s, -c 20, published 127.0.0.1 port vs direct to the container (target: published ≥ 0.8× direct)"
        else print "Redis requests/s, -c 20 -P 16 (pipelined; beside the target, not instead of it)"
        for (i = 1; i <= 5; i++) for (o = 1; o <= 2; o++) { op = (o == 1) ? "set" : "get"
          kp = "redis-" op "-pub" sx SUBSEP rt_[i]; kd = "redis-" op "-dir" sx SUBSEP rt_[i]; if (!(kp in v)) continue
          # the ratio per round (both measured back to back), then its median
          rv = ""; for (r = 1; r <= 100; r++) { a = pr["redis-" op "-pub" sx SUBSEP rt_[i] SUBSEP r]; b = pr["redis-" op "-dir" sx SUBSEP rt_[i] SUBSEP r]; if (a != "" && b > 0) rv = rv " " a / b }
          kr = "ratio" sx SUBSEP op SUBSEP i; v[kr] = rv
          printf "  %-32s %s  published %6.0f (%.0f–%.0f)  direct %6.0f (%.0f–%.0f)  ratio %.2f (%.2f–%.2f)", name[rt_[i]], toupper(op), med(kp), lo[kp], hi[kp], med(kd), lo[kd], hi[kd], med(kr), lo[kr], hi[kr]
          kn = "redis-" op "-nslo" sx SUBSEP rt_[i]; if (kn in v) printf "  [inside, 127.0.0.1 DNAT only: %.0f = %.2f× direct]", med(kn), med(kn) / med(kd)
          printf "\n" }
        # the peer comparison: tsstack rootless (portd) published ÷ podman published, per round (same rounds), median
        for (o = 1; o <= 2; o++) { op = (o == 1) ? "set" : "get"; rv = ""
          for (r = 1; r <= 100; r++) { a = pr["redis-" op "-pub" sx SUBSEP "ts_rl_portd" SUBSEP r]; b = pr["redis-" op "-pub" sx SUBSEP "pm_redis" SUBSEP r]; if (a != "" && b > 0) rv = rv " " a / b }
          if (rv == "") continue; kq = "peer" sx SUBSEP op; v[kq] = rv
          printf "  tsstack rootless (portd) published ÷ podman published, %s: %.2f (%.2f–%.2f)\n", toupper(op), med(kq), lo[kq], hi[kq] } }
    }' "$1"
}
[[ ${1:-} == --report ]] && { report "$2"; exit; } # the figures again from TSSTACK_ROOTLESS_RAW's file
source bench/lib/preamble.sh
bench_args rootless.sh "$@"

if [[ "${1:-}" != "--inside" ]]; then
  bench_require rootless.sh 'it creates the ordinary user it measures as'
  declare -A need=([podman]=podman [pasta]=passt [slirp4netns]=slirp4netns [newuidmap]=uidmap [redis-benchmark]=redis-tools
                   [redis-server]=redis-server [busybox]=busybox-static [crun]=crun [jq]=jq [useradd]=passwd)
  mapfile -t missing < <(bench_missing)
  bench_install "${missing[@]}"
  exec unshare --net --mount --propagation private -- bash "$self" --inside "$@" </dev/null # (stdin: see compare.sh)
fi

if ((QUICK)); then R_RUN=3 R_UP=2 R_REDIS=2 N=20000; else R_RUN=9 R_UP=5 R_REDIS=5 N=50000; fi
START=$(date +%s)
WORK=$(mktemp -d /tmp/tsstack-rootless-bench.XXXXXX)
chmod 755 "$WORK"
SAMPLES=$WORK/samples LOADS=$WORK/loads LOG=$WORK/log
: > "$SAMPLES"; : > "$LOADS"; : > "$LOG"
USER_=tsrb$$ ; UHOME=$WORK/home ; sampler=
TS="$REPO/bin/tsstack.js"

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  ((rc)) && { echo "failed (exit $rc); the log's end:" >&2; tail -15 "$LOG" >&2; }
  [[ -n ${TSSTACK_ROOTLESS_RAW:-} ]] && cp "$SAMPLES" "$TSSTACK_ROOTLESS_RAW"
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
  echo "stopping what this run started…" >&2
  if id "$USER_" >/dev/null 2>&1; then
    for d in "$WORK"/p-*; do [[ -d $d ]] && (cd "$d" && for m in pasta slirp4netns; do as_user env TSSTACK_ROOTLESS_NETWORK=$m node "$TS" down >/dev/null 2>&1; done); done
    as_user podman "${PM[@]}" rm -af >/dev/null 2>&1
    uid=$(id -u "$USER_")
    for p in $(ps -o pid= -u "$uid"); do kill -KILL "$p" 2>/dev/null; done
    sleep 0.3
    userdel -f "$USER_" >/dev/null 2>&1
    for f in /etc/subuid /etc/subgid; do sed -i "/^$USER_:/d" "$f"; rm -f "$f-"; done
  fi
  for d in "$WORK"/r-*; do [[ -d $d ]] && (cd "$d" && TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$WORK/rootrun node "$TS" down >/dev/null 2>&1); done
  umount /dev/net/tun 2>/dev/null; umount "$WORK/tun" 2>/dev/null
  rm -rf "$WORK" 2>/dev/null || { find "$WORK" -mount -type d -exec chmod u+w {} + 2>/dev/null; rm -rf "$WORK"; }
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------- the "host"
ip link set lo up
ip link add tsrbext0 type veth peer name tsrbext1
ip link set tsrbext1 up; ip addr add 192.0.2.1/24 dev tsrbext0; ip link set tsrbext0 up; ip route add default via 192.0.2.254
mkdir -p "$WORK/tun" && mount -t tmpfs -o size=4k tmpfs "$WORK/tun" && mknod -m 666 "$WORK/tun/tun" c 10 200 && mount --bind "$WORK/tun/tun" /dev/net/tun
if [[ -f /sys/fs/cgroup/unified/cgroup.controllers ]]; then : > "$WORK/empty"; mount --bind "$WORK/empty" /sys/fs/cgroup/unified/cgroup.controllers; fi

# ---------------------------------------------------------------- the user
sub=$((2000000 + ($$ % 500) * 65536))
useradd -M -d "$UHOME" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$USER_"
usermod --add-subuids "$sub-$((sub + 65535))" --add-subgids "$sub-$((sub + 65535))" "$USER_"
mkdir -p "$UHOME/run" && chmod 700 "$UHOME/run"
chown -R "$USER_:$USER_" "$UHOME"
uid=$(id -u "$USER_")
as_user() { (cd "${PWD_AS:-$UHOME}" && setpriv --reuid "$uid" --regid "$uid" --clear-groups -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$UHOME" USER="$USER_" LOGNAME="$USER_" XDG_RUNTIME_DIR="$UHOME/run" TMPDIR="$UHOME/tmp" "$@"); }
rl() { as_user env TSSTACK_ROOTLESS_NETWORK="${NET:-pasta}" TSSTACK_ROOTLESS_PORTS="${PORTS:-portd}" node "$TS" "$@"; }
rt() { TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$WORK/rootrun node "$TS" "$@"; }
PM=(--root "$UHOME/pm/root" --runroot "$UHOME/run/pm" --tmpdir "$UHOME/tmp" --cgroup-manager cgroupfs --events-backend file)
PM_RUN=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
pm() { as_user podman "${PM[@]}" "$@"; }
mkdir -p "$UHOME/tmp" "$UHOME/pm" && chown "$USER_:$USER_" "$UHOME/tmp" "$UHOME/pm"

# ---------------------------------------------------------------- images
mkdir -p "$WORK/bb" "$WORK/redis"
for d in bb redis; do
  r=$WORK/$d; mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,data}; cp /bin/busybox "$r/bin/busybox"
  for a in $(busybox --list); do [[ $a == busybox || -e $r/bin/$a ]] || ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"; printf 'root:x:0:\n' > "$r/etc/group"
done
for f in /usr/bin/redis-server $(ldd /usr/bin/redis-server | grep -o '/[^ ]*'); do mkdir -p "$WORK/redis$(dirname "$f")"; cp -L "$f" "$WORK/redis$f"; done
tar -C "$WORK/bb" -cf "$UHOME/bb.tar" . && tar -C "$WORK/redis" -cf "$UHOME/redis.tar" .
chown "$USER_:$USER_" "$UHOME"/*.tar
rt image import "$UHOME/bb.tar" busybox:latest >>"$LOG" 2>&1
rt image import "$UHOME/redis.tar" redis:local >>"$LOG" 2>&1
rl image import "$UHOME/bb.tar" busybox:latest >>"$LOG" 2>&1
rl image import "$UHOME/redis.tar" redis:local >>"$LOG" 2>&1
pm import "$UHOME/bb.tar" busybox:latest >>"$LOG" 2>&1
pm import "$UHOME/redis.tar" redis:local >>"$LOG" 2>&1

loadavg() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s%N; }
sample() { echo "$1|$2|$3|$4" >> "$SAMPLES"; }
# time one command (ms); a failure is said and not counted
timed() {
  local fig=$1 tool=$2 r=$3; shift 3
  local t0; t0=$(now)
  if "$@" >>"$LOG" 2>&1; then sample "$fig" "$tool" "$r" $(( ($(now) - t0) / 1000000 )); else echo "  $fig $tool round $r failed (see log)" >&2; fi
}

# projects: one directory per tool (the project name is the directory's)
five() { for i in 1 2 3 4 5; do printf '  s%d:\n    image: busybox:latest\n    command: ["sleep", "3600"]\n' "$i"; done; }
mkp() { mkdir -p "$WORK/$1"; { echo "services:"; $2; } > "$WORK/$1/compose.yaml"; chown -R "$USER_:$USER_" "$WORK/$1"; }
mkp p-up five; mkp r-up five
redis_cmd='["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]'
redis_stack() { printf '  redis:\n    image: redis:local\n    command: %s\n    ports: ["127.0.0.1:%s:6379"]\n' "$redis_cmd" "$PORT"; printf '  direct:\n    image: redis:local\n    command: %s\n' "$redis_cmd"; }
PORT=16379 mkp p-redis redis_stack; PORT=16380 mkp r-redis redis_stack
one() { printf '  x:\n    image: busybox:latest\n'; }
mkp p-run one; mkp r-run one

ts_root_run() { (cd "$WORK/r-run" && rt run --rm x /bin/true); }
ts_rl_run() { PWD_AS=$WORK/p-run rl run --rm x /bin/true; }
pm_run() { pm run --rm "${PM_RUN[@]}" busybox:latest /bin/true; }
ts_root_up() { (cd "$WORK/r-up" && rt up -d); }
ts_rl_up() { PWD_AS=$WORK/p-up rl up -d; }
pm_up() { for i in 1 2 3 4 5; do pm run -d --name "s$i" "${PM_RUN[@]}" busybox:latest sleep 3600 || return 1; done; }
ts_root_down() { (cd "$WORK/r-up" && rt down); }
ts_rl_down() { PWD_AS=$WORK/p-up rl down; }
pm_down() { pm rm -f -t 0 s1 s2 s3 s4 s5; }

echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: tsstack $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src native || echo '+changes'); $(podman --version); pasta $(dpkg-query -W -f='${Version}' passt); $(slirp4netns --version | head -1); node $(node --version)"
echo "setup done after $(( $(date +%s) - START )) s (user $USER_, subordinate ids $sub+65536)"
( while :; do echo "s $(loadavg)" >> "$LOADS"; sleep 5; done ) & sampler=$!

# ---------------------------------------------------------------- run --rm, up -d
tools=(ts_root ts_rl pm)
for ((r = 1; r <= R_RUN; r++)); do
  printf 'run --rm round %d/%d (load %s)\n' "$r" "$R_RUN" "$(loadavg)" >&2
  for ((k = 0; k < 3; k++)); do t=${tools[$(( (r + k) % 3 ))]}; timed run "$t" "$r" "${t}_run"; done
done
for ((r = 1; r <= R_UP; r++)); do
  printf 'up -d round %d/%d (load %s)\n' "$r" "$R_UP" "$(loadavg)" >&2
  for ((k = 0; k < 3; k++)); do t=${tools[$(( (r + k) % 3 ))]}; timed up5 "$t" "$r" "${t}_up"; "${t}_down" >>"$LOG" 2>&1 || true; done
done

# ---------------------------------------------------------------- Redis
bench_redis() { # HOST PORT [ns-prefix…] → "set get" requests/s (PIPE=16: pipelined, 5× the requests)
  local h=$1 p=$2 n=$N; shift 2
  ((${PIPE:-1} > 1)) && n=$((N * 5))
  # a run that fails (a stalled forwarder) counts as 0 requests/s: said in the figures, not the end of the run
  { "$@" timeout 120 redis-benchmark -h "$h" -p "$p" -t set,get -n "$n" -c 20 -P "${PIPE:-1}" --csv 2>/dev/null || true; } | awk -F'"' '/^"SET"/{s=$4} /^"GET"/{g=$4} END{print s+0, g+0}'
}
container_ip() { local svc=$1; shift; "$@" exec "$svc" ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1; } # SERVICE TOOL: rt or rl
wait_redis() { for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done; echo "redis did not answer on $1" >&2; return 1; }
declare -A RIP RPORT RNS # per tool: the container's address, the published port, the prefix that enters the network namespace "direct" is measured from
redis_one() { # TOOL ROUND: published and direct back to back (order alternating by round), plain and pipelined
  local tool=$1 r=$2 ip=${RIP[$1]} port=${RPORT[$1]} a b c sx; local -a ns=()
  [[ -n ${RNS[$1]:-} ]] && read -ra ns <<< "${RNS[$1]}"
  for PIPE in 1 16; do
    sx=; ((PIPE > 1)) && sx=16
    if ((r % 2)); then a=$(bench_redis 127.0.0.1 "$port"); b=$(bench_redis "$ip" 6379 "${ns[@]}"); else b=$(bench_redis "$ip" 6379 "${ns[@]}"); a=$(bench_redis 127.0.0.1 "$port"); fi
    sample "redis-set-pub$sx" "$tool" "$r" "${a% *}"; sample "redis-get-pub$sx" "$tool" "$r" "${a#* }"
    sample "redis-set-dir$sx" "$tool" "$r" "${b% *}"; sample "redis-get-dir$sx" "$tool" "$r" "${b#* }"
    # tsstack rootless: the namespace's own 127.0.0.1 port, where pasta's spliced connections end (DNAT only, no pasta)
    if [[ $tool == ts_rl_* && $tool != ts_rl_portd ]]; then c=$(bench_redis 127.0.0.1 "$port" "${ns[@]}"); sample "redis-set-nslo$sx" "$tool" "$r" "${c% *}"; sample "redis-get-nslo$sx" "$tool" "$r" "${c#* }"; fi
  done
  PIPE=1
}
redis_rounds() { # TOOL… : R_REDIS rounds, every tool once a round in a rotating order
  local -a ts=("$@"); local r k t
  for ((r = 1; r <= R_REDIS; r++)); do
    printf 'redis %s round %d/%d (load %s)\n' "${ts[*]}" "$r" "$R_REDIS" "$(loadavg)" >&2
    for ((k = 0; k < ${#ts[@]}; k++)); do t=${ts[$(( (r + k) % ${#ts[@]} ))]}; redis_one "$t" "$r"; done
  done
}
rl_redis_up() { # TOOL (NET, PORTS): rootless tsstack's Redis through that network and port path
  PWD_AS=$WORK/p-redis rl up -d >>"$LOG" 2>&1
  local holder; holder=$(cut -d' ' -f1 "$UHOME/run/tsstack/pause.pid")
  RNS[$1]="nsenter -t $holder -n"; RPORT[$1]=16379
  # portd: the published Redis listens on the host; its twin without a port is the direct reference
  if [[ $PORTS == portd ]]; then RIP[$1]=$(PWD_AS=$WORK/p-redis container_ip direct rl); else RIP[$1]=$(PWD_AS=$WORK/p-redis container_ip redis rl); fi
  wait_redis 16379 || { echo "rootless ($1): redis did not answer on the published port" >&2; PWD_AS=$WORK/p-redis rl ps -a >&2; PWD_AS=$WORK/p-redis rl logs >&2; }
}
# root: published port on the host (this namespace), direct to the container's address
(cd "$WORK/r-redis" && rt up -d >>"$LOG" 2>&1)
RIP[ts_root]=$(cd "$WORK/r-redis" && container_ip redis rt); RPORT[ts_root]=16380
wait_redis 16380
# podman rootless: rootlessport on the published port; direct = its address from inside its own netns (as root, by pid)
pm run -d --name redis "${PM_RUN[@]}" -p 127.0.0.1:16381:6379 redis:local redis-server --bind 0.0.0.0 --protected-mode no --save "" --appendonly no >>"$LOG" 2>&1
pmpid=$(pm inspect -f '{{.State.Pid}}' redis)
RNS[pm_redis]="nsenter -t $pmpid -n"; RPORT[pm_redis]=16381
RIP[pm_redis]=$(nsenter -t "$pmpid" -n ip -4 -o addr show scope global | awk '{print $4; exit}' | cut -d/ -f1)
wait_redis 16381
NET=pasta PORTS=portd; rl_redis_up ts_rl_portd
redis_rounds ts_root ts_rl_portd pm_redis
PWD_AS=$WORK/p-redis rl down >>"$LOG" 2>&1
NET=pasta PORTS=forward; rl_redis_up ts_rl_pasta
redis_rounds ts_rl_pasta
PWD_AS=$WORK/p-redis rl down >>"$LOG" 2>&1
(cd "$WORK/r-redis" && rt down >>"$LOG" 2>&1)
pm rm -f -t 0 redis >>"$LOG" 2>&1
NET=slirp4netns PORTS=forward; rl_redis_up ts_rl_slirp4netns
redis_rounds ts_rl_slirp4netns
PWD_AS=$WORK/p-redis rl down >>"$LOG" 2>&1
NET=pasta PORTS=portd
echo "end $(loadavg)" >> "$LOADS"

# ---------------------------------------------------------------- report
echo
echo "Medians over rounds (min–max, n). Load (1-min average) during the run: $(awk '{print $2}' "$LOADS" | sort -n | awk '{a[NR]=$1} END{printf "median %s, min %s, max %s", a[int((NR+1)/2)], a[1], a[NR]}')"
report "$SAMPLES"
echo "(whole run: $(( $(date +%s) - START )) s)"
