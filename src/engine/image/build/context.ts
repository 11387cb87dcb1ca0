// The build context: the directory a COPY/ADD reads from, filtered by
// `.dockerignore`. Source patterns resolve against it with Docker's rules
// (clean the path, stay inside the context, wildcards per segment), and every
// selection has a content digest (paths, types, modes, link targets and file
// bytes; never mtimes), which keys the COPY/ADD cache. A source that is a
// symlink is followed inside the context (as BuildKit does); links met below
// it are read as links. Everything is read through a SafeRoot (safe-root.ts),
// so nothing outside the context is ever opened, even when the context
// changes while it is read. The same class reads a stage's or an image's root
// for `COPY --from` (no ignore file there).

import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { writeFileAtomicSync } from '../../../util/fs-atomic.js';
import type { Stats } from 'node:fs';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import { SafeRoot, SafeRootError } from './safe-root.js';
import type { CopySource, SourceReader } from './copy.js';

export interface ContextEntry {
  /** Context-relative path as the source names it, `/`-separated. */
  rel: string;
  /** Context-relative path of what it names, symlinks resolved ('' = the root). */
  path: string;
  st: Stats;
}

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

export class BuildContext {
  constructor(readonly dir: string, readonly ignore: IgnoreMatcher, readonly root: SafeRoot = SafeRoot.open(dir)) {}

  /**
   * `dockerfile` (a host path) may have its own `<Dockerfile>.dockerignore`
   * beside it, which then replaces the context's `.dockerignore` (read
   * inside the context: a link there cannot name a host file).
   */
  static open(dir: string, dockerfile?: string): BuildContext {
    const own = dockerfile ? readFileInItsDir(`${dockerfile}.dockerignore`) : undefined;
    const root = SafeRoot.open(dir);
    let text = '';
    if (own !== undefined) text = own;
    else {
      const p = root.resolve('.dockerignore');
      if (p !== undefined && root.lstat(p).isFile()) text = root.readFile(p);
    }
    return new BuildContext(dir, new IgnoreMatcher(parseDockerignore(text)), root);
  }

  /** A root read like a context with nothing ignored (a stage, an image, an extracted archive). */
  static plain(dir: string): BuildContext {
    return new BuildContext(dir, new IgnoreMatcher([]));
  }

  close(): void { this.root.close(); }

  /** Reads sources of this context for copy.ts: `abs` is a context path. */
  readonly reader: SourceReader = {
    readlink: (path) => this.root.readlink(path),
    copyFile: (path, dest) => this.root.withFile(path, (p) => copyFile(p, dest)),
  };

  /** CopySources for matched entries; `exclude` drops entries by their path below the source. */
  sources(entries: ContextEntry[], exclude?: IgnoreMatcher): CopySource[] {
    return entries.map((e) => ({
      abs: e.path, name: posix.basename(e.rel) || '.', st: e.st, reader: this.reader,
      children: async () => (await this.walk(e)).filter((x) => !exclude?.ignored(x.rel)).map((x) => ({ rel: x.rel, abs: x.path, st: x.st })),
    }));
  }

  /** Display path of a context path, for messages and the file-hash memo. */
  hostPath(path: string): string { return join(this.dir, path); }

  private found(rel: string): ContextEntry | undefined {
    const path = this.root.resolve(rel);
    return path === undefined ? undefined : { rel, path, st: this.root.lstat(path) };
  }

