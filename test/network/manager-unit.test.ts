// NetworkManager's own logic over the in-memory drivers (test/fakes/network.ts): no root, no kernel.
// What the kernel parts do themselves is tested for real in network.test.ts, health.test.ts, socket-lb.test.ts.

import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../../src/engine/network/manager.js';
import { TsstackError } from '../../src/util/errors.js';
import { fakeNetworkDrivers, type FakeNetwork } from '../fakes/network.js';

interface Env {
  dir: string;
  m: NetworkManager;
  d: FakeNetwork;
  table: string;
  /** The pinned sandbox of a container. */
  ns(id: string): string;
}

const envs: Env[] = [];
function env(opts: { socketCgroup?: string | undefined } = {}): Env {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-netunit-'));
  const d = fakeNetworkDrivers(opts);
  const m = new NetworkManager({ root: join(dir, 'lib'), runRoot: join(dir, 'run'), drivers: d });
  const e = { dir, m, d, table: m.table, ns: (id: string) => join(dir, 'run', 'netns', id) };
  envs.push(e);
  return e;
}
test.after.always(() => {
  for (const e of envs) rmSync(e.dir, { recursive: true, force: true });
});

const code = (e: unknown) => (e instanceof TsstackError ? e.code : undefined);
const intents = (e: Env) => {
  try { return readdirSync(join(e.dir, 'lib', 'intents')); } catch { return []; }
};
const subnets = (e: Env) => {
  const objs = e.d.firewall.tables.get(`inet ${e.table}`);
  return (objs?.find((o) => o.set?.name === 'subnets')?.set.elem ?? []).map((x: any) => `${x.prefix.addr}/${x.prefix.len}`);
};

/** A network and a container sandbox on it. */
async function withContainer(e: Env, id = 'c1', network = 'front', extra: { ipv4Address?: string } = {}) {
  if (!(await e.m.inspect(network))) await e.m.create({ name: network, labels: {} });
  await e.m.createSandbox(id);
  return e.m.connect(id, { network, aliases: [], ...extra });
}

// ------------------------------------------------------------ networks

test('create makes the bridge with its gateway, up, forwarding on, and the table with the subnet', async (t) => {
  const e = env();
  const n = await e.m.create({ name: 'front', labels: { a: 'b' }, subnet: '10.77.0.0/24' });
  const br = e.d.links.links.get(n.bridge)!;
  t.truthy(br);
  t.true(br.up);
  t.deepEqual(e.d.links.addrs.filter((a) => a.index === br.index).map((a) => `${a.address}/${a.prefixLen}`), ['10.77.0.1/24']);
  t.is(e.d.links.sysctls.get('net.ipv4.ip_forward'), '1');
  t.is(e.d.links.sysctls.get(`net.ipv4.conf.${n.bridge}.route_localnet`), '1');
  t.deepEqual(subnets(e), ['10.77.0.0/24']);
  t.deepEqual(intents(e), []);
});

test('create of an existing network with the same settings is a no-op returning the same network', async (t) => {
  const e = env();
  const a = await e.m.create({ name: 'front', labels: {} });
  const before = e.d.calls.length;
  const b = await e.m.create({ name: 'front', labels: {} });
  t.is(b.id, a.id);
  t.false(e.d.calls.slice(before).some((c) => c.startsWith('links.createBridge') || c.startsWith('firewall.run')));
});

test('create of an existing network with another subnet is a CONFLICT and changes nothing', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {}, subnet: '10.77.0.0/24' });
  const before = e.d.calls.length;
  const err = await t.throwsAsync(e.m.create({ name: 'front', labels: {}, subnet: '10.78.0.0/24' }));
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /subnet 10\.77\.0\.0\/24, not 10\.78\.0\.0\/24/);
  t.deepEqual(e.d.calls.slice(before), []);
});

test('create remakes the bridge and the table when the records outlived them (a reboot)', async (t) => {
  const e = env();
  const n = await e.m.create({ name: 'front', labels: {} });
  e.d.links.drop(e.d.links.links.get(n.bridge)!);
  e.d.firewall.flush();
  await e.m.create({ name: 'front', labels: {} });
  t.truthy(e.d.links.links.get(n.bridge));
  t.deepEqual(subnets(e), [n.subnet]);
});

