// What `up` of many containers relies on (issue 14), as structure rather than timings: a create makes its
// directories and files (intent, record, /etc files) on libuv's thread pool, not on the one JavaScript
// thread, which serves the other containers of the `up` meanwhile (a new inode costs the kernel 0.3–0.8 ms
// of CPU on a large, busy ext4). Counted by wrapping node:fs's synchronous calls in this process, over the
// in-memory drivers of test/fakes/ (the real record, intent and /etc files are written; the fakes' own
// bundle and rootfs writes are not counted).

import test from 'ava';
import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
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

/** Paths the synchronous calls of `f` created or renamed into place (mkdirSync, writeFileSync, openSync with O_CREAT, renameSync). */
async function syncCreations<T>(f: () => Promise<T>): Promise<{ value: T; paths: string[] }> {
  const paths: string[] = [];
  const calls = { mkdirSync: fs.mkdirSync, writeFileSync: fs.writeFileSync, openSync: fs.openSync, renameSync: fs.renameSync };
  const mutable = fs as unknown as Record<string, unknown>;
  mutable.mkdirSync = (p: fs.PathLike, ...a: unknown[]) => { paths.push(String(p)); return (calls.mkdirSync as (...x: unknown[]) => unknown)(p, ...a); };
  mutable.writeFileSync = (p: fs.PathOrFileDescriptor, ...a: unknown[]) => { paths.push(String(p)); return (calls.writeFileSync as (...x: unknown[]) => unknown)(p, ...a); };
  mutable.renameSync = (from: fs.PathLike, to: fs.PathLike) => { paths.push(String(to)); return calls.renameSync(from, to); };
  mutable.openSync = (p: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
    const creates = typeof flags === 'number' ? (flags & fs.constants.O_CREAT) !== 0 : typeof flags === 'string' && /[wa]/.test(flags);
    if (creates) paths.push(String(p));
    return calls.openSync(p, flags ?? 'r', mode);
  };
  syncBuiltinESMExports();
  try {
    return { value: await f(), paths };
  } finally {
    Object.assign(mutable, calls);
    syncBuiltinESMExports();
  }
}

test('creating 8 containers together makes no directory or file of theirs on the JavaScript thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-offthread-'));
  dirs.push(dir);
  const p = fakeParts(join(dir, 'lib'), join(dir, 'run'));
  await p.net.create({ name: 'front', labels: {}, subnet: '10.89.0.0/24' });
  const { value: infos, paths } = await syncCreations(() => Promise.all(Array.from({ length: 8 }, (_, i) => p.c.create(spec(`s${i}`)))));
  const containers = join(dir, 'lib', 'containers');
  const theirs = paths.filter((x) => (x.startsWith(containers + '/') || x.startsWith(join(dir, 'lib', 'intents')))
    && !x.endsWith('/bundle/config.json') && !/\/(rootfs|upper|work)(\/|$)/.test(x)); // the fakes' own writes
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

/** The most creations and renames (mkdir, open with O_CREAT, rename, writeFile; node:fs callbacks and node:fs/promises) under `under` in flight at once while `f` runs. */
async function maxInFlight<T>(under: string, f: () => Promise<T>): Promise<number> {
  let now = 0, max = 0;
  const creates = (a: unknown[], n: string) => n !== 'open' || (typeof a[1] === 'number' ? (a[1] & fs.constants.O_CREAT) !== 0 : typeof a[1] === 'string' && /[wa]/.test(a[1]));
  const enter = (a: unknown[], n: string) => {
    if (!String(a[0]).startsWith(under) || !creates(a, n)) return false;
    now++;
    max = Math.max(max, now);
    return true;
  };
  const saved: [Record<string, unknown>, string, unknown][] = [];
  const cbFs = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const n of ['mkdir', 'open', 'rename']) { // (fs.writeFile opens through fs.open)
    const orig = cbFs[n]!;
    saved.push([cbFs, n, orig]);
    cbFs[n] = (...a: unknown[]) => {
      const k = a[a.length - 1] as (...r: unknown[]) => void;
      const counted = enter(a, n);
      return orig(...a.slice(0, -1), (...r: unknown[]) => { if (counted) now--; k(...r); });
    };
  }
  const pFs = fsp as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const n of ['mkdir', 'open', 'rename', 'writeFile']) {
    const orig = pFs[n]!;
    saved.push([pFs, n, orig]);
    pFs[n] = async (...a: unknown[]) => {
      const counted = enter(a, n);
      try { return await orig(...a); } finally { if (counted) now--; }
    };
  }
  syncBuiltinESMExports();
  try {
    await f();
  } finally {
    for (const [o, n, v] of saved) o[n] = v;
    syncBuiltinESMExports();
  }
  return max;
}

// Each container's directory goes to a block group of its own (util/spread-dirs.ts): their inodes are
// allocated side by side on the thread pool, not one create's after another's (an `up` of 20: 651 -> 572 ms).
test('the directory entries of 8 creates made together are made side by side on the thread pool', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-offthread-'));
  dirs.push(dir);
  const p = fakeParts(join(dir, 'lib'), join(dir, 'run'));
  await p.net.create({ name: 'front', labels: {}, subnet: '10.89.0.0/24' });
  const most = await maxInFlight(join(dir, 'lib'), () => Promise.all(Array.from({ length: 8 }, (_, i) => p.c.create(spec(`s${i}`)))));
  t.true(most > 1, `${most} in flight at once at the most`);
  t.is((await p.c.list({})).length, 8);
});
