#!/usr/bin/env bash
# The README's first command: installs what tsstack needs, builds it, makes the
# example images locally and brings up examples/redis in the background.
#
#   scripts/up-example.sh              publish on this host (127.0.0.1:6379, :8080), like docker compose
#   scripts/up-example.sh --isolated   run it inside the network namespace `tsstack-demo` instead
#                                      (or TSSTACK_ISOLATED=1; TSSTACK_DEMO_NETNS=NAME picks another name)
#   scripts/up-example.sh --no-setup   skip installing and building (the test suite uses this)
#
# Running it again is safe: images already made are kept and what is already up
# is left as it is. TSSTACK_ROOT / TSSTACK_RUN_ROOT / TSSTACK_IMAGE_CACHE are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
isolated=${TSSTACK_ISOLATED:-0}
setup=1
for a in "$@"; do
  case $a in
    --isolated) isolated=1 ;;
    --no-setup) setup=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "up-example: unknown argument: $a (see --help)" >&2; exit 2 ;;
  esac
done
netns=${TSSTACK_DEMO_NETNS:-tsstack-demo}

if ((setup)); then
  bash scripts/setup.sh --examples
  ln -sf "$PWD/bin/tsstack.js" /usr/local/bin/tsstack
fi

in_ns=()
pfx=""
if [[ $isolated == 1 ]]; then
  [[ -e /run/netns/$netns ]] || ip netns add "$netns"
  # nsenter changes only the network namespace (`ip netns exec` would also remount /sys and hide cgroups).
  in_ns=(nsenter "--net=/run/netns/$netns")
  pfx="${in_ns[*]} "
  "${in_ns[@]}" ip link set lo up
fi
tsstack() { "${in_ns[@]}" node "$PWD/bin/tsstack.js" "$@"; }

bash scripts/make-example-images.sh
tsstack -f examples/redis/stack.yaml up -d --wait

down_ns=""
[[ $isolated == 1 ]] && down_ns="
  ip netns delete $netns                                   # then drop the namespace"
cat <<MSG

examples/redis is up. Try:
  ${pfx}redis-cli -h 127.0.0.1 -p 6379 ping          # PONG
  ${pfx}curl -s http://127.0.0.1:8080/               # the hit counter, rising on each call
  ${pfx}tsstack -f examples/redis/stack.yaml ps
  ${pfx}tsstack -f examples/redis/stack.yaml logs app
  ${pfx}tsstack -f examples/redis/stack.yaml down     # removes everything it made${down_ns}
MSG
