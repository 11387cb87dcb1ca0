// A fully cached `tsstack build` as a process: the build memo answers it, and
// what that costs is the modules it loads. It must load neither the image store
// nor the builder nor the other image commands (nor FFI), and still name the
// image again when its name moved. Loaded modules are seen by a module hook.
import test from 'ava';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, Sandbox } from '../examples/_cli.js';
import { needs } from '../helpers/skip.js';

const settle = () => new Promise((r) => setTimeout(r, 250)); // past the memo's racy window

needs('root').serial('a cached build is answered by the memo without the image store, the builder or FFI; a moved name is pointed back', async (t) => {
  const b = new Sandbox();
  t.teardown(() => b.dispose());
  const old = 1_700_000_000;
  mkdirSync(join(b.base, 'base/etc'), { recursive: true });
  writeFileSync(join(b.base, 'base/etc/release'), 'base\n');
  mkdirSync(join(b.base, 'ctx/data'), { recursive: true });
  for (const f of ['a', 'b']) { writeFileSync(join(b.base, 'ctx/data', f), `${f}\n`); utimesSync(join(b.base, 'ctx/data', f), old, old); }
  writeFileSync(join(b.base, 'ctx/Dockerfile'), 'FROM base:1\nCOPY data/ /data/\n');
  writeFileSync(join(b.base, 'stack.yaml'), 'services:\n  b:\n    build: ./ctx\n    image: cached:1\n');
  // logs the URL of every module loaded (the hooks run off the main thread: they append to a file)
  const log = join(b.base, 'modules.log');
  writeFileSync(join(b.base, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`);
  writeFileSync(join(b.base, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${join(b.base, 'hooks.mjs')}`)});\n`);
  // every build hooked, so all run as the modules of dist/src (a hook turns bin/'s bundle off) and share one model cache key
  const build = (hooked = true) => {
    writeFileSync(log, '');
    return b.exec('node', [...(hooked ? ['--import', join(b.base, 'register.mjs')] : []), BIN, '-f', join(b.base, 'stack.yaml'), '-p', 'cb', 'build'], { cwd: b.base });
  };
  const loaded = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);

  t.is((await b.tsstack('image', 'import', join(b.base, 'base'), 'base:1')).code, 0);
  await settle();
  const first = await build();
  t.is(first.code, 0, first.err);
  await settle();
  const cached = await build();
  t.is(cached.code, 0, cached.err);
  t.regex(cached.err, /#2 CACHED/);
  const id = /built cached:1 (sha256:[0-9a-f]{64})/.exec(cached.err)?.[1];
  t.truthy(id, cached.err);

  const hit = await build(true);
  t.is(hit.code, 0, hit.err);
  t.is(hit.err, cached.err, 'the same lines as the build it stands for');
  const mods = loaded();
  t.true(mods.some((u) => u.endsWith('/engine/image/build/memo.js')), 'the memo answered');
  for (const heavy of ['/engine/image/store.js', '/engine/image/content.js', '/engine/image/layers.js', '/engine/image/validate.js',
    '/engine/image/build/index.js', '/cli/commands/images.js', '/cli/render.js', '/stack/load.js']) {
    t.false(mods.some((u) => u.endsWith(heavy)), `${heavy} is not loaded`);
  }
  t.false(mods.some((u) => u.includes('/node_modules/')), 'no package (koffi, yaml, commander) is loaded');

  // the name moved to another image meanwhile: the memo names the image again (the store is loaded for that)
  t.is((await b.tsstack('image', 'tag', 'base:1', 'cached:1')).code, 0);
  const moved = await build(true);
  t.is(moved.code, 0, moved.err);
  t.is(moved.err, cached.err);
  t.true(loaded().some((u) => u.endsWith('/engine/image/store.js')));
  const [info] = JSON.parse((await b.tsstack('image', 'inspect', 'cached:1')).out) as { id: string }[];
  t.is(info!.id, id!);
});
