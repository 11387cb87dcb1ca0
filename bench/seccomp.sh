#!/usr/bin/env bash
# The cost of the default seccomp profile (bench/seccomp.ts): a syscall-heavy workload in containers
# under tsstack-runtime and runc, unconfined and with the default profile, and under Docker with and
# without its own default profile as the reference (when Debian's docker.io is installed).
#   Usage: bench/seccomp.sh [rounds]   (root; runs inside a network + mount namespace of its own,
#   where it starts its own dockerd with its own data root and socket, and stops it at the end)
set -euo pipefail
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
if [ -z "${TSSTACK_BENCH_INNER:-}" ]; then
  npm run build >/dev/null
  exec env TSSTACK_BENCH_INNER=1 unshare --net --mount --propagation private -- "$self" "$@"
fi
ip link set lo up

work=$(mktemp -d /tmp/tsstack-bench-seccomp.XXXXXX)
dockerd_pid=
cleanup() {
  set +e
  if [ -n "$dockerd_pid" ]; then
    # dockerd stops its containerd first; under load that takes a while
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    local ctd
    ctd=$(cat "$work/exec/containerd/containerd.pid" 2>/dev/null || true)
    for _ in $(seq 100); do [ -n "$ctd" ] && kill -0 "$ctd" 2>/dev/null || break; sleep 0.2; done
  fi
  grep -o " $work/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  for _ in 1 2 3; do rm -rf "$work" 2>/dev/null && break; sleep 1; done
}
trap cleanup EXIT
mkdir -p "$work/bench"
gcc -static -O2 -o "$work/bench/workload" bench/seccomp-workload.c

if command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; then
  export DOCKER_HOST="unix://$work/docker.sock"
  # no bridge, no iptables: the containers run with --network none
  setsid dockerd --data-root "$work/docker" --exec-root "$work/exec" -H "$DOCKER_HOST" --pidfile "$work/docker.pid" \
    --bridge=none --iptables=false --ip-masq=false >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 100); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.3; done
  mkdir -p "$work/rootfs/bin" "$work/rootfs/bench"
  cp /bin/busybox "$work/rootfs/bin/busybox" && ln -s busybox "$work/rootfs/bin/sh"
  cp "$work/bench/workload" "$work/rootfs/bench/workload"
  tar -C "$work/rootfs" -c . | /usr/bin/docker import - tsstack-bench/seccomp:1 >/dev/null
  export TSSTACK_BENCH_DOCKER_IMAGE=tsstack-bench/seccomp:1
else
  echo "dockerd not installed: Docker's reference is left out (apt-get install docker.io)" >&2
fi
node dist/bench/seccomp.js "$work/bench/workload" "${1:-11}"
