// A directory only this process's user (root) can create files in, list or reach
// into: where tsstack keeps its lock files. A local user who could open a lock
// file could flock it and hang every later command; one who could write a
// directory on the way to it could swap the whole directory for their own. So
// the directory is made 0700, an older one (0755) is tightened, and one that
// someone else owns or may write, or that sits below such a directory, is
// refused with an error saying what to fix.

import { chmodSync, lstatSync, mkdirSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TsstackError } from '../../util/errors.js';
import { vettedOwner } from '../rootless/mode.js';

const STICKY = 0o1000;

const me = (): number => process.geteuid?.() ?? 0;

const octal = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** Why `st` (an ancestor) lets someone else than root or us change what lies below it, or undefined. */
export function unsafeAncestor(st: Pick<Stats, 'uid' | 'mode'>, uid = me()): string | undefined {
  if (st.uid !== 0 && st.uid !== uid && !vettedOwner(st.uid)) return `is owned by uid ${st.uid}`;
  // A sticky directory (/tmp) lets others add entries but not rename or remove ours.
  if (st.mode & 0o022 && !(st.mode & STICKY)) return `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${octal(st.mode)})`;
  return undefined;
}

/** Why `st` (the private directory itself) cannot be used, or undefined. */
export function unsafeOwnDir(st: Pick<Stats, 'uid' | 'mode' | 'isDirectory' | 'isSymbolicLink'>, uid = me()): string | undefined {
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a directory';
  if (st.uid !== uid) return `is owned by uid ${st.uid}, not ${uid}`;
  if (st.mode & 0o022) return `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${octal(st.mode)})`;
  return undefined;
}

function refuse(dir: string, what: string, why: string, hint: string): never {
  const where = what === dir ? '' : ` (${dir})`;
  throw new TsstackError('HOST', `${what} ${why}: tsstack keeps its locks only where no other user can reach them${where}`, { hint });
}

/** Directories this process has checked (and made private): what was found cannot be undone by another user. */
const vetted = new Map<string, string>();

/** Forgets a checked directory (it was found gone: the next privateDir makes and checks it again). */
export function forgetPrivateDir(dir: string): void {
  vetted.delete(dir);
}

/**
 * Makes `dir` if needed (0700; missing parents get the default mode) and checks it
 * and every directory above it; returns its real path, which callers use from then
 * on (a link on the way cannot be swapped under them). Once per process and
 * directory: a directory owned by root or us, below directories no one else may
 * write, stays so unless root or we change it (an `up` of 20 takes a lock 31 times).
 */
export function privateDir(dir: string): string {
  const known = vetted.get(dir);
  if (known) return known;
  const real = checkPrivateDir(dir);
  vetted.set(dir, real);
  return real;
}

function checkPrivateDir(dir: string): string {
  mkdirSync(dirname(dir), { recursive: true });
  const parent = realpathSync(dirname(dir));
  // The parents first: below one another user may write, even a directory of ours proves nothing.
  for (let p = parent; ; p = dirname(p)) {
    const why = unsafeAncestor(lstatSync(p));
    if (why) refuse(dir, `${p}, a parent of the lock directory,`, why, 'use an engine root (--root, TSSTACK_ROOT, TSSTACK_RUN_ROOT) whose parents are all owned by root and not writable by other users');
    if (p === dirname(p)) break;
  }
  const real = join(parent, basename(dir));
  let st: Stats;
  try {
    st = lstatSync(real);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    try {
      mkdirSync(real, { mode: 0o700 });
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
    }
    st = lstatSync(real);
  }
  const own = unsafeOwnDir(st);
  if (own) refuse(real, real, own, `remove ${real} (it holds only lock files) and run the command again as root`);
  // Made by an older tsstack with the default mode: readable, so its lock files could be opened.
  if (st.mode & 0o077) chmodSync(real, 0o700);
  return real;
}

/** `name` inside the private directory `dir` (checked, made if missing). */
export function privatePath(dir: string, name: string): string {
  return join(privateDir(dir), name);
}
