// Issue 5 through the engine: containers made by runtime/Containers with the real
// NetworkManager and DnsService. `api` is on front+back (its resolv.conf names the
// front gateway only), `db` on back, `web` on front: api resolves db, web does not.
// Own subnets (172.29.217.0/24, 172.29.218.0/24), so it runs beside other tests in
// the suite's namespace. Skips (with the reason) when a part or a runtime is missing.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { rmTemp } from '../helpers/rootfs.js';
import { composedEngine } from '../engine-runtime/kit.js';
import { mountsUnder, processGone, runtimes, until } from '../engine-runtime/helpers.js';
import { needs } from '../helpers/skip.js';

const rts = runtimes();

needs('runtime').serial(`a container on two networks resolves names of both through its first network's gateway (${rts[0] ?? 'no runtime'})`, async (t) => {
  const e = await composedEngine('tsstack-dns-e2e-', rts[0]!);
  if (typeof e === 'string') throw new Error(e); // the parts are all built here: a failure, not a skip
  const { base, root, runRoot, imageId, network, dns, c } = e;
  t.teardown(async () => {
    for (const x of await c.list()) await c.remove(x.id, { force: true }).catch(() => {});
    for (const n of ['e2e_front', 'e2e_back']) await network.remove(n).catch(() => {});
    await dns.setNetworks({}).catch(() => {});
    await dns.stop().catch(() => {});
    await network.close();
    for (const m of mountsUnder(base).reverse()) { try { execFileSync('umount', ['-l', m]); } catch { /* gone */ } }
    rmTemp(base);
  });

  const spec = (name: string, nets: string[]): ContainerCreateSpec => ({
    name: `e2e-${name}-1`, image: 'busybox:latest', imageId, labels: { 'tsstack.project': 'e2e', 'tsstack.service': name }, args: ['sleep', '1000'], env: [], cwd: '/', hostname: name,
    mounts: [], endpoints: nets.map((network) => ({ network, aliases: [name] })), ports: [], resources: {}, restart: 'no', stopSignal: 'SIGKILL', stopGracePeriod: 1000,
  });
  const bridges = [
    (await network.create({ name: 'e2e_front', labels: { 'tsstack.project': 'e2e' }, subnet: '172.29.217.0/24' })).bridge,
    (await network.create({ name: 'e2e_back', labels: { 'tsstack.project': 'e2e' }, subnet: '172.29.218.0/24' })).bridge,
  ];
  const api = await c.create(spec('api', ['e2e_front', 'e2e_back']));
  const db = await c.create(spec('db', ['e2e_back']));
  const web = await c.create(spec('web', ['e2e_front']));
  for (const x of ['e2e-api-1', 'e2e-db-1', 'e2e-web-1']) await c.start(x);

  const fromApi = await c.execCapture('e2e-api-1', ['sh', '-c', 'cat /etc/resolv.conf; nslookup db; nslookup web']);
  t.is(fromApi.code, 0, fromApi.stdout + fromApi.stderr);
  t.regex(fromApi.stdout, /nameserver 172\.29\.217\.1\n/, 'front gateway only');
  t.true(fromApi.stdout.includes(`Address: ${db.addresses.e2e_back}`), fromApi.stdout);
  t.true(fromApi.stdout.includes(`Address: ${web.addresses.e2e_front}`), fromApi.stdout);

  const fromWeb = await c.execCapture('e2e-web-1', ['sh', '-c', 'nslookup db; echo "db: $?"; nslookup api']);
  t.regex(fromWeb.stdout, /db: [1-9]/, 'web (front only) cannot resolve db');
  t.regex(fromWeb.stdout + fromWeb.stderr, /NXDOMAIN|can't find db/);
  t.false(fromWeb.stdout.includes(db.addresses.e2e_back!), fromWeb.stdout);
  t.true(fromWeb.stdout.includes(`Address: ${api.addresses.e2e_front}`), 'api by its front address');

  const pids = [];
  for (const x of ['e2e-api-1', 'e2e-db-1', 'e2e-web-1']) {
    pids.push((await c.inspect(x))!.pid!);
    await c.remove(x, { force: true });
  }
  for (const pid of pids) t.true(await until(() => processGone(pid)));
  t.deepEqual(mountsUnder(join(runRoot, 'netns')), []);
  t.false(existsSync(join(root, 'containers', api.id)));
  for (const n of ['e2e_front', 'e2e_back']) await network.remove(n);
  await dns.setNetworks(await network.gateways());
  t.true(await dns.stopIfIdle(), 'the DNS server goes with the last network');
  const links = readdirSync('/sys/class/net');
  t.deepEqual(bridges.filter((b) => links.includes(b)), [], 'bridges gone');
});
