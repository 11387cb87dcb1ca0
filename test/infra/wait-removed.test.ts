// ContainerApi.wait on a container that is removed while waited on must end.
// Regression for the compose-e2e "Failed to exit" hang: `up --abort-on-container-failure`
// left attach()'s wait on a stopped container polling; when `down` removed the
// container within the wait's 50 ms poll gap, the wait read the vanished state
// file forever and its timer kept the ava worker alive after its last test.
import test from 'ava';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, cgroupLeftovers, mountsUnder, runtimes } from '../engine-runtime/helpers.js';
import { needs } from '../helpers/skip.js';

const rts = runtimes();
const base = makeTemp('tsstack-waitrm-');
test.after.always(async () => {
  const { execFileSync } = await import('node:child_process');
  for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
  rmTemp(base);
});

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** How `p` settled, or 'hung' if it has not after `ms` (a failure guard, not a timing claim). */
async function settled(p: Promise<number>, ms: number): Promise<{ code: number } | { error: string } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then((code) => ({ code }), (e: Error) => ({ error: e.message })),
      new Promise<'hung'>((r) => { timer = setTimeout(() => r('hung'), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const spec = (name: string, args: string[]): ContainerCreateSpec => ({
  name, image: 'busybox', imageId: 'sha256:busybox', labels: { 'tsstack.project': 'waitrm' }, args, env: [], cwd: '/',
  hostname: name, mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000,
});

function containers(t: import('ava').ExecutionContext): Containers {
  const c = new Containers({ root: join(base, 'root'), runRoot: join(base, 'run'), images: new OverlayRootfs(base), runtime: rts[0] });
  t.teardown(async () => {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
  });
  return c;
}

needs('root', 'runtime').serial('wait: a created container removed while waited on rejects NOT_FOUND; no poll timer left', async (t) => {
  const c = containers(t);
  await c.create(spec('never', ['true']));
  const before = timers();
  const w = c.wait('never');
  await new Promise((r) => setTimeout(r, 120)); // a few polls of a container that has no state yet
  await c.remove('never');
  const r = await settled(w, 5000);
  t.like(r, { error: 'container never was removed before it ran' });
  t.is(timers(), before, 'no poll timer left');
});

needs('root', 'runtime').serial('wait: a running container whose files vanish between two polls ends with 137 (the exit was missed)', async (t) => {
  const c = containers(t);
  const x = await c.create(spec('missed', ['true']));
  const dir = c.containerDir(x.id);
  // What a poll sees of a running container: an attached run's state names a live caller (this process).
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ status: 'running', pid: 0, exitCode: 0, signal: 0, oomKilled: false, restartCount: 0, monitorPid: process.pid, attached: true }));
  const w = c.wait('missed');
  await new Promise((r) => setTimeout(r, 120));
  t.is(await settled(w, 100), 'hung', 'still waiting while it runs');
  // The end of a removal, as `down` does it between two polls: state and record go.
  rmSync(join(dir, 'state.json'));
  rmSync(join(dir, 'container.json'));
  t.deepEqual(await settled(w, 5000), { code: 137 });
  await new OverlayRootfs(base).unmountRootfs(dir);
  rmSync(dir, { recursive: true, force: true });
  t.deepEqual(mountsUnder(join(base, 'root')), []);
});

needs('root', 'runtime').serial(`wait: a running container removed with force ends the wait (${rts[0] ?? 'no runtime'})`, async (t) => {
  const c = containers(t);
  const x = await c.create(spec('forced', ['sh', '-c', 'exec sleep 1000']));
  await c.start('forced');
  const w = c.wait('forced');
  await new Promise((r) => setTimeout(r, 60));
  await c.remove('forced', { force: true });
  const r = await settled(w, 10_000);
  t.not(r, 'hung');
  // the stop's SIGKILL when a poll saw the exit, 137 from the removal when none did: the same here
  t.deepEqual(r, { code: 137 });
  t.deepEqual(mountsUnder(join(base, 'root')), []);
  t.deepEqual(cgroupLeftovers(x.id), []);
});
