// tsstack-dns end to end: real server process, real bridges in the test's network
// namespace, queries over UDP and TCP from Node. Serial: they share the namespace's
// addresses and port 53.

import test from 'ava';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DnsService, dnsServerDir } from '../../src/engine/dns/index.js';
import type { TsstackError } from '../../src/util/errors.js';
import { isProcess } from '../../src/engine/dns/process.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { addBridge, dataOf, delLink, encodeQuery, fakeUpstream, linkExists, query, truncatingUpstream, type FakeUpstream } from './_client.js';

const A = { bridge: 'tsdns-a', gw: '10.253.1.1', cidr: '10.253.1.1/24' };
const B = { bridge: 'tsdns-b', gw: '10.253.2.1', cidr: '10.253.2.1/24' };
const C = { bridge: 'tsdns-c', gw: '10.253.3.1', cidr: '10.253.3.1/24' };
const D = { bridge: 'tsdns-d', gw: '10.253.4.1', cidr: '10.253.4.1/24' };
const F = { bridge: 'tsdns-f', gw: 'fd00:253:6::1', cidr: 'fd00:253:6::1/64' };

interface Ctx {
  root: string;
  dns: DnsService;
  upstream: FakeUpstream;
  silent: FakeUpstream;
  pid: number;
}
let ctx: Ctx;

function serversFor(root: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => isProcess(pid, ['tsstack-dns', join(dnsServerDir(join(root, 'run')), 'records')]));
}

test.before(async () => {
  const root = makeTemp('tsstack-dns-');
  for (const n of [A, B, C, D, F]) { delLink(n.bridge); addBridge(n.bridge, n.cidr); }
  const upstream = await fakeUpstream('127.0.0.1', '192.0.2.77');
  const silent = await fakeUpstream('127.0.0.1');
  const dns = new DnsService({ runRoot: join(root, 'run'), upstreams: [`127.0.0.1:${upstream.port}`], search: ['corp.example'] });
  await dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
  await dns.setContainer({ id: 'c1'.padEnd(64, '0'), name: 'shop-web-1', service: 'web', project: 'shop', networks: { front: { address: '10.253.1.11', aliases: ['www'] } } });
  await dns.setContainer({ id: 'c2'.padEnd(64, '0'), name: 'shop-web-2', service: 'web', project: 'shop', networks: { front: { address: '10.253.1.12/24', aliases: ['www'] } } });
  await dns.setContainer({ id: 'c3'.padEnd(64, '0'), name: 'shop-db-1', service: 'db', project: 'shop', networks: { front: { address: '10.253.1.13', ipv6Address: 'fd00:253:1::13', aliases: ['database'] }, back: { address: '10.253.2.13', aliases: ['store'] } } });
  await dns.setContainer({ id: 'c4'.padEnd(64, '0'), name: 'shop-worker-1', service: 'worker', project: 'shop', networks: { back: { address: '10.253.2.14', aliases: [] } } });
  const { pid, started } = await dns.ensureRunning();
  if (!started) throw new Error('server was already running');
  ctx = { root, dns, upstream, silent, pid };
});

test.after.always(async () => {
  if (!ctx) return;
  try { await ctx.dns.setNetworks({}); await ctx.dns.stopIfIdle(); } catch { /* reported by the last test */ }
  for (const pid of serversFor(ctx.root)) process.kill(pid, 'SIGKILL');
  await ctx.upstream.close();
  await ctx.silent.close();
  for (const n of [A, B, C, D, F]) delLink(n.bridge);
  rmTemp(ctx.root);
});

test.serial('a service with two replicas has two A records', async (t) => {
  t.deepEqual(dataOf(await query(A.gw, 'web'), 'A'), ['10.253.1.11', '10.253.1.12']);
  // Rotated from one query to the next, so clients taking the first spread over both.
  const firsts = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const r = await query(A.gw, 'web');
    if (r !== 'timeout') firsts.add(String((r.answers?.[0] as { data?: unknown } | undefined)?.data));
  }
  t.deepEqual([...firsts].sort(), ['10.253.1.11', '10.253.1.12']);
});

