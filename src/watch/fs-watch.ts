// The real file watcher behind WatchHost.watch: chokidar over inotify, no polling.
//
// Paths that do not exist yet (a `.env` not written yet) are watched through their
// parent directory, one level deep, and only their own events are passed on: given
// to chokidar directly, a missing path makes it report `ready` before the other paths
// are watched, so edits made just after start would be lost.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import chokidar from 'chokidar';

const NOISE = /(^|\/)(\.git|node_modules)(\/|$)/;

async function start(paths: string[], depth: number | undefined, onChange: (path: string) => void): Promise<() => Promise<void>> {
  const w = chokidar.watch(paths, { ignoreInitial: true, ignored: (p: string) => NOISE.test(p), atomic: false, ...(depth === undefined ? {} : { depth }) });
  for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) w.on(ev, (p: string) => onChange(p));
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  return () => w.close();
}

export async function watchPaths(paths: string[], onChange: (path: string) => void): Promise<() => Promise<void>> {
  const present = paths.filter((p) => existsSync(p));
  const missing = new Set(paths.filter((p) => !existsSync(p)));
  const closers: (() => Promise<void>)[] = [];
  if (present.length > 0) closers.push(await start(present, undefined, onChange));
  const parents = [...new Set([...missing].map((p) => dirname(p)))].filter((d) => existsSync(d)).sort();
  if (parents.length > 0) closers.push(await start(parents, 0, (p) => { if (missing.has(p)) onChange(p); }));
  return async () => { await Promise.all(closers.map((c) => c())); };
}
