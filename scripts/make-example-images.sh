#!/usr/bin/env bash
# Makes the images the examples use, from Debian packages on this machine (no
# registry needed), and imports them into tsstack's store:
#   tsstack.local/busybox:latest  from busybox-static
#   tsstack.local/redis:7         from Debian's redis-server + redis-tools + busybox, via mmdebstrap
# Already present images are kept. Usage: scripts/make-example-images.sh [tsstack global flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
tsstack=(node bin/tsstack.js "$@")
cache=${TSSTACK_IMAGE_CACHE:-/var/cache/tsstack/example-images}
mkdir -p "$cache"

have() { "${tsstack[@]}" image inspect "$1" >/dev/null 2>&1; }

if ! have tsstack.local/busybox:latest; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  mkdir -p "$work"/{bin,etc,tmp,root,proc,sys,dev,www}
  cp /bin/busybox "$work/bin/busybox"
  for a in $(/bin/busybox --list); do [[ $a == busybox ]] || ln -sf busybox "$work/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$work/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/etc/group"
  chmod 1777 "$work/tmp"
  tar -C "$work" -cf "$cache/busybox.tar" .
  "${tsstack[@]}" image import --change 'CMD ["sh"]' "$cache/busybox.tar" tsstack.local/busybox:latest
fi

if ! have tsstack.local/redis:7; then
  if [[ ! -s $cache/redis.tar ]]; then
    echo "making a Debian root filesystem with Redis (mmdebstrap, ~30 s)…"
    mmdebstrap --quiet --variant=essential --include=redis-server,redis-tools,busybox \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      bookworm "$cache/redis.tar.tmp"
    mv "$cache/redis.tar.tmp" "$cache/redis.tar"
  fi
  "${tsstack[@]}" image import --change 'CMD ["redis-server", "--protected-mode", "no"]' \
    --change 'EXPOSE 6379' "$cache/redis.tar" tsstack.local/redis:7
fi
echo "example images ready: tsstack.local/busybox:latest tsstack.local/redis:7"
