// LogFollower.stop() with a container that keeps running and writes nothing:
// its read is cancelled (LogOptions.signal), so stop() reports every stream
// ended and nothing is left to keep the process alive (watch `--keep` exits
// on its own). Real containers through the real ContainerApi.
import test from 'ava';
import { join } from 'node:path';
import type { ContainerCreateSpec, Engine } from '../../src/engine/api.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import { LogFollower } from '../../src/cli/watch-logs.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { OverlayRootfs, mountsUnder, runtimes } from '../engine-runtime/helpers.js';
import { needs } from '../helpers/skip.js';

const rts = runtimes();
const base = makeTemp('tsstack-follower-');
test.after.always(async () => {
  const { execFileSync } = await import('node:child_process');
  for (const m of mountsUnder(base).reverse()) execFileSync('umount', ['-l', m]);
  rmTemp(base);
});

const spec = (service: string, args: string[]): ContainerCreateSpec => ({
  name: `demo-${service}-1`, image: 'busybox', imageId: 'sha256:busybox',
  labels: { 'tsstack.project': 'demo', 'tsstack.service': service, 'tsstack.container-number': '1' }, args, env: [], cwd: '/',
  hostname: service, mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000,
});

needs('root', 'runtime').serial(`stop() ends the stream of a silent running container: true, no timer left, the container untouched (${rts[0] ?? 'no runtime'})`, async (t) => {
  const c = new Containers({ root: join(base, 'root'), runRoot: join(base, 'run'), images: new OverlayRootfs(base), runtime: rts[0] });
  t.teardown(async () => {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
  });
  await c.create(spec('quiet', ['sh', '-c', 'echo hello; exec sleep 1000']));
  await c.start('demo-quiet-1');
  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(`err: ${s}`), tty: false, env: {}, cwd: base };
  // LogFollower uses only engine.containers; the rest of an Engine is not needed here.
  const engine = { containers: c } as unknown as Engine;
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const f = new LogFollower(io, engine, 'demo', { colour: false });
  t.deepEqual(await f.refresh(), ['quiet-1']);
  for (let i = 0; i < 100 && !out.length; i++) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(out, ['quiet-1  | hello']);
  t.true(await f.stop(0), 'every stream ended');
  t.is(timers(), before, 'no poll timer left');
  t.deepEqual(out, ['quiet-1  | hello'], 'no exit line: the container still runs');
  t.is((await c.inspect('demo-quiet-1'))?.status, 'running');
  await c.remove('demo-quiet-1', { force: true });
  t.deepEqual(mountsUnder(join(base, 'root')), []);
});