test('a create that fails at the firewall leaves no bridge, no record, no table, no intent', async (t) => {
  const e = env();
  e.d.failOn('firewall.run', 'nf_tables: Operation not supported');
  const err = await t.throwsAsync(e.m.create({ name: 'front', labels: {} }));
  t.is(code(err), 'NETWORK');
  t.regex(err!.message, /could not create network "front".*Operation not supported/);
  t.deepEqual([...e.d.links.links.keys()], ['lo']);
  t.true(e.d.calls.some((c) => /^links\.delete tss-/.test(c)), 'the bridge made was deleted');
  t.is(await e.m.inspect('front'), undefined);
  t.is(e.d.firewall.tables.size, 0);
  t.deepEqual(intents(e), []);
});

test('a create whose undo also fails keeps the intent for recovery and says so', async (t) => {
  const e = env();
  e.d.failOn('firewall.run', 'first failure', 1);
  e.d.failOn('links.delete', 'EBUSY', 1);
  const err = await t.throwsAsync(e.m.create({ name: 'front', labels: {} }));
  t.regex(err!.message, /first failure/);
  t.true((err as TsstackError).details.some((d) => /cleanup after the failure also failed.*EBUSY/.test(d)));
  t.is(intents(e).length, 1);
});

test('remove deletes the bridge and the record; the table goes with the last network', async (t) => {
  const e = env();
  const a = await e.m.create({ name: 'a', labels: {} });
  const b = await e.m.create({ name: 'b', labels: {} });
  await e.m.remove('a');
  t.false(e.d.links.links.has(a.bridge));
  t.deepEqual(subnets(e), [b.subnet]);
  await e.m.remove('b');
  t.deepEqual([...e.d.links.links.keys()], ['lo']);
  t.is(e.d.firewall.tables.size, 0);
  t.deepEqual(await e.m.list(), []);
  t.deepEqual(intents(e), []);
});

test('removing the last network drops the table in one batch, without listing it first (a down\'s last step)', async (t) => {
  const e = env();
  await e.m.create({ name: 'a', labels: {} });
  const before = e.d.calls.length;
  await e.m.remove('a');
  const fw = e.d.calls.slice(before).filter((c) => c.startsWith('firewall.'));
  t.deepEqual(fw, ['firewall.run add table,delete table']);
  t.is(e.d.firewall.tables.size, 0);
  // and when the table is missing already (`nft flush ruleset`), the removal holds all the same
  await e.m.create({ name: 'b', labels: {} });
  e.d.firewall.flush();
  await e.m.remove('b');
  t.is(e.d.firewall.tables.size, 0);
  t.deepEqual(intents(e), []);
});

test('removing a network while others remain rebuilds the table in one batch, without listing it first', async (t) => {
  const e = env();
  await e.m.create({ name: 'a', labels: {} });
  const b = await e.m.create({ name: 'b', labels: {} });
  const before = e.d.calls.length;
  await e.m.remove('a');
  const fw = e.d.calls.slice(before).filter((c) => c.startsWith('firewall.'));
  t.is(fw.length, 1, fw.join('; '));
  t.regex(fw[0]!, /^firewall\.run add table,delete table,add table/);
  t.deepEqual(subnets(e), [b.subnet]);
});

test('remove of an unknown network is NOT_FOUND', async (t) => {
  const e = env();
  t.is(code(await t.throwsAsync(e.m.remove('nope'))), 'NOT_FOUND');
});

test('remove refuses a network a live sandbox uses, but releases a lease whose sandbox is gone', async (t) => {
  const e = env();
  await withContainer(e, 'c1');
  const err = await t.throwsAsync(e.m.remove('front'));
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /still used by container c1/);
  // the sandbox vanished (reboot): the lease holds nothing
  e.d.sandbox.mounts.delete(e.ns('c1'));
  await e.m.remove('front');
  t.is(await e.m.inspect('front'), undefined);
});

