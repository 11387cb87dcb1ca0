#!/usr/bin/env bash
# Published-port throughput: redis-benchmark GET/SET through the published port
# on 127.0.0.1 (nftables DNAT in the output chain + masquerade) versus straight
# to the container's address, plus the time to add a network and an endpoint.
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
cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
  node dist/bench/network-harness.js down "$root" >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT

info=$(node dist/bench/network-harness.js up "$root" 6379 6379)
path=$(echo "$info" | jq -r .path)
addr=$(echo "$info" | jq -r .address)
nsenter --net="$path" redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no --daemonize no --loglevel warning >/dev/null &
redis_pid=$!
for _ in $(seq 50); do redis-cli -h "$addr" -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done

# one redis-benchmark run → "set get" requests per second
run() { redis-benchmark -h "$1" -p 6379 -t set,get -n "$N" -c 20 --csv 2>/dev/null | awk -F'"' '/^"SET"/{s=$4} /^"GET"/{g=$4} END{print s, g}'; }
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

direct_set=(); direct_get=(); pub_set=(); pub_get=(); ratio_set=(); ratio_get=()
run "$addr" >/dev/null; run 127.0.0.1 >/dev/null   # warm up (ARP, conntrack, caches)
# rounds are pairs run back to back (order alternating), so a load change on a
# shared machine hits both sides of a pair; the median of per-pair ratios is the
# figure least moved by it
for i in $(seq "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then
    read -r s1 g1 < <(run "$addr"); read -r s2 g2 < <(run 127.0.0.1)
  else
    read -r s2 g2 < <(run 127.0.0.1); read -r s1 g1 < <(run "$addr")
  fi
  direct_set+=("$s1"); direct_get+=("$g1"); pub_set+=("$s2"); pub_get+=("$g2")
  ratio_set+=("$(awk -v a="$s2" -v b="$s1" 'BEGIN{print 100*a/b}')"); ratio_get+=("$(awk -v a="$g2" -v b="$g1" 'BEGIN{print 100*a/b}')")
done
ds=$(printf '%s\n' "${direct_set[@]}" | median); dg=$(printf '%s\n' "${direct_get[@]}" | median)
ps=$(printf '%s\n' "${pub_set[@]}" | median); pg=$(printf '%s\n' "${pub_get[@]}" | median)
echo "redis-benchmark -n $N -c 20, $ROUNDS rounds, median requests/s"
printf '  %-34s SET %10.0f  GET %10.0f\n' "direct to container $addr:6379" "$ds" "$dg"
printf '  %-34s SET %10.0f  GET %10.0f\n' "published port 127.0.0.1:6379" "$ps" "$pg"
awk -v a="$ps" -v b="$ds" -v c="$pg" -v d="$dg" 'BEGIN{printf "  ratio of medians published/direct   SET %9.1f%%  GET %9.1f%%  (target >= 95%%)\n", 100*a/b, 100*c/d}'
rs=$(printf '%s\n' "${ratio_set[@]}" | median); rg=$(printf '%s\n' "${ratio_get[@]}" | median)
printf '  %-34s SET %9.1f%%  GET %9.1f%%\n' "median of per-pair ratios" "$rs" "$rg"
echo "  (load average now: $(cut -d' ' -f1-3 /proc/loadavg); on a shared machine single runs swing widely)"
# per-packet cost does not grow with the number of published ports (maps, not
# rule lists): pairs of runs with 1 and with 5001 entries in the maps
one_get=(); many_get=(); ratio_many=()
for _ in $(seq "$ROUNDS"); do
  read -r _s g1 < <(run 127.0.0.1)
  node dist/bench/network-harness.js fill "$root" 5000
  read -r _s g2 < <(run 127.0.0.1)
  node dist/bench/network-harness.js unfill "$root"
  one_get+=("$g1"); many_get+=("$g2"); ratio_many+=("$(awk -v a="$g2" -v b="$g1" 'BEGIN{print 100*a/b}')")
done
printf '  %-34s GET %10.0f\n' "published, 1 port in the maps" "$(printf '%s\n' "${one_get[@]}" | median)"
printf '  %-34s GET %10.0f\n' "published, 5001 ports in the maps" "$(printf '%s\n' "${many_get[@]}" | median)"
printf '  %-34s GET %9.1f%%\n' "median of per-pair ratios 5001/1" "$(printf '%s\n' "${ratio_many[@]}" | median)"
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
