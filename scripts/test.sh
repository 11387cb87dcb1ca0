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

# A safety net: a test worker that never exits (something it started keeps
# Node's event loop alive — once a wait on a container removed mid-poll, since
# fixed; ava reports it as "Failed to exit when running <file>") would keep CI
# waiting until ava's own 10-minute timeout. When no test output appears for
# $QUIET seconds the run is stopped and run once more, saying so.
QUIET=${TSSTACK_TEST_QUIET_LIMIT:-240}

# Published ports are translated for host processes by programs attached to a
# cgroup (src/engine/network/socket-lb.ts): the suite runs in a cgroup of its
# own and the engine attaches there, never to the host's root cgroup.
source scripts/lib/cgroup.sh
cgroup=$(private_cgroup tsstack-test)
export TSSTACK_SOCKET_LB_CGROUP=${cgroup:-off}
trap 'remove_cgroup "$cgroup"' EXIT

kill_tree() { # every descendant of $1, then $1
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
  kill -TERM "$1" 2>/dev/null || true
}

run_suite() { # $1 = log file; the rest go to ava
  local log=$1; shift
  unshare --net --mount --propagation private -- bash -c '
    set -e
    [ "$TSSTACK_SOCKET_LB_CGROUP" = off ] || echo $$ > "$TSSTACK_SOCKET_LB_CGROUP/cgroup.procs"
    ip link set lo up
    exec npx ava "$@"
  ' ava "$@" > >(tee "$log") 2>&1 &
  local pid=$! last now size prev=-1
  last=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    size=$(stat -c %s "$log" 2>/dev/null || echo 0)
    now=$(date +%s)
    if [[ $size != "$prev" ]]; then prev=$size; last=$now; continue; fi
    if (( now - last >= QUIET )); then
      echo "watchdog: no test output for ${QUIET}s; stopping this run (ava worker hand-over hang)" | tee -a "$log"
      kill_tree "$pid"
      wait "$pid" 2>/dev/null || true
      return 124
    fi
  done
  wait "$pid"
}

# The default engine root is the host's: a test that reaches it (a command run without
# TSSTACK_ROOT writes its model cache there) changes a user's state. Said and failed below.
default_root_before=$([[ -e /var/lib/tsstack ]] && echo yes || echo no)

log=$(mktemp /tmp/tsstack-test.XXXXXX.log)
set +e
run_suite "$log" "$@"
rc=$?
if [[ $rc == 124 ]]; then
  echo "watchdog: running the whole suite once more"
  run_suite "$log" "$@"
  rc=$?
fi
set -e
if [[ -n $cgroup ]]; then
  left=$(node scripts/lib/socket-lb-left.mjs "$cgroup" 2>/dev/null || echo "?")
  [[ $left == 0 ]] || echo "warning: $left socket programs still attached to $cgroup after the suite (a test left ports published)"
fi
# One plain summary line for whoever reads the tail of the log (ava prints no
# "passed" count when something failed, so count the result marks). A skipped
# test is "  - [skip] title [skipped: why]" (test/helpers/skip.ts), a todo "  - [todo] …".
passed=$(grep -cE '^ +✔' "$log" || true)
failed=$(grep -cE '^ +✘' "$log" || true)
skipped=$(grep -cE '^ +- \[skip\] ' "$log" || true)
todo=$(grep -cE '^ +- \[todo\] ' "$log" || true)
rm -f "$log"
if [[ $default_root_before == no && -e /var/lib/tsstack ]]; then
  echo "✘ a test wrote under the default engine root /var/lib/tsstack (run commands with TSSTACK_ROOT); what it left:" >&2
  find /var/lib/tsstack -maxdepth 4 >&2
  rm -rf /var/lib/tsstack
  failed=$(( ${failed:-0} + 1 ))
  [[ $rc != 0 ]] || rc=1
fi
summary="${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
[[ ${todo:-0} == 0 ]] || summary+=", $todo todo"
echo "$summary"
exit "$rc"