test('remove reports a bridge that cannot be deleted, and forgets the network all the same', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {} });
  e.d.failOn('links.delete', 'EBUSY');
  const err = await t.throwsAsync(e.m.remove('front'));
  t.is(code(err), 'NETWORK');
  t.regex(err!.message, /was removed, but cleaning up failed: delete link tss-[0-9a-f]{8}: EBUSY/);
  t.is(await e.m.inspect('front'), undefined);
  t.is(intents(e).length, 1, 'the intent stays: the next command retries');
});

test('check reports a subnet used twice and a subnet the host routes, before anything is made', async (t) => {
  const e = env();
  e.d.links.hostUses = [{ cidr: { base: (10 << 24) | (99 << 16), prefix: 16 }, owner: 'host route 10.99.0.0/16 on eth0' }];
  const problems = await e.m.check([
    { name: 'a', labels: {}, subnet: '10.50.0.0/24' },
    { name: 'b', labels: {}, subnet: '10.50.0.0/24' },
    { name: 'c', labels: {}, subnet: '10.99.1.0/24' },
  ]);
  t.is(problems.length, 2);
  t.true(problems.some((p) => /10\.50\.0\.0\/24/.test(p) && /network "a"/.test(p)));
  t.true(problems.some((p) => /host route 10\.99\.0\.0\/16/.test(p)));
  t.deepEqual(e.d.calls.filter((c) => !c.startsWith('links.list')), []);
});

test('a pool subnet avoids what the host uses', async (t) => {
  const e = env();
  const first = await e.m.create({ name: 'x', labels: {} });
  await e.m.remove('x');
  const [a, b, c] = first.subnet.split('/')[0]!.split('.').map(Number);
  e.d.links.hostUses = [{ cidr: { base: ((a! << 24) | (b! << 16) | (c! << 8)) >>> 0, prefix: 24 }, owner: 'host route' }];
  const n = await e.m.create({ name: 'x', labels: {} });
  t.not(n.subnet, first.subnet);
});

test('list filters by labels; gateways name each network\'s gateway', async (t) => {
  const e = env();
  await e.m.create({ name: 'a', labels: { 'tsstack.project': 'p' }, subnet: '10.60.0.0/24' });
  await e.m.create({ name: 'b', labels: { 'tsstack.project': 'q' }, subnet: '10.61.0.0/24' });
  t.deepEqual((await e.m.list({ 'tsstack.project': 'p' })).map((n) => n.name), ['a']);
  t.deepEqual(await e.m.gateways(), { a: '10.60.0.1', b: '10.61.0.1' });
});

test('resync deletes bridges no network owns, only tss-<8 hex> names, and keeps owned ones', async (t) => {
  const e = env();
  const n = await e.m.create({ name: 'front', labels: {} });
  await e.d.links.createBridge('tss-deadbeef', '02:42:00:00:00:01');
  await e.d.links.createBridge('tss-other', '02:42:00:00:00:02');
  await e.m.resync(['tss-deadbeef', 'tss-other', n.bridge]);
  t.false(e.d.links.links.has('tss-deadbeef'));
  t.true(e.d.links.links.has('tss-other'));
  t.true(e.d.links.links.has(n.bridge));
});

// ------------------------------------------------------------ sandboxes and endpoints

test('createSandbox pins a namespace once; a second call makes nothing', async (t) => {
  const e = env();
  const a = await e.m.createSandbox('c1');
  t.is(a.path, e.ns('c1'));
  t.true(e.d.sandbox.mounts.has(join(e.dir, 'run', 'netns')), 'the netns directory is a mount of its own');
  await e.m.createSandbox('c1');
  t.is(e.d.calls.filter((c) => c.startsWith('sandbox.create')).length, 1);
});

test('createSandbox that fails is a NETWORK error saying root is needed, and releases the netns directory', async (t) => {
  const e = env();
  e.d.failOn('sandbox.create', 'EPERM');
  const err = await t.throwsAsync(e.m.createSandbox('c1'));
  t.is(code(err), 'NETWORK');
  t.regex((err as TsstackError).hint ?? '', /root/);
  t.false(e.d.sandbox.mounts.has(join(e.dir, 'run', 'netns')));
});

