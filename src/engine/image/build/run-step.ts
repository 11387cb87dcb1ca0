// RUN steps: an OCI bundle over the step's mounted root, run to completion by
// an OCI runtime with the runc command line (`run --bundle DIR ID`).
//
// Network: the namespace network.ts chose (a build network's sandbox, a new
// empty one, or the builder's own for --network=host). /etc/resolv.conf and
// /etc/hosts are bind-mounted read-only when the root already has those files
// (nothing is added to the layer for them).
//
// Runtime: $TSSTACK_BUILD_RUNTIME (a path or a name on $PATH), else
// tsstack-runtime when built (found by engine/native-paths.ts), else runc,
// else crun.

import { spawn } from 'node:child_process';
import { existsSync, writeFileSync, type Stats } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { nativeBinary } from '../../native-paths.js';
import { buildRunStepSpec, type OciMountInput } from '../../runtime/oci-spec.js';
import { resolveInRoot } from './rootfs-fs.js';
import { SafeRoot } from './safe-root.js';
import type { RunNamespace } from './network.js';

export interface RunSpecInput {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** Extra read-only binds (host file → container path). */
  binds?: { source: string; target: string }[];
  /** RUN --mount mounts, after the standard ones. */
  mounts?: OciMountInput[];
  /** The step's network namespace (network.ts); default the builder's own. */
  network?: RunNamespace;
}

/** The config.json of a RUN step: runtime/ `buildRunStepSpec` (Docker's defaults, no limits). */
export function buildRunSpec(i: RunSpecInput): Record<string, unknown> {
  return buildRunStepSpec({
    rootfs: i.rootfs, args: i.args, env: i.env, cwd: i.cwd,
    user: { uid: i.uid, gid: i.gid, additionalGids: i.additionalGids, home: i.home },
    network: i.network ?? 'host',
    mounts: [...(i.binds ?? []).map((b): OciMountInput => ({ type: 'bind', source: b.source, target: b.target, readOnly: true })), ...(i.mounts ?? [])],
  });
}

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
  try { return nativeBinary('runtime'); } catch { /* not built: fall back to an installed runtime */ }
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

/**
 * Removes what the runtime created for mount targets from an upper dir (no
 * whiteouts needed: they never existed below). The step wrote the upper dir:
 * a symlink it left on a target's way is never followed (through one, an
 * empty host directory or file would go).
 */
export async function removeCreatedTargets(upper: string, targets: string[]): Promise<void> {
  const root = SafeRoot.open(upper);
  try {
    // Deepest first so /dev/pts goes before /dev.
    for (const t of [...targets].sort((a, b) => b.length - a.length)) {
      const rel = posix.normalize('/' + t).slice(1);
      // Only an empty dir goes (removeIf keeps a non-empty one): a RUN may have written into it on purpose.
      if (rel) root.removeIf(rel, (st) => st.isDirectory() || (st.isFile() && st.size === 0));
    }
  } finally { root.close(); }
}

/**
 * Removes `rel` from an upper dir when overlay only copied it up (to make a
 * mount target in it): still empty, and owner and mode as they were below.
 */
export async function removeCopiedUpDir(upper: string, rel: string, below: Stats): Promise<void> {
  const root = SafeRoot.open(upper);
  try {
    root.removeIf(rel, (st) => st.isDirectory() && st.uid === below.uid && st.gid === below.gid && st.mode === below.mode);
  } finally { root.close(); }
}
