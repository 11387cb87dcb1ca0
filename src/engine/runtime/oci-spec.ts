// The OCI runtime `config.json` for a container (runtime-spec 1.0.2), with
// Docker's defaults: capability set, masked and read-only /proc and /sys
// paths, the standard mounts, device cgroup rules. Pure: the caller resolves
// the user and the host paths of binds, volumes and the /etc files.

import type { Bytes } from '../../model/types.js';
import type { ContainerCreateSpec } from '../api.js';
import type { ResolvedUser } from './users.js';
import { deviceAllowRules, ociDevices, type DeviceRule, type OciDevice } from './devices.js';
import { defaultSeccomp } from './seccomp-profile.js';
import { byCodeUnits } from '../../util/compare.js';

export const OCI_VERSION = '1.0.2';

/** Docker's default capabilities (moby `oci/caps/defaults.go`). */
export const DEFAULT_CAPS = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

/** Every capability Linux knows (to 6.x), for `privileged` and `cap_add: [ALL]`. */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Docker's (moby `oci/defaults.go`), `/proc/interrupts` included; host-dependent ones come as `extraMaskedPaths`. */
export const DEFAULT_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

export interface OciMountInput {
  type: 'bind' | 'tmpfs';
  /** Host path (bind; volumes are binds of their mountpoint). */
  source?: string;
  target: string;
  readOnly?: boolean;
  propagation?: string;
  size?: Bytes;
  mode?: number;
  /** tmpfs: owner of its root, inode limit, and mount flags applied after the defaults (`exec` lifts `noexec`). */
  uid?: number;
  gid?: number;
  nrInodes?: number;
  flags?: string[];
}

/**
 * Create-request fields the OCI config takes as they are (same name, same meaning): the caller copies them
 * with `pick(spec, OCI_AS_IS)`, so a new one is declared here and in api.ts, and nowhere between.
 */
export const OCI_AS_IS = ['args', 'env', 'cwd', 'domainname', 'tty', 'readOnlyRoot', 'privileged', 'capAdd', 'capDrop', 'sysctls', 'ulimits'] as const;

export interface OciSpecInput extends Partial<Pick<ContainerCreateSpec, (typeof OCI_AS_IS)[number]>> {
  /** Absolute path of the merged root filesystem. */
  rootfs: string;
  args: string[];
  env: string[];
  user: ResolvedUser;
  hostname?: string;
  /** What "every capability" means here (`privileged`, `cap_add: [ALL]`): the capabilities this host can
   *  grant, i.e. the caller's bounding set (hostCaps()). Unset: every capability Linux knows. */
  hostCaps?: readonly string[];
  /** Docker's default is false (setuid binaries keep working). */
  noNewPrivileges?: boolean;
  mounts?: OciMountInput[];
  /** Host files bind-mounted at /etc/resolv.conf, /etc/hosts, /etc/hostname. */
  etcFiles?: { resolvConf?: string; hosts?: string; hostname?: string };
  /** `{ path }` joins a pinned namespace; 'host' shares the host's; 'new' (default) makes an empty one. */
  network?: { path: string } | 'host' | 'new';
  /** The same for the pid, ipc and uts namespaces (uts cannot be joined: 'host' leaves hostname/domainname unset). */
  pid?: NamespaceChoice;
  ipc?: NamespaceChoice;
  uts?: 'host' | 'new';
  /** OCI `linux.seccomp` (see seccomp-profile.ts); absent = no filter. */
  seccomp?: Record<string, unknown>;
  resources?: { memory?: Bytes; memorySwap?: Bytes; cpus?: number; cpuShares?: number; cpuset?: string; pids?: number; shmSize?: Bytes; oomScoreAdj?: number; cpuQuota?: number; cpuPeriod?: number; memoryReservation?: Bytes };
  /** e.g. `tsstack/<id>`: relative, so the runtime places it under its own cgroup. */
  cgroupsPath?: string;
  /** Added to the ones from `user` resolution (HOME when the image sets none). */
  annotations?: Record<string, string>;
  /** Host device nodes to make in the container (devices.ts hostDevices()), each allowed with its access. */
  devices?: OciDevice[];
  /** Extra allow rules of the device cgroup (compose `device_cgroup_rules`). */
  deviceRules?: DeviceRule[];
  /** Masked too, unless privileged: paths that exist on some hosts only (host-masks.ts). */
  extraMaskedPaths?: string[];
  /** Host path of tsstack-init (`init: true`): bind-mounted read-only at INIT_PATH and run as PID 1 in front of `args`. */
  init?: string;
}