test('a container id that cannot name a file is refused before anything is made', async (t) => {
  const e = env();
  t.is(code(await t.throwsAsync(e.m.createSandbox('../etc'))), 'INTERNAL');
  t.deepEqual(e.d.calls, []);
});

test('connect: a veth on the bridge, eth0 in the sandbox with the first address and the default route', async (t) => {
  const e = env();
  const n = await e.m.create({ name: 'front', labels: {}, subnet: '10.70.0.0/24' });
  await e.m.createSandbox('c1');
  const ep = await e.m.connect('c1', { network: 'front', aliases: ['web'] });
  t.like(ep, { network: 'front', address: '10.70.0.2', prefixLen: 24, gateway: '10.70.0.1', ifname: 'eth0' });
  const host = [...e.d.links.links.values()].find((l) => l.peer?.sandbox === e.ns('c1'))!;
  t.is(host.master, e.d.links.links.get(n.bridge)!.index);
  t.true(host.up);
  const ns = e.d.sandbox.namespaces.get(e.ns('c1'))!;
  t.deepEqual(ns.addresses.map((a) => a.address), ['127.0.0.1', '10.70.0.2']);
  t.is(ns.defaultRoute, '10.70.0.1');
});

test('a second network is eth1 without the default route; an internal network never takes it', async (t) => {
  const e = env();
  await e.m.create({ name: 'internal', labels: {}, internal: true, subnet: '10.71.0.0/24' });
  await e.m.create({ name: 'b', labels: {}, subnet: '10.72.0.0/24' });
  await e.m.createSandbox('c1');
  const i = await e.m.connect('c1', { network: 'internal', aliases: [] });
  t.is(i.ifname, 'eth0');
  t.is(e.d.sandbox.namespaces.get(e.ns('c1'))!.defaultRoute, undefined);
  const b = await e.m.connect('c1', { network: 'b', aliases: [] });
  t.is(b.ifname, 'eth1');
  t.is(e.d.sandbox.namespaces.get(e.ns('c1'))!.defaultRoute, '10.72.0.1', 'the first non-internal network carries the route');
});

test('two containers get distinct addresses; a fixed address is honoured', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {}, subnet: '10.73.0.0/24' });
  const a = await withContainer(e, 'c1');
  const b = await withContainer(e, 'c2', 'front', { ipv4Address: '10.73.0.50' });
  const c = await withContainer(e, 'c3');
  t.deepEqual([a.address, b.address, c.address], ['10.73.0.2', '10.73.0.50', '10.73.0.3']);
});

/** Makes each veth take 5 ms (the kernel's part, off the JavaScript thread) and counts how many are made at once. */
function vethsAtOnce(e: Env): { most: number } {
  const links = e.d.links;
  const make = links.createVeth.bind(links);
  const seen = { most: 0 };
  let inFlight = 0;
  links.createVeth = async (...a: Parameters<typeof make>) => {
    seen.most = Math.max(seen.most, ++inFlight);
    try {
      await new Promise((r) => setTimeout(r, 5));
      return await make(...a);
    } finally {
      inFlight--;
    }
  };
  return seen;
}

test('the connects of a batch plumb side by side, with distinct addresses; a failed one gives its address back', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {}, subnet: '10.75.0.0/24' });
  const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
  for (const id of ids) await e.m.createSandbox(id);
  const veths = vethsAtOnce(e);
  e.d.failOn('sandbox.configure', 'EADDRNOTAVAIL'); // the first to configure fails: c1's (its veth was asked for first)
  const got = await Promise.allSettled(ids.map((id) => e.m.connect(id, { network: 'front', aliases: [] })));
  t.is(got[0]!.status, 'rejected');
  const addrs = got.slice(1).map((r) => (r.status === 'fulfilled' ? r.value.address : 'failed'));
  t.is(new Set(addrs).size, 5, addrs.join(' '));
  t.false(addrs.includes('failed'));
  t.true(veths.most > 1, `at most ${veths.most} veth(s) made at once`); // all six wait for the lock together: one batch
  // c1's address was given back: connecting it again takes the first free one
  const again = await e.m.connect('c1', { network: 'front', aliases: [] });
  t.false(addrs.includes(again.address));
  t.is(again.address, '10.75.0.2');
});

