import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Lock, withLock } from '../../src/engine/store/lock.js';
import { Volumes } from '../../src/engine/volumes.js';

const temp = () => mkdtempSync(join(tmpdir(), 'tsstack-store-'));

test('volumes: create is idempotent, list filters by label, remove deletes data', async (t) => {
  const root = temp();
  const v = new Volumes(root);
  const a = await v.create('p_data', { 'tsstack.project': 'p' });
  t.is(a.mountpoint, join(root, 'volumes/p_data/_data'));
  writeFileSync(join(a.mountpoint, 'f'), 'x');
  const again = await v.create('p_data', { other: '1' });
  t.deepEqual(again, a);
  await v.create('q_data', { 'tsstack.project': 'q' });
  t.deepEqual((await v.list({ 'tsstack.project': 'p' })).map((x) => x.name), ['p_data']);
  t.is((await v.list()).length, 2);
  await v.remove('p_data');
  t.false(existsSync(join(root, 'volumes/p_data')));
  t.is(await v.inspect('p_data'), undefined);
  await v.remove('p_data'); // idempotent
  await t.throwsAsync(v.create('../evil', {}), { message: /invalid volume name/ });
  rmSync(root, { recursive: true, force: true });
});

test('lock: a second holder waits, learns who holds it, then gets it', async (t) => {
  const root = temp();
  const first = await Lock.acquire(root, 'project-x', { command: 'tsstack up -d' });
  let waitedOn: string | undefined;
  const second = Lock.acquire(root, 'project-x', { pollMs: 5, noticeMs: 0, onWait: (h) => { waitedOn = `${h?.pid} ${h?.command}`; } });
  await new Promise((r) => setTimeout(r, 30));
  t.is(waitedOn, `${process.pid} tsstack up -d`);
  first.release();
  const l2 = await second;
  l2.release();
  await t.throwsAsync(async () => {
    const a = await Lock.acquire(root, 'project-x');
    try {
      await Lock.acquire(root, 'project-x', { wait: false });
    } finally {
      a.release();
    }
  }, { message: /the lock of project-x is held by pid \d+/ });
  t.is(await withLock(root, 'project-x', {}, async () => 7), 7);
  rmSync(root, { recursive: true, force: true });
});

test('lock: held across processes and freed when the holder dies', async (t) => {
  const root = temp();
  const lockFile = Lock.pathFor(root, 'project-y');
  const url = new URL('../../src/engine/store/lock.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `const { Lock } = await import(${JSON.stringify(url)}); await Lock.acquire(${JSON.stringify(root)}, 'project-y', { command: 'child' }); console.log('locked'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => child.stdout!.once('data', () => r()));
  t.is(Lock.readHolder(lockFile)?.command, 'child');
  await t.throwsAsync(Lock.acquire(root, 'project-y', { wait: false }), { message: /held by pid \d+ \(child\)/ });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const l = await Lock.acquire(root, 'project-y', { timeoutMs: 2000 });
  l.release();
  t.deepEqual(readdirSync(join(root, 'locks')), ['project-y.lock']);
  rmSync(root, { recursive: true, force: true });
});
