// The real file watcher behind WatchHost.watch: chokidar over inotify, no polling.
import chokidar from 'chokidar';

const NOISE = /(^|\/)(\.git|node_modules)(\/|$)/;

export async function watchPaths(paths: string[], onChange: (path: string) => void): Promise<() => Promise<void>> {
  const w = chokidar.watch(paths, { ignoreInitial: true, ignored: (p: string) => NOISE.test(p), atomic: false });
  for (const ev of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) w.on(ev, (p: string) => onChange(p));
  await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  return () => w.close();
}
