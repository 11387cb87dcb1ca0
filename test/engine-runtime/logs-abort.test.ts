// LogOptions.signal: a follow that would otherwise wait for a silent writer
// forever ends when aborted, holding no file, timer or listener afterwards.
// Serial, and in a file of its own, so the process-wide counts of timers and
// fds are this file's alone.
import test from 'ava';
import { needs } from '../helpers/skip.js';
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec, LogLine } from '../../src/engine/api.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import { readLogs } from '../../src/engine/runtime/logs.js';
import { pause } from '../../src/util/pause.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, mountsUnder, runtimes } from './helpers.js';

const line = (time: string, log: string) => JSON.stringify({ log, stream: 'stdout', time }) + '\n';
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
/** Open fds of this process that point at `path`. */
const fdsOn = (path: string) => readdirSync('/proc/self/fd').filter((fd) => {
  try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path); } catch { return false; }
});

/** Follows `it` in the background; `result` settles with the lines seen once the iterator returns. */
function drain(it: AsyncIterable<LogLine>): { seen: string[]; result: Promise<string[]> } {
  const seen: string[] = [];
  const result = (async () => {
    for await (const l of it) seen.push(l.log);
    return seen;
  })();
  return { seen, result };
}

/** `p`, or 'hung' if it has not settled after `ms` (the bound is only a failure guard, not a timing claim). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'hung'>((r) => { timer = setTimeout(() => r('hung'), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

test.serial('pause: ends early on abort and leaves no timer or abort listener', async (t) => {
  const before = timers();
  const ac = new AbortController();
  const p = pause(60_000, ac.signal);
  t.is(timers(), before + 1);
  t.is(getEventListeners(ac.signal, 'abort').length, 1);
  ac.abort();
  t.not(await within(p, 5000), 'hung');
  t.is(timers(), before);
  t.is(getEventListeners(ac.signal, 'abort').length, 0);
  // Run to its end, too, it takes its listener away.
  const ac2 = new AbortController();
  await pause(10, ac2.signal);
  t.is(getEventListeners(ac2.signal, 'abort').length, 0);
  t.is(timers(), before);
});

test.serial('readLogs: a follow on a silent writer ends when aborted while waiting; history first; already aborted reads nothing', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  writeFileSync(p, line('2026-01-01T00:00:01Z', 'one\n') + line('2026-01-01T00:00:02Z', 'two\n'));
  const before = timers();
  const ac = new AbortController();
  const r = drain(readLogs(p, { follow: true, signal: ac.signal }, () => false));
  await new Promise((res) => setTimeout(res, 250)); // several polls of a writer that never finishes
  t.deepEqual(r.seen, ['one', 'two']);
  ac.abort();
  t.deepEqual(await within(r.result, 5000), ['one', 'two']);
  t.is(timers(), before, 'no poll timer left');
  t.deepEqual(fdsOn(p), [], 'no fd on the log');
  t.is(getEventListeners(ac.signal, 'abort').length, 0);

  const gone = new AbortController();
  gone.abort();
  t.deepEqual(await within(drain(readLogs(p, { follow: true, signal: gone.signal }, () => false)).result, 5000), []);
});

test.serial('readLogs: aborting between lines stops at the next line', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  writeFileSync(p, ['1', '2', '3'].map((s) => line(`2026-01-01T00:00:0${s}Z`, `${s}\n`)).join(''));
  const ac = new AbortController();
  const got: string[] = [];
  for await (const l of readLogs(p, { signal: ac.signal }, () => true)) {
    got.push(l.log);
    ac.abort();
  }
  t.deepEqual(got, ['1']);
});

/** A node process that follows `path` (a writer that never finishes), aborts after 300 ms and then does nothing else. */
const CHILD = `
import { readLogs } from ${JSON.stringify(new URL('../../src/engine/runtime/logs.js', import.meta.url).href)};
const ac = new AbortController();
setTimeout(() => ac.abort(), 300);
let n = 0;
for await (const l of readLogs(process.argv[1], { follow: true, signal: ac.signal }, () => false)) n++;
console.log('ended after ' + n);
`;

test.serial('readLogs: once aborted, nothing keeps the process alive (it exits on its own)', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  writeFileSync(p, line('2026-01-01T00:00:01Z', 'one\n'));
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, p], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const code = await within(exited, 10_000);
  if (code === 'hung') child.kill('SIGKILL');
  t.is(code, 0, out);
  t.is(out.trim(), 'ended after 1');
});

const rts = runtimes();
const base = makeTemp('tsstack-logabort-');
test.after.always(async () => {
  const { execFileSync } = await import('node:child_process');
  for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
  rmTemp(base);
});

const spec = (name: string, args: string[]): ContainerCreateSpec => ({
  name, image: 'busybox', imageId: 'sha256:busybox', labels: { 'tsstack.project': 'logs' }, args, env: [], cwd: '/',
  hostname: name, mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000,
});

needs('root', 'runtime').serial(`ContainerApi.logs: a follow on a silent running container ends when aborted; no fd or timer left (${rts[0] ?? 'no runtime'})`, async (t) => {
  const c = new Containers({ root: join(base, 'root'), runRoot: join(base, 'run'), images: new OverlayRootfs(base), runtime: rts[0] });
  t.teardown(async () => {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
  });
  const x = await c.create(spec('quiet', ['sh', '-c', 'echo ready; exec sleep 1000']));
  await c.start('quiet');
  const log = join(c.containerDir(x.id), 'log.json');
  const before = timers();
  const ac = new AbortController();
  const r = drain(c.logs('quiet', { follow: true, signal: ac.signal }));
  for (let i = 0; i < 100 && !r.seen.length; i++) await new Promise((res) => setTimeout(res, 50));
  t.deepEqual(r.seen, ['ready']);
  await new Promise((res) => setTimeout(res, 250)); // waiting for lines that do not come
  ac.abort();
  t.deepEqual(await within(r.result, 5000), ['ready'], 'the iterator returned');
  t.is((await c.inspect('quiet'))?.status, 'running', 'the container is untouched');
  t.is(timers(), before, 'no poll timer left');
  t.deepEqual(fdsOn(log), [], 'no fd on the log');
  await c.remove('quiet', { force: true });
  t.deepEqual(mountsUnder(join(base, 'root')), []);
});