  /**
   * Entries a source pattern selects: the matched paths themselves (a
   * directory stands for its contents). Empty when nothing matches.
   */
  async match(source: string): Promise<ContextEntry[]> {
    const clean = posix.normalize('/' + source).slice(1).replace(/\/$/, '');
    if (clean === '' || clean === '.') return [this.found('')!];
    if (!/[*?[\\]/.test(clean)) {
      if (this.ignore.ignored(clean)) return [];
      const e = this.found(clean);
      return e ? [e] : [];
    }
    const segs = clean.split('/');
    const out: ContextEntry[] = [];
    const walk = (relDir: string, i: number): void => {
      const dir = this.root.resolve(relDir);
      if (dir === undefined || !this.root.lstat(dir).isDirectory()) return;
      const re = segmentRegex(segs[i]!);
      for (const { name } of this.root.readdir(dir)) {
        if (!re.test(name)) continue;
        const rel = relDir ? `${relDir}/${name}` : name;
        if (this.ignore.ignored(rel)) continue;
        const e = this.found(rel);
        if (!e) continue;
        if (i === segs.length - 1) out.push(e);
        else if (e.st.isDirectory()) walk(rel, i + 1);
      }
    };
    walk('', 0);
    return out;
  }

  /**
   * Every non-ignored entry below a matched directory (not the directory
   * itself), sorted, symlinks not followed; `rel` is relative to the entry.
   */
  async walk(dir: ContextEntry): Promise<ContextEntry[]> {
    const prefix = dir.rel ? dir.rel + '/' : '';
    const out: ContextEntry[] = [];
    for (const e of this.root.walk(dir.path, (rel, st) => {
      const ign = this.ignore.ignored(prefix + rel);
      return ign && (!st.isDirectory() || this.ignore.canSkipDir(prefix + rel));
    })) {
      // An ignored directory that may hold re-included files is walked, not listed.
      if (e.st.isDirectory() && this.ignore.ignored(prefix + e.rel)) continue;
      out.push({ rel: e.rel, path: e.path, st: e.st });
    }
    return out;
  }
}

/** One path segment of a Go filepath.Match pattern → RegExp. */
export function segmentRegex(seg: string): RegExp {
  let re = '^';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += '[' + cls.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else if (ch === '\\' && i + 1 < seg.length) { i++; re += seg[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/**
 * sha256 of file contents remembered by path + (device, inode, size, mtime,
 * ctime), as BuildKit's content-hash cache does: an unchanged file is not
 * read again. ctime cannot be set by users, so any write shows.
 */
export class FileHashMemo {
  private readonly map = new Map<string, string>();
  private changed = false;
  private static readonly MAX = 200_000;

  constructor(private readonly path?: string) {
    if (!path) return;
    try {
      const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
      for (const [k, v] of Object.entries(doc)) this.map.set(k, v);
    } catch { /* none yet, or unreadable: start empty */ }
  }

  private static key(abs: string, st: Stats): string {
    return `${abs}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  }

  /** The remembered hash of an unchanged file, if any (nothing is opened). */
  cached(abs: string, st: Stats): string | undefined {
    return this.map.get(FileHashMemo.key(abs, st));
  }

  /** `read` (default: `abs`) is the path to read from: a pinned fd path for context files. */
  async hash(abs: string, st: Stats, read = abs): Promise<string> {
    const k = FileHashMemo.key(abs, st);
    const have = this.map.get(k);
    if (have) return have;
    const h = createHash('sha256');
    for await (const c of createReadStream(read, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
    const hex = h.digest('hex');
    this.map.delete(k);
    this.map.set(k, hex);
    this.changed = true;
    return hex;
  }

  save(): void {
    if (!this.path || !this.changed) return;
    const entries = [...this.map].slice(-FileHashMemo.MAX);
    writeFileAtomicSync(this.path, JSON.stringify(Object.fromEntries(entries)));
    this.changed = false;
  }
}

/**
 * Content digest of what a COPY source selection would copy: for each file,
 * its path relative to the selection root, type, mode and content hash
 * (symlinks: target). Mtimes and owners are left out, as BuildKit's content
 * cache does.
 */
export async function digestSelection(ctx: BuildContext, entries: ContextEntry[], memo = new FileHashMemo()): Promise<string> {
  const h = createHash('sha256');
  const file = async (e: ContextEntry, name: string): Promise<void> => {
    const st = e.st;
    h.update(`${name}\0${(st.mode & 0o170000).toString(8)}\0${(st.mode & 0o7777).toString(8)}\0`);
    if (st.isSymbolicLink()) h.update(ctx.root.readlink(e.path));
    else if (st.isFile()) {
      const key = ctx.hostPath(e.path);
      h.update(`${st.size}\0${memo.cached(key, st) ?? await ctx.root.withFile(e.path, (p) => memo.hash(key, st, p))}`);
    }
    h.update('\n');
  };
  for (const e of entries) {
    await file(e, e.rel);
    if (e.st.isDirectory()) {
      for (const c of await ctx.walk(e)) await file(c, e.rel ? `${e.rel}/${c.rel}` : c.rel);
    }
  }
  return 'sha256:' + h.digest('hex');
}
