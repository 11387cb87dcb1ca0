// A removal that fails half-way keeps the container's record, so running it
// again finds the container and finishes; real overlay, real runtime, real
// monitor. The failure is injected in the root filesystem provider.
import test from 'ava';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Containers } from '../../src/engine/runtime/containers.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, cgroupLeftovers, mountsUnder, processGone, runtimes, until } from './helpers.js';

const base = makeTemp('tsstack-rm-');
let fs: OverlayRootfs;
test.before(() => { fs = new OverlayRootfs(base); });
test.after.always(async () => {
  const { execFileSync } = await import('node:child_process');
  for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
  rmTemp(base);
});

/** The real overlay provider, whose unmount fails the first `failures` times. */
class FailingUnmount {
  constructor(private readonly inner: OverlayRootfs, public failures: number) {}
  mountRootfs(imageId: string, dir: string): Promise<string> { return this.inner.mountRootfs(imageId, dir); }
  async unmountRootfs(dir: string): Promise<void> {
    if (this.failures-- > 0) throw new Error('injected unmount failure');
    return this.inner.unmountRootfs(dir);
  }
}

const rt = runtimes()[0];
(rt ? test : test.skip)(`a failed removal is reported, keeps the record, and a second removal finishes (${rt ?? 'no runtime'})`, async (t) => {
  const dir = join(base, 'e');
  const images = new FailingUnmount(fs, 1);
  const c = new Containers({ root: join(dir, 'root'), runRoot: join(dir, 'run'), images, runtime: rt });
  t.teardown(async () => {
    images.failures = 0;
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
  });
  const info = await c.create({
    name: 'sleeper', image: 'busybox', imageId: 'sha256:busybox', labels: {}, args: ['sleep', '1000'], env: [], cwd: '/',
    hostname: 'sleeper', mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 2000,
  });
  await c.start(info.id);
  const pid = (await c.inspect(info.id))!.pid!;
  t.true(pid > 0);

  const err = await t.throwsAsync(c.remove(info.id, { force: true }));
  t.regex(err!.message, /was not removed completely: rootfs: injected unmount failure/);
  t.true(await until(() => processGone(pid)), 'the container was stopped all the same');
  const left = await c.inspect(info.id);
  t.is(left?.status, 'exited', 'the record stays, so the removal can be run again');

  await c.remove(info.id, { force: true });
  t.is(await c.inspect(info.id), undefined);
  t.deepEqual(mountsUnder(dir), [], 'no mounts');
  t.deepEqual(cgroupLeftovers(info.id), [], 'no cgroups');
  t.false(existsSync(join(c.root, 'containers', info.id)), 'container dir removed');
  t.deepEqual(readdirSync(join(c.runRoot, 'monitor')), [], 'monitor dir removed');
});
