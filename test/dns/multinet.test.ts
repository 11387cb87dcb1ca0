// A container on several networks resolves the names of all of them (issue 5), through
// whichever of its gateways it asks: tsstack-dns keys a query to the container by its
// source address. Real bridges, sandboxes and veths from NetworkManager; queries from
// inside the sandboxes. Own subnets (10.253.8.0/24, 10.253.9.0/24) and roots, so it
// can run beside the other DNS tests.
//
//   front: x (front+back), web (front only)        back: x, db (back only)

import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DnsService } from '../../src/engine/dns/index.js';
import { isProcess } from '../../src/engine/dns/process.js';
import { NetworkManager } from '../../src/engine/network/index.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { fakeUpstream, linkExists } from './_client.js';

interface Answer { rcode: string; data: string[] }

/** One query from inside the sandbox at `netns` (a Node client under nsenter), over UDP or TCP. */
function askFrom(netns: string, server: string, name: string, type = 'A', tcp = false): Promise<Answer> {
  const script = `
    import { createRequire } from 'node:module';
    import dgram from 'node:dgram';
    import net from 'node:net';
    const packet = createRequire(${JSON.stringify(join(process.cwd(), 'package.json'))})('dns-packet');
    const q = packet.encode({ type: 'query', id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type: ${JSON.stringify(type)}, name: ${JSON.stringify(name)} }] });
    const timer = setTimeout(() => { console.log(JSON.stringify({ rcode: 'timeout', data: [] })); process.exit(0); }, 3000);
    const done = (m) => {
      const r = packet.decode(m);
      console.log(JSON.stringify({ rcode: r.rcode, data: r.answers.map((a) => String(a.data)).sort() }));
      clearTimeout(timer);
      process.exit(0);
    };
    if (${tcp}) {
      const s = net.connect({ host: ${JSON.stringify(server)}, port: 53 }, () => s.write(Buffer.concat([Buffer.from([q.length >> 8, q.length & 255]), q])));
      let buf = Buffer.alloc(0);
      s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0))); });
    } else {
      const s = dgram.createSocket('udp4');
      s.on('message', done);
      s.send(q, 53, ${JSON.stringify(server)});
    }
  `;
  return new Promise((resolve, reject) => {
    execFile('nsenter', [`--net=${netns}`, process.execPath, '--input-type=module', '-e', script], (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout.trim()));
    });
  });
}

const rev = (a: string): string => `${a.split('.').reverse().join('.')}.in-addr.arpa`;

