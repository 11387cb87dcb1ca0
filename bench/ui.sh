#!/usr/bin/env bash
# The dashboard's budget: RSS and CPU of `tsstack ui` while idle with 20 services (no page, then one
# page's event stream open), and the time from a container's crash to the event at the page.
#   Usage: npm run build && bash bench/ui.sh   (SECONDS_IDLE=N per idle measure, default 30; KILLS=N, default 10; HEALTH_INTERVAL, default 30s;
#   SERVICES=N, default 20; UI_NODE_ARGS: node flags for the `tsstack ui` process)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/bench/ui.js ]] || { echo "build first: npm run build" >&2; exit 1; }
# a network namespace of its own (bridges, nftables, published ports stay in it)
exec unshare --net --mount --propagation private -- bash -c 'ip link set lo up && exec node dist/bench/ui.js'