test('a connect asked as the lock passes on (its own sandbox just made) still joins the waiting batch', async (t) => {
  // an `up`: each create makes its sandbox (under the lock) and then connects. The last sandbox's
  // connect comes a few microtasks after the lock passes to the batch already waiting for it.
  const e = env();
  await e.m.create({ name: 'front', labels: {}, subnet: '10.76.0.0/24' });
  const veths = vethsAtOnce(e);
  const ids = ['c1', 'c2', 'c3'];
  const hops = async () => { for (let i = 0; i < 20; i++) await null; }; // the engine's own steps in between
  const eps = await Promise.all(ids.map(async (id) => { await e.m.createSandbox(id); await hops(); return e.m.connect(id, { network: 'front', aliases: [] }); }));
  t.is(new Set(eps.map((x) => x.address)).size, 3);
  t.is(veths.most, 3, 'the three veths were made in one batch');
});

test('connect again to the same network returns the same endpoint and makes no second veth', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  const b = await e.m.connect('c1', { network: 'front', aliases: [] });
  t.deepEqual(b, a);
  t.is(e.d.calls.filter((c) => c.startsWith('links.createVeth')).length, 1);
});

test('connect again with another fixed address is a CONFLICT', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {}, subnet: '10.74.0.0/24' });
  await withContainer(e, 'c1');
  t.is(code(await t.throwsAsync(e.m.connect('c1', { network: 'front', aliases: [], ipv4Address: '10.74.0.9' }))), 'CONFLICT');
});

test('connect to an unknown network is NOT_FOUND; without a sandbox it is a NETWORK error', async (t) => {
  const e = env();
  await e.m.createSandbox('c1');
  t.is(code(await t.throwsAsync(e.m.connect('c1', { network: 'nope', aliases: [] }))), 'NOT_FOUND');
  await e.m.create({ name: 'front', labels: {} });
  const err = await t.throwsAsync(e.m.connect('c2', { network: 'front', aliases: [] }));
  t.is(code(err), 'NETWORK');
  t.regex(err!.message, /has no network sandbox/);
});

test('a connect that fails inside the sandbox deletes the veth it made and records no lease', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {} });
  await e.m.createSandbox('c1');
  e.d.failOn('sandbox.configure', 'EADDRNOTAVAIL');
  const err = await t.throwsAsync(e.m.connect('c1', { network: 'front', aliases: [] }));
  t.regex(err!.message, /could not connect container c1 to network "front": EADDRNOTAVAIL/);
  t.false([...e.d.links.links.values()].some((l) => l.kind === 'veth'));
  t.deepEqual(e.d.sandbox.namespaces.get(e.ns('c1'))!.links.map((l) => l.name), ['lo']);
  // no lease: the network can go
  await e.m.remove('front');
});

test('a veth left from an earlier sandbox is replaced by one that leads into the current one', async (t) => {
  const e = env();
  const ep = await withContainer(e, 'c1');
  // the container's namespace was made anew (its peer end is not there any more)
  e.d.sandbox.namespaces.get(e.ns('c1'))!.links = [{ index: 1, name: 'lo', up: true }];
  await e.m.connect('c1', { network: 'front', aliases: [] });
  t.true(e.d.calls.some((c) => c.startsWith('links.delete vt')), 'the stale veth was deleted');
  t.true(e.d.sandbox.namespaces.get(e.ns('c1'))!.links.some((l) => l.name === ep.ifname));
});

test('disconnect deletes the veth, releases the lease and forgets the NAT bindings to the address', async (t) => {
  const e = env();
  const ep = await withContainer(e, 'c1');
  await e.m.disconnect('c1', 'front');
  t.false([...e.d.links.links.values()].some((l) => l.kind === 'veth'));
  t.deepEqual(e.d.firewall.forgotten, [{ address: ep.address }]);
  const next = await withContainer(e, 'c2');
  t.is(next.address, ep.address, 'the address is free again');
});

