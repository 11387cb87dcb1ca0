# Sourced by scripts/test.sh and bench/*.sh: a cgroup v2 directory of their own
# for tsstack's socket-level translation (src/engine/network/socket-lb.ts), so a
# test or bench run attaches its programs there and never to the host's root
# cgroup, where the product puts them by default.

# The root of the cgroup2 mount (/sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified
# on a hybrid one); empty when there is none.
cgroup2_root() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2" && $4 == "/") { print $5; exit } break } }' /proc/self/mountinfo
}

# private_cgroup NAME: makes <root>/NAME-<pid> and prints it (nothing when there is no cgroup2).
private_cgroup() {
  local root; root=$(cgroup2_root)
  [ -n "$root" ] || return 0
  mkdir -p "$root/$1-$$" && echo "$root/$1-$$"
}

# remove_cgroup DIR: removes it once its processes are gone. Processes still in
# it were started by the run that made it (a leak to fix): they are named, then ended.
remove_cgroup() {
  local dir=$1 i pid
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  for i in $(seq 30); do rmdir "$dir" 2>/dev/null && return 0; sleep 0.1; done
  echo "warning: processes left in $dir:" >&2
  for pid in $(cat "$dir/cgroup.procs"); do echo "  $pid $(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null)" >&2; kill -KILL "$pid" 2>/dev/null; done
  for i in $(seq 30); do rmdir "$dir" 2>/dev/null && return 0; sleep 0.1; done
  echo "warning: could not remove $dir" >&2
}
