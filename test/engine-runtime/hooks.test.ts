// post_start / pre_stop hooks on real containers (overlay root over busybox, no network), under each
// runtime: they run in the container with their user, directory, environment and capabilities; a
// failing post_start fails start() naming the service and the hook; pre_stop runs before the stop
// signal, bounded by the grace period. Nothing may be left behind.
import test from 'ava';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { hookExecArgs } from '../../src/engine/runtime/lifecycle-hooks.js';
import { runtimes } from './helpers.js';
import { containerKit, leftovers } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-hooks-');

const LOOP = 'trap "echo term >> /shared/order; exit 0" TERM; while true; do sleep 0.05; done';

function spec(name: string, shared: string, extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: { 'tsstack.service': 'web' }, args: ['sh', '-c', LOOP], env: ['BASE=b'], cwd: '/',
    hostname: name, mounts: [{ type: 'bind', source: shared, target: '/shared' }], endpoints: [], networkMode: 'none', ports: [], resources: {},
    restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 1000, ...extra,
  };
}


const capEff = (s: string) => BigInt('0x' + (/CapEff:\s*([0-9a-f]+)/.exec(s)?.[1] ?? '0'));

test('hook exec arguments: env, user, cwd, capabilities only when privileged', (t) => {
  t.deepEqual(hookExecArgs('id1', { argv: ['sh', '-c', 'x'], env: ['A=1'], cwd: '/srv', privileged: true }, '1:2', ['CAP_SYS_ADMIN']),
    ['exec', '--env', 'A=1', '--user', '1:2', '--cwd', '/srv', '--cap', 'CAP_SYS_ADMIN', 'id1', 'sh', '-c', 'x']);
  t.deepEqual(hookExecArgs('id1', { argv: ['true'] }, undefined, ['CAP_SYS_ADMIN']), ['exec', 'id1', 'true']);
});

noneHere(runtimes(), 'hooks in real containers', 'runtime');
for (const rt of runtimes()) {
  test.serial(`${rt}: post_start hooks run in order in the running container, with user, cwd, env and privileges`, async (t) => {
    const { c, dir } = engine(t, rt);
    const shared = join(dir, 'shared');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const info = await c.create(spec('ps', shared, {
      postStart: [
        { argv: ['sh', '-c', 'echo "first $(id -u):$(id -g) $(pwd) $A $BASE" >> /shared/order; grep CapEff /proc/self/status > /shared/plain'], user: '65534:65534', cwd: '/tmp', env: ['A=hello'] },
        { argv: ['sh', '-c', 'echo second >> /shared/order; grep CapEff /proc/self/status > /shared/priv'], privileged: true },
      ],
    }));
    await c.start(info.id);
    t.is((await c.inspect(info.id))!.status, 'running');
    t.deepEqual(readFileSync(join(shared, 'order'), 'utf8').split('\n').filter(Boolean), ['first 65534:65534 /tmp hello b', 'second']);
    t.true(capEff(readFileSync(join(shared, 'priv'), 'utf8')) > capEff(readFileSync(join(shared, 'plain'), 'utf8')), 'the privileged hook has more capabilities');
    await c.stop(info.id);
    await c.remove(info.id);
    t.deepEqual(leftovers(c, info.id), []);
  });

  test.serial(`${rt}: a failing post_start fails start() naming the service and the hook; the container keeps running`, async (t) => {
    const { c, dir } = engine(t, rt);
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    const info = await c.create(spec('bad', shared, {
      postStart: [{ argv: ['sh', '-c', 'echo ok >> /shared/order'] }, { argv: ['sh', '-c', 'echo broken >&2; exit 3'] }, { argv: ['sh', '-c', 'echo never >> /shared/order'] }],
    }));
    const e = await t.throwsAsync(c.start(info.id));
    t.regex(e!.message, /service web \(container bad\): hook post_start\[1\] \(sh -c echo broken >&2; exit 3\) failed with exit code 3: broken/);
    t.is((await c.inspect(info.id))!.status, 'running');
    t.deepEqual(readFileSync(join(shared, 'order'), 'utf8').split('\n').filter(Boolean), ['ok'], 'later hooks do not run');
    await c.remove(info.id, { force: true });
    t.deepEqual(leftovers(c, info.id), []);
  });

  test.serial(`${rt}: pre_stop runs before the stop signal; a hook that hangs is cut at the grace period`, async (t) => {
    const warnings: string[] = [];
    const { c, dir } = engine(t, rt, { warn: (m) => warnings.push(m) });
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    const info = await c.create(spec('pre', shared, { preStop: [{ argv: ['sh', '-c', 'echo "pre_stop $X" >> /shared/order'], env: ['X=1'] }] }));
    await c.start(info.id);
    await c.stop(info.id);
    t.deepEqual(readFileSync(join(shared, 'order'), 'utf8').split('\n').filter(Boolean), ['pre_stop 1', 'term'], `warnings: ${JSON.stringify(warnings)}`);
    t.deepEqual(warnings, []);
    t.is(await c.wait(info.id), 0);
    await c.remove(info.id);
    t.deepEqual(leftovers(c, info.id), []);

    const hang = await c.create(spec('hang', shared, { preStop: [{ argv: ['sleep', '100'] }], stopGracePeriod: 800 }));
    await c.start(hang.id);
    const t0 = Date.now();
    await c.stop(hang.id);
    t.true(Date.now() - t0 < 8000, `stop took ${Date.now() - t0} ms`);
    t.not((await c.inspect(hang.id))!.status, 'running');
    t.is(warnings.length, 1);
    t.regex(warnings[0] ?? '', /hook pre_stop\[0\] \(sleep 100\) did not finish within the stop grace period/);
    await c.remove(hang.id);
    t.deepEqual(leftovers(c, hang.id), []);
  });
}
