// Sandboxes are worked on by the engine's main thread stepping in and out synchronously (ns-enter.ts):
// no worker thread is started (one cost ~0.1 s to load on the first sandbox of every command), the work
// lands in the sandbox, and the thread is back in its own namespace after every job, failed ones too.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsSandbox } from '../../src/engine/network/kernel-drivers.js';
import { freshHost } from './helpers.js';
import { needs } from '../helpers/skip.js';

const here = () => readlinkSync('/proc/thread-self/ns/net');
const threads = () => readdirSync('/proc/self/task').length;

needs('root').serial('create, inspect, sysctl and configure run in the sandbox from this thread and return it home', async (t) => {
  await freshHost();
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-nsenter-'));
  const path = join(dir, 'ns');
  const sb = new NetnsSandbox();
  const home = here();
  await readFile('/proc/self/stat'); // libuv's pool started before counting threads
  const before = threads();
  try {
    await sb.create(path);
    t.is(here(), home);
    const inside = await sb.inspect(path);
    t.true(inside.links.some((l) => l.name === 'lo' && l.up), 'loopback is up inside');
    t.false(inside.links.some((l) => l.name !== 'lo'), 'nothing of this namespace is seen there');
    const homeForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    const want = homeForward === '1' ? '0' : '1';
    await sb.sysctl(path, { 'net.ipv4.ip_forward': want });
    t.is(here(), home);
    t.is(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), homeForward, 'written inside, not here');
    t.is(execFileSync('nsenter', [`--net=${path}`, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).trim(), want);
    await t.throwsAsync(sb.configure(path, { ifname: 'nope0', address: '10.9.0.2', prefixLen: 24, gateway: '10.9.0.1', defaultRoute: true }), { message: /nope0 not found/ });
    t.is(here(), home, 'back home after a failed job');
    await t.throwsAsync(sb.inspect(join(dir, 'missing')));
    t.is(here(), home);
    t.is(threads(), before, 'no thread was started for the sandbox work');
  } finally {
    const r = sb.unpin(path);
    t.deepEqual(r.failures, []);
    await sb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
