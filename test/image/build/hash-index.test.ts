// The context's content-hash index: a rebuild with nothing changed reads no
// file's contents; a file rewritten with its size and mtime put back is still
// read again (its ctime moved); an index torn or tampered with is not trusted.
import test from 'ava';
import { readdirSync, readFileSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '../../../src/engine/image/store.js';
import { buildImage } from '../../../src/engine/image/build/index.js';
import { contentHasher, FileHashMemo } from '../../../src/engine/image/build/context.js';
import type { BuildRequest } from '../../../src/engine/api.js';
import { makeTemp, rmTemp } from '../../helpers/rootfs.js';
import { needs } from '../../helpers/skip.js';

needs('root').serial('a cached rebuild reads no file; a rewrite with size and mtime put back is caught; a torn or edited index is ignored', async (t) => {
  const root = makeTemp('tsstack-hash-index-');
  t.teardown(() => rmTemp(root));
  const ctxDir = join(root, 'ctx');
  mkdirSync(join(ctxDir, 'data'), { recursive: true });
  // whole-second mtimes, so that one can be put back exactly
  for (let i = 0; i < 5; i++) { writeFileSync(join(ctxDir, 'data', `f${i}`), `content ${i}\n`); utimesSync(join(ctxDir, 'data', `f${i}`), 1_700_000_000, 1_700_000_000); }
  const store = new ImageStore({ root: join(root, 'store') });
  const reads: string[] = [];
  const real = contentHasher.sha256;
  contentHasher.sha256 = async (p) => { reads.push(p); return real(p); };
  t.teardown(() => { contentHasher.sha256 = real; });
  const lines: string[] = [];
  const req: BuildRequest = { context: ctxDir, dockerfileInline: 'FROM scratch\nCOPY data/ /data/\n', args: {}, labels: {}, tags: ['idx:1'], onProgress: (l) => lines.push(l) };
  const build = async () => { reads.length = 0; lines.length = 0; return (await buildImage(store, req)).id; };
  // files this fresh are not remembered (they may change again within the clock's tick)
  await new Promise((r) => setTimeout(r, 300));

  const first = await build();
  t.is(reads.length, 5);
  t.is(await build(), first);
  t.is(reads.length, 0, 'nothing changed: no file is read');
  t.true(lines.includes('#2 CACHED'));

  // same size, mtime put back: only the ctime tells
  const f2 = join(ctxDir, 'data', 'f2');
  const before = statSync(f2);
  writeFileSync(f2, 'CONTENT 2\n');
  utimesSync(f2, 1_700_000_000, 1_700_000_000);
  t.is(statSync(f2).size, before.size);
  t.is(statSync(f2).mtimeMs, before.mtimeMs);
  const changed = await build();
  t.not(changed, first);
  t.deepEqual(reads.map((p) => p.includes('/fd/')), [true], 'the one changed file is read, through its opened descriptor');
  t.false(lines.includes('#2 CACHED'));
  await new Promise((r) => setTimeout(r, 300));
  await build(); // now old enough to be remembered
  t.is(await build(), changed);
  t.is(reads.length, 0);

  const dir = join(root, 'store', 'build-cache', 'hash-index');
  const [name] = readdirSync(dir);
  t.is(join(dir, name!), FileHashMemo.pathFor(join(root, 'store'), ctxDir));
  const text = readFileSync(join(dir, name!), 'utf8');
  // an entry edited to claim other contents, the checksum left as it was: the whole index is ignored
  const doc = JSON.parse(text) as { entries: Record<string, [number, number, number, string]> };
  for (const e of Object.values(doc.entries)) e[3] = '0'.repeat(64);
  writeFileSync(join(dir, name!), JSON.stringify(doc));
  t.is(await build(), changed, 'a tampered index does not change the image');
  t.is(reads.length, 5);
  // torn in the middle (a crash while it was written in place): ignored, then rewritten whole
  writeFileSync(join(dir, name!), text.slice(0, text.length >> 1));
  t.is(await build(), changed);
  t.is(reads.length, 5);
  t.is(await build(), changed);
  t.is(reads.length, 0, 'the index was rewritten');
});
