#!/usr/bin/env bash
# Published-port throughput: redis-benchmark GET/SET through the published port
# on 127.0.0.1 versus straight to the container's address, plus the time to add
# a network and an endpoint. Two paths to the published port are measured:
#   socket-level — the client runs in the cgroup tsstack's connect() programs are
#                  attached to (every host process is, by default): translated once
#                  per connection (src/engine/network/socket-lb.ts)
#   DNAT only    — the same client outside that cgroup: nftables DNAT in the output
#                  chain + masquerade per packet (what traffic from elsewhere takes)
# Runs entirely inside a network namespace it creates. Needs root, redis-server,
# redis-benchmark and a built tree (npx tsc -p .).
# Requests/s swing with the load of a shared machine; bench/network-cpu.sh measures
# the same two paths as CPU time per request, which holds steady.
#   Usage: bench/network-redis.sh [requests per run (default 50000)] [rounds (default 5)]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50000}
ROUNDS=${2:-5}
for b in redis-server redis-benchmark; do command -v $b >/dev/null || { echo "skipped: $b not installed"; exit 0; }; done
[ -f dist/bench/network-harness.js ] || { echo "build first: npx tsc -p ."; exit 1; }

if [ "${TSSTACK_BENCH_INNER:-}" != 1 ]; then
  exec unshare --net --mount --propagation private env TSSTACK_BENCH_INNER=1 bash "$0" "$@"
fi

ip link set lo up
root=$(mktemp -d /tmp/tsstack-bench-net.XXXXXX)
redis_pid=
# the programs go to a cgroup of this run's own (never the host's root cgroup)
source scripts/lib/cgroup.sh
cg=$(private_cgroup tsstack-bench)
export TSSTACK_SOCKET_LB_CGROUP=${cg:-off}
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  node dist/bench/network-harness.js down "$root" >/dev/null 2>&1 || true
  rm -rf "$root"
  remove_cgroup "$cg"
}
trap cleanup EXIT

info=$(node dist/bench/network-harness.js up "$root" 6379 6379)
path=$(echo "$info" | jq -r .path)
addr=$(echo "$info" | jq -r .address)
nsenter --net="$path" redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no --daemonize no --loglevel warning >/dev/null &
redis_pid=$!
for _ in $(seq 50); do redis-cli -h "$addr" -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done

# one redis-benchmark run → "set get" requests per second; `run lb HOST` runs the
# client inside the cgroup the programs are attached to, `run plain HOST` outside it
run() {
  local where=$1; shift
  local cmd=(redis-benchmark -h "$1" -p 6379 -t set,get -n "$N" -c 20 --csv)
  if [ "$where" = lb ] && [ -n "$cg" ]; then cmd=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "${cmd[@]}"); fi
  "${cmd[@]}" 2>/dev/null | awk -F'"' '/^"SET"/{s=$4} /^"GET"/{g=$4} END{print s, g}'
}
[ -n "$cg" ] || echo "no cgroup2 here: the socket-level path is off, both published figures are DNAT"

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

d_set=(); d_get=(); l_set=(); l_get=(); n_set=(); n_get=(); rl_set=(); rl_get=(); rn_set=(); rn_get=()
run plain "$addr" >/dev/null; run lb 127.0.0.1 >/dev/null; run plain 127.0.0.1 >/dev/null   # warm up (ARP, conntrack, caches)
# rounds are triples run back to back (order rotating), so a load change on a
# shared machine hits every side of a round; the median of per-round ratios is
# the figure least moved by it
pct() { awk -v a="$1" -v b="$2" 'BEGIN{print 100*a/b}'; }
for i in $(seq "$ROUNDS"); do
  case $((i % 3)) in
    1) read -r s1 g1 < <(run plain "$addr"); read -r s2 g2 < <(run lb 127.0.0.1); read -r s3 g3 < <(run plain 127.0.0.1) ;;
    2) read -r s2 g2 < <(run lb 127.0.0.1); read -r s3 g3 < <(run plain 127.0.0.1); read -r s1 g1 < <(run plain "$addr") ;;
    0) read -r s3 g3 < <(run plain 127.0.0.1); read -r s1 g1 < <(run plain "$addr"); read -r s2 g2 < <(run lb 127.0.0.1) ;;
  esac
  d_set+=("$s1"); d_get+=("$g1"); l_set+=("$s2"); l_get+=("$g2"); n_set+=("$s3"); n_get+=("$g3")
  rl_set+=("$(pct "$s2" "$s1")"); rl_get+=("$(pct "$g2" "$g1")"); rn_set+=("$(pct "$s3" "$s1")"); rn_get+=("$(pct "$g3" "$g1")")
