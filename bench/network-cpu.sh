#!/usr/bin/env bash
# CPU cost per request of the published-port path, which unlike requests/s
# (bench/network-redis.sh) holds steady on a loaded shared machine: on-CPU time
# of redis-benchmark (its rusage) plus redis-server (/proc/PID/schedstat) per GET,
# straight to the container's address versus through the published port. With
# no IRQ time accounting the softirq work of both directions runs in, and is
# charged to, these two processes. Runs inside a network namespace it creates.
#   Usage: bench/network-cpu.sh [requests per run (30000)] [rounds (6)]
#   TARGET=10.89.0.1   reach the published port on the gateway address (the socket-level
#                      path matches loopback only for ports published on every address)
#   SETUP='nft …'      commands run before measuring, to try a variant of the table
#                      ($T is the table's name), e.g. SETUP='nft flush chain inet $T input'
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30000}; ROUNDS=${2:-6}
for b in redis-server redis-benchmark; do command -v $b >/dev/null || { echo "skipped: $b not installed"; exit 0; }; done
[ -f dist/bench/network-harness.js ] || { echo "build first: npx tsc -p ."; exit 1; }
if [ "${TSSTACK_BENCH_INNER:-}" != 1 ]; then exec unshare --net --mount --propagation private env TSSTACK_BENCH_INNER=1 bash "$0" "$@"; fi

ip link set lo up
root=$(mktemp -d /tmp/tsstack-bench-cpu.XXXXXX); redis_pid=
# the socket-level programs go to a cgroup of this run's own (never the host's root cgroup)
source scripts/lib/cgroup.sh
cg=$(private_cgroup tsstack-bench); export TSSTACK_SOCKET_LB_CGROUP=${cg:-off}
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true; node dist/bench/network-harness.js down "$root" >/dev/null 2>&1 || true; rm -rf "$root"; remove_cgroup "$cg"; }
trap cleanup EXIT
info=$(node dist/bench/network-harness.js up "$root" 6379 6379)
path=$(echo "$info" | jq -r .path); addr=$(echo "$info" | jq -r .address)
T=$(nft -j list tables | jq -r '.nftables[] | select(.table) | .table.name' | grep tsstack | head -1)
nsenter --net="$path" redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no --daemonize no --loglevel warning >/dev/null &
redis_pid=$!
for _ in $(seq 50); do redis-cli -h "$addr" -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done

# ns of CPU (client + server) per GET request; `cpu HOST lb` runs the client in the
# cgroup the socket-level programs are attached to, else outside it (DNAT only)
cpu() {
  local s0 s1 c cmd=(redis-benchmark -h "$1" -p 6379 -t get -n "$N" -c 20 -q)
  if [ "${2:-}" = lb ] && [ -n "$cg" ]; then cmd=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "${cmd[@]}"); fi
  s0=$(cut -d' ' -f1 "/proc/$redis_pid/schedstat")
  c=$( { TIMEFORMAT='%3U %3S'; time "${cmd[@]}" >/dev/null 2>&1; } 2>&1 )
  s1=$(cut -d' ' -f1 "/proc/$redis_pid/schedstat")
  echo "$c" | awk -v s=$((s1 - s0)) -v n="$N" '{print (s + ($1 + $2) * 1e9) / n}'
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

target=${TARGET:-127.0.0.1}
cpu "$addr" >/dev/null; cpu "$target" lb >/dev/null; cpu "$target" >/dev/null   # warm up
eval "${SETUP:-:}"
d=(); l=(); p=(); rl=(); rp=()
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", 100*b/a}'; }
for i in $(seq "$ROUNDS"); do
  case $((i % 3)) in
    1) a=$(cpu "$addr"); b=$(cpu "$target" lb); c=$(cpu "$target") ;;
    2) b=$(cpu "$target" lb); c=$(cpu "$target"); a=$(cpu "$addr") ;;
    0) c=$(cpu "$target"); a=$(cpu "$addr"); b=$(cpu "$target" lb) ;;
  esac
  d+=("$a"); l+=("$b"); p+=("$c"); rl+=("$(pct "$a" "$b")"); rp+=("$(pct "$a" "$c")")
done
med() { printf '%s\n' "$@" | median; }
echo "redis-benchmark GET -n $N -c 20, $ROUNDS rounds, median CPU ns per request (client + server)"
printf '  %-42s %8.0f ns\n' "direct to container $addr" "$(med "${d[@]}")"
printf '  %-42s %8.0f ns\n' "published $target, socket-level" "$(med "${l[@]}")"
printf '  %-42s %8.0f ns\n' "published $target, DNAT only" "$(med "${p[@]}")"
printf '  %-42s %8.1f%%   (rounds: %s)\n' "median socket-level/direct (CPU, lower=better)" "$(med "${rl[@]}")" "${rl[*]}"
printf '  %-42s %8.1f%%   (rounds: %s)\n' "median DNAT only/direct" "$(med "${rp[@]}")" "${rp[*]}"
echo "  (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