test('setSandboxSysctls sets net.* inside the sandbox and refuses the rest', async (t) => {
  const e = env();
  await e.m.createSandbox('c1');
  await e.m.setSandboxSysctls('c1', { 'net.ipv4.ip_unprivileged_port_start': '0' });
  t.deepEqual(e.d.sandbox.namespaces.get(e.ns('c1'))!.sysctls, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  t.is(code(await t.throwsAsync(e.m.setSandboxSysctls('c1', { 'kernel.shmmax': '1' }))), 'NETWORK');
});

// ------------------------------------------------------------ removeSandbox

test('removeSandbox unpins the namespace (the kernel takes the veths), releases leases and ports, and the netns directory', async (t) => {
  const e = env();
  await e.m.create({ name: 'back', labels: {} });
  const ep = await withContainer(e, 'c1');
  await e.m.connect('c1', { network: 'back', aliases: [] });
  await e.m.publish('c1', ep.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  await e.m.removeSandbox('c1');
  t.false(e.d.sandbox.mounts.has(e.ns('c1')));
  t.false([...e.d.links.links.values()].some((l) => l.kind === 'veth'));
  t.false(e.d.calls.some((c) => c.startsWith('links.delete vt') || c.startsWith('links.deleteGroup')), 'nothing left to delete by hand');
  t.deepEqual(e.m.publishedPorts(), []);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_addr'), []);
  t.false(e.d.sandbox.mounts.has(join(e.dir, 'run', 'netns')));
  // both networks can go: no lease left
  await e.m.remove('front');
  await e.m.remove('back');
});

test('removeSandbox deletes the veths of a namespace a stray process keeps alive, as one group', async (t) => {
  const e = env();
  await e.m.create({ name: 'back', labels: {} });
  await withContainer(e, 'c1');
  await e.m.connect('c1', { network: 'back', aliases: [] });
  e.d.sandbox.held.add(e.ns('c1'));
  await e.m.removeSandbox('c1');
  t.true(e.d.calls.some((c) => /^links\.deleteGroup vt\w+,vt\w+$/.test(c)));
  t.false([...e.d.links.links.values()].some((l) => l.kind === 'veth'));
  await e.m.remove('front');
});

test('removeSandbox keeps the lease of a veth it could not delete, and says so; a second call finishes', async (t) => {
  const e = env();
  await withContainer(e, 'c1');
  e.d.sandbox.held.add(e.ns('c1'));
  e.d.failOn('links.delete', 'EBUSY');
  const err = await t.throwsAsync(e.m.removeSandbox('c1'));
  t.is(code(err), 'NETWORK');
  t.regex(err!.message, /incomplete: delete link vt\w+: EBUSY/);
  t.true([...e.d.links.links.values()].some((l) => l.kind === 'veth'), 'the veth and its lease stay');
  await e.m.removeSandbox('c1');
  t.false([...e.d.links.links.values()].some((l) => l.kind === 'veth'));
  await e.m.remove('front');
});

test('removeSandbox calls made at once are one unpin batch', async (t) => {
  const e = env();
  await withContainer(e, 'c1');
  await withContainer(e, 'c2');
  await withContainer(e, 'c3');
  await Promise.all(['c1', 'c2', 'c3'].map((id) => e.m.removeSandbox(id)));
  t.deepEqual(e.d.sandbox.mounts.size, 0);
  await e.m.remove('front');
});

// ------------------------------------------------------------ ports

test('publish puts the port in the maps and the socket programs; unpublish takes both away', async (t) => {
  const e = env();
  const ep = await withContainer(e, 'c1');
  const got = await e.m.publish('c1', ep.address, [
    { hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' },
  ]);
  t.deepEqual(got.map((p) => p.hostPort), [8080, 5353]);
  t.deepEqual(e.d.firewall.elements(e.table, 'ip_addr'), [`127.0.0.1.tcp.8080 → ${ep.address}`]);
  t.deepEqual(e.d.firewall.elements(e.table, 'ip_port'), ['127.0.0.1.tcp.8080 → 80']);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_addr'), [`udp.5353 → ${ep.address}`]);
  t.deepEqual([...e.d.socketPrograms.entries.keys()].sort(), ['*|udp|5353', '127.0.0.1|tcp|8080']);
  await e.m.unpublish('c1');
  t.deepEqual(e.d.firewall.elements(e.table, 'ip_addr'), []);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_addr'), []);
  t.false(e.d.socketPrograms.attached, 'detached with the last port');
  t.deepEqual(e.m.publishedPorts('c1'), []);
});

test('publish moves ports in place with one element batch, not a table rebuild', async (t) => {
  const e = env();
  const ep = await withContainer(e, 'c1');
  const before = e.d.calls.length;
  await e.m.publish('c1', ep.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  const runs = e.d.calls.slice(before).filter((c) => c.startsWith('firewall.run'));
  t.deepEqual(runs, ['firewall.run add element,add element']);
});

test('host port 0 gets the lowest free ephemeral port, past what others publish and what listens', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  const b = await withContainer(e, 'c2');
  await e.m.publish('c1', a.address, [{ hostPort: 32768, containerPort: 80, protocol: 'tcp' }]);
  e.d.hostPorts.listen('tcp', '0.0.0.0', 32769);
  const got = await e.m.publish('c2', b.address, [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  t.is(got[0]!.hostPort, 32770);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_port'), ['tcp.32768 → 80', 'tcp.32770 → 80']);
});

test('a port another container publishes is a CONFLICT naming it, and nothing changes', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  const b = await withContainer(e, 'c2');
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  const before = e.d.calls.length;
  const err = await t.throwsAsync(e.m.publish('c2', b.address, [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]));
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /already published by container c1/);
  t.false(e.d.calls.slice(before).some((c) => c.startsWith('firewall.run')));
  t.deepEqual(e.m.publishedPorts().map((p) => p.containerId), ['c1']);
});

test('a port a host process listens on is a CONFLICT naming the process; another protocol is free', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  e.d.hostPorts.listen('tcp', '127.0.0.1', 8080, 'pid 77 (nginx)');
  const err = await t.throwsAsync(e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]));
  t.is(code(err), 'CONFLICT');
  t.regex(err!.message, /in use by pid 77 \(nginx\) listening on 127\.0\.0\.1:8080\/tcp/);
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_port'), ['udp.8080 → 80']);
});