/** Where the init is mounted in the container (on the runtime's /dev tmpfs, so it works with a read-only root and any image). */
export const INIT_PATH = '/dev/init';

export type OciSpec = Record<string, unknown>;

export type NamespaceChoice = { path: string } | 'host' | 'new';

/** linux.namespaces: a new one per kind, a joined one by path, none of a kind shared with the host. */
export function ociNamespaces(choice: { pid?: NamespaceChoice; ipc?: NamespaceChoice; uts?: NamespaceChoice; network?: NamespaceChoice }): { type: string; path?: string }[] {
  const out: { type: string; path?: string }[] = [];
  const add = (type: string, c: NamespaceChoice = 'new') => {
    if (c === 'new') out.push({ type });
    else if (c !== 'host') out.push({ type, path: c.path });
  };
  add('pid', choice.pid);
  add('ipc', choice.ipc);
  add('uts', choice.uts);
  out.push({ type: 'mount' }, { type: 'cgroup' });
  add('network', choice.network);
  return out;
}

function capName(c: string): string {
  const u = c.trim().toUpperCase();
  return u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/**
 * Docker's rule: start from the default set (all if privileged), add cap_add, then remove cap_drop; `ALL`
 * works on both sides. "All" is `all` (default: every capability Linux knows): pass the host's bounding
 * set, as Podman does, so a privileged container starts where the caller lacks some capability (a
 * container host, a CI sandbox) instead of failing to set one it can never have.
 */
export function effectiveCaps(privileged: boolean | undefined, add: string[] = [], drop: string[] = [], all: readonly string[] = ALL_CAPS): string[] {
  if (privileged) return [...all].sort();
  const set = new Set(DEFAULT_CAPS);
  const adds = add.map(capName), drops = drop.map(capName);
  if (drops.includes('CAP_ALL')) set.clear();
  if (adds.includes('CAP_ALL')) for (const c of all) set.add(c);
  for (const c of adds) if (c !== 'CAP_ALL') set.add(c);
  for (const c of drops) if (c !== 'CAP_ALL') set.delete(c);
  return [...set].sort();
}

/** The capabilities set in a /proc/PID/status mask (`CapBnd:	000001fffeffffff`); ALL_CAPS is in bit order. */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return ALL_CAPS.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

export function rlimitType(name: string): string | undefined {
  return RLIMITS[name.toLowerCase()] ?? (name.toUpperCase().startsWith('RLIMIT_') && Object.values(RLIMITS).includes(name.toUpperCase()) ? name.toUpperCase() : undefined);
}

function defaultMounts(shmSize: Bytes, privileged: boolean): { destination: string; type: string; source: string; options: string[] }[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] },
  ];
}

