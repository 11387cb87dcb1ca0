#!/usr/bin/env bash
# Installs what tsstack needs on Debian (as root) and builds it. Idempotent.
#   scripts/setup.sh          runtime packages + npm packages + build
#   scripts/setup.sh --test   also the packages the test suite uses
#   scripts/setup.sh --examples  also what the examples need (mmdebstrap, redis-cli, curl)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libnftables1 nftables iproute2 busybox-static ca-certificates musl-tools)
case "${1:-}" in
  --test) pkgs+=(runc crun docker.io docker-registry skopeo redis-server redis-tools mmdebstrap util-linux curl strace python3 zstd chromium uidmap passt slirp4netns) ;;
  --examples) pkgs+=(mmdebstrap redis-tools curl) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "tsstack setup: run as root to install: ${missing[*]}" >&2; exit 1; fi
  echo "tsstack setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Do not start services that packages ship (redis, registry): tests start their own on loopback.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.tsstack
  had_policy=0; [[ -e /usr/sbin/policy-rc.d ]] && had_policy=1
  ((had_policy)) || cp /usr/sbin/policy-rc.d.tsstack /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ((had_policy)) || rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.tsstack
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