test('checkPorts reports the same problems without changing anything, and ignores the container\'s own ports', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  const want = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
  t.is((await e.m.checkPorts(want)).length, 1);
  t.deepEqual(await e.m.checkPorts(want, 'c1'), []);
  t.deepEqual(await e.m.checkPorts([{ hostIp: '192.0.2.9', hostPort: 81, containerPort: 80, protocol: 'tcp' }]), ['host address 192.0.2.9 of 192.0.2.9:81/tcp is not an address of this host']);
});

test('publish again replaces the container\'s ports and forgets NAT bindings only of what went', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 8443, containerPort: 443, protocol: 'tcp' }]);
  e.d.firewall.forgotten = [];
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_port'), ['tcp.8080 → 80']);
  t.deepEqual(e.d.firewall.forgotten, [{ address: a.address, port: 443, protocol: 'tcp' }]);
});

test('publish rebuilds the whole table when the element batch fails (the table drifted away)', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  e.d.firewall.flush(); // nft flush ruleset
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_addr'), [`tcp.8080 → ${a.address}`]);
  t.deepEqual((await e.m.faults(['front'])), []);
});

test('a publish the firewall refuses entirely restores the ports there were and throws', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  e.d.failOn('firewall.run', 'nft: No buffer space available', 3);
  await t.throwsAsync(e.m.publish('c1', a.address, [{ hostPort: 9090, containerPort: 90, protocol: 'tcp' }]), { message: /No buffer space/ });
  t.deepEqual(e.m.publishedPorts('c1').map((p) => p.hostPort), [8080]);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_port'), ['tcp.8080 → 80']);
});

test('unpublish of a container without ports touches nothing', async (t) => {
  const e = env();
  await withContainer(e, 'c1');
  const before = e.d.calls.length;
  await e.m.unpublish('c1');
  await e.m.unpublish('never-seen');
  t.deepEqual(e.d.calls.slice(before), []);
});

test('without a cgroup for socket programs only the DNAT maps carry the ports', async (t) => {
  const e = env({ socketCgroup: undefined });
  const a = await withContainer(e, 'c1');
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  t.is(e.d.socketPrograms.entries.size, 0);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_addr'), [`tcp.8080 → ${a.address}`]);
});

