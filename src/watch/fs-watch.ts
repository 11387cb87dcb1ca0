// The real file watcher behind WatchHost.watch: inotify through fs.watch, one
// watch per directory and none per file, no polling, no timer.
//
// A watched directory is walked once at start; each of its directories gets
// one fs.watch, whose events name the entry that changed. Nothing is kept per
// file, so a context of 10 000 files costs its directories' watches and no
// more (a watcher keeping per-file state held ~120 MiB for that many). A
// directory that appears is walked and watched at once, and what it already
// holds is reported (it may have been filled before its watch was in place);
// one that goes has its watches closed. A watched file and a path that does
// not exist yet (a `.env` not written yet) are watched through their parent
// directory, only their own names passed on, so an editor that saves by
// renaming a new file over the old one is still seen.
import { lstatSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const NOISE = /(^|\/)(\.git|node_modules)(\/|$)/;

/** The fs.watch seam (tests count the watches and timers). */
export const fsWatch = { watch };

interface Tree {
  /** Watches of directories, by path. */
  dirs: Map<string, FSWatcher>;
  /** Per parent directory watched for some of its names only: those names (undefined: every name, a tree). */
  names: Map<string, Set<string> | undefined>;
}

function kind(path: string): 'dir' | 'other' | undefined {
  try { return lstatSync(path).isDirectory() ? 'dir' : 'other'; } catch { return undefined; }
}

export async function watchPaths(paths: string[], onChange: (path: string) => void): Promise<() => Promise<void>> {
  const t: Tree = { dirs: new Map(), names: new Map() };
  let closed = false;

  const unwatchBelow = (dir: string): void => {
    for (const [d, w] of t.dirs) {
      if ((d === dir || d.startsWith(dir + '/')) && !t.names.has(d)) { w.close(); t.dirs.delete(d); }
    }
  };

  /** Watches `dir` and every directory below it; `report` passes on what is found (a directory that just appeared). */
  const addTree = (dir: string, report: boolean): void => {
    if (closed || NOISE.test(dir) || t.dirs.has(dir)) return;
    if (!watchDir(dir)) return;
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (NOISE.test(p)) continue;
      if (report) onChange(p);
      if (e.isDirectory()) addTree(p, report);
    }
  };

  const watchDir = (dir: string): boolean => {
    let w: FSWatcher;
    try {
      w = fsWatch.watch(dir, { persistent: true }, (_ev, name) => event(dir, name === null ? undefined : String(name)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return false;
      throw e; // ENOSPC: out of inotify watches — say so rather than miss changes
    }
    // The directory went (or was replaced): its watch ends; its parent's watch tells about it.
    w.on('error', () => { w.close(); if (t.dirs.get(dir) === w) t.dirs.delete(dir); });
    t.dirs.set(dir, w);
    return true;
  };

  const event = (dir: string, name: string | undefined): void => {
    if (closed) return;
    const only = t.names.get(dir);
    if (name === undefined) {
      // The name is unknown (the kernel's queue overflowed): anything below may have changed.
      if (only === undefined) onChange(dir);
      else for (const n of only) onChange(join(dir, n));
      return;
    }
    let p = join(dir, name);
    // An event on the watched directory itself carries its own name: a directory that went, or its attributes.
    if (name === basename(dir) && kind(p) === undefined) p = dir;
    if (NOISE.test(p)) return;
    if (p === dir && only !== undefined) { for (const n of only) onChange(join(dir, n)); return; }
    if (p !== dir && only !== undefined && !only.has(name) && !trees.has(p)) return;
    onChange(p);
    if (p !== dir && only !== undefined && !trees.has(p)) return; // a name watched in its parent
    const k = kind(p);
    if (k === 'dir' && !t.dirs.has(p)) addTree(p, p !== dir);
    else if (k !== 'dir' && t.dirs.has(p)) unwatchBelow(p);
  };

  /** Directories given whole (trees), as opposed to names watched in their parent. */
  const trees = new Set<string>();

  for (const p of [...new Set(paths)].sort()) {
    if (kind(p) === 'dir') { trees.add(p); addTree(p, false); continue; }
    // A file or a missing path: a name in its parent directory.
    const parent = dirname(p);
    if (kind(parent) !== 'dir') continue;
    let set = t.names.get(parent);
    if (set === undefined) {
      set = new Set();
      if (t.dirs.has(parent)) {
        // The parent is itself a watched tree: its watch already passes every name on.
        continue;
      }
      t.names.set(parent, set);
      watchDir(parent);
    }
    set.add(p.slice(parent.length + 1));
  }

  return async () => {
    closed = true;
    for (const w of t.dirs.values()) w.close();
    t.dirs.clear();
  };
}
