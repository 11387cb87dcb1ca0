#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, then runs every test
# inside a network and mount namespace of its own, so no test can change the
# host's firewall, routes or mounts.   Usage: scripts/test.sh [ava args…]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

# The examples' Redis image is made from Debian packages (mmdebstrap), which
# needs the Debian mirror: make its root filesystem here, before the suite
# enters a network namespace with no way out. Kept between runs.
export TSSTACK_IMAGE_CACHE=${TSSTACK_IMAGE_CACHE:-/var/cache/tsstack/example-images}
TSSTACK_EXAMPLE_IMAGES=redis bash scripts/make-example-images.sh --rootfs-only \
  || echo "warning: could not make the Redis root filesystem; the example tests will say they are skipped" >&2

log=$(mktemp /tmp/tsstack-test.XXXXXX.log)
set +e
unshare --net --mount --propagation private -- bash -c '
  set -e
  ip link set lo up
  exec npx ava "$@"
' ava "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# One plain summary line for whoever reads the tail of the log (ava prints no
# "passed" count when something failed, so count the result marks).
passed=$(grep -cE '^ +✔' "$log" || true)
failed=$(grep -cE '^ +✘' "$log" || true)
skipped=$(grep -cE '^ +- ' "$log" || true)
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$rc"
