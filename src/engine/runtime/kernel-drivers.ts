// The real container drivers (drivers.ts): files, tsstack-monitor, the runtime binary, processes. Thin:
// the order of things and every decision stay in Containers.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { writeFileAtomic, writeJsonAtomicSync } from '../../util/fs-atomic.js';
import { rmdirQuiet } from '../../util/rmdir-quiet.js';
import { runHookProcess } from './lifecycle-hooks.js';
import { inContainer, isGuard, isMonitor, processAlive, readMonitorState, requestStop, sendControl, startMonitor, waitForExit } from './monitor-client.js';
import { RuntimeDriver } from './runtime-driver.js';
import type { AttachDriver, BundleDriver, ContainerDrivers, HooksDriver, MonitorDriver, RuntimeDrivers } from './drivers.js';

export const fileBundle: BundleDriver = {
  // Compact, in the order buildOciSpec made it (the same input gives the same text), as runc's and Docker's
  // bundles are: its keys sorted and indented, a config with the default seccomp profile was twice the size
  // (19 kB) and took ~0.5 ms a container to write in an `up`'s first creates, the runtime then parsing it all.
  // 0600: the environment may hold secrets.
  write: (bundleDir, config, opts) => writeFileAtomic(join(bundleDir, 'config.json'), JSON.stringify(config), 0o600, { durable: opts?.durable !== false }),
  read: (bundleDir) => JSON.parse(readFileSync(join(bundleDir, 'config.json'), 'utf8')) as Record<string, any>,
};

export const processMonitor: MonitorDriver = {
  start: startMonitor,
  state: readMonitorState,
  writeState: (statePath, st) => writeJsonAtomicSync(statePath, st),
  isMonitor,
  isGuard,
  processAlive,
  inContainer,
  control: (socketPath, line) => sendControl(socketPath, line),
  requestStop,
  waitForExit,
};

export const foregroundAttach: AttachDriver = {
  async run(o, onPid) {
    const child = spawn(o.runtime, ['--root', o.runtimeRoot, 'run', '--bundle', o.bundle, '--pid-file', o.pidFile, o.id], { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    const watchPid = setInterval(() => {
      try {
        const pid = Number(readFileSync(o.pidFile, 'utf8').trim());
        if (pid > 0) { onPid(pid); clearInterval(watchPid); }
      } catch { /* not written yet */ }
    }, 20);
    return new Promise<number>((resolve, reject) => {
      child.on('error', (e) => reject(new TsstackError('HOST', `cannot run ${o.runtime}: ${e.message}`, { cause: e })));
      child.on('close', (c, sig) => resolve(c ?? 128 + (sig ? osConstants.signals[sig] : 0)));
    }).finally(() => {
      clearInterval(watchPid);
      for (const [sig, h] of handlers) process.off(sig, h);
    });
  },
};

export const runtimeHooks: HooksDriver = { run: runHookProcess };

export const cliRuntime: RuntimeDrivers = {
  open: (binary, root) => new RuntimeDriver(binary, root),
  has: (root, id) => existsSync(join(root, id)),
  removeCgroup: (rel) => removeCgroupDirs(rel),
  placeInHybridLeaf: (rel, pid) => placeInHybridLeaf(rel, pid),
};

export const kernelContainerDrivers: ContainerDrivers = {
  bundle: fileBundle,
  monitor: processMonitor,
  attach: foregroundAttach,
  hooks: runtimeHooks,
  runtime: cliRuntime,
};

/** Best effort: the runtime removes the container's cgroups on delete; this catches what a crash left (empty dirs only). */
export function removeCgroupDirs(rel: string, mount = '/sys/fs/cgroup'): void {
  const dirs = new Set(cgroupBases(mount).map((b) => join(b, rel)));
  // (each rmdir without an exception when it fails, as most do: absent, or a parent still in use; rmdir-quiet.ts)
  for (const d of dirs) {
    rmdirQuiet(d);
    // The shared parent (`tsstack/`) goes with its last container, so nothing of ours stays in the
    // hierarchy; a runtime creating a sibling meanwhile retries its mkdir (tsstack-runtime does; for
    // runc and crun, Containers.start tries the start once more).
    if (rel.includes('/')) rmdirQuiet(dirname(d));
  }
}

/**
 * Where a container's cgroups may be under `mount`: each hierarchy's root and this process's own cgroup
 * in it (a relative cgroups path is under the runtime's, which is ours). Read once per process: a `down`
 * removes many containers, and a command's hierarchies and cgroup do not change while it runs; a
 * long-lived one (`up --watch`, `ui`) keeps its first list, which is enough for a best-effort cleanup.
 */
function cgroupBases(mount: string): string[] {
  const known = basesByMount.get(mount);
  if (known) return known;
  let ctrls: string[] = [];
  try { ctrls = readdirSync(mount); } catch { return []; }
  const self = (() => { try { return readFileSync('/proc/self/cgroup', 'utf8'); } catch { return ''; } })();
  const base: Record<string, string> = {};
  for (const line of self.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) for (const c of (m[1] || 'unified').split(',')) base[c.replace(/^name=/, '')] = m[2]!;
  }
  const out = new Set<string>();
  for (const c of ctrls) for (const p of ['/', base[c] ?? '/']) out.add(join(mount, c, p));
  if (existsSync(join(mount, 'cgroup.controllers'))) for (const p of ['/', base.unified ?? '/']) out.add(join(mount, p)); // pure v2
  basesByMount.set(mount, [...out]);
  return [...out];
}
const basesByMount = new Map<string, string[]>();

/**
 * On a hybrid host (v1 controllers, cgroup v2 beside them at `unified/`), runc makes a container's v2 leaf
 * best effort and says nothing when it cannot: when the shared parent (`tsstack/`) goes with another
 * engine root's last container between runc's mkdirs (removeCgroupDirs above), the container's init stays
 * in runc's own v2 cgroup, and every later `runc exec` into it fails on the missing leaf. This makes the
 * leaf runc meant (a relative path is under runc's own cgroup, which the init inherited) and moves the
 * init into it. Nothing happens on other hosts or when the init is where it belongs.
 */
export function placeInHybridLeaf(rel: string, pid: number, mount = '/sys/fs/cgroup'): void {
  const unified = join(mount, 'unified');
  if (!existsSync(join(unified, 'cgroup.procs'))) return;
  for (let attempt = 0; ; attempt++) {
    let now: string | undefined;
    try { now = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1]; } catch { return; } // gone: nothing to place
    if (now === undefined) return;
    const want = rel.startsWith('/') ? rel : join(now, rel);
    if (now === want || now.endsWith(`/${rel}`)) return;
    const leaf = join(unified, want);
    try {
      mkdirSync(leaf, { recursive: true });
      writeFileSync(join(leaf, 'cgroup.procs'), String(pid));
      return;
    } catch (e) {
      // the parent went again between the mkdir and the write: once more, then leave it as runc did
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 2) return;
    }
  }
}
