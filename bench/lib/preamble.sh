# The start the side-by-side benchmarks share (compare.sh, rootless.sh): sourced, not run.

# bench_args NAME ARGS…: QUICK=1 with --quick; --inside (the script's second stage) passes; anything else
# is a usage error
bench_args() {
  local name=$1 a; shift
  QUICK=0
  for a in "$@"; do
    case $a in
      --quick) QUICK=1 ;;
      --inside) ;;
      *) echo "usage: bench/$name [--quick]" >&2; exit 2 ;;
    esac
  done
}

# bench_require NAME [WHY]: root, and a build of this checkout
bench_require() {
  [[ $(id -u) == 0 ]] || { echo "bench/$1: run as root${2:+ ($2)}" >&2; exit 8; }
  [[ -f dist/src/cli/main.js && -x native/bin/tsstack-monitor ]] || { echo "bench/$1: build first (npm run build)" >&2; exit 8; }
  # a bundle older than dist/src (tsc run, the bundle not rebuilt) makes the launcher load dist/src's
  # modules instead, 20-90 ms more per command: what would be measured is not what is installed
  TSSTACK_DEBUG_STARTUP=1 TSSTACK_CODE_CACHE_DIR=off node bin/tsstack.js version 2>&1 >/dev/null | grep -q '^startup: bundle ' \
    || { echo "bench/$1: the CLI would not start from its bundle (older than dist/src?): build first (npm run build)" >&2; exit 8; }
}

# bench_install PACKAGE…: installs them from Debian (once more after an apt-get update if that fails)
bench_install() {
  (($#)) || return 0
  echo "installing from Debian: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

# bench_missing: the packages of the associative array `need` (command → package) whose command is missing
bench_missing() {
  local c
  for c in "${!need[@]}"; do command -v "$c" >/dev/null || echo "${need[$c]}"; done
}