test.serial('aliases, container names, <service>.<project>, short ids', async (t) => {
  t.deepEqual(dataOf(await query(A.gw, 'www'), 'A'), ['10.253.1.11', '10.253.1.12']);
  t.deepEqual(dataOf(await query(A.gw, 'database'), 'A'), ['10.253.1.13']);
  t.deepEqual(dataOf(await query(A.gw, 'shop-web-2'), 'A'), ['10.253.1.12']);
  t.deepEqual(dataOf(await query(A.gw, 'web.shop'), 'A'), ['10.253.1.11', '10.253.1.12']);
  t.deepEqual(dataOf(await query(A.gw, 'c30000000000'), 'A'), ['10.253.1.13']);
});

test.serial('names are case-insensitive and the question is echoed as asked', async (t) => {
  const r = await query(A.gw, 'WeB.ShOp');
  if (r === 'timeout') return t.fail('timeout');
  t.is(r.rcode, 'NOERROR');
  t.is(r.questions?.[0]?.name, 'WeB.ShOp');
  t.deepEqual(r.answers?.map((a) => a.name), ['WeB.ShOp', 'WeB.ShOp']);
  t.true(((r.flags ?? 0) & 0x400) !== 0, 'authoritative');
});

test.serial('search domain suffix and EDNS0 queries are answered locally', async (t) => {
  t.deepEqual(dataOf(await query(A.gw, 'web.corp.example'), 'A'), ['10.253.1.11', '10.253.1.12']);
  const r = await query(A.gw, 'db', 'A', { edns: true });
  if (r === 'timeout') return t.fail('timeout');
  t.deepEqual(dataOf(r, 'A'), ['10.253.1.13']);
  t.true((r.additionals ?? []).some((a) => a.type === 'OPT'), 'OPT echoed');
});

test.serial('unknown single-label name is NXDOMAIN; AAAA of a v4-only name is NODATA', async (t) => {
  const nx = await query(A.gw, 'nosuch');
  if (nx === 'timeout') return t.fail('timeout');
  t.is(nx.rcode, 'NXDOMAIN');
  const nodata = await query(A.gw, 'web', 'AAAA');
  if (nodata === 'timeout') return t.fail('timeout');
  t.is(nodata.rcode, 'NOERROR');
  t.deepEqual(nodata.answers, []);
  const mx = await query(A.gw, 'web', 'MX');
  t.is(mx !== 'timeout' && mx.rcode, 'NOERROR');
  t.is(ctx.upstream.queries.length, 0, 'nothing local went upstream');
});

test.serial('AAAA and ip6.arpa PTR for a dual-stack container', async (t) => {
  t.deepEqual(dataOf(await query(A.gw, 'database', 'AAAA'), 'AAAA'), ['fd00:253:1::13']);
  t.deepEqual(dataOf(await query(A.gw, 'database', 'A'), 'A'), ['10.253.1.13']);
  const any = await query(A.gw, 'db', 'ANY');
  t.deepEqual([...dataOf(any, 'A'), ...dataOf(any, 'AAAA')], ['10.253.1.13', 'fd00:253:1::13']);
  const rev = '3.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.3.5.2.0.0.0.d.f.ip6.arpa';
  t.deepEqual(dataOf(await query(A.gw, rev, 'PTR'), 'PTR'), ['shop-db-1']);
});

test.serial('PTR for container addresses; NXDOMAIN inside a subnet given with its prefix', async (t) => {
  t.deepEqual(dataOf(await query(A.gw, '13.1.253.10.in-addr.arpa', 'PTR'), 'PTR'), ['shop-db-1']);
  t.deepEqual(dataOf(await query(B.gw, '13.2.253.10.in-addr.arpa', 'PTR'), 'PTR'), ['shop-db-1']);
  const nx = await query(A.gw, '99.1.253.10.in-addr.arpa', 'PTR');
  t.is(nx !== 'timeout' && nx.rcode, 'NXDOMAIN');
});

