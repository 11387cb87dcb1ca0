import test from 'ava';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { startWatch, type WatchHost } from '../../src/watch/session.js';
import { watchPaths } from '../../src/watch/fs-watch.js';
import { Coalescer } from '../../src/watch/coalesce.js';
import type { StackModel } from '../../src/model/types.js';

test('the coalescer turns a burst into one batch and queues one more while busy', async (t) => {
  const batches: string[][] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const c = new Coalescer(async (paths) => { batches.push(paths); if (batches.length === 1) await gate; }, 20);
  c.add('a'); c.add('b'); c.add('a');
  await new Promise((r) => setTimeout(r, 60));
  c.add('c'); c.add('d'); // arrive while the first batch runs
  release();
  await c.idle();
  t.deepEqual(batches, [['a', 'b'], ['c', 'd']]);
});

function model(dir: string, env: string): StackModel {
  return {
    name: 'w', workingDir: dir, sourceFiles: [join(dir, 'stack.yaml')],
    services: { web: { image: 'busybox', environment: { E: env }, labels: {}, ports: [], expose: [], volumes: [], tmpfs: [], depends_on: {}, networks: {}, cap_add: [], cap_drop: [], ulimits: {}, sysctls: {}, extra_hosts: [], dns: [], dns_search: [], group_add: [], profiles: [], secrets: [], configs: [], extensions: {},
      develop: { watch: [{ path: join(dir, 'site'), target: '/www', action: 'sync' }] } } },
    networks: {}, volumes: {}, secrets: {}, configs: {}, allProfiles: [], extensions: {}, warnings: [],
  };
}

test('real file edits: env change reconciles, site edit syncs, broken file keeps the last good model', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'stack.yaml'), 'E=1');
  writeFileSync(join(dir, 'site/index.html'), 'v1');
  const log: string[] = [];
  const host: WatchHost = {
    async load() {
      const text = (await import('node:fs')).readFileSync(join(dir, 'stack.yaml'), 'utf8');
      if (!text.startsWith('E=')) throw new Error('stack.yaml:1: bad');
      return model(dir, text.slice(2));
    },
    async reconcile(m, rebuild) { log.push(`reconcile E=${m.services.web!.environment.E} rebuild=${rebuild.join(',')}`); },
    async runningContainers() { return ['c1']; },
    async copyInto(id, host, ctr) { log.push(`copy ${id} ${host.slice(dir.length)} -> ${ctr}`); },
    async removeIn(id, ctr) { log.push(`rm ${id} ${ctr}`); },
    async exec() { return 0; },
    async restart(id) { log.push(`restart ${id}`); },
    dockerignored: () => false,
    watch: watchPaths,
    info() {},
    error(e) { log.push(`error ${(e as Error).message}`); },
  };
  const s = await startWatch(host, { quietMs: 50 });
  t.teardown(() => s.stop());
  const settle = async () => { await new Promise((r) => setTimeout(r, 300)); await s.idle(); };

  writeFileSync(join(dir, 'stack.yaml'), 'E=2');
  await settle();
  writeFileSync(join(dir, 'site/index.html'), 'v2');
  await settle();
  writeFileSync(join(dir, 'stack.yaml'), 'garbage');
  await settle();
  writeFileSync(join(dir, 'stack.yaml'), 'E=3');
  await settle();
  unlinkSync(join(dir, 'site/index.html'));
  await settle();
  t.deepEqual(log, [
    'reconcile E=2 rebuild=',
    'copy c1 /site/index.html -> /www/index.html',
    'error stack.yaml:1: bad',
    'reconcile E=3 rebuild=',
    'rm c1 /www/index.html',
  ]);
});

test('a container made by the reconcile gets the sync rules\' files whole; initial_sync syncs at start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'site/css'), { recursive: true });
  writeFileSync(join(dir, 'stack.yaml'), 'E=1');
  writeFileSync(join(dir, 'site/index.html'), 'v1');
  writeFileSync(join(dir, 'site/css/a.css'), 'a');
  writeFileSync(join(dir, 'site/.index.html.swp'), 'editor noise');
  const log: string[] = [];
  let current = 'c1';
  const withInitial = (m: StackModel): StackModel => {
    m.services.web!.develop!.watch[0]!.initial_sync = true;
    return m;
  };
  const host: WatchHost = {
    async load() {
      const text = (await import('node:fs')).readFileSync(join(dir, 'stack.yaml'), 'utf8');
      return withInitial(model(dir, text.slice(2)));
    },
    async reconcile() { current = 'c2'; log.push('reconcile'); },
    async runningContainers() { return [current]; },
    async copyInto(id, host, ctr) { log.push(`copy ${id} ${host.startsWith(dir) ? host.slice(dir.length) : `(empty dir ${basename(host)})`} -> ${ctr}`); },
    async removeIn() {},
    async exec() { return 0; },
    async restart() {},
    dockerignored: () => false,
    watch: watchPaths,
    info() {},
    error(e) { log.push(`error ${(e as Error).message}`); },
  };
  const s = await startWatch(host, { quietMs: 50 });
  t.teardown(() => s.stop());
  writeFileSync(join(dir, 'stack.yaml'), 'E=2');
  await new Promise((r) => setTimeout(r, 300));
  await s.idle();
  t.deepEqual(log, [
    'copy c1 (empty dir www) -> /',
    'copy c1 /site/css/a.css -> /www/css/a.css',
    'copy c1 /site/index.html -> /www/index.html',
    'reconcile',
    'copy c2 (empty dir www) -> /',
    'copy c2 /site/css/a.css -> /www/css/a.css',
    'copy c2 /site/index.html -> /www/index.html',
  ]);
});

