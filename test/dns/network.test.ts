// The whole path a container's lookup takes, with the network engineer's
// NetworkManager: sandboxes on a bridge network query tsstack-dns on their
// gateway; names are answered locally, the rest goes to an upstream on the host.
// Own subnet (10.253.7.0/24) and roots, so it can run beside the other DNS tests.

import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DnsService } from '../../src/engine/dns/index.js';
import { isProcess } from '../../src/engine/dns/process.js';
import { NetworkManager } from '../../src/engine/network/index.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { fakeUpstream, linkExists } from './_client.js';

/** Runs one query from inside the sandbox at `netns` (a Node client under nsenter). */
function askFrom(netns: string, server: string, name: string, type = 'A'): Promise<{ rcode: string; data: string[] }> {
  const script = `
    import { createRequire } from 'node:module';
    import dgram from 'node:dgram';
    const packet = createRequire(${JSON.stringify(join(process.cwd(), 'package.json'))})('dns-packet');
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { console.log(JSON.stringify({ rcode: 'timeout', data: [] })); process.exit(0); }, 3000);
    s.on('message', (m) => {
      const r = packet.decode(m);
      console.log(JSON.stringify({ rcode: r.rcode, data: r.answers.map((a) => String(a.data)).sort() }));
      clearTimeout(timer); s.close();
    });
    s.send(packet.encode({ type: 'query', id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type: ${JSON.stringify(type)}, name: ${JSON.stringify(name)} }] }), 53, ${JSON.stringify(server)});
  `;
  return new Promise((resolve, reject) => {
    execFile('nsenter', [`--net=${netns}`, process.execPath, '--input-type=module', '-e', script], (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout.trim()));
    });
  });
}

test('containers on a NetworkManager network resolve each other and the outside through their gateway', async (t) => {
  const dir = makeTemp('tsstack-dns-net-');
  const runRoot = join(dir, 'run');
  const m = new NetworkManager({ root: join(dir, 'lib'), runRoot });
  const upstream = await fakeUpstream('127.0.0.1', '192.0.2.99');
  const dns = new DnsService({ runRoot, upstreams: [`127.0.0.1:${upstream.port}`], search: [] });
  let pid: number | undefined;
  let bridge = '';
  try {
    const net = await m.create({ name: 'dnsit_default', labels: { 'tsstack.project': 'dnsit' }, subnet: '10.253.7.0/24' });
    bridge = net.bridge;
    const eps: Record<string, { path: string; address: string; gateway: string }> = {};
    for (const [id, service] of [['ca', 'api'], ['cb', 'db']] as const) {
      const { path } = await m.createSandbox(id);
      const ep = await m.connect(id, { network: net.name, aliases: [`${service}-alias`] });
      eps[id] = { path, address: ep.address, gateway: ep.gateway };
      await dns.setContainer({ id, name: `dnsit-${service}-1`, service, project: 'dnsit', networks: { [net.name]: { address: ep.address, aliases: [`${service}-alias`] } } });
    }
    ({ pid } = await dns.ensureRunning(await m.gateways()));
    const gw = eps.ca.gateway;
    t.is(gw, net.gateway);
    t.deepEqual(await askFrom(eps.ca.path, gw, 'db'), { rcode: 'NOERROR', data: [eps.cb.address] });
    t.deepEqual(await askFrom(eps.cb.path, gw, 'api-alias'), { rcode: 'NOERROR', data: [eps.ca.address] });
    t.deepEqual(await askFrom(eps.cb.path, gw, 'dnsit-api-1'), { rcode: 'NOERROR', data: [eps.ca.address] });
    t.deepEqual(await askFrom(eps.ca.path, gw, 'db.dnsit'), { rcode: 'NOERROR', data: [eps.cb.address] });
    t.deepEqual(await askFrom(eps.ca.path, gw, 'nosuch'), { rcode: 'NXDOMAIN', data: [] });
    t.deepEqual(await askFrom(eps.ca.path, gw, 'www.example.com'), { rcode: 'NOERROR', data: ['192.0.2.99'] });

    // down: containers, sandboxes, network; then the server goes with the last network.
    for (const id of ['ca', 'cb']) {
      await dns.removeContainer(id);
      await m.removeSandbox(id);
    }
    await m.remove(net.name);
    await dns.setNetworks(await m.gateways());
    t.true(await dns.stopIfIdle());
  } finally {
    await dns.close();
    await m.close();
    await upstream.close();
  }
  t.false(pid !== undefined && isProcess(pid, ['tsstack-dns']));
  t.false(bridge !== '' && linkExists(bridge));
  const sandboxes = join(runRoot, 'netns');
  t.deepEqual(existsSync(sandboxes) ? readdirSync(sandboxes) : [], []);
  rmTemp(dir);
});
