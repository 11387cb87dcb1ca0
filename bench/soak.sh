#!/usr/bin/env bash
# Soak: N cycles of `up -d` / `down -v` of a 5-service stack on two networks
# (a published port, a named volume, a tmpfs, a healthcheck, DNS lookups), and
# after every step a sample of what a leak would grow: mounts, links, cgroups,
# nft rules, socket programs, processes; fds and RSS of every long-lived process
# (tsstack-dns, monitors and their guards), processes left in containers' cgroups; files and bytes under the engine root
# and the run directory. Prints each figure's growth per 100 cycles (least-squares
# slope after the warm-up cycles; target: zero) and the time per cycle.
#   Usage: bench/soak.sh [CYCLES=200] [WARMUP=3]     (as root, after `npm run build`)
#   TSSTACK_SOAK_RESIDENT=1   another stack stays up throughout (the DNS server then lives across cycles)
#   TSSTACK_SOAK_KEEP=1   keep the work directory (samples in $WORK/samples.tsv);
#   bench/soak.sh --report SAMPLES.tsv [WARMUP]   the figures of a kept or stopped run
# Runs in a network + mount namespace and a cgroup of its own, never the host's.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/cgroup.sh
HEADER="mounts links cgroups ctr_procs nft_lines sock_progs procs dns_fds dns_rss_kb mon_n mon_fds mon_rss_kb root_files root_kb run_files run_kb"
# report SAMPLES WARMUP SECONDS: growth per 100 cycles (least-squares slope over the cycles after
# WARMUP, per phase) and the time per cycle.
report() {
  awk -F'\t' -v warm="$2" -v secs="$3" -v h="$HEADER" '
    NR == 1 { next }
    $1 == "base" { for (i = 5; i <= NF; i++) base[i] = $i; next }
    {
      p = $1; c = $2
      if (p == "up") { ups[++nu] = $3; downs[nu] = $4; cyc[nu] = $3 + $4 }
      if (c <= warm) next
      n[p]++; sx[p] += c; sxx[p] += c * c
      for (i = 5; i <= NF; i++) {
        sy[p, i] += $i; sxy[p, i] += c * $i
        if (!((p, i) in first)) first[p, i] = $i
        last[p, i] = $i
      }
      nf = NF
    }
    function median(a, m,   i, j, t, b) {
      for (i = 1; i <= m; i++) b[i] = a[i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
      return m % 2 ? b[(m + 1) / 2] : (b[m / 2] + b[m / 2 + 1]) / 2
    }
    END {
      split(h, k, " ")
      printf "%-12s %26s %26s %10s\n", "figure", "after down (per 100)", "after up (per 100)", "baseline"
      for (i = 5; i <= nf; i++) {
        line = sprintf("%-12s", k[i - 4])
        for (q = 1; q <= 2; q++) {
          p = q == 1 ? "down" : "up"
          d = n[p] * sxx[p] - sx[p] * sx[p]
          s = d ? (n[p] * sxy[p, i] - sx[p] * sy[p, i]) / d * 100 : 0
          line = line sprintf(" %10s → %-6s %+8.1f", first[p, i], last[p, i], s)
        }
        print line sprintf(" %10s", base[i])
      }
      printf "\ntime per cycle (median of %d): up -d %d ms, down -v %d ms, cycle %d ms", nu, median(ups, nu), median(downs, nu), median(cyc, nu)
      print secs ? sprintf(" (%.1f s with sampling)", secs / nu) : ""
    }' "$1"
}
if [[ ${1:-} == --report ]]; then # bench/soak.sh --report SAMPLES.tsv [WARMUP]: the figures of a kept (or stopped) run
  report "$2" "${3:-3}" 0
  exit
fi
# Containers' cgroups are made below the caller's cgroup, and published ports attach
# socket programs to TSSTACK_SOCKET_LB_CGROUP: both go to this run's own cgroup.
if [[ "${TSSTACK_SOAK_INNER:-}" != 1 ]]; then
  cg=$(private_cgroup tsstack-soak)
  trap 'remove_cgroup "$cg"' EXIT
  TSSTACK_SOAK_INNER=1 TSSTACK_SOAK_CGROUP=$cg unshare --net --mount --propagation private -- bash "$0" "$@"
  exit
fi
CYCLES=${1:-200}
WARMUP=${2:-3}
REPO=$PWD
ip link set lo up
cg=${TSSTACK_SOAK_CGROUP:-}
[[ -n $cg ]] && echo $$ > "$cg/cgroup.procs"
export TSSTACK_SOCKET_LB_CGROUP=${cg:-off}

WORK=$(mktemp -d /tmp/tsstack-soak.XXXXXX)
chmod 755 "$WORK"
export TSSTACK_ROOT=$WORK/root TSSTACK_RUN_ROOT=$WORK/run
T=(node "$REPO/bin/tsstack.js" -f "$WORK/stack/stack.yaml" -p soak)
K=(node "$REPO/bin/tsstack.js" -f "$WORK/keep/stack.yaml" -p keep)
cleanup() {
  "${T[@]}" down -v -t 1 >/dev/null 2>&1 || true
  [[ -f $WORK/keep/stack.yaml ]] && "${K[@]}" down -v -t 1 >/dev/null 2>&1 || true
  # the cgroup parent's own directories (the engine removes only its containers')
  [[ -n ${CGPARENT:-} ]] && find /sys/fs/cgroup -maxdepth 12 -depth -type d \( -path "*/$CGPARENT" -o -path "*/$CGPARENT/*" \) -exec rmdir {} + 2>/dev/null || true
  [[ ${TSSTACK_SOAK_KEEP:-} == 1 ]] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

node --input-type=module -e "const { makeBusyboxRootfs } = await import('$REPO/dist/test/helpers/rootfs.js'); makeBusyboxRootfs('$WORK/bb');"
node "$REPO/bin/tsstack.js" image import "$WORK/bb" busybox:latest >/dev/null
rm -rf "$WORK/bb"
mkdir -p "$WORK/stack"
cat > "$WORK/stack/stack.yaml" <<'EOF'
services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80", "-h", "/"]
    ports: ["127.0.0.1:18080:80"]
    networks: [front]
    stop_signal: SIGKILL
    cgroup_parent: CGPARENT
  app:
    image: busybox:latest
    command: ["sleep", "1000000"]
    networks: [front, back]
    volumes: [data:/data]
    depends_on: [db]
    stop_signal: SIGKILL
    cgroup_parent: CGPARENT
  db:
    image: busybox:latest
    command: ["sleep", "1000000"]
    networks: [back]
    healthcheck: { test: ["CMD", "true"], interval: 1s }
    stop_signal: SIGKILL
    cgroup_parent: CGPARENT
  worker:
    image: busybox:latest
    command: ["sh", "-c", "while :; do nslookup db >/dev/null 2>&1; sleep 1; done"]
    networks: [back]
    stop_signal: SIGKILL
    cgroup_parent: CGPARENT
  cache:
    image: busybox:latest
    command: ["sleep", "1000000"]
    networks: [back]
    tmpfs: [/tmp]
    stop_signal: SIGKILL
    cgroup_parent: CGPARENT
networks:
  front: {}
  back: {}
volumes:
  data: {}
EOF
# A cgroup parent of this run's own: its containers' cgroups are counted wherever the host keeps them (v1 or v2).
CGPARENT=tsstack-soak-ctr-$$
sed -i "s/CGPARENT/$CGPARENT/" "$WORK/stack/stack.yaml"

now() { date +%s%N; }
# Processes in this run's cgroup but the script's own tools: pid and name.
TOOLS=" bash node find cat ls awk wc du sort ip nft grep tr cut date "
long_lived() {
  local pid comm
  [[ -n $cg ]] || return 0
  for pid in $(find "$cg" -name cgroup.procs -exec cat {} +); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    [[ $TOOLS == *" $comm "* ]] && continue
    echo "$pid $comm"
  done
}
# One sample, tab-separated in HEADER's order.
sample() {
  local mounts links cgs cprocs nft progs procs=0 dfd=0 drss=0 mn=0 mfd=0 mrss=0 pid comm fds rss
  mounts=$(wc -l < /proc/self/mountinfo)
  links=$(ip -o link show | wc -l)
  cgs=$(find /sys/fs/cgroup -maxdepth 12 -type d \( -path "*/$CGPARENT" -o -path "*/$CGPARENT/*" \) 2>/dev/null | wc -l)
  cprocs=$(find /sys/fs/cgroup -maxdepth 12 \( -path "*/$CGPARENT" -o -path "*/$CGPARENT/*" \) -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | wc -l)
  nft=$(nft list ruleset 2>/dev/null | wc -l)
  progs=0; [[ -n $cg ]] && progs=$(node scripts/lib/socket-lb-left.mjs "$cg" 2>/dev/null || echo 0)
  while read -r pid comm; do
    [[ -n $pid ]] || continue
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    procs=$((procs + 1))
    case $comm in
      tsstack-dns) dfd=$((dfd + fds)); drss=$((drss + ${rss:-0})) ;;
      tsstack-mon|tsstack-guard) mn=$((mn + 1)); mfd=$((mfd + fds)); mrss=$((mrss + ${rss:-0})) ;;
    esac
  done < <(long_lived)
  local out=("$mounts" "$links" "$cgs" "$cprocs" "$nft" "$progs" "$procs" "$dfd" "$drss" "$mn" "$mfd" "$mrss"
    "$(find "$TSSTACK_ROOT" -xdev 2>/dev/null | wc -l)" "$(du -sk "$TSSTACK_ROOT" 2>/dev/null | cut -f1)"
    "$(find "$TSSTACK_RUN_ROOT" -xdev 2>/dev/null | wc -l)" "$(du -sk "$TSSTACK_RUN_ROOT" 2>/dev/null | cut -f1)")
  (IFS=$'\t'; echo "${out[*]}")
}

