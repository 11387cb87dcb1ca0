// What `up` of many containers and `run --rm` rely on (issue 14), as structure rather than timings: a create
// makes its directories and small files (intent, record, /etc files) with node:fs's synchronous calls, not
// through libuv's thread pool, whose round trip (a pool thread woken, then the event loop) cost more here
// than the calls it carried (src/util/fs-now.ts, fs-atomic.ts writeFileAtomic). Counted by wrapping
// node:fs's callback calls in this process, over the in-memory drivers of test/fakes/ (the real record,
// intent and /etc files are written).

import test from 'ava';
import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { setDurableWrites } from '../../src/util/fs-atomic.js';
import { fakeParts } from '../fakes/containers.js';

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const spec = (name: string): ContainerCreateSpec => ({
  name, image: 'busybox', imageId: 'sha256:0123', labels: { 'tsstack.project': 'p', 'tsstack.service': name },
  args: ['sleep', '60'], env: [], cwd: '/', hostname: name, mounts: [], endpoints: [{ network: 'front', aliases: [name] }], ports: [],
  resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 5000,
});

/** Paths node:fs's callback calls (mkdir, open, rename, writeFile, fsync by descriptor not counted) were given while `f` ran. */
async function pooledCalls<T>(f: () => Promise<T>): Promise<{ value: T; paths: string[] }> {
  const paths: string[] = [];
  const cbFs = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved: [string, (...a: unknown[]) => unknown][] = [];
  for (const n of ['mkdir', 'open', 'rename', 'writeFile']) {
    const orig = cbFs[n]!;
    saved.push([n, orig]);
    cbFs[n] = (...a: unknown[]) => { paths.push(String(n === 'rename' ? a[1] : a[0])); return orig(...a); };
  }
  syncBuiltinESMExports();
  try {
    return { value: await f(), paths };
  } finally {
    for (const [n, v] of saved) cbFs[n] = v;
    syncBuiltinESMExports();
  }
}

test('creating 8 containers together makes their directories and files on the JavaScript thread, none through the thread pool', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-inline-'));
  dirs.push(dir);
  const p = fakeParts(join(dir, 'lib'), join(dir, 'run'));
  await p.net.create({ name: 'front', labels: {}, subnet: '10.89.0.0/24' });
  // (durable writes stay inline while fsyncs are fast, which this machine's disk may not be at every moment)
  setDurableWrites('inline');
  const { value: infos, paths } = await pooledCalls(() => Promise.all(Array.from({ length: 8 }, (_, i) => p.c.create(spec(`s${i}`))))).finally(() => setDurableWrites('auto'));
  const theirs = paths.filter((x) => x.startsWith(join(dir, 'lib', 'containers') + '/') || x.startsWith(join(dir, 'lib', 'intents')));
  t.deepEqual(theirs, []);
  // and what they are for is there: the records, the /etc files, no intent left
  for (const i of infos) {
    const d = p.c.containerDir(i.id);
    t.is(JSON.parse(readFileSync(join(d, 'container.json'), 'utf8')).name, i.name);
    t.is(readFileSync(join(d, 'hostname'), 'utf8').trim(), i.name);
    t.regex(readFileSync(join(d, 'hosts'), 'utf8'), new RegExp(`\\b${i.name}\\b`));
    t.true(fs.existsSync(join(d, 'resolv.conf')));
  }
  t.deepEqual(fs.readdirSync(join(dir, 'lib', 'intents')), []);
});

test('two creates of one name side by side: one is made, the other is a CONFLICT and makes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-inline-'));
  dirs.push(dir);
  const p = fakeParts(join(dir, 'lib'), join(dir, 'run'));
  await p.net.create({ name: 'front', labels: {}, subnet: '10.89.0.0/24' });
  const [a, b] = await Promise.allSettled([p.c.create(spec('web')), p.c.create(spec('web'))]);
  t.is(a.status, 'fulfilled');
  t.is(b.status, 'rejected');
  t.regex(String((b as PromiseRejectedResult).reason?.message), /container name "web" is already used/);
  t.is((await p.c.list({})).length, 1);
  t.is(fs.readdirSync(join(dir, 'lib', 'containers')).length, 1);
});
