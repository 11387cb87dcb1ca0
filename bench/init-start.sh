#!/bin/sh
# What `init: true` costs: start-to-exit of `true` as PID 1 of a new pid namespace,
# straight and behind tsstack-init (and Debian's tini/catatonit when installed).
# Prints hyperfine's medians. Run as root: sh bench/init-start.sh
set -e
cd "$(dirname "$0")/.."
node scripts/build-native.mjs >/dev/null
INIT=$PWD/native/bin/tsstack-init
set -- -N --warmup 20 --runs 300 \
  -n floor "unshare -fp --mount-proc true" \
  -n tsstack-init "unshare -fp --mount-proc $INIT -- true"
for other in tini catatonit; do
  p=$(command -v $other || true)
  [ -n "$p" ] && set -- "$@" -n "$other" "unshare -fp --mount-proc $p -- true"
done
hyperfine "$@" --export-json /tmp/init-start.json >/dev/null
node -e '
const r = JSON.parse(require("fs").readFileSync("/tmp/init-start.json", "utf8")).results;
const floor = r[0].median;
for (const x of r) console.log(`${x.command.padEnd(14)} median ${(x.median * 1000).toFixed(2)} ms  (${(x.median / floor).toFixed(2)}x floor)`);
'
rm -f /tmp/init-start.json