test('a container on front+back resolves back-only names through the front gateway; one on front only does not', async (t) => {
  const dir = makeTemp('tsstack-dns-multi-');
  const runRoot = join(dir, 'run');
  const m = new NetworkManager({ root: join(dir, 'lib'), runRoot });
  const upstream = await fakeUpstream('127.0.0.1', '192.0.2.98');
  const dns = new DnsService({ runRoot, upstreams: [`127.0.0.1:${upstream.port}`], search: [] });
  const bridges: string[] = [];
  let pid = 0;
  try {
    const front = await m.create({ name: 'mn_front', labels: { 'tsstack.project': 'mn' }, subnet: '10.253.8.0/24' });
    const back = await m.create({ name: 'mn_back', labels: { 'tsstack.project': 'mn' }, subnet: '10.253.9.0/24' });
    bridges.push(front.bridge, back.bridge);
    // The subnets with their prefix, so reverse names inside them are answered locally.
    const nets = { mn_front: `${front.gateway}/24`, mn_back: `${back.gateway}/24` };
    await dns.setNetworks(nets);

    const sandbox: Record<string, string> = {};
    const addr: Record<string, Record<string, string>> = {};
    const place = async (id: string, service: string, on: string[]): Promise<void> => {
      if (!sandbox[id]) sandbox[id] = (await m.createSandbox(id)).path;
      addr[id] ??= {};
      for (const network of on) {
        if (!addr[id][network]) addr[id][network] = (await m.connect(id, { network, aliases: [] })).address;
      }
      const networks = Object.fromEntries(Object.entries(addr[id]).map(([n, address]) => [n, { address, aliases: n === 'mn_back' ? [`${service}-b`] : [] }]));
      await dns.setContainer({ id, name: `mn-${service}-1`, service, project: 'mn', networks });
    };
    await place('cx', 'x', ['mn_front', 'mn_back']);
    await place('cw', 'web', ['mn_front']);
    await place('cd', 'db', ['mn_back']);
    ({ pid } = await dns.ensureRunning(nets));
    const fgw = front.gateway, bgw = back.gateway;

    // x on both networks: back-only names through the front gateway, over UDP and TCP.
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'db'), { rcode: 'NOERROR', data: [addr.cd.mn_back] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'db-b', 'A', true), { rcode: 'NOERROR', data: [addr.cd.mn_back] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'mn-db-1'), { rcode: 'NOERROR', data: [addr.cd.mn_back] });
    t.deepEqual(await askFrom(sandbox.cx, bgw, 'web'), { rcode: 'NOERROR', data: [addr.cw.mn_front] }, 'and front-only names through back');
    // A name on several networks: the arrival network's address.
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'x'), { rcode: 'NOERROR', data: [addr.cx.mn_front] });
    t.deepEqual(await askFrom(sandbox.cx, bgw, 'x'), { rcode: 'NOERROR', data: [addr.cx.mn_back] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'x-b'), { rcode: 'NOERROR', data: [addr.cx.mn_back] }, 'alias only on back');

    // web on front only: back stays invisible.
    t.deepEqual(await askFrom(sandbox.cw, fgw, 'db'), { rcode: 'NXDOMAIN', data: [] });
    t.deepEqual(await askFrom(sandbox.cw, fgw, 'x-b', 'A', true), { rcode: 'NXDOMAIN', data: [] });
    t.deepEqual(await askFrom(sandbox.cw, fgw, 'x'), { rcode: 'NOERROR', data: [addr.cx.mn_front] });
    // db on back only: front stays invisible.
    t.deepEqual(await askFrom(sandbox.cd, bgw, 'web'), { rcode: 'NXDOMAIN', data: [] });

    // NXDOMAIN, NODATA and forwarding as before.
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'nosuch'), { rcode: 'NXDOMAIN', data: [] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'db', 'AAAA'), { rcode: 'NOERROR', data: [] });
    const before = upstream.queries.length;
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'www.example.com'), { rcode: 'NOERROR', data: ['192.0.2.98'] });
    t.is(upstream.queries.length, before + 1);

    // PTR: own network's addresses for everyone; the other networks' for x only.
    t.deepEqual(await askFrom(sandbox.cw, fgw, rev(addr.cx.mn_front), 'PTR'), { rcode: 'NOERROR', data: ['mn-x-1'] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, rev(addr.cd.mn_back), 'PTR'), { rcode: 'NOERROR', data: ['mn-db-1'] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, rev('10.253.9.200'), 'PTR'), { rcode: 'NXDOMAIN', data: [] }, 'inside back\'s subnet');
    t.deepEqual(await askFrom(sandbox.cw, fgw, rev('10.253.8.200'), 'PTR'), { rcode: 'NXDOMAIN', data: [] });
    const beforePtr = upstream.queries.length;
    const far = await askFrom(sandbox.cw, fgw, rev(addr.cd.mn_back), 'PTR');
    t.not(far.data[0], 'mn-db-1', 'web does not see back\'s reverse names');
    t.is(upstream.queries.length, beforePtr + 1, 'not local for web: forwarded');

    // Records update without a restart: a new back-only service, web joining back, db leaving.
    await place('ce', 'cache', ['mn_back']);
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'cache'), { rcode: 'NOERROR', data: [addr.ce.mn_back] });
    t.deepEqual(await askFrom(sandbox.cw, fgw, 'cache'), { rcode: 'NXDOMAIN', data: [] });
    await place('cw', 'web', ['mn_front', 'mn_back']);
    t.deepEqual(await askFrom(sandbox.cw, fgw, 'cache'), { rcode: 'NOERROR', data: [addr.ce.mn_back] }, 'web sees back once it is on it');
    await dns.removeContainer('cd');
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'db'), { rcode: 'NXDOMAIN', data: [] });
    t.is((await dns.status()).pid, pid, 'same server process');

    // An internal back: names from both still resolve; forwarding follows the asker's networks
    // (x is on front too: forwarded whichever gateway it asks; cache is on back alone: refused).
    await dns.setNetworks({ ...nets, mn_back: { gateway: `${back.gateway}/24`, internal: true } });
    t.deepEqual(await askFrom(sandbox.cx, bgw, 'web'), { rcode: 'NOERROR', data: [addr.cw.mn_back] }, 'web is on back now: its back address');
    t.deepEqual(await askFrom(sandbox.cx, bgw, 'mn-x-1'), { rcode: 'NOERROR', data: [addr.cx.mn_back] });
    t.deepEqual(await askFrom(sandbox.cw, bgw, 'x'), { rcode: 'NOERROR', data: [addr.cx.mn_back] });
    t.deepEqual(await askFrom(sandbox.cx, bgw, 'www.example.com'), { rcode: 'NOERROR', data: ['192.0.2.98'] });
    t.deepEqual(await askFrom(sandbox.cx, fgw, 'www.example.com'), { rcode: 'NOERROR', data: ['192.0.2.98'] });
    t.deepEqual(await askFrom(sandbox.ce, bgw, 'www.example.com'), { rcode: 'REFUSED', data: [] });

    for (const id of Object.keys(sandbox)) {
      await dns.removeContainer(id);
      await m.removeSandbox(id);
    }
    await m.remove(front.name);
    await m.remove(back.name);
    await dns.setNetworks(await m.gateways());
    t.true(await dns.stopIfIdle());
    t.false(isProcess(pid, ['tsstack-dns']));
    for (const b of bridges) t.false(linkExists(b), b);
    const sandboxes = join(runRoot, 'netns');
    t.deepEqual(existsSync(sandboxes) ? readdirSync(sandboxes) : [], []);
  } finally {
    // Also after a failed assertion: nothing may stay behind.
    for (const id of ['cx', 'cw', 'cd', 'ce']) {
      await dns.removeContainer(id).catch(() => {});
      await m.removeSandbox(id).catch(() => {});
    }
    for (const n of ['mn_front', 'mn_back']) await m.remove(n).catch(() => {});
    await dns.setNetworks({}).catch(() => {});
    await dns.close();
    await m.close();
    await upstream.close();
    rmTemp(dir);
  }
});
