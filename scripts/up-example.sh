#!/usr/bin/env bash
# The README's first command: installs tsstack and what it needs, makes the
# example images locally, and brings up examples/redis in the background.
#
#   scripts/up-example.sh              publish on this host (127.0.0.1:6379, :8080), like docker compose
#   scripts/up-example.sh --isolated   run inside a network namespace `tsstack-demo` instead
#   (or TSSTACK_ISOLATED=1)
# Running it again is safe: what is already up is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
isolated=${TSSTACK_ISOLATED:-0}
[[ ${1:-} == --isolated ]] && isolated=1

bash scripts/setup.sh --examples
ln -sf "$PWD/bin/tsstack.js" /usr/local/bin/tsstack

in_ns=()
if [[ $isolated == 1 ]]; then
  [[ -e /run/netns/tsstack-demo ]] || ip netns add tsstack-demo
  # nsenter keeps /sys as it is (ip netns exec would remount it and hide cgroups).
  in_ns=(nsenter --net=/run/netns/tsstack-demo)
  "${in_ns[@]}" ip link set lo up
fi

bash scripts/make-example-images.sh
"${in_ns[@]}" tsstack -f examples/redis/stack.yaml up -d --wait

pfx=""; [[ $isolated == 1 ]] && pfx="nsenter --net=/run/netns/tsstack-demo "
cat <<MSG

examples/redis is up. Try:
  ${pfx}redis-cli -h 127.0.0.1 -p 6379 ping          # PONG
  ${pfx}curl -s http://127.0.0.1:8080/               # the hit counter, rising on each call
  ${pfx}tsstack -f examples/redis/stack.yaml ps
  ${pfx}tsstack -f examples/redis/stack.yaml logs app
  ${pfx}tsstack -f examples/redis/stack.yaml down     # removes everything it made
MSG