test.serial('networks are separate: a name is seen only from its own network', async (t) => {
  t.deepEqual(dataOf(await query(B.gw, 'store'), 'A'), ['10.253.2.13']);
  t.deepEqual(dataOf(await query(B.gw, 'db'), 'A'), ['10.253.2.13'], 'the address on this network');
  t.deepEqual(dataOf(await query(A.gw, 'store'), 'A'), [], 'alias on back is not visible on front');
  t.deepEqual(dataOf(await query(B.gw, 'web'), 'A'), [], 'front-only service is not visible on back');
  const r = await query(B.gw, 'web');
  t.is(r !== 'timeout' && r.rcode, 'NXDOMAIN');
  t.deepEqual(dataOf(await query(A.gw, 'shop-worker-1'), 'A'), []);
});

test.serial('TCP queries are answered too', async (t) => {
  t.deepEqual(dataOf(await query(A.gw, 'web', 'A', { tcp: true }), 'A'), ['10.253.1.11', '10.253.1.12']);
  t.deepEqual(dataOf(await query(B.gw, 'worker', 'A', { tcp: true }), 'A'), ['10.253.2.14']);
});

test.serial('records update without a restart', async (t) => {
  await ctx.dns.setContainer({ id: 'c5'.padEnd(64, '0'), name: 'shop-web-3', service: 'web', project: 'shop', networks: { front: { address: '10.253.1.15', aliases: ['www'] } } });
  // setContainer returns once the server has loaded the change: no polling needed.
  t.deepEqual(dataOf(await query(A.gw, 'web'), 'A'), ['10.253.1.11', '10.253.1.12', '10.253.1.15']);
  await ctx.dns.removeContainer('c1'.padEnd(64, '0'));
  t.deepEqual(dataOf(await query(A.gw, 'web'), 'A'), ['10.253.1.12', '10.253.1.15']);
  const gone = await query(A.gw, 'shop-web-1');
  t.is(gone !== 'timeout' && gone.rcode, 'NXDOMAIN');
  const st = await ctx.dns.status();
  t.is(st.pid, ctx.pid, 'same process');
  t.is(st.loadedSerial, st.serial);
});

test.serial('networks come and go: the server binds and unbinds their gateways', async (t) => {
  await ctx.dns.setContainer({ id: 'c6'.padEnd(64, '0'), name: 'other-api-1', service: 'api', project: 'other', networks: { third: { address: '10.253.3.20', aliases: [] } } });
  t.deepEqual(dataOf(await query(C.gw, 'api', 'A', { timeoutMs: 300 }), 'A'), ['timeout'], 'no network "third" yet');
  await ctx.dns.setNetworks({ front: `${A.gw}/24`, back: B.gw, third: C.gw });
  t.deepEqual(dataOf(await query(C.gw, 'api'), 'A'), ['10.253.3.20']);
  await ctx.dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
  t.deepEqual(dataOf(await query(C.gw, 'api', 'A', { timeoutMs: 300 }), 'A'), ['timeout'], 'unbound again');
  t.deepEqual(dataOf(await query(A.gw, 'web'), 'A'), ['10.253.1.12', '10.253.1.15']);
  t.is((await ctx.dns.status()).pid, ctx.pid);
});