/** Docker's device cgroup: deny all, then the standard character devices and mknod of anything. */
function deviceRules(privileged: boolean): object[] {
  if (privileged) return [{ allow: true, access: 'rwm' }];
  const c = (major: number, minor?: number) => ({ allow: true, type: 'c', major, ...(minor === undefined ? {} : { minor }), access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', access: 'm' },
    { allow: true, type: 'b', access: 'm' },
    // null, zero, full, random, urandom, tty, console, ptmx, every pts, tun
    c(1, 3), c(1, 5), c(1, 7), c(1, 8), c(1, 9), c(5, 0), c(5, 1), c(5, 2), c(136), c(10, 200),
  ];
}

function userMount(m: OciMountInput): { destination: string; type: string; source: string; options: string[] } {
  if (m.type === 'tmpfs') {
    // Docker's defaults; the runtime applies flags in order, so what the stack wrote after them wins.
    const opts = ['nosuid', 'nodev', 'noexec', ...(m.flags ?? [])];
    if (m.size) opts.push(`size=${m.size}`);
    if (m.mode !== undefined) opts.push(`mode=${m.mode.toString(8)}`);
    if (m.uid !== undefined) opts.push(`uid=${m.uid}`);
    if (m.gid !== undefined) opts.push(`gid=${m.gid}`);
    if (m.nrInodes !== undefined) opts.push(`nr_inodes=${m.nrInodes}`);
    if (m.readOnly) opts.push('ro');
    return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: opts };
  }
  const opts = ['rbind', m.propagation ? (m.propagation.startsWith('r') ? m.propagation : `r${m.propagation}`) : 'rprivate'];
  opts.push(m.readOnly ? 'ro' : 'rw');
  return { destination: m.target, type: 'bind', source: m.source ?? '', options: opts };
}

function hasEnv(env: string[], key: string): boolean {
  return env.some((e) => e.startsWith(`${key}=`));
}

/** The OCI config for a container. Output is deterministic (same input → same JSON once keys are sorted). */
export function buildOciSpec(input: OciSpecInput): OciSpec {
  const priv = !!input.privileged;
  const caps = effectiveCaps(priv, input.capAdd, input.capDrop, input.hostCaps);
  const env = [...input.env];
  if (!hasEnv(env, 'PATH')) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  if (!hasEnv(env, 'HOME')) env.push(`HOME=${input.user.home || '/'}`);
  if (input.tty && !hasEnv(env, 'TERM')) env.push('TERM=xterm');
  if (input.hostname && !hasEnv(env, 'HOSTNAME')) env.push(`HOSTNAME=${input.hostname}`);

  const process: Record<string, unknown> = {
    terminal: !!input.tty,
    user: { uid: input.user.uid, gid: input.user.gid, ...(input.user.additionalGids.length ? { additionalGids: input.user.additionalGids } : {}) },
    args: input.init ? [INIT_PATH, '--', ...input.args] : input.args,
    env,
    cwd: input.cwd || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [] as string[] },
    noNewPrivileges: !!input.noNewPrivileges,
  };
  const rl = Object.entries(input.ulimits ?? {})
    .map(([name, v]) => ({ type: rlimitType(name), soft: v.soft, hard: v.hard }))
    .filter((r): r is { type: string; soft: number; hard: number } => r.type !== undefined)
    .sort((a, b) => byCodeUnits(a.type, b.type));
  if (rl.length) process.rlimits = rl;
  if (input.resources?.oomScoreAdj !== undefined) process.oomScoreAdj = input.resources.oomScoreAdj;

  const mounts = defaultMounts(input.resources?.shmSize ?? DEFAULT_SHM_SIZE, priv);
  if (input.init) mounts.push({ destination: INIT_PATH, type: 'bind', source: input.init, options: ['bind', 'rprivate', 'ro', 'nosuid', 'nodev'] });
  const etc = input.etcFiles ?? {};
  for (const [dest, src] of [['/etc/resolv.conf', etc.resolvConf], ['/etc/hostname', etc.hostname], ['/etc/hosts', etc.hosts]] as const) {
    if (src) mounts.push({ destination: dest, type: 'bind', source: src, options: ['rbind', 'rprivate', 'rw'] });
  }
  // user mounts after the defaults, parents before children
  const user = [...(input.mounts ?? [])].sort((a, b) => a.target.split('/').length - b.target.split('/').length || byCodeUnits(a.target, b.target));
  for (const m of user) {
    const i = mounts.findIndex((x) => x.destination === m.target);
    if (i >= 0) mounts.splice(i, 1); // a user mount over /dev/shm etc. replaces the default
    mounts.push(userMount(m));
  }

  const namespaces = ociNamespaces(input);

  const r = input.resources ?? {};
  const resources: Record<string, unknown> = { devices: [...deviceRules(priv), ...deviceAllowRules(input.devices ?? [], input.deviceRules)] };
  const mem: Record<string, number> = {};
  if (r.memory) {
    mem.limit = r.memory;
    // compose `memswap_limit` is memory+swap; -1 = unlimited swap
    if (r.memorySwap !== undefined) mem.swap = r.memorySwap;
  }
  if (r.memoryReservation) mem.reservation = r.memoryReservation;
  if (Object.keys(mem).length) resources.memory = mem;
  const cpu: Record<string, unknown> = cfsQuota(r);
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.cpuset) cpu.cpus = r.cpuset;
  if (Object.keys(cpu).length) resources.cpu = cpu;
  if (r.pids) resources.pids = { limit: r.pids };

  const linux: Record<string, unknown> = { namespaces, resources };
  if (input.devices?.length) linux.devices = ociDevices(input.devices);
  if (input.cgroupsPath) linux.cgroupsPath = input.cgroupsPath;
  if (!priv) {
    linux.maskedPaths = [...DEFAULT_MASKED_PATHS, ...(input.extraMaskedPaths ?? [])];
    linux.readonlyPaths = DEFAULT_READONLY_PATHS;
  }
  if (input.sysctls && Object.keys(input.sysctls).length) linux.sysctl = sortKeys(input.sysctls);
  if (input.seccomp) linux.seccomp = input.seccomp;

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process,
    root: { path: input.rootfs, readonly: !!input.readOnlyRoot },
    mounts,
    linux,
  };
  // without a uts namespace of its own a container must not set the host's names
  if (input.hostname && input.uts !== 'host') spec.hostname = input.hostname;
  if (input.domainname && input.uts !== 'host') spec.domainname = input.domainname;
  if (input.annotations && Object.keys(input.annotations).length) spec.annotations = sortKeys(input.annotations);
  return spec;
}

