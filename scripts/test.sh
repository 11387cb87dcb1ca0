#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, then runs every test
# inside a network and mount namespace of its own, so no test can change the
# host's firewall, routes or mounts.   Usage: scripts/test.sh [ava args…]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

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