test.serial('a gateway whose port 53 is taken is reported, and bound once it is free', async (t) => {
  const squatter = dgram.createSocket('udp4');
  await new Promise<void>((r) => squatter.bind(53, D.gw, () => r()));
  const nets = { front: `${A.gw}/24`, back: B.gw, fourth: D.gw };
  const err = await t.throwsAsync(ctx.dns.ensureRunning(nets));
  t.is((err as TsstackError).code, 'CONFLICT');
  t.regex(err?.message ?? '', /network "fourth" \(10\.253\.4\.1:53\)/);
  t.deepEqual((await ctx.dns.status()).unbound, [{ network: 'fourth', address: D.gw }]);
  t.deepEqual(dataOf(await query(A.gw, 'db'), 'A'), ['10.253.1.13'], 'other networks unaffected');
  await new Promise<void>((r) => squatter.close(() => r()));
  t.deepEqual(await ctx.dns.ensureRunning(nets), { pid: ctx.pid, started: false });
  t.deepEqual((await ctx.dns.status()).unbound, []);
  await ctx.dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
});

test.serial('other names are forwarded to the upstream and the reply relayed', async (t) => {
  const before = ctx.upstream.queries.length;
  const r = await query(A.gw, 'www.example.org');
  t.deepEqual(dataOf(r, 'A'), ['192.0.2.77']);
  t.is(ctx.upstream.queries.length, before + 1);
  t.is(ctx.upstream.queries.at(-1)?.name, 'www.example.org');
  t.is(r !== 'timeout' && r.questions?.[0]?.name, 'www.example.org');
  // Also over TCP from the client (forwarded over UDP).
  t.deepEqual(dataOf(await query(B.gw, 'api.example.org', 'A', { tcp: true }), 'A'), ['192.0.2.77']);
});

test.serial('a silent upstream gets 1 s, then SERVFAIL; local names do not wait for it', async (t) => {
  const dns = new DnsService({ runRoot: join(ctx.root, 'run'), upstreams: [`127.0.0.1:${ctx.silent.port}`], search: ['corp.example'] });
  await dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
  const start = Date.now();
  let localAt = 0;
  const slow = query(A.gw, 'slow.example.org', 'A', { timeoutMs: 5000 }).then((r) => ({ r, at: Date.now() - start }));
  const local = await query(A.gw, 'web');
  localAt = Date.now() - start;
  const { r, at } = await slow;
  t.deepEqual(dataOf(local, 'A'), ['10.253.1.12', '10.253.1.15']);
  t.is(r !== 'timeout' && r.rcode, 'SERVFAIL');
  t.is(ctx.silent.queries.length, 1);
  t.true(localAt < at, `local answer (${localAt} ms) came before the forwarded one gave up (${at} ms)`);
  t.true(at >= 900 && at < 3000, `gave up after ${at} ms`);
});

test.serial('an internal network answers local names and refuses the rest at once', async (t) => {
  await ctx.dns.setNetworks({ front: `${A.gw}/24`, back: { gateway: B.gw, internal: true } });
  const before = ctx.upstream.queries.length;
  t.deepEqual(dataOf(await query(B.gw, 'store'), 'A'), ['10.253.2.13']);
  const r = await query(B.gw, 'www.example.org');
  t.is(r !== 'timeout' && r.rcode, 'REFUSED');
  t.is(ctx.upstream.queries.length, before, 'nothing forwarded');
  t.deepEqual(dataOf(await query(A.gw, 'www.example.org'), 'A'), ['192.0.2.77'], 'the other network still forwards');
  await ctx.dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
});

