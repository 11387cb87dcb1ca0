// Overlay roots for containers (and builder steps): lower = layer dirs, top
// first; upper/work under the container dir. The mount is one mount(2) call
// through koffi: no mount(8) child that could outlive a killed CLI and mount
// after it, and no fork+exec per container. The call runs on libuv's thread
// pool (koffi's async calls): an overlay mount takes milliseconds of kernel
// time, which the one JavaScript thread spends on the other containers of an
// `up` meanwhile. An image with so many layers that
// the absolute lowerdir list passes the kernel's one-page limit falls back to
// mount(8) run in the layers dir, with entries relative to it (~70 bytes each).

import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir } from '../../util/fs-now.js';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { TsstackError } from '../../util/errors.js';
import { faultPoint } from '../../util/fault.js';
import { ownUserNamespace } from '../rootless/userns.js';
import { koffi as loadKoffi } from '../../util/koffi.js';
import { ffiAsync } from '../../util/ffi-async.js';

// promisified at the call: mount(8) is the rare fallback, and node:child_process need not load with this module
const run = (file: string, args: string[], opts: { cwd?: string } = {}) => promisify(execFile)(file, args, opts);
const OPTIONS_LIMIT = 4000;
const MNT_DETACH = 2;

type MountFn = (source: string, target: string, fstype: string, flags: number, data: string) => number;
interface LibcMount {
  mount: MountFn & { async(source: string, target: string, fstype: string, flags: number, data: string, cb: (err: unknown, res: number) => void): void };
  umount2(target: string, flags: number): number;
  errno(): number;
  names: Record<string, number>;
}
let libc: LibcMount | null | undefined;

/** mount(2) through koffi, loaded on first use; null when koffi cannot load (then mount(8) is used). */
function libcMount(): LibcMount | null {
  if (libc === undefined) {
    try {
      const koffi = loadKoffi();
      const l = koffi.load('libc.so.6');
      libc = {
        mount: l.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
        umount2: l.func('int umount2(const char *target, int flags)'),
        errno: () => koffi.errno() as number,
        names: koffi.os.errno as Record<string, number>,
      };
    } catch {
      libc = null;
    }
  }
  return libc;
}

function errnoName(n: number): string {
  const name = libc ? Object.entries(libc.names).find(([, v]) => v === n)?.[0] : undefined;
  return name ? `${name} (errno ${n})` : `errno ${n}`;
}

/** What a refused overlay mount needs: root, or (rootless) a kernel that mounts overlay in a user namespace. */
function overlayHint(): string {
  if (!ownUserNamespace()) return 'overlayfs must be available (modprobe overlay) and tsstack must run as root';
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  return `rootless mode mounts overlayfs inside its user namespace, which needs Linux 5.11 or later with overlay built in or loaded (this kernel: ${release}); as root: modprobe overlay, or upgrade the kernel, or run tsstack as root`;
}

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
 * Whether a filesystem other than its parent's is mounted at `path`: an overlay always has a device
 * of its own. Two stats, where reading the mount table costs a line per mount of the host (every
 * container's root and sandbox: quadratic over an `up` of many containers).
 */
export function otherFsMountedAt(path: string): boolean {
  const here = statSync(path, { throwIfNoEntry: false });
  return here !== undefined && here.dev !== statSync(dirname(path)).dev;
}

/**
 * Mounts overlay at `<dir>/rootfs` with lower = `lowerRel` (relative to
 * `layersDir`, top first) and upper/work in `dir`. Idempotent. Returns the mount point.
 */
export async function mountOverlay(layersDir: string, lowerRel: string[], dir: string): Promise<string> {
  const abs = resolve(dir);
  const target = join(abs, 'rootfs');
  if (otherFsMountedAt(target)) return target;
  await mkdir(join(abs, 'upper'), { recursive: true, mode: 0o755 });
  await mkdir(join(abs, 'work'), { recursive: true, mode: 0o700 });
  await mkdir(target, { recursive: true, mode: 0o755 });
  for (const p of [...lowerRel, abs]) {
    if (/[,:\n]/.test(p)) throw new TsstackError('RUNTIME', `cannot mount overlay: path "${p}" contains "," or ":"`, { hint: 'use a root directory path without commas or colons' });
  }
  // in a user namespace (rootless) overlay may not use trusted.* xattrs: its marks are user.overlay.* (unpack.ts writes them so)
  const rest = `upperdir=${join(abs, 'upper')},workdir=${join(abs, 'work')}${ownUserNamespace() ? ',userxattr' : ''}`;
  const absOpts = `lowerdir=${lowerRel.map((l) => join(layersDir, l)).join(':')},${rest}`;
  const sys = absOpts.length <= OPTIONS_LIMIT ? libcMount() : undefined;
  if (sys) {
    // one syscall: the mount exists or not, whenever this process dies. On the thread pool; a refusal
    // is asked again on this thread, whose errno is the one to report (and a mount that succeeds on
    // the second try, its cause gone meanwhile, is as good as the first)
    const res = await ffiAsync<number>((done) => sys.mount.async('overlay', target, 'overlay', 0, absOpts, done));
    if (res !== 0 && !otherFsMountedAt(target) && sys.mount('overlay', target, 'overlay', 0, absOpts) !== 0) {
      const errno = sys.errno();
      throw new TsstackError('HOST', `cannot mount the container root at ${target}: ${errnoName(errno)}`, { hint: overlayHint() });
    }
    faultPoint('overlay.mounting');
    return target;
  }
  const opts = `lowerdir=${lowerRel.join(':')},${rest}`;
  if (opts.length > OPTIONS_LIMIT) {
    throw new TsstackError('RUNTIME', `image has too many layers (${lowerRel.length}) for one overlay mount`, { hint: 'squash the image into fewer layers' });
  }
  try {
    const mounting = run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], { cwd: layersDir });
    faultPoint('overlay.mounting');
    await mounting;
  } catch (e) {
    const msg = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim();
    throw new TsstackError('HOST', `cannot mount the container root at ${target}: ${msg}`, { hint: overlayHint(), cause: e });
  }
  return target;
}

/** Unmounts `<dir>/rootfs` if mounted; falls back to a lazy unmount when busy. */
export async function unmountOverlay(dir: string): Promise<void> {
  const target = join(resolve(dir), 'rootfs');
  if (!isMounted(target)) return;
  const sys = libcMount();
  if (sys) {
    if (sys.umount2(target, 0) === 0 || !isMounted(target)) return;
    if (sys.umount2(target, MNT_DETACH) === 0 || !isMounted(target)) return;
    throw new TsstackError('HOST', `cannot unmount ${target}: ${errnoName(sys.errno())}`, { hint: 'see what holds it (fuser -vm), then run the command again' });
  }
  try {
    await run('umount', [target]);
  } catch {
    if (isMounted(target)) await run('umount', ['-l', target]);
  }
}