# With TSSTACK_SOAK_RESIDENT=1 a one-service stack of another project stays up throughout, so the DNS
# server lives across the cycles (else it stops with the last network) and its own leaks show.
if [[ ${TSSTACK_SOAK_RESIDENT:-} == 1 ]]; then
  mkdir -p "$WORK/keep"
  printf 'services:\n  idle:\n    image: busybox:latest\n    command: ["sleep", "1000000"]\n    stop_signal: SIGKILL\n    cgroup_parent: %s\n' "$CGPARENT" > "$WORK/keep/stack.yaml"
  "${K[@]}" up -d >/dev/null 2>"$WORK/up.err" || { echo "the resident stack did not come up:"; cat "$WORK/up.err"; exit 1; }
fi
echo "soak: $CYCLES cycles of up -d / down -v, 5 services on two networks${TSSTACK_SOAK_RESIDENT:+, beside a resident stack}; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'phase\tcycle\tup_ms\tdown_ms\t%s\n' "$(tr ' ' '\t' <<< "$HEADER")" > "$WORK/samples.tsv"
printf 'base\t0\t0\t0\t%s\n' "$(sample)" >> "$WORK/samples.tsv"
started=$(now)
for ((c = 1; c <= CYCLES; c++)); do
  t0=$(now)
  "${T[@]}" up -d >/dev/null 2>"$WORK/up.err" || { echo "cycle $c: up -d failed:"; cat "$WORK/up.err"; exit 1; }
  t1=$(now)
  su=$(sample)
  t2=$(now)
  "${T[@]}" down -v -t 1 >/dev/null 2>"$WORK/down.err" || { echo "cycle $c: down -v failed:"; cat "$WORK/down.err"; exit 1; }
  t3=$(now)
  sd=$(sample)
  up_ms=$(((t1 - t0) / 1000000)); down_ms=$(((t3 - t2) / 1000000))
  printf 'up\t%d\t%d\t%d\t%s\n' "$c" "$up_ms" "$down_ms" "$su" >> "$WORK/samples.tsv"
  printf 'down\t%d\t%d\t%d\t%s\n' "$c" "$up_ms" "$down_ms" "$sd" >> "$WORK/samples.tsv"
  if ((c % 10 == 0)); then
    echo "cycle $c: up ${up_ms} ms, down ${down_ms} ms; after down: $(awk -F'\t' -v h="$HEADER" 'END { n = split(h, k, " "); for (i = 1; i <= n; i++) if ($(i + 4) != "") printf "%s=%s ", k[i], $(i + 4) }' "$WORK/samples.tsv")"
  fi
done
total_s=$(( ($(now) - started) / 1000000000 ))

echo
echo "after $CYCLES cycles ($total_s s; load $(cut -d' ' -f1-3 /proc/loadavg)); growth per 100 cycles (target 0), first → last sample:"
report "$WORK/samples.tsv" "$WARMUP" "$total_s"
echo "samples: the up/down rows of $WORK/samples.tsv (TSSTACK_SOAK_KEEP=1 keeps it)"
