// The engine root and run root, made safe before anything is written there.
//
// tsstack runs as root and writes below these two directories; container root
// filesystems, volume data and secrets live there. So:
//  - both are mode 0700 (Docker keeps /var/lib/docker 0710): no other local
//    user can reach a set-uid file a container planted in its rootfs or in a
//    volume, nor read a secret, a log or a state file. A directory made by an
//    older tsstack (0755) is tightened when opened.
//  - every directory on the way there must be one that only root (or the user
//    running tsstack) can change: owned by them and not writable by group or
//    others, except a sticky directory such as /tmp whose entry we then check.
//    Otherwise another user could swap a component for a link and redirect
//    the engine's writes (TSSTACK_ROOT=/tmp/x with /tmp/x planted beforehand).
//  - a symbolic link on the way is followed only when root (or we) own it.
//  - rootless (rootless/mode.ts): the user owns both (XDG directories, 0700); the
//    CLI makes and checks them with its real ids before it enters the user namespace.
// A path that fails these checks is refused (HOST, exit 8), never repaired:
// its contents cannot be trusted.

import { chmodSync, lstatSync, mkdirSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { TsstackError } from '../util/errors.js';
import { vettedOwner } from './rootless/mode.js';
import { unsafeAncestor } from './store/private-dir.js';

export const ENGINE_DIR_MODE = 0o700;
/** What tsstack keeps in its root and run root: a directory holding only these is tightened, any other is not ours to change. */
const OURS = new Set(['build-cache', 'build-tmp', 'cache', 'containers', 'content', 'images', 'layers', 'locks', 'networks', 'projects', 'volumes', 'run', 'netns', 'runtime', 'dns', 'monitor']);
const MAX_LINKS = 40;

/** Whoever may own the directories on the way: root, and the user tsstack runs as. */
function trusted(uid: number): boolean {
  return uid === 0 || uid === (process.geteuid?.() ?? 0) || vettedOwner(uid);
}

function insecure(what: string, path: string, why: string): TsstackError {
  return new TsstackError('HOST', `the ${what} ${path} is not safe to use: ${why}`, {
    hint: `another local user could redirect or read what tsstack writes there; use a directory that only ${process.geteuid?.() === 0 ? 'root' : 'you'} can change (e.g. ${what === 'run root' ? '/run/tsstack or $XDG_RUNTIME_DIR/tsstack' : '/var/lib/tsstack or ~/.local/share/tsstack'}), or fix the owner and mode`,
  });
}

/** Who besides the owner may write a directory of this mode. */
function writers(mode: number): string {
  return [mode & 0o020 ? 'its group' : '', mode & 0o002 ? 'other users' : ''].filter(Boolean).join(' and ');
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A directory on the way (not the engine dir itself): the rule the lock directories' parents follow too (private-dir.ts). */
function checkAncestor(what: string, target: string, dir: string, st: Stats): void {
  if (!st.isDirectory()) throw insecure(what, target, `${dir} is not a directory`);
  const why = unsafeAncestor(st);
  if (why) throw insecure(what, target, `${dir} ${why}`);
}

/**
 * Makes sure `path` is a directory only root (or the user tsstack runs as) can change,
 * creating what is missing (parents 0755, the directory itself 0700) and taking group and
 * other permissions off an existing one. Returns the path with links resolved; with `create: false`,
 * undefined when it does not exist yet.
 */
export function secureEngineDir(path: string, what: 'root' | 'run root', opts: { create?: boolean } = {}): string | undefined {
  if (!isAbsolute(path)) path = resolve(path);
  try {
    return secureDir(path, what, opts);
  } catch (e) {
    throw unusable(what, path, e);
  }
}

/** A directory that cannot be made or looked at (a home that is not there or not ours, a read-only disk): what to do instead. */
function unusable(what: 'root' | 'run root', path: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof TsstackError || !['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'ENOSPC', 'EDQUOT'].includes(err.code ?? '')) return e;
  const on = err.path && err.path !== path ? ` (${err.path}: ${err.code})` : ` (${err.code})`;
  const root = process.geteuid?.() === 0;
  return new TsstackError('HOST', `cannot make the ${what} ${path}${on}`, {
    hint: root
      ? `give tsstack a directory it can write: ${what === 'root' ? '--root DIR or TSSTACK_ROOT' : 'TSSTACK_RUN_ROOT'}`
      : `as an ordinary user tsstack keeps its state under your home (HOME=${process.env.HOME ?? 'unset'}) and XDG_RUNTIME_DIR: set HOME, or ${what === 'root' ? 'XDG_DATA_HOME or TSSTACK_ROOT' : 'XDG_RUNTIME_DIR or TSSTACK_RUN_ROOT'}, to a directory of yours`,
  });
}

function secureDir(path: string, what: 'root' | 'run root', opts: { create?: boolean }): string | undefined {
  let cur = '/';
  checkAncestor(what, path, cur, lstatSync(cur));
  const todo = path.split('/').filter(Boolean);
  let links = 0;
  while (todo.length) {
    const name = todo.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      cur = dirname(cur);
      continue;
    }
    const next = join(cur, name);
    let st = lstatOrUndefined(next);
    if (!st) {
      if (opts.create === false) return undefined;
      // made by us: an EEXIST means someone else was quicker, and what they made is checked below
      try {
        mkdirSync(next, todo.length ? 0o755 : ENGINE_DIR_MODE);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      st = lstatSync(next);
    }
    if (st.isSymbolicLink()) {
      if (!trusted(st.uid)) throw insecure(what, path, `${next} is a symbolic link owned by uid ${st.uid}`);
      if (++links > MAX_LINKS) throw insecure(what, path, 'too many levels of symbolic links');
      const target = readlinkSync(next);
      todo.unshift(...target.split('/').filter(Boolean));
      if (isAbsolute(target)) cur = '/';
      continue;
    }
    if (todo.length) checkAncestor(what, path, next, st);
    else {
      if (!st.isDirectory()) throw insecure(what, path, `${next} is not a directory`);
      if (!trusted(st.uid)) throw insecure(what, path, `it is owned by uid ${st.uid}`);
      if (st.mode & 0o022) throw insecure(what, path, `it is writable by ${writers(st.mode)} (mode ${(st.mode & 0o7777).toString(8)})`);
      if (st.mode & 0o077) {
        // made by an older tsstack (0755): nothing below it was meant for other users. A directory that holds
        // more than tsstack's (`--root /srv` by mistake) is not tightened behind its owner's back.
        const foreign = readdirSync(next).filter((e) => !OURS.has(e) && !e.startsWith('.'));
        if (foreign.length) {
          throw new TsstackError('HOST', `the ${what} ${path} is open to other users (mode ${(st.mode & 0o7777).toString(8)}) and holds files tsstack did not make (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`, {
            hint: `tsstack keeps its ${what} 0700: give it a directory of its own, or chmod 700 ${path} if this one is`,
          });
        }
        chmodSync(next, ENGINE_DIR_MODE);
      }
    }
    cur = next;
  }
  return cur;
}

/** Both engine directories, checked and made (see secureEngineDir). */
export function secureEngineDirs(paths: { root: string; runRoot: string }): void {
  secureEngineDir(paths.root, 'root');
  secureEngineDir(paths.runRoot, 'run root');
}

/** True when the root exists and is safe (checked, not made): what caches kept under it need before being trusted. */
export function rootIsSafe(root: string): boolean {
  try {
    return secureEngineDir(root, 'root', { create: false }) !== undefined;
  } catch {
    return false;
  }
}
