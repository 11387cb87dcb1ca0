// DnsService changes made at once are written together (one serial), and the
// removal of a container that has no names writes nothing. No server runs here:
// the state file is what the server would load.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsService } from '../../src/engine/dns/service.js';
import { lockPolls } from '../../src/engine/store/lock.js';

const id = (n: number) => String(n).padStart(64, '0');

test('concurrent changes share one write; removing what is not there writes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dnsb-'));
  try {
    const dns = new DnsService({ runRoot: dir, upstreams: [], search: [] });
    await dns.setNetworks({ front: '10.250.0.1' });
    const s0 = (await dns.status()).serial;
    await Promise.all([1, 2, 3, 4, 5].map((n) => dns.setContainer({ id: id(n), name: `p-web-${n}`, service: 'web', project: 'p', networks: { front: { address: `10.250.0.${n + 1}`, aliases: [] } } })));
    const s1 = await dns.status();
    t.is(s1.containers, 5);
    t.is(s1.serial, s0 + 1, 'five changes, one write');
    t.regex(dns.renderRecords(), /p-web-5/);

    await Promise.all([1, 2, 3].map((n) => dns.removeContainer(id(n))));
    const s2 = await dns.status();
    t.is(s2.containers, 2);
    t.is(s2.serial, s1.serial + 1);
    t.notRegex(dns.renderRecords(), /p-web-1\b/);

    await dns.removeContainer(id(1)); // already gone
    t.is((await dns.status()).serial, s2.serial, 'nothing written');
    // a later change still goes through (the batches do not get stuck)
    await dns.removeContainer(id(4));
    t.is((await dns.status()).serial, s2.serial + 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setting the networks they already have writes nothing (every start sets them); new ones are written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dnsb-'));
  try {
    const dns = new DnsService({ runRoot: dir, upstreams: [], search: [] });
    await dns.setNetworks({ front: '10.250.0.1', back: '10.251.0.1' });
    const s0 = (await dns.status()).serial;
    await dns.setNetworks({ back: '10.251.0.1', front: '10.250.0.1' });
    t.is((await dns.status()).serial, s0, 'the same networks: nothing written');
    await dns.setNetworks({ front: '10.250.0.1' });
    t.is((await dns.status()).serial, s0 + 1);
    t.deepEqual((await dns.status()).networks, { front: '10.250.0.1' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a start setting the networks this service already set renders nothing; a records file rewritten by another service is compared again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dnsb-'));
  try {
    const dns = new DnsService({ runRoot: dir, upstreams: [], search: [] });
    let renders = 0;
    const render = dns.renderRecords.bind(dns);
    dns.renderRecords = (s) => { renders++; return render(s); };
    await dns.setNetworks({ front: '10.250.0.1' });
    // as an up: every start adds its names, then sets the same networks again
    for (const n of [1, 2, 3]) {
      await dns.setContainer({ id: id(n), name: `p-web-${n}`, service: 'web', project: 'p', networks: { front: { address: `10.250.0.${n + 1}`, aliases: [] } } });
      const before = renders;
      await dns.setNetworks({ front: '10.250.0.1' });
      t.is(renders - before, 0, 'the same networks, on the records it wrote itself: no render to compare');
    }
    // another command (other upstreams) rewrites the records: this one looks again, and puts its own back
    const other = new DnsService({ runRoot: dir, upstreams: ['192.0.2.53'], search: [] });
    await other.setContainer({ id: id(9), name: 'q-db-1', service: 'db', project: 'q', networks: { front: { address: '10.250.0.99', aliases: [] } } });
    const s0 = (await dns.status()).serial;
    const before = renders;
    await dns.setNetworks({ front: '10.250.0.1' });
    t.true(renders - before > 0, 'compared again');
    t.is((await dns.status()).serial, s0 + 1, 'the records differed (upstreams): written again');
    t.notRegex(readFileSync(join(dns.dir, 'records'), 'utf8'), /192\.0\.2\.53/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('this process\'s own calls queue for the lock instead of polling it (a down\'s close behind its last change)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dnsb-'));
  try {
    const dns = new DnsService({ runRoot: dir, upstreams: [], search: [] });
    await dns.setNetworks({ front: '10.250.0.1' });
    await dns.setContainer({ id: id(1), name: 'p-web-1', service: 'web', project: 'p', networks: { front: { address: '10.250.0.2', aliases: [] } } });
    const before = lockPolls.count;
    await Promise.all([dns.removeContainer(id(1)), dns.close({}), dns.stopIfIdle(), dns.setNetworks({})]);
    t.is(lockPolls.count, before, 'no poll of a lock this process held');
    t.is((await dns.status()).containers, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Each batch used to parse the whole state file again; the service now keeps what it last read or wrote and
// reads the file again only when another command changed it (its stamp), so two services (two commands) on
// one namespace still see each other's changes.
test('two services on one state file (two commands) see each other\'s changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-dnsb-'));
  try {
    const a = new DnsService({ runRoot: dir, upstreams: [], search: [] });
    const b = new DnsService({ runRoot: dir, upstreams: [], search: [] });
    await a.setNetworks({ front: '10.250.0.1' });
    const web = (n: number) => ({ id: id(n), name: `p-web-${n}`, service: 'web', project: 'p', networks: { front: { address: `10.250.0.${n + 1}`, aliases: [] } } });
    await a.setContainer(web(1));
    await b.setContainer(web(2));
    t.is((await a.status()).containers, 2, 'a reads what b wrote');
    await a.setContainer(web(3));
    t.is((await b.status()).containers, 3, 'b reads what a wrote after it');
    const state = () => JSON.parse(readFileSync(a.statePath, 'utf8')) as { containers: Record<string, unknown> };
    t.deepEqual(Object.keys(state().containers).sort(), [id(1), id(2), id(3)]);
    await a.removeContainer(id(1));
    t.deepEqual(Object.keys(state().containers).sort(), [id(2), id(3)]);
    t.is((await b.status()).containers, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
