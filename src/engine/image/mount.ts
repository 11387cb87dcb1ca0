// Overlay roots for containers (and builder steps): lower = layer dirs, top
// first; upper/work under the container dir. lowerdir entries are relative to
// the layers dir (mount(8) runs with it as cwd), so the option string stays
// short: ~70 bytes per layer against the kernel's one-page limit.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TsstackError } from '../../util/errors.js';
import { faultPoint } from '../../util/fault.js';

const run = promisify(execFile);
const OPTIONS_LIMIT = 4000;

/** Mount points (decoded) currently visible to this process. */
export function mountPoints(): Set<string> {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[4]) out.add(f[4].replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

export function isMounted(path: string): boolean {
  return mountPoints().has(resolve(path));
}

/**
 * Mounts overlay at `<dir>/rootfs` with lower = `lowerRel` (relative to
 * `layersDir`, top first) and upper/work in `dir`. Idempotent. Returns the mount point.
 */
export async function mountOverlay(layersDir: string, lowerRel: string[], dir: string): Promise<string> {
  const abs = resolve(dir);
  const target = join(abs, 'rootfs');
  if (isMounted(target)) return target;
  await mkdir(join(abs, 'upper'), { recursive: true, mode: 0o755 });
  await mkdir(join(abs, 'work'), { recursive: true, mode: 0o700 });
  await mkdir(target, { recursive: true, mode: 0o755 });
  for (const p of [...lowerRel, abs]) {
    if (/[,:\n]/.test(p)) throw new TsstackError('RUNTIME', `cannot mount overlay: path "${p}" contains "," or ":"`, { hint: 'use a root directory path without commas or colons' });
  }
  const opts = `lowerdir=${lowerRel.join(':')},upperdir=${join(abs, 'upper')},workdir=${join(abs, 'work')}`;
  if (opts.length > OPTIONS_LIMIT) {
    throw new TsstackError('RUNTIME', `image has too many layers (${lowerRel.length}) for one overlay mount`, { hint: 'squash the image into fewer layers' });
  }
  try {
    const mounting = run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], { cwd: layersDir });
    faultPoint('overlay.mounting');
    await mounting;
  } catch (e) {
    const msg = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
    throw new TsstackError('HOST', `cannot mount the container root at ${target}: ${msg}`, {
      hint: 'overlayfs must be available (modprobe overlay) and tsstack must run as root',
      cause: e,
    });
  }
  return target;
}

/** Unmounts `<dir>/rootfs` if mounted; falls back to a lazy unmount when busy. */
export async function unmountOverlay(dir: string): Promise<void> {
  const target = join(resolve(dir), 'rootfs');
  if (!isMounted(target)) return;
  try {
    await run('umount', [target]);
  } catch {
    if (isMounted(target)) await run('umount', ['-l', target]);
  }
}
