#!/usr/bin/env bash
# Makes the images the examples use, from Debian packages on this machine (no
# registry needed), and adds them to tsstack's image store:
#   tsstack.local/busybox:latest  from busybox-static
#   tsstack.local/redis:7         from Debian's redis-server + redis-tools + busybox, via mmdebstrap
# Images already present are kept, so running it again is quick.
#
#   scripts/make-example-images.sh [tsstack global flags…]   (e.g. --root DIR)
#   scripts/make-example-images.sh --rootfs-only   only make the cached root filesystem tars
#                             (needs the Debian mirror; the rest works offline)
#   TSSTACK_IMAGE_CACHE=DIR   where the root filesystem tars are kept (default /var/cache/tsstack/example-images);
#                             the Redis one is made once (~1 min, downloads ~40 MB of .debs) and reused.
#   TSSTACK_EXAMPLE_IMAGES="busybox redis"   which images to make (default both).
#
# Each image is a root filesystem imported as one layer, with its image config
# (PATH, CMD, EXPOSE) given by `tsstack image import --change` (like `docker import -c`).
set -euo pipefail
cd "$(dirname "$0")/.."
rootfs_only=0
[[ ${1:-} == --rootfs-only ]] && { rootfs_only=1; shift; }
tsstack=(node "$PWD/bin/tsstack.js" "$@")
cache=${TSSTACK_IMAGE_CACHE:-/var/cache/tsstack/example-images}
wanted=" ${TSSTACK_EXAMPLE_IMAGES:-busybox redis} "
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

redis_rootfs() {
  [[ -s $cache/redis.tar ]] && return 0
  echo "making a Debian root filesystem with Redis (mmdebstrap, about a minute)…" >&2
  # --format=tar: the output name alone would not say tar (mmdebstrap guesses from the extension).
  mmdebstrap --quiet --format=tar --variant=essential --include=redis-server,redis-tools,busybox \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$cache/redis.tar.$$"
  mv "$cache/redis.tar.$$" "$cache/redis.tar"
}
if ((rootfs_only)); then
  [[ $wanted == *" redis "* ]] && redis_rootfs
  exit 0
fi

have() { "${tsstack[@]}" image inspect "$1" >/dev/null 2>&1; }

path_env=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')

if [[ $wanted == *" busybox "* ]] && ! have tsstack.local/busybox:latest; then
  rootfs="$work/busybox"
  mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev,www}
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$rootfs/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$work/busybox.tar" .
  "${tsstack[@]}" image import "${path_env[@]}" --change 'CMD ["sh"]' "$work/busybox.tar" tsstack.local/busybox:latest >/dev/null
fi

if [[ $wanted == *" redis "* ]] && ! have tsstack.local/redis:7; then
  redis_rootfs
  "${tsstack[@]}" image import "${path_env[@]}" --change 'EXPOSE 6379' \
    --change 'CMD ["redis-server", "--protected-mode", "no"]' "$cache/redis.tar" tsstack.local/redis:7 >/dev/null
fi
echo "example images ready:$(for i in $wanted; do printf ' tsstack.local/%s' "$i"; done)" >&2
