// Containers composed with the real engine parts: ImageStore (overlay over an
// imported busybox image), NetworkManager (bridge, veth, nftables DNAT) and
// DnsService (tsstack-dns). Two containers on one network reach each other by
// name and a published port answers on 127.0.0.1; remove leaves nothing.
// Runs inside the test suite's network namespace. Skips (with the reason)
// when a part has not landed.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import type { ContainerDeps } from '../../src/engine/runtime/deps.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { cgroupLeftovers, engineParts, mountsUnder, ociConfigValidator, processGone, runtimes, until } from './helpers.js';
import { needs } from '../helpers/skip.js';

async function parts(root: string, runRoot: string): Promise<{ deps: Omit<ContainerDeps, 'runtime'>; close: () => Promise<void> } | string> {
  const p = await engineParts(root, runRoot);
  if (typeof p === 'string') return p;
  imageId = p.imageId;
  return {
    deps: { root, runRoot, images: p.images, network: p.network, dns: p.dns },
    close: async () => {
      await p.dns.stop().catch(() => {});
      await p.network.close();
    },
  };
}
let imageId = '';

function spec(name: string, args: string[], extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox:latest', imageId, labels: { 'tsstack.project': 'it', 'tsstack.service': name }, args, env: [], cwd: '/', hostname: name,
    mounts: [], endpoints: [{ network: 'it_default', aliases: [name, `${name}-alias`] }], ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000, ...extra,
  };
}

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(3000, () => { s.destroy(); reject(new Error('timeout')); });
  });
}

const rts = runtimes();
const PORT = 20000 + (process.pid % 20000);
needs('runtime').serial(`containers on a real network: DNS by name, a published port, nothing left (${rts[0] ?? 'no runtime'})`, async (t) => {
  const base = makeTemp('tsstack-it-');
  const root = join(base, 'root'), runRoot = join(base, 'run');
  const p = await parts(root, runRoot);
  if (typeof p === 'string') { rmTemp(base); throw new Error(p); } // the parts are all built here: a failure, not a skip
  const c = new Containers({ ...p.deps, runtime: rts[0] });
  const net = p.deps.network as unknown as { create: (s: object) => Promise<{ gateway: string }>; remove: (n: string) => Promise<void> };
  t.teardown(async () => {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
    await net.remove('it_default').catch(() => {});
    await p.close();
    for (const m of mountsUnder(base).reverse()) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
    rmTemp(base);
  });
  // the suite's network namespace is shared by test files running at once: a subnet and a port no other test uses
  await net.create({ name: 'it_default', labels: { 'tsstack.project': 'it' }, subnet: '172.29.213.0/24' });
  const server = await c.create(spec('server', ['sh', '-c', 'while true; do echo pong | nc -l -p 80; done'], {
    ports: [{ hostIp: '127.0.0.1', hostPort: PORT, containerPort: 80, protocol: 'tcp' }],
  }));
  const client = await c.create(spec('client', ['sleep', '1000']));
  t.truthy(server.addresses.it_default);
  const validate = await ociConfigValidator();
  if (validate) t.true(validate(JSON.parse(readFileSync(join(c.containerDir('server'), 'bundle', 'config.json'), 'utf8'))), JSON.stringify(validate.errors));
  await c.start('server');
  await c.start('client');

  const r = await c.execCapture('client', ['sh', '-c', 'cat /etc/resolv.conf; nslookup server; echo hi | nc -w 2 server 80']);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.includes(server.addresses.it_default!), r.stdout);
  t.true(r.stdout.includes('pong'), r.stdout);
  // the server is a loop of one-shot `nc -l`: between two runs nobody listens, so retry briefly
  let answer = '';
  for (let i = 0; i < 50 && answer !== 'pong'; i++) answer = (await ask(PORT).catch(() => '')).trim() || (await new Promise((r) => setTimeout(r, 100)), '');
  t.is(answer, 'pong', 'the published port answers on 127.0.0.1');
  t.log(r.stdout);

  const pids = [(await c.inspect('server'))!.pid!, (await c.inspect('client'))!.pid!];
  await c.remove('server', { force: true });
  await c.remove('client', { force: true });
  for (const pid of pids) t.true(await until(() => processGone(pid)));
  for (const x of [server, client]) t.deepEqual(cgroupLeftovers(x.id), []);
  t.deepEqual(mountsUnder(join(root, 'containers')), []);
  t.deepEqual(mountsUnder(join(runRoot, 'netns')), []);
  t.false(existsSync(join(root, 'containers', server.id)));
  t.deepEqual(readdirSync('/sys/class/net').filter((n) => /^vt/.test(n)), [], 'no host-side veth left');
});
