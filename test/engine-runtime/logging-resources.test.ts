// Log rotation and logging driver none, CFS quota/period, the memory reservation and resolver options:
// the OCI config built for them (pure), then real containers (busybox on an overlay, network_mode none)
// under each runtime, checked from inside and from the host's cgroup files. Nothing is left behind.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec, LogLine } from '../../src/engine/api.js';
import { cgroupPaths } from '../../src/engine/runtime/cgroup-stats.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import { withResolvOptions } from '../../src/engine/runtime/etc-files.js';
import { monitorArgs } from '../../src/engine/runtime/monitor-client.js';
import { buildOciSpec, cfsQuota, type OciSpecInput } from '../../src/engine/runtime/oci-spec.js';
import { isTsstackError } from '../../src/util/errors.js';
import { cgroupLeftovers, mountsUnder, ociConfigValidator, runtimes, until } from './helpers.js';
import { containerKit } from './kit.js';
import { noneHere, skipWhen } from '../helpers/skip.js';

const validate = await ociConfigValidator();

// ---------------------------------------------------------------- pure

const root = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
const input: OciSpecInput = { rootfs: '/tmp/x/rootfs', args: ['sh'], env: [], cwd: '/', user: root, hostname: 'h', cgroupsPath: 'tsstack/abc' };
const linux = (r: OciSpecInput['resources']) => (buildOciSpec({ ...input, resources: r }).linux as { resources: Record<string, unknown> }).resources;

test('cfsQuota: cpus, explicit quota/period, period alone, and the "not set" values', (t) => {
  t.deepEqual(cfsQuota({}), {});
  t.deepEqual(cfsQuota({ cpus: 1.5 }), { period: 100000, quota: 150000 });
  t.deepEqual(cfsQuota({ cpuQuota: 50000 }), { period: 100000, quota: 50000 });
  t.deepEqual(cfsQuota({ cpuQuota: 50000, cpuPeriod: 200000 }), { period: 200000, quota: 50000 });
  t.deepEqual(cfsQuota({ cpuPeriod: 50000 }), { period: 50000 });
  t.deepEqual(cfsQuota({ cpus: 0.5, cpuPeriod: 50000 }), { period: 50000, quota: 25000 }, 'cpus scales to the given period');
  t.deepEqual(cfsQuota({ cpus: 0.5, cpuQuota: 30000 }), { period: 100000, quota: 30000 }, 'an explicit quota wins');
  t.deepEqual(cfsQuota({ cpuQuota: -1, cpuPeriod: 0 }), {});
});

test('OCI resources: quota/period, reservation with and without a limit', (t) => {
  t.deepEqual(linux({ cpuQuota: 50000, cpuPeriod: 200000, cpuShares: 512 }).cpu, { period: 200000, quota: 50000, shares: 512 });
  t.deepEqual(linux({ memoryReservation: 32 << 20 }).memory, { reservation: 32 << 20 });
  t.deepEqual(linux({ memory: 64 << 20, memorySwap: 128 << 20, memoryReservation: 32 << 20 }).memory, { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20 });
  t.false('memory' in linux({}));
  t.false('cpu' in linux({}));
});

skipWhen(!validate, '../shared absent')('the config with quota, period and reservation validates against the runtime-spec schema', (t) => {
  const validate_ = validate!;
  const spec = buildOciSpec({ ...input, resources: { cpuQuota: 50000, cpuPeriod: 200000, memory: 64 << 20, memoryReservation: 32 << 20 } });
  t.true(validate_(JSON.parse(JSON.stringify(spec))), JSON.stringify(validate_.errors));
});

test('withResolvOptions replaces every options line with the given ones, at the end', (t) => {
  t.is(withResolvOptions('search a\nnameserver 10.0.0.1\noptions ndots:0\n', ['ndots:2', 'use-vc']), 'search a\nnameserver 10.0.0.1\noptions ndots:2 use-vc\n');
  t.is(withResolvOptions('# generated\nnameserver 10.0.0.1\n', ['timeout:1']), '# generated\nnameserver 10.0.0.1\noptions timeout:1\n');
  t.is(withResolvOptions('options rotate\noptions edns0\nnameserver 1.1.1.1\n', []), 'nameserver 1.1.1.1\n');
});

test('monitorArgs passes both rotation flags; 0 = no rotation', (t) => {
  const o = { monitor: 'm', runtime: 'r', runtimeRoot: '/rr', id: 'i', bundle: '/b', statePath: '/s', logPath: '/dev/null', socketPath: '/c' };
  const a = monitorArgs({ ...o, logMaxSize: 1024, logMaxFiles: 2 });
  t.deepEqual(a.slice(a.indexOf('--log-max-size'), a.indexOf('--log-max-size') + 4), ['--log-max-size', '1024', '--log-max-files', '2']);
  t.true(monitorArgs({ ...o, logMaxSize: 0 }).join(' ').includes('--log-max-size 0'));
});

// ---------------------------------------------------------------- real containers

