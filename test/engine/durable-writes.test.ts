// What `up` of many containers relies on to be quick (issue 14), as structure rather than timings:
// the fsyncs of a container's create and start are bounded (the start rewrites no record; the leases of
// connects made together are written once), counted by fs-atomic.ts in this process. Over the in-memory
// drivers (test/fakes/): the real record, lease and intent files are written, the kernel is not touched.
// Serial: the count is the whole process's.

import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { fsyncCount } from '../../src/util/fs-atomic.js';
import { fakeParts } from '../fakes/containers.js';

const dirs: string[] = [];
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function parts() {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-durable-'));
  dirs.push(dir);
  const p = fakeParts(join(dir, 'lib'), join(dir, 'run'));
  await p.net.create({ name: 'front', labels: {}, subnet: '10.89.0.0/24' });
  return { dir, ...p };
}

const spec = (name: string): ContainerCreateSpec => ({
  name, image: 'busybox', imageId: 'sha256:0123', labels: { 'tsstack.project': 'p', 'tsstack.service': name },
  args: ['sleep', '60'], env: [], cwd: '/', hostname: name, mounts: [], endpoints: [{ network: 'front', aliases: [name] }], ports: [],
  resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 5000,
});

test.serial('a start rewrites no container record (its monitor pid is in the state file): no fsync of its own', async (t) => {
  const e = await parts();
  const info = await e.c.create(spec('web'));
  const record = join(e.c.containerDir(info.id), 'container.json');
  const before = statSync(record);
  const n = fsyncCount();
  await e.c.start(info.id);
  t.is(fsyncCount() - n, 0);
  const after = statSync(record);
  t.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
  t.is((await e.c.inspect(info.id))?.status, 'running');
});

test.serial('creating and starting 8 containers together: at most 3 fsyncs per container, the leases written together', async (t) => {
  const e = await parts();
  const n = fsyncCount();
  const infos = await Promise.all(Array.from({ length: 8 }, (_, i) => e.c.create(spec(`s${i}`))));
  await Promise.all(infos.map((i) => e.c.start(i.id)));
  const per = (fsyncCount() - n) / 8;
  t.log(`${per} fsyncs per container`);
  // the record's last write (file + directory) is 2; the network record is shared by the batch
  t.true(per <= 3, `${per} fsyncs per container`);
  const addresses = new Set(infos.map((i) => i.addresses.front));
  t.is(addresses.size, 8);
  t.deepEqual(Object.keys(leases(e.dir)).sort(), infos.map((i) => i.id).sort());
});

test.serial('connects made together write the network record once: one durable write (2 fsyncs) for 8 leases', async (t) => {
  const e = await parts();
  const ids = Array.from({ length: 8 }, (_, i) => String(i).repeat(64));
  for (const id of ids) await e.net.createSandbox(id);
  const n = fsyncCount();
  const eps = await Promise.all(ids.map((id) => e.net.connect(id, { network: 'front', aliases: [] })));
  t.is(fsyncCount() - n, 2);
  t.is(new Set(eps.map((x) => x.address)).size, 8);
  t.deepEqual(Object.keys(leases(e.dir)).sort(), ids);
  // each connect keeps its own outcome: one on a network that does not exist fails alone
  await e.net.createSandbox('9'.repeat(64));
  const [bad, good] = await Promise.allSettled([
    e.net.connect('9'.repeat(64), { network: 'nope', aliases: [] }),
    e.net.connect('9'.repeat(64), { network: 'front', aliases: [] }),
  ]);
  t.is(bad.status, 'rejected');
  t.is(good.status, 'fulfilled');
});

function leases(dir: string): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(dir, 'lib', 'networks', 'front.json'), 'utf8')) as { endpoints: Record<string, unknown> }).endpoints;
}

test('an atomic write or an intent into a directory not made yet makes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-durable-'));
  dirs.push(dir);
  const { writeFileAtomic } = await import('../../src/util/fs-atomic.js');
  const { beginIntent, listIntents } = await import('../../src/engine/intents.js');
  await writeFileAtomic(join(dir, 'a', 'b', 'f.json'), '{}', 0o640, { durable: false });
  t.is(readFileSync(join(dir, 'a', 'b', 'f.json'), 'utf8'), '{}');
  t.is(statSync(join(dir, 'a', 'b')).mode & 0o777, 0o755);
  t.is(statSync(join(dir, 'a', 'b', 'f.json')).mode & 0o777, 0o640);
  await writeFileAtomic(join(dir, 'a', 'b', 'f.json'), '{"again":1}'); // the directory there: the plain path
  t.is(readFileSync(join(dir, 'a', 'b', 'f.json'), 'utf8'), '{"again":1}');
  beginIntent(join(dir, 'lib'), { kind: 'container', op: 'create', name: 'c1', project: 'p' });
  t.like(listIntents(join(dir, 'lib'))[0], { kind: 'container', op: 'create', name: 'c1' });
  t.is(statSync(join(dir, 'lib', 'intents')).mode & 0o777, 0o700);
});

test.serial('a durable atomic write is the same file whether its steps run inline or on the thread pool (fsyncs found slow)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-durable-'));
  dirs.push(dir);
  const { writeFileAtomic, setDurableWrites } = await import('../../src/util/fs-atomic.js');
  const out: { text: string; mode: number; fsyncs: number; left: string[] }[] = [];
  for (const pooled of [false, true]) {
    setDurableWrites(pooled ? 'pool' : 'inline');
    try {
      const path = join(dir, pooled ? 'pool' : 'inline', 'f.json');
      await writeFileAtomic(path, 'old', 0o600);
      const n = fsyncCount();
      await writeFileAtomic(path, '{"a":1}', 0o640);
      out.push({ text: readFileSync(path, 'utf8'), mode: statSync(path).mode & 0o777, fsyncs: fsyncCount() - n, left: readdirSync(join(dir, pooled ? 'pool' : 'inline')) });
    } finally {
      setDurableWrites('auto');
    }
  }
  t.deepEqual(out[0], { text: '{"a":1}', mode: 0o640, fsyncs: 2, left: ['f.json'] }); // the file and its directory; no temp left
  t.deepEqual(out[1], out[0]);
});

