// A removal that fails half-way keeps the container's record, so running it
// again finds the container and finishes; real overlay, real runtime, real
// monitor. The failure is real too: a process keeps the root filesystem busy.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Containers } from '../../src/engine/runtime/containers.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, cgroupLeftovers, mountsUnder, processGone, runtimes, until } from './helpers.js';
import { needs } from '../helpers/skip.js';

const base = makeTemp('tsstack-rm-');
let fs: OverlayRootfs;
test.before(() => { fs = new OverlayRootfs(base); });
test.after.always(async () => {
  const { execFileSync } = await import('node:child_process');
  for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
  rmTemp(base);
});

const rt = runtimes()[0];
needs('runtime')(`a failed removal is reported, keeps the record, and a second removal finishes (${rt ?? 'no runtime'})`, async (t) => {
  const dir = join(base, 'e');
  const c = new Containers({ root: join(dir, 'root'), runRoot: join(dir, 'run'), images: fs, runtime: rt });
  let busy: ChildProcess | undefined;
  t.teardown(async () => {
    busy?.kill('SIGKILL');
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
  });
  const info = await c.create({
    name: 'sleeper', image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: ['sleep', '1000'], env: [], cwd: '/',
    hostname: 'sleeper', mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 2000,
  });
  await c.start(info.id);
  const pid = (await c.inspect(info.id))!.pid!;
  t.true(pid > 0);

  // a host process working in the container's root filesystem: it cannot be unmounted
  busy = spawn('sleep', ['100'], { cwd: join(c.containerDir(info.id), 'rootfs'), stdio: 'ignore' });
  await new Promise((r) => busy!.once('spawn', r));
  const err = await t.throwsAsync(c.remove(info.id, { force: true }));
  t.regex(err!.message, /was not removed completely: rootfs: /);
  t.true(await until(() => processGone(pid)), 'the container was stopped all the same');
  const left = await c.inspect(info.id);
  t.is(left?.status, 'exited', 'the record stays, so the removal can be run again');

  busy.kill('SIGKILL');
  await new Promise((r) => busy!.once('exit', r));
  await c.remove(info.id, { force: true });
  t.is(await c.inspect(info.id), undefined);
  t.deepEqual(mountsUnder(dir), [], 'no mounts');
  t.deepEqual(cgroupLeftovers(info.id), [], 'no cgroups');
  t.false(existsSync(join(c.root, 'containers', info.id)), 'container dir removed');
  t.deepEqual(readdirSync(join(c.runRoot, 'monitor')), [], 'monitor dir removed');
});
