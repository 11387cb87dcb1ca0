// RUN steps: an OCI bundle over the step's mounted root, run to completion by
// an OCI runtime with the runc command line (`run --bundle DIR ID`).
//
// Network: the spec has no network namespace, so a RUN shares the network
// of the process running the build (like `docker build --network=host`);
// under the test suite that is the test's own namespace. The host's
// /etc/resolv.conf and /etc/hosts are bind-mounted read-only when the root
// already has those files (nothing is added to the layer for them).
//
// Runtime: $TSSTACK_BUILD_RUNTIME (a path or a name on $PATH), else
// native/bin/tsstack-runtime when built, else runc, else crun.

import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveInRoot } from './rootfs-fs.js';

export interface RunSpecInput {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  hostname?: string;
  /** Extra read-only binds (host file → container path). */
  binds?: { source: string; target: string }[];
}

/** Docker's default capability set. */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** A minimal OCI runtime config.json for a build step (no network namespace: host network). */
export function buildRunSpec(i: RunSpecInput): Record<string, unknown> {
  const caps = DEFAULT_CAPS;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: i.uid, gid: i.gid, ...(i.additionalGids.length ? { additionalGids: i.additionalGids } : {}) },
      args: i.args,
      env: i.env,
      cwd: i.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false,
    },
    root: { path: i.rootfs, readonly: false },
    hostname: i.hostname ?? 'tsstack-build',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      ...(i.binds ?? []).map((b) => ({ destination: b.target, type: 'bind', source: b.source, options: ['rbind', 'ro', 'nosuid', 'nodev'] })),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

const here = dirname(fileURLToPath(import.meta.url));

function onPath(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The runtime binary for RUN steps (see the header). */
export function buildRuntime(): string {
  const env = process.env.TSSTACK_BUILD_RUNTIME;
  if (env) return env.includes('/') ? env : onPath(env) ?? env;
  // dist/src/engine/image/build → repo root is five levels up; src/… when run from sources is four.
  for (const up of ['../../../../..', '../../../..']) {
    const p = resolve(here, up, 'native/bin/tsstack-runtime');
    if (existsSync(p)) return p;
  }
  return onPath('runc') ?? onPath('crun') ?? 'runc';
}

export interface RunResult { exitCode: number; output: string }

/**
 * Runs `spec` as container `id` with the bundle in `bundleDir` (which must
 * exist) and the runtime state under `stateDir`. Output lines go to
 * `onOutput` as they come; the last 64 KiB are returned.
 */
export async function runContainer(runtime: string, id: string, bundleDir: string, stateDir: string, spec: Record<string, unknown>, onOutput?: (line: string) => void): Promise<RunResult> {
  writeFileSync(join(bundleDir, 'config.json'), JSON.stringify(spec));
  await mkdir(stateDir, { recursive: true });
  const child = spawn(runtime, ['--root', stateDir, 'run', '--bundle', bundleDir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let partial = '';
  const onData = (b: Buffer): void => {
    const s = b.toString('utf8');
    output = (output + s).slice(-65536);
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    if (onOutput) for (const l of lines) onOutput(l);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exitCode = await new Promise<number>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, sig) => res(code ?? (sig ? 128 : 1)));
  });
  if (partial && onOutput) onOutput(partial);
  // `run` deletes the container on exit; a failed start may leave state behind.
  await quiet(runtime, ['--root', stateDir, 'delete', '--force', id]);
  return { exitCode, output };
}

/** Best-effort command; resolves when it has exited. */
function quiet(cmd: string, args: string[]): Promise<void> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', () => res());
    p.on('close', () => res());
  });
}

/**
 * Mount targets the runtime would create in the root (files for binds,
 * directories for /proc, /dev, /sys…): those missing now are returned so
 * they can be removed from the upper dir after the run.
 */
export async function missingMountTargets(rootfs: string, targets: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets) {
    const exists = await lstat(resolveInRoot(rootfs, t)).then(() => true, () => false);
    if (!exists) out.push(t);
  }
  return out;
}

/** Removes what the runtime created for mount targets from an upper dir (no whiteouts needed: they never existed below). */
export async function removeCreatedTargets(upper: string, targets: string[]): Promise<void> {
  // Deepest first so /dev/pts goes before /dev.
  for (const t of [...targets].sort((a, b) => b.length - a.length)) {
    const p = join(upper, t);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    // Only an empty dir goes: a RUN may have written into it on purpose.
    if (st.isDirectory()) await rmdir(p).catch(() => undefined);
    else if (st.isFile() && st.size === 0) await rm(p, { force: true });
  }
}