done
med() { printf '%s\n' "$@" | median; }
ds=$(med "${d_set[@]}"); dg=$(med "${d_get[@]}")
ls_=$(med "${l_set[@]}"); lg=$(med "${l_get[@]}"); ns_=$(med "${n_set[@]}"); ng=$(med "${n_get[@]}")
echo "redis-benchmark -n $N -c 20, $ROUNDS rounds, median requests/s"
printf '  %-40s SET %10.0f  GET %10.0f\n' "direct to container $addr:6379" "$ds" "$dg"
printf '  %-40s SET %10.0f  GET %10.0f\n' "published 127.0.0.1:6379, socket-level" "$ls_" "$lg"
printf '  %-40s SET %10.0f  GET %10.0f\n' "published 127.0.0.1:6379, DNAT only" "$ns_" "$ng"
awk -v a="$ls_" -v b="$ds" -v c="$lg" -v d="$dg" 'BEGIN{printf "  %-40s SET %9.1f%%  GET %9.1f%%  (target >= 95%%)\n", "ratio of medians socket-level/direct", 100*a/b, 100*c/d}'
printf '  %-40s SET %9.1f%%  GET %9.1f%%\n' "median of per-round ratios, socket-level" "$(med "${rl_set[@]}")" "$(med "${rl_get[@]}")"
awk -v a="$ns_" -v b="$ds" -v c="$ng" -v d="$dg" 'BEGIN{printf "  %-40s SET %9.1f%%  GET %9.1f%%\n", "ratio of medians DNAT only/direct", 100*a/b, 100*c/d}'
printf '  %-40s SET %9.1f%%  GET %9.1f%%\n' "median of per-round ratios, DNAT only" "$(med "${rn_set[@]}")" "$(med "${rn_get[@]}")"
echo "  (load average now: $(cut -d' ' -f1-3 /proc/loadavg); on a shared machine single runs swing widely)"
# per-packet (DNAT) and per-connection (socket-level) cost does not grow with the
# number of published ports (maps, not rule lists): runs with 1 and with 5001 entries
one_l=(); many_l=(); one_n=(); many_n=(); r_l=(); r_n=()
for _ in $(seq "$ROUNDS"); do
  read -r _s gl1 < <(run lb 127.0.0.1); read -r _s gn1 < <(run plain 127.0.0.1)
  node dist/bench/network-harness.js fill "$root" 5000
  read -r _s gl2 < <(run lb 127.0.0.1); read -r _s gn2 < <(run plain 127.0.0.1)
  node dist/bench/network-harness.js unfill "$root"
  one_l+=("$gl1"); many_l+=("$gl2"); one_n+=("$gn1"); many_n+=("$gn2"); r_l+=("$(pct "$gl2" "$gl1")"); r_n+=("$(pct "$gn2" "$gn1")")
done
printf '  %-40s GET %10.0f socket-level %10.0f DNAT only\n' "published, 1 port in the maps" "$(med "${one_l[@]}")" "$(med "${one_n[@]}")"
printf '  %-40s GET %10.0f socket-level %10.0f DNAT only\n' "published, 5001 ports in the maps" "$(med "${many_l[@]}")" "$(med "${many_n[@]}")"
printf '  %-40s GET %9.1f%% socket-level %9.1f%% DNAT only\n' "median of per-pair ratios 5001/1" "$(med "${r_l[@]}")" "$(med "${r_n[@]}")"
if command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1; then
  echo "  docker daemon found: compare by hand (outside this namespace): docker run -d -p 6379:6379 redis; redis-benchmark -h 127.0.0.1 -t set,get -n $N -c 20"
else
  echo "  docker: no reachable daemon, no side-by-side run"
fi

kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=
node dist/bench/network-harness.js down "$root"
echo
echo "setup times (median of 10):"
node dist/bench/network-harness.js setup-times "$root/setup" 10 | sed 's/^/  /'
