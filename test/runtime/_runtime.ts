// Shared by the runtime tests: the runtimes to compare, OCI bundles on a busybox
// rootfs, running them, and the leftovers check (mounts, cgroups, state dirs).
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeBusyboxRootfs, makeTemp, rmTemp } from '../helpers/rootfs.js';
import { haveSchemas, validators } from './_schema.js';
import type { ExecutionContext } from 'ava';

export const TSSTACK_RUNTIME = resolve(process.cwd(), 'native/bin/tsstack-runtime');

export interface Runtime {
  name: 'tsstack-runtime' | 'runc' | 'crun';
  /** argv prefix that invokes the runtime (crun is wrapped, see below). */
  argv: string[];
  /** The binary itself, unwrapped. */
  bin: string;
  /** Why it cannot run here, when it cannot. */
  skip?: string;
}

function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** crun 1.8 refuses this hybrid host unless the v2 tree looks controller-less:
 * run it in a private mount namespace with unified/cgroup.controllers bound over
 * by an empty file, /dev/null (../shared/BENCH-NOTES.md). The host is untouched. */
function crunArgv(crun: string): string[] {
  if (!existsSync('/sys/fs/cgroup/unified/cgroup.controllers')) return [crun];
  return ['unshare', '-m', '--propagation', 'private', '--', 'sh', '-c',
    `mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec ${crun} "$@"`, 'crun'];
}

export function runtimes(): Runtime[] {
  const list: Runtime[] = [{ name: 'tsstack-runtime', argv: [TSSTACK_RUNTIME], bin: TSSTACK_RUNTIME, skip: existsSync(TSSTACK_RUNTIME) ? undefined : 'not built (node scripts/build-native.mjs)' }];
  const runc = which('runc');
  list.push({ name: 'runc', argv: runc ? [runc] : [], bin: runc ?? 'runc', skip: runc ? undefined : 'runc is not installed' });
  const crun = which('crun');
  list.push({ name: 'crun', argv: crun ? crunArgv(crun) : [], bin: crun ?? 'crun', skip: crun ? undefined : 'crun is not installed' });
  return list;
}

export interface Result { code: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }

/** Runs `<runtime> --root stateRoot args…` and waits. Verbs that leave a
 * container behind (create, run --detach) hand it their stdio, so their output
 * goes through files: a pipe would stay open as long as the container. */
export function rt(r: Runtime, stateRoot: string, args: string[], opts: { timeout?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Result {
  const [cmd, ...pre] = r.argv;
  const leaves = args[0] === 'create' || (args[0] === 'run' && (args.includes('--detach') || args.includes('-d')));
  if (leaves) {
    mkdirSync(stateRoot, { recursive: true });
    const outPath = join(stateRoot, `.out-${randomBytes(4).toString('hex')}`);
    const fd = openSync(outPath, 'w+');
    try {
      const res = spawnSync(cmd!, [...pre, '--root', stateRoot, ...args], { stdio: ['ignore', fd, fd], timeout: opts.timeout ?? 30_000, env: opts.env ?? process.env });
      const out = readFileSync(outPath, 'utf8');
      return { code: res.status, stdout: out, stderr: out, signal: res.signal };
    } finally {
      closeSync(fd);
      rmSync(outPath, { force: true });
    }
  }
  const res: SpawnSyncReturns<string> = spawnSync(cmd!, [...pre, '--root', stateRoot, ...args], {
    encoding: 'utf8', timeout: opts.timeout ?? 30_000, input: opts.input ?? '', env: opts.env ?? process.env,
  });
  return { code: res.status, stdout: res.stdout ?? '', stderr: res.stderr ?? '', signal: res.signal };
}

/** Async variant for runs that must overlap with other calls (kill while running). */
export function rtAsync(r: Runtime, stateRoot: string, args: string[], timeout = 30_000): Promise<Result> {
  const [cmd, ...pre] = r.argv;
  return new Promise((done) => {
    const child = execFile(cmd!, [...pre, '--root', stateRoot, ...args], { encoding: 'utf8', timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      done({ code, stdout, stderr, signal: (err as { signal?: NodeJS.Signals } | null)?.signal ?? null });
    });
    child.stdin?.end();
  });
}

/** A busybox rootfs shared by the bundles of one test file. */
export function sharedRootfs(base: string): string {
  const dir = join(base, 'rootfs');
  if (!existsSync(join(dir, 'bin/busybox'))) {
    mkdirSync(dir, { recursive: true });
    makeBusyboxRootfs(dir);
  }
  return dir;
}

export const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** A config.json like `runc spec` makes, for a command; patch adjusts it. */
export function baseConfig(rootfs: string, args: string[], cgroupsPath: string): Record<string, any> {
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS, ambient: DEFAULT_CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: false },
    hostname: 'box',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Writes <dir>/config.json. Every config a test writes must validate against
 * the runtime-spec schema (when ../shared is present), unless it is a
 * deliberately bad bundle. */
export function writeBundle(dir: string, config: Record<string, any>, opts: { invalid?: boolean } = {}): string {
  if (haveSchemas && !opts.invalid) {
    const v = validators().config(config);
    if (!v.ok) throw new Error(`test bundle ${dir} does not validate against config-schema.json: ${v.errors}`);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

export function uniqueId(prefix = 'c'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Paths of a cgroup named `rel` in every hierarchy that still holds it. */
export function cgroupLeftovers(rel: string): string[] {
  const base = '/sys/fs/cgroup';
  const found: string[] = [];
  const hier = existsSync(join(base, 'cgroup.controllers')) ? [''] : readdirSync(base);
  for (const h of hier) {
    const p = join(base, h, rel);
    if (existsSync(p)) found.push(p);
  }
  return found;
}

/** Mount points under `dir` in our mount namespace. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(dir));
}

export { makeTemp, rmTemp };

/** A bundle made for one runtime: where it is, its state root, id and cgroup. */
export interface Case { bundle: string; stateRoot: string; id: string; cg: string }

/** Bundles under `base` on a shared `rootfs`, and the check that nothing of one remains. */
export function caseKit(base: string, rootfs: string) {
  return {
    prepare(r: Runtime, args: string[], patch: (c: Record<string, any>) => void = () => {}): Case {
      const id = uniqueId(r.name.slice(0, 4));
      const cg = `/tsstack-rt-${id}`;
      const config = baseConfig(rootfs, args, cg);
      patch(config);
      return { bundle: writeBundle(join(base, id), config), stateRoot: join(base, `state-${id}`), id, cg };
    },
    /** Nothing of the container may remain: state, cgroups, mounts. */
    assertClean(t: ExecutionContext, c: Case): void {
      let left: string[] = [];
      try { left = readdirSync(c.stateRoot).filter((f) => !f.startsWith('.')); } catch { /* never made */ }
      t.deepEqual(left, [], 'no container state left');
      t.deepEqual(cgroupLeftovers(c.cg.slice(1)), [], 'no cgroup left');
      t.deepEqual(mountsUnder(base), [], 'no mount left');
    },
  };
}