test('sync into a container that lacks the target and new subdirectories makes the directories first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'stack.yaml'), 'E=1');
  // A fake container filesystem with docker-cp rules: the destination's parent must exist;
  // a directory copied into an existing one keeps its name.
  const fs = new Set<string>(['/']);
  const { readdirSync, statSync } = await import('node:fs');
  const copyTree = (src: string, dest: string) => {
    fs.add(dest);
    if (statSync(src).isDirectory()) for (const e of readdirSync(src)) copyTree(join(src, e), `${dest}/${e}`);
  };
  const host: WatchHost = {
    async load() { return model(dir, '1'); },
    async reconcile() {},
    async runningContainers() { return ['c1']; },
    async copyInto(_id, src, ctr) {
      const parent = ctr === '/' ? '/' : ctr.slice(0, ctr.lastIndexOf('/')) || '/';
      if (fs.has(ctr) && statSync(src).isDirectory()) return copyTree(src, `${ctr === '/' ? '' : ctr}/${basename(src)}`);
      if (!fs.has(parent)) throw new Error(`destination directory ${parent} does not exist`);
      copyTree(src, ctr);
    },
    async removeIn() {},
    async exec() { return 0; },
    async restart() {},
    dockerignored: () => false,
    watch: watchPaths,
    info() {},
    error(e) { t.fail((e as Error).message); },
  };
  const s = await startWatch(host, { quietMs: 50 });
  t.teardown(() => s.stop());
  mkdirSync(join(dir, 'site/css/deep'), { recursive: true });
  writeFileSync(join(dir, 'site/css/deep/a.css'), 'a');
  writeFileSync(join(dir, 'site/index.html'), 'v1');
  await new Promise((r) => setTimeout(r, 400));
  await s.idle();
  t.deepEqual([...fs].sort(), ['/', '/www', '/www/css', '/www/css/deep', '/www/css/deep/a.css', '/www/index.html']);
});

test('watchPaths: a path that does not exist yet is seen when made, and does not delay the others', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'stack.yaml'), 'a');
  const seen = new Set<string>();
  const stop = await watchPaths([join(dir, '.env'), join(dir, 'stack.yaml'), join(dir, 'site')], (p) => seen.add(p.slice(dir.length)));
  t.teardown(() => stop());
  // Right after ready: a watcher given the missing path directly could still be starting here.
  writeFileSync(join(dir, 'site/index.html'), 'v1');
  writeFileSync(join(dir, 'unrelated'), 'x');
  await new Promise((r) => setTimeout(r, 400));
  writeFileSync(join(dir, '.env'), 'A=1');
  await new Promise((r) => setTimeout(r, 400));
  t.deepEqual([...seen].sort(), ['/.env', '/site/index.html']);
  seen.clear();
  writeFileSync(join(dir, '.env'), 'A=2');
  await new Promise((r) => setTimeout(r, 400));
  t.deepEqual([...seen], ['/.env']);
});

/** inotify watches this process holds (every inotify fd's `wd:` lines in /proc/self/fdinfo). */
async function inotifyWatches(): Promise<number> {
  const { readdirSync, readFileSync, readlinkSync } = await import('node:fs');
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try { target = readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; }
    if (target !== 'anon_inode:inotify') continue;
    try { n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length; } catch { /* closed meanwhile */ }
  }
  return n;
}

test.serial('watchPaths over a tree: one watch per directory and none per file, no timer while idle; new directories are followed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(dir, `src/d${d}`), { recursive: true });
    for (let f = 0; f < 30; f++) writeFileSync(join(dir, `src/d${d}/f${f}.txt`), `${d}/${f}`);
  }
  mkdirSync(join(dir, 'src/node_modules/pkg'), { recursive: true });
  const before = await inotifyWatches();
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const seen = new Set<string>();
  const stop = await watchPaths([join(dir, 'src'), join(dir, 'stack.yaml')], (p) => seen.add(p.slice(dir.length)));
  t.teardown(() => stop());
  // src, its 20 directories, and the project directory for stack.yaml; node_modules is not watched
  t.is(await inotifyWatches() - before, 22);
  await new Promise((r) => setTimeout(r, 100));
  t.is(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timersBefore);
  writeFileSync(join(dir, 'src/d3/f1.txt'), 'changed');
  mkdirSync(join(dir, 'src/new/deep'), { recursive: true });
  writeFileSync(join(dir, 'src/new/deep/a.txt'), 'a');
  writeFileSync(join(dir, 'src/node_modules/pkg/x.js'), 'noise');
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'src/new/deep/b.txt'), 'b');
  rmSync(join(dir, 'src/d7'), { recursive: true });
  await new Promise((r) => setTimeout(r, 300));
  for (const p of ['/src/d3/f1.txt', '/src/new', '/src/new/deep', '/src/new/deep/a.txt', '/src/new/deep/b.txt', '/src/d7']) t.true(seen.has(p), `${p} in ${[...seen].join(' ')}`);
  t.false([...seen].some((p) => p.includes('node_modules')));
  // d7 went, new and new/deep came
  t.is(await inotifyWatches() - before, 23);
  await stop();
  t.is(await inotifyWatches(), before);
});
