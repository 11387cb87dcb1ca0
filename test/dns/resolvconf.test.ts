// The production default: no upstreams given, so the server forwards to the
// nameservers of the host's resolv.conf (port 53), strips its search domains, and
// re-reads it on SIGHUP. Own addresses (10.253.5.0/24, 127.0.0.2-3) so it can run
// beside server.test.ts.

import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DnsService } from '../../src/engine/dns/index.js';
import { isProcess } from '../../src/engine/dns/process.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { addBridge, dataOf, delLink, fakeUpstream, linkExists, query } from './_client.js';

const BR = 'tsdns-e';
const GW = '10.253.5.1';

test('forwards to the host resolv.conf nameservers, follows it on SIGHUP, stops cleanly', async (t) => {
  const root = makeTemp('tsstack-dns-rc-');
  delLink(BR);
  addBridge(BR, `${GW}/24`);
  const first = await fakeUpstream('127.0.0.2', '192.0.2.2', 53);
  const second = await fakeUpstream('127.0.0.3', '192.0.2.3', 53);
  const resolvConf = join(root, 'resolv.conf');
  writeFileSync(resolvConf, '# host\nsearch lan.example\nnameserver 127.0.0.2\noptions edns0\n');
  const dns = new DnsService({ runRoot: join(root, 'run'), hostResolvConf: resolvConf });
  let pid: number | undefined;
  try {
    await dns.setContainer({ id: 'x1', name: 'app-api-1', service: 'api', project: 'app', networks: { net: { address: '10.253.5.7', aliases: [] } } });
    ({ pid } = await dns.ensureRunning({ net: GW }));
    t.deepEqual(dataOf(await query(GW, 'api.lan.example'), 'A'), ['10.253.5.7'], 'host search domain stripped');
    t.deepEqual(dataOf(await query(GW, 'remote.example.net'), 'A'), ['192.0.2.2']);
    t.is(first.queries.length, 1);

    writeFileSync(resolvConf, 'nameserver 127.0.0.3\n');
    process.kill(pid, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 100));
    t.deepEqual(dataOf(await query(GW, 'remote.example.net'), 'A'), ['192.0.2.3']);
    t.is(second.queries.length, 1);
    t.is((await dns.status()).pid, pid);

    // A resolv.conf naming our own gateway would loop: that entry is skipped.
    writeFileSync(resolvConf, `nameserver ${GW}\nnameserver 127.0.0.2\n`);
    process.kill(pid, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 100));
    t.deepEqual(dataOf(await query(GW, 'other.example.net'), 'A'), ['192.0.2.2']);
  } finally {
    await dns.removeContainer('x1');
    await dns.close();
    await first.close();
    await second.close();
    delLink(BR);
  }
  t.false(pid !== undefined && isProcess(pid, ['tsstack-dns']));
  t.false(linkExists(BR));
  rmTemp(root);
});