test.serial('an IPv6 gateway is served over UDP and TCP; an IPv6 upstream is used', async (t) => {
  const up6 = await fakeUpstream('::1', '192.0.2.66');
  try {
    const dns = new DnsService({ runRoot: join(ctx.root, 'run'), upstreams: [`[::1]:${up6.port}`], search: ['corp.example'] });
    await dns.setNetworks({ front: `${A.gw}/24`, back: B.gw, six: `${F.gw}/64` });
    await dns.setContainer({ id: 'c7'.padEnd(64, '0'), name: 'v6-app-1', service: 'app', project: 'v6', networks: { six: { address: '10.253.6.2', ipv6Address: 'fd00:253:6::2', aliases: [] } } });
    t.deepEqual(dataOf(await query(F.gw, 'app', 'AAAA'), 'AAAA'), ['fd00:253:6::2']);
    t.deepEqual(dataOf(await query(F.gw, 'app', 'A', { tcp: true }), 'A'), ['10.253.6.2']);
    const nx = await query(F.gw, '9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.0.0.0.3.5.2.0.0.0.d.f.ip6.arpa', 'PTR');
    t.is(nx !== 'timeout' && nx.rcode, 'NXDOMAIN', 'inside the /64');
    t.deepEqual(dataOf(await query(F.gw, 'far.example.org'), 'A'), ['192.0.2.66']);
    await dns.removeContainer('c7'.padEnd(64, '0'));
    await ctx.dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
  } finally {
    await up6.close();
  }
});

test.serial('a truncated upstream reply is retried over TCP for a TCP client', async (t) => {
  const tc = await truncatingUpstream('127.0.0.1', ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
  try {
    const dns = new DnsService({ runRoot: join(ctx.root, 'run'), upstreams: [`127.0.0.1:${tc.port}`], search: ['corp.example'] });
    await dns.setNetworks({ front: `${A.gw}/24`, back: B.gw });
    const udp = await query(A.gw, 'big.example.org');
    t.true(udp !== 'timeout' && ((udp.flags ?? 0) & 0x200) !== 0, 'UDP client sees TC and may retry over TCP');
    t.deepEqual(dataOf(await query(A.gw, 'big.example.org', 'A', { tcp: true }), 'A'), ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    t.is(tc.tcpQueries, 1);
  } finally {
    await tc.close();
  }
});

test.serial('protocol edges: FORMERR, NOTIMP, responses ignored, truncation with and without EDNS0', async (t) => {
  const raw = (msg: Buffer, timeoutMs = 1000): Promise<Buffer | 'timeout'> => new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); resolve('timeout'); }, timeoutMs);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.send(msg, 53, A.gw);
  });
  const q = encodeQuery('web', 'A', 0x4242);
  const two = Buffer.from(q);
  two.writeUInt16BE(2, 4);  // QDCOUNT 2
  const formerr = await raw(two);
  t.true(formerr !== 'timeout' && formerr.readUInt16BE(0) === 0x4242 && (formerr[3] & 0xf) === 1, 'FORMERR');
  const status = Buffer.from(q);
  status[2] = (status[2] & 0x87) | (2 << 3);  // opcode STATUS
  const notimp = await raw(status);
  t.true(notimp !== 'timeout' && (notimp[3] & 0xf) === 4, 'NOTIMP');
  const response = Buffer.from(q);
  response[2] |= 0x80;
  t.is(await raw(response, 300), 'timeout', 'a response is never answered (no reflection loops)');

  for (let i = 0; i < 40; i++) {
    await ctx.dns.setContainer({ id: `many${i}`, name: `shop-many-${i}`, service: 'many', project: 'shop', networks: { front: { address: `10.253.1.${100 + i}`, aliases: [] } } });
  }
  const small = await raw(encodeQuery('many', 'A', 7));
  t.true(small !== 'timeout' && small.length <= 512 && (small[2] & 0x02) !== 0, 'TC within 512 bytes');
  const viaEdns = await query(A.gw, 'many', 'A', { edns: true });
  t.is(dataOf(viaEdns, 'A').length, 40);
  t.is(dataOf(await query(A.gw, 'many', 'A', { tcp: true }), 'A').length, 40);
  for (let i = 0; i < 40; i++) await ctx.dns.removeContainer(`many${i}`);
});