const { engine } = containerKit('tsstack-logres-');

function spec(name: string, args: string[], extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: { 'tsstack.project': 'p', 'tsstack.service': name }, args, env: [], cwd: '/',
    hostname: name, mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 1000, ...extra,
  };
}

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

/** Removes the container and checks that no mount, cgroup, container or monitor dir remains. */
async function removeAndCheck(t: import('ava').ExecutionContext, c: Containers, dir: string, name: string): Promise<void> {
  const id = (await c.inspect(name))!.id;
  await c.remove(name, { force: true });
  t.deepEqual(mountsUnder(dir), [], 'no mounts');
  t.deepEqual(cgroupLeftovers(id), [], 'no cgroups');
  t.false(existsSync(join(c.root, 'containers', id)), 'container dir removed');
  t.deepEqual(readdirSync(join(c.runRoot, 'monitor')), [], 'monitor dir removed');
}

// 300 lines of ~60 bytes (~90 bytes as JSON lines): about 27 KB of log.
const CHATTY = ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo "line $i 0123456789012345678901234567890123456789"; i=$((i+1)); done'];

for (const rt of runtimes()) {
  test.serial(`${rt}: logging max-size 1k, max-file 2 keeps two files of at most ~1 KiB; logs() reads the newest lines`, async (t) => {
    const { c, dir } = engine(t, rt);
    const info = await c.create(spec('chatty', CHATTY, { logMaxSize: 1024, logMaxFiles: 2 }));
    await c.start('chatty');
    t.is(await c.wait('chatty'), 0);
    const cdir = join(c.root, 'containers', info.id);
    const logs = readdirSync(cdir).filter((f) => f.startsWith('log.json')).sort();
    t.deepEqual(logs, ['log.json', 'log.json.1']);
    for (const f of logs) t.true(readFileSync(join(cdir, f)).length <= 1024, `${f} within max-size`);
    const lines = await collect(c.logs('chatty', {}));
    t.true(lines.length > 0 && lines.length < 30, `only the last lines are kept (${lines.length})`);
    t.is(lines.at(-1)!.log, 'line 299 0123456789012345678901234567890123456789');
    await removeAndCheck(t, c, dir, 'chatty');
  });

  test.serial(`${rt}: logging driver none keeps no log; logs() says the driver is none`, async (t) => {
    const { c, dir } = engine(t, rt);
    const info = await c.create(spec('quiet', CHATTY, { logDriver: 'none' }));
    await c.start('quiet');
    t.is(await c.wait('quiet'), 0);
    t.deepEqual(readdirSync(join(c.root, 'containers', info.id)).filter((f) => f.startsWith('log')), []);
    const e = await t.throwsAsync(collect(c.logs('quiet', {})));
    t.true(isTsstackError(e));
    t.regex(e!.message, /service quiet \(container quiet\) has logging driver "none": its output is not kept/);
    await removeAndCheck(t, c, dir, 'quiet');
  });

  test.serial(`${rt}: cpu quota/period and the memory reservation reach the cgroup; dns options reach resolv.conf`, async (t) => {
    const { c, dir } = engine(t, rt);
    await c.create(spec('limits', ['sleep', '1000'], {
      resources: { cpuQuota: 50000, cpuPeriod: 200000, cpuShares: 512, memory: 64 << 20, memoryReservation: 32 << 20 },
      dnsOptions: ['ndots:3', 'use-vc'],
    }));
    const validate = await ociConfigValidator();
    if (validate) t.true(validate(JSON.parse(readFileSync(join(c.containerDir('limits'), 'bundle', 'config.json'), 'utf8'))), JSON.stringify(validate.errors));
    await c.start('limits');
    const resolv = (await c.execCapture('limits', ['cat', '/etc/resolv.conf'])).stdout;
    t.regex(resolv, /^options ndots:3 use-vc$/m);
    t.is(resolv.match(/^options/gm)?.length, 1);
    const pid = (await c.inspect('limits'))!.pid!;
    const cg = cgroupPaths(pid)!;
    const read = (p: string) => readFileSync(p, 'utf8').trim();
    if (cg.v1.memory && existsSync(join(cg.v1.memory, 'memory.soft_limit_in_bytes'))) {
      t.is(read(join(cg.v1.memory, 'memory.soft_limit_in_bytes')), String(32 << 20));
      t.is(read(join(cg.v1.cpu!, 'cpu.cfs_quota_us')), '50000');
      t.is(read(join(cg.v1.cpu!, 'cpu.cfs_period_us')), '200000');
      t.is(read(join(cg.v1.cpu!, 'cpu.shares')), '512');
    } else if (cg.v2) {
      t.is(read(join(cg.v2, 'memory.low')), String(32 << 20));
      t.is(read(join(cg.v2, 'cpu.max')), '50000 200000');
    } else t.fail('no cgroup found for the container');
    await removeAndCheck(t, c, dir, 'limits');
  });
}

noneHere(runtimes(), 'logging and limits in real containers', 'runtime');
