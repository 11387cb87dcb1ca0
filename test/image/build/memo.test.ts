// The build memo (build/memo.ts): a build that ran nothing is remembered, and the
// next one with nothing changed is answered without the builder; any change the
// builder would see (a file, a directory's entries, the Dockerfile, the ignore
// file, a base image's name, a link swapped in) is a miss.
import test from 'ava';
import { mkdirSync, readdirSync, rmSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../../src/engine/image/store.js';
import type { BuildRequest } from '../../../src/engine/api.js';
import { makeTemp, rmTemp } from '../../helpers/rootfs.js';
import { needs } from '../../helpers/skip.js';

const settle = () => new Promise((r) => setTimeout(r, 250)); // past the memo's racy window

needs('root').serial('a rebuild with nothing changed comes from the memo; every change the builder would see is a miss', async (t) => {
  const root = makeTemp('tsstack-build-memo-');
  t.teardown(() => rmTemp(root));
  const ctxDir = join(root, 'ctx');
  mkdirSync(join(ctxDir, 'data/sub'), { recursive: true });
  for (const f of ['a', 'b', 'sub/c']) { writeFileSync(join(ctxDir, 'data', f), `${f}\n`); utimesSync(join(ctxDir, 'data', f), 1_700_000_000, 1_700_000_000); }
  writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM base:1\nCOPY data/ /data/\n');
  for (const n of ['1', '2']) { mkdirSync(join(root, `base${n}/etc`), { recursive: true }); writeFileSync(join(root, `base${n}/etc/release`), n); }
  const store = new ImageStore({ root: join(root, 'store') });
  const base1 = await store.importRootfs(join(root, 'base1'), 'base:1');
  const base2 = await store.importRootfs(join(root, 'base2'), 'base:2');
  t.not(base1.id, base2.id);
  const lines: string[] = [];
  const req: BuildRequest = { context: ctxDir, args: {}, labels: {}, tags: ['memo:1'], onProgress: (l) => lines.push(l) };
  const build = async () => { lines.length = 0; return (await store.build(req)).id; };
  const memoDir = join(root, 'store', 'build-cache', 'memo');
  const stepCache = () => readdirSync(join(root, 'store', 'build-cache')).filter((n) => n.endsWith('.json'));
  await settle();

  const first = await build();
  t.false(readdirSync(join(root, 'store', 'build-cache')).includes('memo'), 'a build that ran a step is not remembered');
  t.is(await build(), first);
  const cachedLines = [...lines];
  t.true(cachedLines.includes('#2 CACHED'));
  t.is(readdirSync(memoDir).length, 1, 'a build that ran nothing is remembered');
  // the step cache gone: only the memo can give the image without running the COPY again
  for (const n of stepCache()) rmSync(join(root, 'store', 'build-cache', n));
  t.is(await build(), first);
  t.deepEqual(lines, cachedLines, 'the same lines as the build it stands for');
  t.deepEqual(stepCache(), [], 'the builder did not run');
  // the image's name moved to another image meanwhile: the memo names it again, as a build would
  await store.tag('base:2', 'memo:1');
  t.is(await build(), first);
  t.is((await store.inspect('memo:1'))?.id, first);
  t.deepEqual(stepCache(), []);

  const miss = async (what: string, change: () => void | Promise<void>) => {
    await build();
    await settle();
    await build(); // ran nothing: remembered
    for (const n of stepCache()) rmSync(join(root, 'store', 'build-cache', n));
    await change();
    await settle();
    let id: string | undefined;
    try { id = await build(); } catch { id = undefined; }
    t.true(stepCache().length > 0 || id === undefined, `${what}: the builder ran`);
    if (id !== undefined) t.not(id, first, `${what}: another image`);
  };
  await miss('a file rewritten, size and mtime put back', () => { writeFileSync(join(ctxDir, 'data/a'), 'A\n'); utimesSync(join(ctxDir, 'data/a'), 1_700_000_000, 1_700_000_000); });
  await miss('a file added below', () => writeFileSync(join(ctxDir, 'data/sub/d'), 'd\n'));
  await miss('the Dockerfile', () => writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM base:1\nCOPY data/ /data/\nENV X=1\n'));
  await miss('the ignore file', () => writeFileSync(join(ctxDir, '.dockerignore'), 'data/b\n'));
  await miss('the base image name moved', async () => { await store.tag('base:2', 'base:1'); });
  // a directory swapped for a link to a tree outside: a miss, and the builder refuses it or copies the link itself
  const outside = join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'host file\n');
  await miss('a directory swapped for a link', () => { renameSync(join(ctxDir, 'data/sub'), join(root, 'sub.old')); symlinkSync(outside, join(ctxDir, 'data/sub')); });
});