test.serial('a second server on the same pid file refuses to start; ensureRunning reuses the first', async (t) => {
  const again = await ctx.dns.ensureRunning();
  t.deepEqual(again, { pid: ctx.pid, started: false });
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(ctx.dns.binary, ['--records', ctx.dns.recordsPath, '--pidfile', ctx.dns.pidPath, '--port', '5399'], { stdio: 'ignore' });
    p.on('exit', (c) => resolve(c));
  });
  t.is(code, 3);
  t.is(readFileSync(ctx.dns.pidPath, 'utf8').trim(), String(ctx.pid));
});

test.serial('a malformed records file is logged and the previous records are kept', async (t) => {
  const good = readFileSync(ctx.dns.recordsPath, 'utf8');
  writeFileSync(ctx.dns.recordsPath, good + 'a nosuchnet x 10.0.0.1\n');
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(dataOf(await query(A.gw, 'db'), 'A'), ['10.253.1.13']);
  t.regex(readFileSync(ctx.dns.logPath, 'utf8'), /unknown network 'nosuchnet'/);
  writeFileSync(ctx.dns.recordsPath, good);
});

test.serial('garbage and mangled queries neither crash nor stall the server', async (t) => {
  const sock = dgram.createSocket('udp4');
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let i = 0; i < 3000; i++) {
    let b: Buffer;
    if (i % 3 === 0) {
      b = Buffer.alloc(rnd(600));
      for (let j = 0; j < b.length; j++) b[j] = rnd(256);
    } else {
      b = encodeQuery(['web', 'x.example.org', '13.1.253.10.in-addr.arpa', 'a'.repeat(63)][rnd(4)], (['A', 'AAAA', 'PTR', 'ANY'] as const)[rnd(4)], rnd(65536), i % 2 === 0);
      for (let k = 0; k < 1 + rnd(4); k++) b[rnd(b.length)] = rnd(256);
      if (i % 3 === 2) b = b.subarray(0, rnd(b.length + 1));
    }
    sock.send(b, 53, A.gw);
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise<void>((r) => sock.close(() => r()));
  t.deepEqual(dataOf(await query(A.gw, 'db'), 'A'), ['10.253.1.13']);
  t.is((await ctx.dns.status()).pid, ctx.pid);
});

test.serial('memory stays under 5 MB resident', async (t) => {
  const st = await ctx.dns.status();
  t.truthy(st.rssKb);
  t.log(`VmRSS ${st.rssKb} kB`);
  t.true((st.rssKb ?? Infinity) < 5 * 1024);
});

test.serial('stopIfIdle keeps it while networks exist, stops it when the last goes, leaves nothing', async (t) => {
  t.false(await ctx.dns.stopIfIdle());
  t.true(isProcess(ctx.pid, ['tsstack-dns']));
  await ctx.dns.setNetworks({});
  t.true(await ctx.dns.stopIfIdle());
  t.false(isProcess(ctx.pid, ['tsstack-dns']));
  t.deepEqual(serversFor(ctx.root), []);
  t.false(existsSync(ctx.dns.pidPath));
  t.false((await ctx.dns.status()).running);
  // Started again on demand, then stopped for good.
  const { pid, started } = await ctx.dns.ensureRunning({ front: A.gw });
  t.true(started);
  t.not(pid, ctx.pid);
  t.deepEqual(dataOf(await query(A.gw, 'db'), 'A'), ['10.253.1.13']);
  // close() (the engine's shutdown hook) keeps it while containers are registered…
  await ctx.dns.close();
  t.true(isProcess(pid, ['tsstack-dns']));
  // …and stops it when none is left, also forgetting the networks.
  for (const id of ['c2', 'c3', 'c4', 'c5', 'c6']) await ctx.dns.removeContainer(id.padEnd(64, '0'));
  await ctx.dns.close();
  t.false(isProcess(pid, ['tsstack-dns']));
  t.deepEqual((await ctx.dns.status()).networks, {});
  t.deepEqual(serversFor(ctx.root), []);
  for (const n of [A, B, C, D, F]) { delLink(n.bridge); t.false(linkExists(n.bridge)); }
});
