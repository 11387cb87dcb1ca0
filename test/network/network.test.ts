// Integration: real bridges, veths, namespaces and nftables, inside a fresh
// network namespace per test (helpers.freshHost). Serial: each test moves the
// process into its own namespace.
import test from 'ava';
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TsstackError } from '../../src/util/errors.js';
import { rtnlTrips } from '../../src/engine/network/raw-rtnl.js';
import { type Env, NFT, addTestLink, ask, outsideHost, leftovers, linkNames, nftTables, serve, setup, sh, teardown } from './helpers.js';

/** Timeout for an ask that must fail: a dropped packet just waits. */
const NO = 1500;

async function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
  const env = await setup();
  try {
    await fn(env);
  } finally {
    await teardown(env);
  }
}

async function container(env: Env, id: string, network: string, ipv4Address?: string) {
  const { path } = await env.m.createSandbox(id);
  const ep = await env.m.connect(id, { network, aliases: [id], ipv4Address });
  return { path, ...ep };
}

test.serial('two sandboxes on one network reach each other over TCP and UDP', async (t) => {
  await withEnv(async (env) => {
    const net = await env.m.create({ name: 'p_default', labels: { 'tsstack.project': 'p' } });
    t.is(net.subnet, '10.89.0.0/24');
    t.is(net.gateway, '10.89.0.1');
    const a = await container(env, 'a', 'p_default');
    const b = await container(env, 'b', 'p_default');
    t.is(a.address, '10.89.0.2');
    t.is(b.address, '10.89.0.3');
    t.is(a.ifname, 'eth0');
    t.is(a.mac, '02:42:0a:59:00:02');
    const inside = await env.m.inspectSandbox('a');
    t.deepEqual(inside.links.map((l) => `${l.name}:${l.up}`), ['lo:true', 'eth0:true']);
    await serve(env, b.path, 'tcp', 7000, 'b');
    await serve(env, b.path, 'udp', 7001, 'b');
    t.is(await ask(a.path, 'tcp', b.address, 7000), 'b 10.89.0.2');
    t.is(await ask(a.path, 'udp', b.address, 7001), 'b 10.89.0.2');
    // the gateway (the host) is reachable too
    t.is(await ask(a.path, 'tcp', '10.89.0.1', 7999), 'ERR connect ECONNREFUSED 10.89.0.1:7999');
    await env.m.removeSandbox('a');
    await env.m.removeSandbox('b');
    await env.m.remove('p_default');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('a sandbox has its loopback up before any network is connected (network_mode: none): made in one request, no dump', async (t) => {
  await withEnv(async (env) => {
    const before = { ...rtnlTrips };
    const { path } = await env.m.createSandbox('lonely');
    t.deepEqual({ linkDumps: rtnlTrips.linkDumps - before.linkDumps, requests: rtnlTrips.requests - before.requests }, { linkDumps: 0, requests: 1 });
    t.deepEqual((await env.m.inspectSandbox('lonely')).links.map((l) => `${l.name}:${l.up}`), ['lo:true']);
    await serve(env, path, 'tcp', 7000, 'lonely');
    t.is(await ask(path, 'tcp', '127.0.0.1', 7000), 'lonely 127.0.0.1', 'a server on the loopback answers inside');
    await env.m.removeSandbox('lonely');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('connecting a container looks its links up by name (no dump of the host\'s links) and makes its host end up at creation', async (t) => {
  await withEnv(async (env) => {
    await env.m.create({ name: 'q_default', labels: { 'tsstack.project': 'q' } });
    const trips = async (id: string) => {
      await env.m.createSandbox(id);
      const before = { ...rtnlTrips };
      await env.m.connect(id, { network: 'q_default', aliases: [id] });
      return { linkDumps: rtnlTrips.linkDumps - before.linkDumps, requests: rtnlTrips.requests - before.requests };
    };
    await trips('c0');
    // the cost of a connect must not grow with the host's links: a dump of them is the whole list
    const one = await trips('c1');
    t.is(one.linkDumps, 1, 'one dump: the two links inside the new sandbox, none of the host\'s');
    // create the pair (the host end up), hairpin; inside: the address, up, the default route; nothing else
    t.is(one.requests, 5);
    const inside = await env.m.inspectSandbox('c1');
    t.deepEqual(inside.links.map((l) => `${l.name}:${l.up}`), ['lo:true', 'eth0:true']);
    await env.m.removeSandbox('c0');
    await env.m.removeSandbox('c1');
    await env.m.remove('q_default');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('a bridge keeps its own MAC when containers join (containers never lose their gateway)', async (t) => {
  await withEnv(async (env) => {
    const net = await env.m.create({ name: 'm_default', labels: { 'tsstack.project': 'm' } });
    const mac = () => JSON.parse(sh('ip', ['-j', 'link', 'show', 'dev', net.bridge]))[0].address as string;
    t.is(mac(), '02:42:0a:59:00:01');
    await container(env, 'x', 'm_default', '10.89.0.9');
    await container(env, 'y', 'm_default');
    t.is(mac(), '02:42:0a:59:00:01');
  });
});

test.serial('a published port 53 does not capture the containers\' DNS queries to their gateway', async (t) => {
  await withEnv(async (env) => {
    await env.m.create({ name: 'p_default', labels: {} });
    const client = await container(env, 'client', 'p_default');
    const dns = await container(env, 'dns', 'p_default');
    await env.m.publish('dns', dns.address, [{ hostPort: 53, containerPort: 53, protocol: 'udp' }, { hostPort: 53, containerPort: 53, protocol: 'tcp' }]);
    // the "embedded DNS server" on the host (it listens on every host address), and the published one
    await serve(env, undefined, 'udp', 53, 'host');
    await serve(env, undefined, 'tcp', 53, 'host');
    await serve(env, dns.path, 'udp', 53, 'published');
    await serve(env, dns.path, 'tcp', 53, 'published');
    for (const proto of ['udp', 'tcp'] as const) {
      t.regex(await ask(client.path, proto, client.gateway, 53), /^host /, `${proto}: the gateway's port 53 stays the host's`);
      t.regex(await ask(undefined, proto, '127.0.0.1', 53), /^published /, `${proto}: the published port still answers on 127.0.0.1`);
    }
    await env.m.removeSandbox('client');
    await env.m.removeSandbox('dns');
    await env.m.remove('p_default');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('published ports answer on 127.0.0.1, on another host address, from outside, and by hairpin', async (t) => {
  await withEnv(async (env) => {
    // another address of this "host", and a second host behind a veth
    addTestLink('test0', '192.168.77.1/24');
    await env.m.create({ name: 'p_default', labels: {} });
    const web = await container(env, 'web', 'p_default');
    const other = await container(env, 'other', 'p_default');
    await serve(env, web.path, 'tcp', 80, 'web');
    await serve(env, web.path, 'udp', 53, 'web');
    await serve(env, web.path, 'tcp', 81, 'web81');
    const got = await env.m.publish('web', web.address, [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp' },
      { hostIp: '127.0.0.1', hostPort: 8181, containerPort: 81, protocol: 'tcp' },
      { hostPort: 0, containerPort: 80, protocol: 'tcp' },
    ]);
    const picked = got[3]!.hostPort;
    t.true(picked >= 32768);

    t.regex(await ask(undefined, 'tcp', '127.0.0.1', 8080), /^web 10\.89\.0\.1$/);
    t.regex(await ask(undefined, 'tcp', '192.168.77.1', 8080), /^web /);
    t.regex(await ask(undefined, 'udp', '127.0.0.1', 5353), /^web /);
    t.regex(await ask(undefined, 'tcp', '127.0.0.1', picked), /^web /);
    // host IP binding: 127.0.0.1 only
    t.regex(await ask(undefined, 'tcp', '127.0.0.1', 8181), /^web81 /);
    t.regex(await ask(undefined, 'tcp', '192.168.77.1', 8181, NO), /^ERR /);
    // loopback addresses pass our bridges only for that path: all.route_localnet stays off, and a
    // container that routes 127/8 to the host (as raw sockets could) does not reach its localhost services
    t.is(sh('cat', ['/proc/sys/net/ipv4/conf/all/route_localnet']).trim(), '0');
    await serve(env, undefined, 'tcp', 7777, 'host-localhost');
    t.regex(await ask(undefined, 'tcp', '127.0.0.1', 7777), /^host-localhost /);
    sh('nsenter', ['--net=' + other.path, 'sh', '-c', `ip addr del 127.0.0.1/8 dev lo && echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet && ip route add 127.0.0.0/8 via ${web.gateway}`]);
    t.regex(await ask(other.path, 'tcp', '127.0.0.1', 7777, NO), /^ERR timeout/);
    // hairpin: containers reach the published port through the host's address, themselves included
    t.regex(await ask(other.path, 'tcp', '192.168.77.1', 8080), /^web 10\.89\.0\.1$/);
    t.regex(await ask(web.path, 'tcp', '192.168.77.1', 8080), /^web 10\.89\.0\.1$/);
    t.regex(await ask(other.path, 'tcp', '10.89.0.1', 8080), /^web /);

    // from another host: a namespace wired to this one by a veth
    const outsider = { path: await outsideHost(env) };
    t.is(await ask(outsider.path, 'tcp', '198.51.100.1', 8080), 'web 198.51.100.2');
    t.regex(await ask(outsider.path, 'tcp', '198.51.100.1', 8181, NO), /^ERR /);
    // and containers get out to it, masqueraded behind the host's address
    await serve(env, outsider.path, 'tcp', 9000, 'outside');
    t.is(await ask(web.path, 'tcp', '198.51.100.2', 9000), 'outside 198.51.100.1');

    // moving a published UDP port to another container also moves a live flow
    // (same source port): the old NAT binding is forgotten
    await serve(env, other.path, 'udp', 53, 'other');
    t.regex(await ask(undefined, 'udp', '127.0.0.1', 5353, 3000, 40053), /^web /);
    await env.m.publish('web', web.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    await env.m.publish('other', other.address, [{ hostPort: 5353, containerPort: 53, protocol: 'udp' }]);
    t.regex(await ask(undefined, 'udp', '127.0.0.1', 5353, 3000, 40053), /^other /);
    t.regex(await ask(undefined, 'tcp', '127.0.0.1', 8080), /^web /);
    // those moves were made in place: the table is what a full render of the state gives
    const { buildTable, canonical } = await import('../../src/engine/network/nft-rules.js');
    const listed = (JSON.parse(sh(NFT, ['-j', 'list', 'table', 'inet', env.m.table])) as { nftables: Record<string, unknown>[] }).nftables;
    const nets = (await env.m.list()).map((n) => ({ name: n.name, bridge: n.bridge, subnet: n.subnet, internal: n.internal }));
    t.is(canonical(listed), canonical(buildTable(nets, env.m.publishedPorts(), env.m.table)));

    await env.m.unpublish('web');
    await env.m.unpublish('other');
    t.regex(await ask(undefined, 'tcp', '127.0.0.1', 8080, NO), /^ERR /);
    sh('ip', ['link', 'del', 'testout']);
    sh('ip', ['link', 'del', 'test0']);
    for (const id of ['web', 'other', 'outsider']) await env.m.removeSandbox(id);
    await env.m.remove('p_default');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('networks are isolated; internal networks have no egress; a sandbox on two networks is reachable on both', async (t) => {
  await withEnv(async (env) => {
    await env.m.create({ name: 'p_front', labels: {} });
    await env.m.create({ name: 'p_back', labels: {} });
    const inner = await env.m.create({ name: 'p_inner', labels: {}, internal: true });
    t.true(inner.internal);
    const a = await container(env, 'a', 'p_front');
    const b = await container(env, 'b', 'p_back');
    const both = await container(env, 'both', 'p_front');
    const both2 = await env.m.connect('both', { network: 'p_back', aliases: [] });
    t.is(both2.ifname, 'eth1');
    const i = await container(env, 'i', 'p_inner');
    await serve(env, b.path, 'tcp', 7000, 'b');
    await serve(env, both.path, 'tcp', 7000, 'both');
    await serve(env, a.path, 'tcp', 7000, 'a');

    // across networks: dropped
    const [ab, ba] = await Promise.all([ask(a.path, 'tcp', b.address, 7000, NO), ask(b.path, 'tcp', a.address, 7000, NO)]);
    t.regex(ab, /^ERR timeout/);
    t.regex(ba, /^ERR timeout/);
    // the two-network sandbox answers on each network's address
    t.is(await ask(a.path, 'tcp', both.address, 7000), `both ${a.address}`);
    t.is(await ask(b.path, 'tcp', both2.address, 7000), `both ${b.address}`);

    // egress: a normal network gets out (masqueraded); an internal one has no
    // default route, and even with one the forward chain drops it (the outside
    // host could answer: it routes 10.89.0.0/16 back)
    const outside = await outsideHost(env);
    await serve(env, outside, 'tcp', 9000, 'outside');
    t.is(await ask(a.path, 'tcp', '198.51.100.2', 9000), 'outside 198.51.100.1');
    t.regex(await ask(i.path, 'tcp', '198.51.100.2', 9000, NO), /^ERR .*ENETUNREACH/);
    sh('nsenter', ['--net=' + i.path, 'ip', 'route', 'add', 'default', 'via', inner.gateway]);
    const [io, ia] = await Promise.all([ask(i.path, 'tcp', '198.51.100.2', 9000, NO), ask(i.path, 'tcp', a.address, 7000, NO)]);
    t.regex(io, /^ERR timeout/);
    t.regex(ia, /^ERR timeout/);
    // containers of an internal network still reach each other and the gateway (where DNS listens)
    const i2 = await container(env, 'i2', 'p_inner');
    await serve(env, i2.path, 'tcp', 7000, 'i2');
    t.is(await ask(i.path, 'tcp', i2.address, 7000), `i2 ${i.address}`);
    t.regex(await ask(i.path, 'tcp', inner.gateway, 7999), /ECONNREFUSED/);

    sh('ip', ['link', 'del', 'testout']);
    for (const id of ['a', 'b', 'both', 'i', 'i2', 'outsider']) await env.m.removeSandbox(id);
    for (const n of ['p_front', 'p_back', 'p_inner']) await env.m.remove(n);
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('a host port held by a process or another container is refused, naming the holder, before anything changes', async (t) => {
  await withEnv(async (env) => {
    const srv: Server = createServer();
    await new Promise<void>((r) => srv.listen(9090, '127.0.0.1', () => r()));
    try {
      await env.m.create({ name: 'p_default', labels: {} });
      const a = await container(env, 'a', 'p_default');
      const problems = await env.m.checkPorts([{ hostPort: 9090, containerPort: 80, protocol: 'tcp' }]);
      t.is(problems.length, 1);
      t.regex(problems[0]!, new RegExp(`0\\.0\\.0\\.0:9090/tcp is already in use by pid ${process.pid} \\(node\\) listening on 127\\.0\\.0\\.1:9090/tcp`));
      // same port on another address, or UDP: free
      t.deepEqual(await env.m.checkPorts([{ hostIp: '127.0.0.2', hostPort: 9090, containerPort: 80, protocol: 'tcp' }]), []);
      t.deepEqual(await env.m.checkPorts([{ hostPort: 9090, containerPort: 80, protocol: 'udp' }]), []);
      const before = sh(NFT, ['-j', 'list', 'ruleset']);
      const e = await t.throwsAsync(env.m.publish('a', a.address, [{ hostPort: 9090, containerPort: 80, protocol: 'tcp' }]), { instanceOf: TsstackError });
      t.is(e!.code, 'CONFLICT');
      t.regex(e!.message, /pid \d+ \(node\)/);
      t.is(sh(NFT, ['-j', 'list', 'ruleset']), before);

      await env.m.publish('a', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
      const b = await container(env, 'b', 'p_default');
      t.deepEqual(await env.m.checkPorts([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], 'a'), []);
      const e2 = await t.throwsAsync(env.m.publish('b', b.address, [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]), { instanceOf: TsstackError });
      t.regex(e2!.message, /127\.0\.0\.1:8080\/tcp is already published by container a \(0\.0\.0\.0:8080\/tcp → 10\.89\.0\.2:80\)/);
      const dup = await env.m.checkPorts([
        { hostPort: 7000, containerPort: 80, protocol: 'tcp' },
        { hostPort: 7000, containerPort: 81, protocol: 'tcp' },
      ]);
      t.regex(dup[0]!, /published twice/);
      await env.m.removeSandbox('a');
      await env.m.removeSandbox('b');
      await env.m.remove('p_default');
      t.deepEqual(await leftovers(env), []);
    } finally {
      srv.close();
    }
  });
});

test.serial('overlapping subnets, routed subnets and bad addresses are clear errors and leave nothing behind', async (t) => {
  await withEnv(async (env) => {
    // a subnet routed on the host is skipped by the pool and refused when asked for
    addTestLink('test0', '10.89.0.5/24');
    const n1 = await env.m.create({ name: 'p_one', labels: {} });
    t.is(n1.subnet, '10.89.1.0/24');
    const routed = await t.throwsAsync(env.m.create({ name: 'p_r', labels: {}, subnet: '10.89.0.0/16' }), { instanceOf: TsstackError });
    t.is(routed!.code, 'CONFLICT');
    t.regex(routed!.message, /subnet 10\.89\.0\.0\/16 of network "p_r" overlaps/);

    const n2 = await env.m.create({ name: 'p_two', labels: {}, subnet: '172.30.0.0/24', gateway: '172.30.0.254' });
    t.is(n2.gateway, '172.30.0.254');
    const ov = await t.throwsAsync(env.m.create({ name: 'p_three', labels: {}, subnet: '172.30.0.128/25' }), { instanceOf: TsstackError });
    t.is(ov!.message, 'subnet 172.30.0.128/25 of network "p_three" overlaps network "p_two" (172.30.0.0/24)');
    t.deepEqual(await env.m.check([
      { name: 'x_a', labels: {}, subnet: '192.168.9.0/24' },
      { name: 'x_b', labels: {}, subnet: '192.168.9.0/25' },
      { name: 'x_c', labels: {}, subnet: '10.0.0.0/33' },
      { name: 'p_two', labels: {}, subnet: '172.30.0.0/24', gateway: '172.30.0.254' },
      { name: 'a_pool', labels: {}, gateway: '10.89.2.1' },
      { name: 'a_pool2', labels: {}, gateway: '10.99.0.1' },
    ]), [
      'subnet 192.168.9.0/25 of network "x_b" overlaps network "x_a" (192.168.9.0/24)',
      'invalid subnet of network "x_c" "10.0.0.0/33": expected a.b.c.d/prefix with a prefix of 0-32',
      'gateway 10.99.0.1 of network "a_pool2" is not a host address of its subnet 10.89.3.0/24',
    ]);
    const gw = await t.throwsAsync(env.m.create({ name: 'p_gw', labels: {}, subnet: '172.31.0.0/24', gateway: '172.32.0.1' }));
    t.regex(gw!.message, /gateway 172\.32\.0\.1 of network "p_gw" is not a host address of its subnet 172\.31\.0\.0\/24/);

    await env.m.createSandbox('c');
    const bad = await t.throwsAsync(env.m.connect('c', { network: 'p_two', aliases: [], ipv4Address: '172.30.1.5' }), { instanceOf: TsstackError });
    t.regex(bad!.message, /ipv4_address 172\.30\.1\.5 is outside network "p_two" \(subnet 172\.30\.0\.0\/24\)/);
    const inv = await t.throwsAsync(env.m.connect('c', { network: 'p_two', aliases: [], ipv4Address: '172.30.0.300' }));
    t.regex(inv!.message, /invalid IPv4 ipv4_address on network "p_two" "172\.30\.0\.300"/);
    const ok = await env.m.connect('c', { network: 'p_two', aliases: [], ipv4Address: '172.30.0.10' });
    t.is(ok.address, '172.30.0.10');
    await env.m.createSandbox('d');
    const taken = await t.throwsAsync(env.m.connect('d', { network: 'p_two', aliases: [], ipv4Address: '172.30.0.10' }));
    t.is(taken!.message, 'ipv4_address 172.30.0.10 on network "p_two" is already leased to container c');
    const nf = await t.throwsAsync(env.m.connect('d', { network: 'nope', aliases: [] }));
    t.is((nf as TsstackError).code, 'NOT_FOUND');
    // failures made nothing: only the bridges of the networks that exist, one veth for c
    const links = (await linkNames()).filter((n) => !['lo', 'test0', 'test0p'].includes(n));
    t.is(links.filter((n) => n.startsWith('tss-')).length, 2);
    t.is(links.filter((n) => n.startsWith('vt')).length, 1);
    t.deepEqual((await env.m.list()).map((n) => n.name), ['p_one', 'p_two']);
    const inUse = await t.throwsAsync(env.m.remove('p_two'));
    t.regex(inUse!.message, /still used by container c/);

    await env.m.removeSandbox('c');
    await env.m.removeSandbox('d');
    await env.m.remove('p_one');
    t.deepEqual(nftTables(), [`inet ${env.m.table}`]);
    await env.m.remove('p_two');
    sh('ip', ['link', 'del', 'test0']);
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('setup is idempotent: create and connect twice change nothing; the lease survives in state', async (t) => {
  await withEnv(async (env) => {
    const n1 = await env.m.create({ name: 'p_default', labels: { a: 'b' } });
    const table1 = sh(NFT, ['-a', '-j', 'list', 'table', 'inet', env.m.table]);
    const n2 = await env.m.create({ name: 'p_default', labels: { a: 'b' } });
    t.deepEqual(n2, n1);
    t.is(sh(NFT, ['-a', '-j', 'list', 'table', 'inet', env.m.table]), table1, 'no batch was applied');
    const conflict = await t.throwsAsync(env.m.create({ name: 'p_default', labels: {}, internal: true }));
    t.regex(conflict!.message, /already exists with internal: false/);
    const c1 = await container(env, 'c', 'p_default');
    const c2 = await env.m.connect('c', { network: 'p_default', aliases: ['c'] });
    t.deepEqual(c2, { network: c1.network, address: c1.address, prefixLen: c1.prefixLen, gateway: c1.gateway, mac: c1.mac, ifname: c1.ifname });
    t.deepEqual(await env.m.gateways(), { p_default: '10.89.0.1' });
    t.deepEqual((await env.m.list({ a: 'b' })).map((n) => n.name), ['p_default']);
    t.deepEqual(await env.m.list({ a: 'c' }), []);
    const lease = join(env.dir, 'lib', 'networks', 'p_default.json');
    t.true(existsSync(lease));
    await env.m.disconnect('c', 'p_default');
    t.deepEqual((await env.m.inspectSandbox('c')).links.map((l) => l.name), ['lo']);
    const c3 = await env.m.connect('c', { network: 'p_default', aliases: [] });
    t.is(c3.address, c1.address, 'the released address is handed out again');
    await env.m.removeSandbox('c');
    await env.m.removeSandbox('c'); // twice: nothing to do
    await env.m.remove('p_default');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('state outlives the kernel: a second create remakes a lost bridge and table; stale leases do not block removal', async (t) => {
  await withEnv(async (env) => {
    const n = await env.m.create({ name: 'p_default', labels: {} });
    const c = await container(env, 'c', 'p_default');
    await env.m.publish('c', c.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    // what a reboot does: bridge, table and sandbox gone, state kept
    sh('ip', ['link', 'del', n.bridge]);
    sh(NFT, ['delete', 'table', 'inet', env.m.table]);
    sh('umount', [c.path]);
    t.deepEqual(nftTables(), []);
    t.deepEqual(await env.m.create({ name: 'p_default', labels: {} }), n);
    t.true((await linkNames()).includes(n.bridge));
    t.deepEqual(nftTables(), [`inet ${env.m.table}`]);
    t.regex(sh(NFT, ['list', 'map', 'inet', env.m.table, 'any_port']), /tcp \. 8080 : 80/);
    // the container comes back with the same address
    const again = await container(env, 'c', 'p_default');
    t.is(again.address, c.address);
    await serve(env, again.path, 'tcp', 80, 'c');
    t.is(await ask(undefined, 'tcp', '127.0.0.1', 8080), 'c 10.89.0.1');
    // lose the sandbox while a process still holds its namespace (the old veth lives on): a new one still connects
    sh('umount', [again.path]);
    const third = await container(env, 'c', 'p_default');
    t.is(third.address, c.address);
    await serve(env, third.path, 'tcp', 80, 'c3');
    t.is(await ask(undefined, 'tcp', '127.0.0.1', 8080), 'c3 10.89.0.1');
    // and lose it again: its lease no longer blocks removing the network
    sh('umount', [third.path]);
    await env.m.remove('p_default');
    await env.m.removeSandbox('c');
    t.deepEqual(await leftovers(env), []);
  });
});

test.serial('two managers on one root serialize through the lock: concurrent creates get distinct subnets', async (t) => {
  await withEnv(async (env) => {
    const { NetworkManager } = await import('../../src/engine/network/index.js');
    const other = new NetworkManager({ root: join(env.dir, 'lib'), runRoot: join(env.dir, 'run') });
    try {
      const made = await Promise.all(['a', 'b', 'c', 'd'].map((x, i) => (i % 2 ? other : env.m).create({ name: `p_${x}`, labels: {} })));
      t.deepEqual(made.map((n) => n.subnet).sort(), ['10.89.0.0/24', '10.89.1.0/24', '10.89.2.0/24', '10.89.3.0/24']);
      const sandboxes = await Promise.all(['s1', 's2', 's3'].map((id, i) => (i % 2 ? other : env.m).createSandbox(id)));
      const eps = await Promise.all(sandboxes.map((_, i) => (i % 2 ? other : env.m).connect(`s${i + 1}`, { network: 'p_a', aliases: [] })));
      t.deepEqual(eps.map((e) => e.address).sort(), ['10.89.0.2', '10.89.0.3', '10.89.0.4']);
      // sysctls inside a sandbox are set from the namespace worker
      await env.m.setSandboxSysctls('s1', { 'net.ipv4.ip_unprivileged_port_start': '0' });
      t.is(sh('nsenter', ['--net=' + sandboxes[0]!.path, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']).trim(), '0');
      t.not(sh('cat', ['/proc/sys/net/ipv4/ip_unprivileged_port_start']).trim(), '0');
      await Promise.all(['s1', 's2', 's3'].map((id, i) => (i % 2 ? other : env.m).removeSandbox(id)));
      await Promise.all(['a', 'b', 'c', 'd'].map((x, i) => (i % 2 ? env.m : other).remove(`p_${x}`)));
    } finally {
      await other.close();
    }
    t.deepEqual(await leftovers(env), []);
  });
});
