// The few reads of a build context that the build memo (memo.ts) repeats on a
// cached build, apart from the builder's context.ts so that a memo hit loads
// neither it nor the ignore-file parser: the files a stack file names, the
// ignore file's text, and the signature of an entry's stat.

import { basename, dirname } from 'node:path';
import type { Stats } from 'node:fs';
import { SafeRoot, SafeRootError } from './safe-root.js';

/**
 * A file named by the stack file (the Dockerfile, its own `.dockerignore`):
 * the path is taken as given, but a symlink there is followed only inside the
 * file's directory (as BuildKit reads the Dockerfile from that directory), so
 * a link planted in a context cannot make the builder read a host file.
 * Undefined when there is no such regular file.
 */
export function readFileInItsDir(path: string): string | undefined {
  let root: SafeRoot;
  try { root = SafeRoot.open(dirname(path)); } catch { return undefined; }
  try {
    const p = root.resolve(basename(path));
    return p !== undefined && root.lstat(p).isFile() ? root.readFile(p) : undefined;
  } catch (e) {
    if (e instanceof SafeRootError) return undefined;
    throw e;
  } finally { root.close(); }
}

/**
 * What a build learned of its context, for the build memo (memo.ts): every
 * source resolved (rel → path, null when absent) and the stat of every entry
 * looked at, directories included (a directory's mtime moves when an entry
 * comes, goes or is renamed).
 */
export interface ContextReads {
  resolved: Map<string, string | null>;
  stats: Map<string, string>;
  /** The newest ctime seen (ms): a tree that changed this recently may change again unseen. */
  newest: number;
}

/** What of a stat tells that an entry changed: type, identity, size, mtime, ctime. */
export function statSig(st: Stats): string {
  return `${(st.mode & 0o170000).toString(8)}:${st.mode & 0o7777}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/**
 * The ignore file's text ('' when none): `dockerfile` (a host path) may have its
 * own `<Dockerfile>.dockerignore` beside it, which then replaces the context's
 * `.dockerignore` (read inside the context: a link there cannot name a host file).
 */
export function ignoreTextOf(root: SafeRoot, dockerfile?: string): string {
  const own = dockerfile ? readFileInItsDir(`${dockerfile}.dockerignore`) : undefined;
  if (own !== undefined) return own;
  const p = root.resolve('.dockerignore');
  return p !== undefined && root.lstat(p).isFile() ? root.readFile(p) : '';
}
