// After interpolation, a key whose value came out as the empty string and for
// which an empty string means nothing (`platform: ${DOCKER_PLATFORM:-}`) is
// dropped, as if it were not written — what Compose does — instead of failing
// validation as "not os/arch". Keys where "" does mean something stay: an empty
// `entrypoint` or `command` clears the image's, an empty `user`, `working_dir`
// or `hostname` is passed on as Compose passes it.

/** Paths (`*` = any one key) whose empty-string value is the same as no value. */
const OMIT_WHEN_EMPTY: string[][] = [
  ...[
    'platform', 'container_name', 'restart', 'pull_policy', 'stop_signal', 'stop_grace_period',
    'mem_limit', 'memswap_limit', 'mem_reservation', 'mem_swappiness', 'shm_size',
    'cpus', 'cpu_shares', 'cpu_quota', 'cpu_period', 'cpu_rt_runtime', 'cpu_rt_period', 'cpuset', 'cpu_count', 'cpu_percent',
    'pids_limit', 'oom_score_adj', 'cgroup', 'cgroup_parent', 'scale', 'network_mode', 'ipc', 'pid', 'uts',
    'userns_mode', 'runtime', 'mac_address', 'init', 'read_only', 'privileged', 'tty', 'stdin_open', 'oom_kill_disable',
  ].map((k) => ['services', '*', k]),
  ...['interval', 'timeout', 'start_period', 'start_interval', 'retries', 'disable'].map((k) => ['services', '*', 'healthcheck', k]),
  ...['replicas', 'mode'].map((k) => ['services', '*', 'deploy', k]),
  ...['cpus', 'memory', 'pids'].flatMap((k) => [['services', '*', 'deploy', 'resources', 'limits', k], ['services', '*', 'deploy', 'resources', 'reservations', k]]),
  ...['target', 'dockerfile', 'network', 'shm_size'].map((k) => ['services', '*', 'build', k]),
  ['services', '*', 'logging', 'driver'],
];

function dropAt(node: unknown, path: string[]): void {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
  const o = node as Record<string, unknown>;
  const [head, ...rest] = path;
  const keys = head === '*' ? Object.keys(o) : head! in o ? [head!] : [];
  for (const k of keys) {
    if (rest.length) dropAt(o[k], rest);
    else if (o[k] === '') delete o[k];
  }
}

/** Removes, in place, every key of the table whose interpolated value is "". */
export function omitEmpty(doc: unknown): void {
  for (const p of OMIT_WHEN_EMPTY) dropAt(doc, p);
}