// ------------------------------------------------------------ health and repair

test('faults: none while the kernel matches the records', async (t) => {
  const e = env();
  await withContainer(e, 'c1');
  t.deepEqual(await e.m.faults(['front']), []);
});

test('faults name a bridge gone, a bridge down, a veth off its bridge, and the table missing or drifted', async (t) => {
  const e = env();
  const n = await withContainer(e, 'c1').then(() => e.m.inspect('front'));
  const br = e.d.links.links.get(n!.bridge)!;
  br.up = false;
  t.deepEqual(await e.m.faults(['front']), [{ resource: 'network:front', cause: `bridge ${n!.bridge} down` }]);
  br.up = true;
  const veth = [...e.d.links.links.values()].find((l) => l.kind === 'veth')!;
  delete veth.master;
  t.deepEqual(await e.m.faults(['front']), [{ resource: 'network:front', cause: `1 container link off bridge ${n!.bridge}` }]);
  veth.master = br.index;
  e.d.firewall.tables.get(`inet ${e.table}`)!.pop(); // a rule gone
  t.deepEqual(await e.m.faults(['front']), [{ resource: 'firewall', cause: `nftables table inet ${e.table} differs from the records` }]);
  e.d.firewall.flush();
  t.deepEqual(await e.m.faults(['front']), [{ resource: 'firewall', cause: `nftables table inet ${e.table} missing` }]);
  e.d.links.drop(br);
  t.deepEqual(await e.m.faults(['front']), [{ resource: 'network:front', cause: `bridge ${n!.bridge} missing` }]);
});

test('repair makes a deleted bridge again, puts the veths back on it and rebuilds the table; a second repair changes nothing', async (t) => {
  const e = env();
  const a = await withContainer(e, 'c1');
  await e.m.publish('c1', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  const n = (await e.m.inspect('front'))!;
  e.d.links.drop(e.d.links.links.get(n.bridge)!); // ip link del: the veth stays, masterless
  e.d.firewall.flush();
  await e.m.repair(['front']);
  t.deepEqual(await e.m.faults(['front']), []);
  const br = e.d.links.links.get(n.bridge)!;
  t.is([...e.d.links.links.values()].find((l) => l.kind === 'veth')!.master, br.index);
  t.deepEqual(e.d.firewall.elements(e.table, 'any_addr'), [`tcp.8080 → ${a.address}`]);
  const before = e.d.calls.length;
  await e.m.repair(['front']);
  t.false(e.d.calls.slice(before).some((c) => /^(links\.(create|setMaster|delete)|firewall\.run)/.test(c)));
});

test('repair makes a missing veth again for a live sandbox and skips a lease whose sandbox is gone', async (t) => {
  const e = env();
  await withContainer(e, 'c1');
  await withContainer(e, 'c2');
  for (const l of [...e.d.links.links.values()]) if (l.kind === 'veth') e.d.links.drop(l);
  e.d.sandbox.mounts.delete(e.ns('c2'));
  await e.m.repair(['front']);
  const veths = [...e.d.links.links.values()].filter((l) => l.kind === 'veth');
  t.deepEqual(veths.map((l) => l.peer!.sandbox), [e.ns('c1')]);
});

test('repair reports a network it could not mend and still rebuilds the table', async (t) => {
  const e = env();
  const n = await e.m.create({ name: 'front', labels: {} });
  e.d.links.drop(e.d.links.links.get(n.bridge)!);
  e.d.firewall.flush();
  e.d.failOn('links.createBridge', 'ENOMEM');
  const err = await t.throwsAsync(e.m.repair(['front']));
  t.is(code(err), 'NETWORK');
  t.regex(err!.message, /network "front": ENOMEM/);
  t.true(e.d.firewall.tables.size === 0 || e.d.calls.some((c) => c.startsWith('firewall.')));
});

test('close releases the drivers but keeps records and kernel objects', async (t) => {
  const e = env();
  await e.m.create({ name: 'front', labels: {} });
  await e.m.close();
  t.true(existsSync(join(e.dir, 'lib', 'networks', 'front.json')));
  t.is(e.d.links.links.size, 2);
});
