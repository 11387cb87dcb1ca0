#!/usr/bin/env bash
# Stack-file loading speed.
#   bench/spec-config.sh [SERVICES]   (default 200; run `npm run build:ts` first)
# Prints medians of 5 wall-clock runs for:
#   tsstack config on a generated stack of SERVICES services (target < 300 ms at 200),
#   warm (the model cache, as a repeated run sees it) and cold (TSSTACK_NO_CACHE=1),
#   tsstack config -q (validate only), tsstack --version start-up (target < 80 ms),
#   and, for scale, bare `node -e 0`. Peers (docker compose, podman-compose) run
#   side by side when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
REPO=$PWD
WORK=$(mktemp -d /tmp/tsstack-bench-spec.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# The model cache lives under the engine root: a private one, never /var/lib/tsstack.
export TSSTACK_ROOT=$WORK/root

# A stack that exercises every pass: anchors, interpolation, env files, ports,
# volumes, healthchecks, depends_on chains, networks, profiles.
{
  echo 'name: bench'
  echo 'x-common: &common'
  echo '  restart: unless-stopped'
  echo '  environment:'
  echo '    LOG_LEVEL: ${LOG_LEVEL:-info}'
  echo '  healthcheck: { test: ["CMD", "true"], interval: 30s, timeout: 5s, retries: 3 }'
  echo 'services:'
  for i in $(seq 0 $((N - 1))); do
    echo "  svc$i:"
    echo "    <<: *common"
    echo "    image: \"registry.local/app$((i % 10)):\${TAG:-latest}\""
    echo "    command: [\"/bin/app\", \"--id\", \"$i\"]"
    echo "    ports: [\"$((20000 + i)):8080\", \"127.0.0.1:$((30000 + i)):9090/udp\"]"
    echo "    volumes: [\"./data/$i:/data\", \"shared:/shared:ro\"]"
    echo "    env_file: [common.env]"
    echo "    deploy: { resources: { limits: { memory: 256m, cpus: \"0.5\" } } }"
    echo "    networks: { front: { aliases: [\"a$i\"] }, back: {} }"
    if (( i > 0 )); then echo "    depends_on: { svc$((i - 1)): { condition: service_started } }"; fi
    if (( i % 50 == 49 )); then echo "    profiles: [extra]"; fi
  done
  echo 'volumes: { shared: {} }'
  echo 'networks: { front: {}, back: { internal: true } }'
} > "$WORK/stack.yaml"
printf 'A=1\nB="two words"\nC=${A}_x\n' > "$WORK/common.env"
printf 'TAG=1.2.3\n' > "$WORK/.env"

T="node $REPO/bin/tsstack.js"
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
measure() { # label, command... — prints wall and CPU (user+sys) medians; echoes the wall median last
  local label=$1; shift
  "$@" >/dev/null 2>&1 || { echo "$label: command failed: $*" >&2; "$@" >/dev/null || true; return 1; }
  local walls=() cpus=() TIMEFORMAT='%R %U %S' line
  for _ in 1 2 3 4 5; do
    line=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
    read -r r u s <<<"$line"
    walls+=($(awk -v r="$r" 'BEGIN{printf "%d", r*1000}'))
    cpus+=($(awk -v u="$u" -v s="$s" 'BEGIN{printf "%d", (u+s)*1000}'))
  done
  local med cpu; med=$(printf '%s\n' "${walls[@]}" | median); cpu=$(printf '%s\n' "${cpus[@]}" | median)
  printf '%-40s wall median %6s ms  cpu median %6s ms  (wall runs: %s)\n' "$label" "$med" "$cpu" "${walls[*]}"
  echo "$med"
}

echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (wall times grow with load; cpu times less so)"
echo "stack: $N services ($(wc -l < "$WORK/stack.yaml") lines)"
cold=$(measure "tsstack config ($N services, no cache)" env TSSTACK_NO_CACHE=1 $T -f "$WORK/stack.yaml" config | tee /dev/stderr | tail -1) 2>&1
cfg=$(measure "tsstack config ($N services)" $T -f "$WORK/stack.yaml" config | tee /dev/stderr | tail -1) 2>&1
q=$(measure "tsstack config -q ($N services)" $T -f "$WORK/stack.yaml" config -q | tee /dev/stderr | tail -1) 2>&1
ver=$(measure "tsstack --version" $T --version | tee /dev/stderr | tail -1) 2>&1
nodeb=$(measure "node -e 0 (floor)" node -e 0 | tee /dev/stderr | tail -1) 2>&1
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  dc=$(measure "docker compose config ($N services)" docker compose -f "$WORK/stack.yaml" config | tee /dev/stderr | tail -1) 2>&1
  echo "ratio tsstack/docker compose config: $(awk -v a="$cfg" -v b="$dc" 'BEGIN{printf "%.2f", a/b}')"
fi
if command -v podman-compose >/dev/null 2>&1; then
  pc=$(measure "podman-compose config ($N services)" podman-compose -f "$WORK/stack.yaml" config | tee /dev/stderr | tail -1) 2>&1
  echo "ratio tsstack/podman-compose config: $(awk -v a="$cfg" -v b="$pc" 'BEGIN{printf "%.2f", a/b}')"
fi
if command -v hyperfine >/dev/null 2>&1 && command -v jq >/dev/null 2>&1; then
  # hyperfine -N -w 3 -r 20: median wall and mean user+sys per command
  hf() {
    local label=$1; shift
    hyperfine -N -w 3 -r 20 --export-json "$WORK/hf.json" "$*" >/dev/null 2>&1 || { echo "$label: hyperfine failed"; return; }
    jq -r --arg l "$label" '.results[0] | "\($l | .[0:40] | . + " " * (40 - length)) hyperfine median \(.median * 1000 | floor) ms  user+sys \((.user + .system) * 1000 | floor) ms"' "$WORK/hf.json"
  }
  hf "tsstack --version" $T --version
  hf "tsstack config ($N services)" $T -f "$WORK/stack.yaml" config
  hf "tsstack config ($N services, no cache)" env TSSTACK_NO_CACHE=1 $T -f "$WORK/stack.yaml" config
  hf "node -e 0 (floor)" node -e 0
fi
# "no cache" = TSSTACK_NO_CACHE=1: parse, validate and normalize every time (the first run on a changed file).
echo "before the start-up work (2026-11-28 08:55, same script): config 321 ms (cold), config -q 297 ms, --version 68 ms, node floor 59 ms"
echo "targets: config < 300 ms: $([[ $cfg -lt 300 ]] && echo met || echo MISSED) ($cfg ms; cold $cold ms: $([[ $cold -lt 300 ]] && echo met || echo MISSED)); --version < 80 ms: $([[ $ver -lt 80 ]] && echo met || echo MISSED) ($ver ms); node floor $nodeb ms"
