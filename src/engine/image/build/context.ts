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
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { writeFileAtomicSync } from '../../../util/fs-atomic.js';
import type { Stats } from 'node:fs';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import { SafeRoot } from './safe-root.js';
import { ignoreTextOf, statSig, type ContextReads } from './context-files.js';

// the light part, which the build memo uses alone
export { readFileInItsDir, statSig, type ContextReads } from './context-files.js';
import type { CopySource, SourceReader } from './copy.js';

export interface ContextEntry {
  /** Context-relative path as the source names it, `/`-separated. */
  rel: string;
  /** Context-relative path of what it names, symlinks resolved ('' = the root). */
  path: string;
  st: Stats;
}

export class BuildContext {
  /** The ignore file's text ('' when none). */
  ignoreText = '';
  /** Set by a build that may be remembered: what it reads is noted here. */
  reads?: ContextReads;

  constructor(readonly dir: string, readonly ignore: IgnoreMatcher, readonly root: SafeRoot = SafeRoot.open(dir)) {}

  private note(path: string, st: Stats): void {
    if (!this.reads) return;
    this.reads.stats.set(path, statSig(st));
    if (st.ctimeMs > this.reads.newest) this.reads.newest = st.ctimeMs;
  }

  /**
   * `dockerfile` (a host path) may have its own `<Dockerfile>.dockerignore`
   * beside it, which then replaces the context's `.dockerignore` (read
   * inside the context: a link there cannot name a host file).
   */
  static open(dir: string, dockerfile?: string): BuildContext {
    const root = SafeRoot.open(dir);
    let text: string;
    try { text = ignoreTextOf(root, dockerfile); } catch (e) { root.close(); throw e; }
    const c = new BuildContext(dir, new IgnoreMatcher(parseDockerignore(text)), root);
    c.ignoreText = text;
    return c;
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
    this.reads?.resolved.set(rel, path ?? null);
    if (path === undefined) return undefined;
    const st = this.root.lstat(path);
    this.note(path, st);
    return { rel, path, st };
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
      this.reads?.resolved.set(relDir, dir ?? null);
      if (dir === undefined) return;
      const dst = this.root.lstat(dir);
      this.note(dir, dst);
      if (!dst.isDirectory()) return;
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
      this.note(e.path, e.st);
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

/** How file contents are hashed (a seam: tests count the files whose contents a build reads). */
export const contentHasher = {
  /** `size` (the file's, when known): a small file is read in one piece of its own size, not into a 1 MiB stream buffer. */
  async sha256(path: string, size = Infinity): Promise<string> {
    const h = createHash('sha256');
    if (size <= SMALL_FILE) h.update(await readFile(path));
    else for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
    return h.digest('hex');
  },
};
const SMALL_FILE = 256 << 10;

/** A file changed this recently may change again within the same timestamp tick: its hash is not remembered. */
const RACY_MS = 100;
const INDEX_VERSION = 1;

/**
 * sha256 of file contents remembered by (device, inode, size, mtime, ctime),
 * as BuildKit's content-hash cache does: an unchanged file is not read again.
 * ctime cannot be set by users, so any write, chmod or rename shows even when
 * mtime and size are put back. A hash is remembered only for a file whose
 * ctime was at least RACY_MS old when it was read: any later change then
 * stamps a ctime later than the one remembered (the clock's tick is far
 * shorter), so a remembered (ino, ctime) always names the bytes that were
 * hashed. The path is no part of the key: the same inode unchanged has the
 * same bytes wherever it is reached from, and a context swapped for another
 * tree (or a link to one) has other inodes.
 *
 * One index per context directory under `<root>/build-cache/hash-index/`,
 * written whole and atomically (temp, fsync, rename: fs-atomic.ts) and only
 * when a hash was added; it carries a checksum of its entries, and one that
 * does not check out (torn by a crash on a file system that reorders, edited,
 * from another version) is ignored and rebuilt.
 */
export class FileHashMemo {
  private readonly map = new Map<string, [size: number, mtime: number, ctime: number, hex: string]>();
  private changed = false;
  private static readonly MAX = 200_000;

  constructor(private readonly path?: string) {
    if (!path) return;
    let doc: { v?: unknown; sum?: unknown; entries?: unknown };
    try { doc = JSON.parse(readFileSync(path, 'utf8')) as typeof doc; } catch { return; /* none yet, or unreadable: start empty */ }
    if (doc.v !== INDEX_VERSION || typeof doc.entries !== 'object' || doc.entries === null) return;
    const entries = doc.entries as Record<string, unknown>;
    if (doc.sum !== FileHashMemo.checksum(entries)) return;
    for (const [k, e] of Object.entries(entries)) {
      if (Array.isArray(e) && e.length === 4 && typeof e[0] === 'number' && typeof e[1] === 'number' && typeof e[2] === 'number' && typeof e[3] === 'string' && /^[0-9a-f]{64}$/.test(e[3])) {
        this.map.set(k, e as [number, number, number, string]);
      }
    }
  }

  /** The index of context `dir` under the engine's root. */
  static pathFor(root: string, dir: string): string {
    return join(root, 'build-cache', 'hash-index', `${createHash('sha256').update(dir).digest('hex').slice(0, 32)}.json`);
  }

  private static checksum(entries: unknown): string {
    return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
  }

  /** The remembered hash of an unchanged file, if any (nothing is opened). */
  cached(st: Stats): string | undefined {
    const e = this.map.get(`${st.dev}:${st.ino}`);
    return e && e[0] === st.size && e[1] === st.mtimeMs && e[2] === st.ctimeMs ? e[3] : undefined;
  }

  /** Hashes the file at `read` (a pinned fd path for context files), whose fstat is `st`. */
  async hash(st: Stats, read: string): Promise<string> {
    const have = this.cached(st);
    if (have) return have;
    const started = Date.now();
    const hex = await contentHasher.sha256(read, st.size);
    if (st.ctimeMs < started - RACY_MS) {
      const k = `${st.dev}:${st.ino}`;
      this.map.delete(k);
      this.map.set(k, [st.size, st.mtimeMs, st.ctimeMs, hex]);
      this.changed = true;
    }
    return hex;
  }

  save(): void {
    if (!this.path || !this.changed) return;
    const entries = Object.fromEntries([...this.map].slice(-FileHashMemo.MAX));
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileAtomicSync(this.path, JSON.stringify({ v: INDEX_VERSION, sum: FileHashMemo.checksum(entries), entries }));
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
      // The bytes are read (through the opened file, by its own fstat) only when the index has no hash for them.
      h.update(`${st.size}\0${memo.cached(st) ?? await ctx.root.withFile(e.path, (p, fst) => memo.hash(fst, p))}`);
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