/**
 * CFS bandwidth: `cpus` is quota/period with a 100 ms period; an explicit `cpuPeriod` replaces that period
 * (`cpus` then scales to it) and an explicit `cpuQuota` (> 0) replaces the quota. 0 or -1 = not set.
 */
export function cfsQuota(r: { cpus?: number; cpuQuota?: number; cpuPeriod?: number }): { period?: number; quota?: number } {
  const explicitPeriod = r.cpuPeriod !== undefined && r.cpuPeriod > 0;
  const period = explicitPeriod ? r.cpuPeriod! : 100000;
  const quota = r.cpuQuota !== undefined && r.cpuQuota > 0 ? r.cpuQuota : r.cpus ? Math.round(r.cpus * period) : undefined;
  if (quota !== undefined) return { period, quota };
  return explicitPeriod ? { period } : {};
}

/** For the image builder's RUN steps: a root-by-default process with the standard mounts and seccomp profile, no limits. */
export function buildRunStepSpec(opts: { rootfs: string; args: string[]; env: string[]; cwd?: string; user: ResolvedUser; network?: { path: string } | 'host' | 'new'; etcFiles?: OciSpecInput['etcFiles']; mounts?: OciMountInput[]; cgroupsPath?: string }): OciSpec {
  // Docker's builds run under the default seccomp profile too
  return buildOciSpec({ ...opts, hostname: 'tsstack-build', network: opts.network ?? 'host', seccomp: defaultSeccomp(effectiveCaps(false)) });
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => byCodeUnits(a, b)));
}

/** The `keys` of `o` (absent ones left out). */
export function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
