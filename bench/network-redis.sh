#!/usr/bin/env bash
# Published-port throughput: redis-benchmark GET/SET through the published port
# on 127.0.0.1 (nftables DNAT in the output chain + masquerade) versus straight
# to the container's address, plus the time to add a network and an endpoint.
# Runs entirely inside a network namespace it creates. Needs root, redis-server,
# redis-benchmark and a built tree (npx tsc -p .).
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

direct_set=(); direct_get=(); pub_set=(); pub_get=()
run "$addr" >/dev/null; run 127.0.0.1 >/dev/null   # warm up (ARP, conntrack, caches)
for _ in $(seq "$ROUNDS"); do
  read -r s g < <(run "$addr"); direct_set+=("$s"); direct_get+=("$g")
  read -r s g < <(run 127.0.0.1); pub_set+=("$s"); pub_get+=("$g")
done
ds=$(printf '%s\n' "${direct_set[@]}" | median); dg=$(printf '%s\n' "${direct_get[@]}" | median)
ps=$(printf '%s\n' "${pub_set[@]}" | median); pg=$(printf '%s\n' "${pub_get[@]}" | median)
echo "redis-benchmark -n $N -c 20, $ROUNDS rounds, median requests/s"
printf '  %-34s SET %10.0f  GET %10.0f\n' "direct to container $addr:6379" "$ds" "$dg"
printf '  %-34s SET %10.0f  GET %10.0f\n' "published port 127.0.0.1:6379" "$ps" "$pg"
awk -v a="$ps" -v b="$ds" -v c="$pg" -v d="$dg" 'BEGIN{printf "  ratio published/direct              SET %9.1f%%  GET %9.1f%%  (target >= 95%%)\n", 100*a/b, 100*c/d}'
# per-packet cost does not grow with the number of published ports (maps, not rule lists)
node dist/bench/network-harness.js fill "$root" 5000
many_set=(); many_get=()
for _ in $(seq "$ROUNDS"); do read -r s g < <(run 127.0.0.1); many_set+=("$s"); many_get+=("$g"); done
ms=$(printf '%s\n' "${many_set[@]}" | median); mg=$(printf '%s\n' "${many_get[@]}" | median)
printf '  %-34s SET %10.0f  GET %10.0f\n' "published, 5001 ports in the maps" "$ms" "$mg"
awk -v a="$ms" -v b="$ps" -v c="$mg" -v d="$pg" 'BEGIN{printf "  ratio 5001 ports/1 port              SET %9.1f%%  GET %9.1f%%\n", 100*a/b, 100*c/d}'
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
