// The build context: the directory a COPY/ADD reads from, filtered by
// `.dockerignore`. Source patterns resolve against it with Docker's rules
// (clean the path, stay inside the context, wildcards per segment), and every
// selection has a content digest (paths, types, modes, link targets and file
// bytes; never mtimes), which keys the COPY/ADD cache. Symlinks named by a
// source resolve inside the context, never to the host beyond it.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { writeFileAtomicSync } from '../../../util/fs-atomic.js';
import type { Stats } from 'node:fs';
import { IgnoreMatcher, parseDockerignore } from './dockerignore.js';
import { resolveInRoot } from './rootfs-fs.js';

export interface ContextEntry {
  /** Context-relative path, `/`-separated. */
  rel: string;
  abs: string;
  st: Stats;
}

export class BuildContext {
  constructor(readonly dir: string, readonly ignore: IgnoreMatcher) {}

  /**
   * `dockerfile` (a host path) may have its own `<Dockerfile>.dockerignore`
   * beside it, which then replaces the context's `.dockerignore`.
   */
  static open(dir: string, dockerfile?: string): BuildContext {
    const own = dockerfile ? `${dockerfile}.dockerignore` : undefined;
    const f = own && existsSync(own) ? own : join(dir, '.dockerignore');
    const patterns = existsSync(f) ? parseDockerignore(readFileSync(f, 'utf8')) : [];
    return new BuildContext(dir, new IgnoreMatcher(patterns));
  }

  /**
   * Entries a source pattern selects: the matched paths themselves (a
   * directory stands for its contents). Empty when nothing matches.
   */
  async match(source: string): Promise<ContextEntry[]> {
    const clean = posix.normalize('/' + source).slice(1).replace(/\/$/, '');
    if (clean === '' || clean === '.') return [await this.entry('', this.dir)];
    if (!/[*?[\\]/.test(clean)) {
      const abs = resolveInRoot(this.dir, clean);
      const st = await stat(abs).catch(() => undefined);
      if (!st || this.ignore.ignored(clean)) return [];
      return [{ rel: clean, abs, st }];
    }
    const segs = clean.split('/');
    const out: ContextEntry[] = [];
    const walk = async (relDir: string, i: number): Promise<void> => {
      const absDir = join(this.dir, relDir);
      const names = (await readdir(absDir).catch(() => [] as string[])).sort();
      const re = segmentRegex(segs[i]!);
      for (const n of names) {
        if (!re.test(n)) continue;
        const rel = relDir ? `${relDir}/${n}` : n;
        if (this.ignore.ignored(rel)) continue;
        const abs = resolveInRoot(this.dir, rel);
        const st = await stat(abs).catch(() => undefined);
        if (!st) continue;
        if (i === segs.length - 1) out.push({ rel, abs, st });
        else if (st.isDirectory()) await walk(rel, i + 1);
      }
    };
    await walk('', 0);
    return out;
  }

  private async entry(rel: string, abs: string): Promise<ContextEntry> {
    return { rel, abs, st: await stat(abs) };
  }

  /** Every non-ignored entry below a directory entry (not the directory itself), sorted, symlinks not followed. */
  async walk(dirRel: string): Promise<ContextEntry[]> {
    const out: ContextEntry[] = [];
    const rec = async (rel: string): Promise<void> => {
      const names = (await readdir(join(this.dir, rel))).sort();
      for (const n of names) {
        const r = rel ? `${rel}/${n}` : n;
        const abs = join(this.dir, r);
        const st = await lstat(abs);
        const ign = this.ignore.ignored(r);
        if (st.isDirectory()) {
          if (ign && this.ignore.canSkipDir(r)) continue;
          if (!ign) out.push({ rel: r, abs, st });
          await rec(r);
        } else if (!ign) out.push({ rel: r, abs, st });
      }
    };
    await rec(dirRel);
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

  async hash(abs: string, st: Stats): Promise<string> {
    const k = FileHashMemo.key(abs, st);
    const have = this.map.get(k);
    if (have) return have;
    const h = createHash('sha256');
    for await (const c of createReadStream(abs, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
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
    if (st.isSymbolicLink()) h.update(await readlink(e.abs));
    else if (st.isFile()) h.update(`${st.size}\0${await memo.hash(e.abs, st)}`);
    h.update('\n');
  };
  for (const e of entries) {
    await file(e, e.rel);
    if (e.st.isDirectory()) {
      for (const c of await ctx.walk(e.rel)) await file(c, c.rel);
    }
  }
  return 'sha256:' + h.digest('hex');
}
