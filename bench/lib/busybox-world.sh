# The start the single-tool benchmarks share (up-trace.sh, down-trace.sh, compose-up.sh), sourced
# from the repository's root inside the private network and mount namespace each re-executes into.
#
#   in_private_ns "$0" "$@"   unless the first argument is --inside: runs the script again in a
#                        network and mount namespace of its own, with --inside first (the caller shifts it)
#   busybox_world NAME [N]  loopback up; WORK (a temporary directory /tmp/tsstack-NAME.XXXXXX),
#                        TSSTACK_ROOT and TSSTACK_RUN_ROOT under it (the run root on a tmpfs, as its default
#                        /run/tsstack is; world_remove unmounts it and removes WORK), T (the CLI of this checkout, REPO),
#                        a trap that takes the stack in $WORK/stack down and removes WORK, busybox:latest
#                        imported from busybox-static; with N, $WORK/stack/stack.yaml of N services, and
#                        the shell in that directory
#   busybox_stack N      prints a stack of N busybox services that sleep (SIGKILL stops them)
#   trace_world NAME N DEFAULT_PROF  the trace scripts' start (up-trace.sh, down-trace.sh): busybox_world
#                        NAME N, PROF (TSSTACK_BENCH_PROF, else DEFAULT_PROF) made empty, and now() (ns)

in_private_ns() {
  local self=$1; shift
  [[ "${1:-}" == --inside ]] || exec unshare --net --mount --propagation private -- bash ${TSSTACK_BENCH_TRACE:+-x} "$self" --inside "$@" </dev/null # (stdin: see compare.sh)
}

busybox_world() {
  ip link set lo up
  REPO=$PWD
  WORK=$(mktemp -d "/tmp/tsstack-$1.XXXXXX")
  export TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$WORK/run
  mkdir -p "$WORK/run" && mount -t tmpfs -o mode=755 tsstack-bench "$WORK/run"
  T="node $REPO/bin/tsstack.js"
  trap '(cd "$WORK/stack" 2>/dev/null && $T down -v >/dev/null 2>&1) || true; world_remove' EXIT
  node --input-type=module -e "const { makeBusyboxRootfs } = await import('$REPO/dist/test/helpers/rootfs.js'); makeBusyboxRootfs('$WORK/bb');"
  $T image import "$WORK/bb" busybox:latest >/dev/null
  if [[ -n "${2:-}" ]]; then
    mkdir -p "$WORK/stack" && cd "$WORK/stack"
    busybox_stack "$2" > stack.yaml
  fi
}

world_remove() {
  umount "$WORK/run" 2>/dev/null || umount -l "$WORK/run" 2>/dev/null
  rm -rf "$WORK"
}

busybox_stack() {
  echo "services:"
  for ((i = 0; i < $1; i++)); do printf '  s%d:\n    image: busybox:latest\n    command: ["sleep", "1000000"]\n    stop_signal: SIGKILL\n' "$i"; done
}

trace_world() {
  PROF=${TSSTACK_BENCH_PROF:-$3}
  busybox_world "$1" "$2"
  rm -rf "$PROF" && mkdir -p "$PROF"
}

now() { date +%s%N; }
