// tsstack-dns follows the monitors' state files (records `state` lines): a real server on
// a bridge of the test's namespace, state files written here the way the monitor writes
// them (temp + rename) or plainly. Own bridge and subnet (10.253.19.0/24), so it runs beside
// the other DNS tests; serial within the file (one server).

import test from 'ava';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DnsService } from '../../src/engine/dns/index.js';
import { isProcess } from '../../src/engine/dns/process.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { addBridge, dataOf, delLink, linkExists, query, type Reply } from './_client.js';

const NET = { bridge: 'tsdns-live', gw: '10.253.19.1', cidr: '10.253.19.1/24' };
const DEADLINE_MS = 3000;

interface Ctx { root: string; dns: DnsService; dirs: Record<string, string> }
let ctx: Ctx | undefined;

/** Writes a state file the monitor's way: whole, by rename. */
function writeState(dir: string, status: string): void {
  writeFileSync(join(dir, 'state.json.tmp'), JSON.stringify({ exitCode: 0, pid: status === 'running' ? 42 : 0, status }) + '\n');
  renameSync(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
}

const rcode = (r: Reply | 'timeout'): string => (r === 'timeout' ? 'timeout' : r.rcode ?? 'NOERROR');

/** Polls `name` until its A answers are `want` (sorted; [] for NXDOMAIN) or the deadline passes. */
async function until(name: string, want: string[], type: 'A' | 'PTR' = 'A'): Promise<string[]> {
  let got: string[] = [];
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const r = await query(NET.gw, name, type);
    got = rcode(r) === 'NXDOMAIN' ? [] : dataOf(r, type);
    if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > end) return got;
    await new Promise((res) => setTimeout(res, 10));
  }
}

test.before(async () => {
  const root = makeTemp('tsstack-dns-live-');
  delLink(NET.bridge);
  addBridge(NET.bridge, NET.cidr);
  const dirs: Record<string, string> = {};
  for (const c of ['w1', 'w2', 'w3']) mkdirSync((dirs[c] = join(root, 'containers', c)), { recursive: true });
  const dns = new DnsService({ runRoot: join(root, 'run'), upstreams: ['127.0.0.1:9'] });
  await dns.setNetworks({ live: `${NET.gw}/24` });
  writeState(dirs.w1, 'running');
  writeState(dirs.w2, 'running');
  // w3 has no state file yet: answered, as before state lines existed.
  for (const [i, c] of ['w1', 'w2', 'w3'].entries()) {
    await dns.setContainer({ id: c, name: `p-web-${i + 1}`, service: 'web', networks: { live: { address: `10.253.19.${11 + i}`, aliases: [] } }, stateFile: join(dirs[c], 'state.json') });
  }
  await dns.ensureRunning();
  ctx = { root, dns, dirs };
});

test.after.always(async () => {
  if (!ctx) return;
  await ctx.dns.setNetworks({}).catch(() => {});
  await ctx.dns.stop().catch(() => {});
  delLink(NET.bridge);
  rmTemp(ctx.root);
});

test.serial('the records name each container\'s state file; all running (or unknown) containers answer', async (t) => {
  const c = ctx!;
  const text = c.dns.renderRecords();
  t.true(text.includes(`state p-web-1 ${join(c.dirs.w1, 'state.json')}\n`), text);
  t.deepEqual(await until('web', ['10.253.19.11', '10.253.19.12', '10.253.19.13']), ['10.253.19.11', '10.253.19.12', '10.253.19.13']);
});

test.serial('a container whose state says exited goes quiet at once; its siblings keep answering', async (t) => {
  const c = ctx!;
  writeState(c.dirs.w1, 'exited');
  t.deepEqual(await until('web', ['10.253.19.12', '10.253.19.13']), ['10.253.19.12', '10.253.19.13']);
  t.is(rcode(await query(NET.gw, 'p-web-1')), 'NXDOMAIN');
  t.is(rcode(await query(NET.gw, '11.19.253.10.in-addr.arpa', 'PTR')), 'NXDOMAIN');
  t.deepEqual(dataOf(await query(NET.gw, '12.19.253.10.in-addr.arpa', 'PTR'), 'PTR'), ['p-web-2']);
  t.deepEqual(dataOf(await query(NET.gw, 'p-web-2'), 'A'), ['10.253.19.12']);
});

test.serial('restarting is quiet, running again answers on the same address', async (t) => {
  const c = ctx!;
  writeState(c.dirs.w2, 'restarting');
  t.deepEqual(await until('web', ['10.253.19.13']), ['10.253.19.13']);
  writeState(c.dirs.w1, 'running');
  writeState(c.dirs.w2, 'running');
  t.deepEqual(await until('web', ['10.253.19.11', '10.253.19.12', '10.253.19.13']), ['10.253.19.11', '10.253.19.12', '10.253.19.13']);
  t.deepEqual(dataOf(await query(NET.gw, '11.19.253.10.in-addr.arpa', 'PTR'), 'PTR'), ['p-web-1']);
});

test.serial('a state file written in place, removed, and a service whose containers all stopped', async (t) => {
  const c = ctx!;
  writeFileSync(join(c.dirs.w3, 'state.json'), '{"status":"exited"}\n'); // not by rename: close-after-write is seen too
  t.deepEqual(await until('web', ['10.253.19.11', '10.253.19.12']), ['10.253.19.11', '10.253.19.12']);
  rmSync(join(c.dirs.w3, 'state.json'));                                // gone: answered, as without a state line
  t.deepEqual(await until('p-web-3', ['10.253.19.13']), ['10.253.19.13']);
  for (const d of [c.dirs.w1, c.dirs.w2, c.dirs.w3]) writeState(d, 'exited');
  t.deepEqual(await until('web', []), []);
  t.is(rcode(await query(NET.gw, 'web')), 'NXDOMAIN');
});

test.serial('liveness survives a records reload, and a reload reads the files again', async (t) => {
  const c = ctx!;
  // All three exited (previous test). A reload (another container added) keeps them quiet.
  await c.dns.setContainer({ id: 'w4', name: 'p-api-1', service: 'api', networks: { live: { address: '10.253.19.20', aliases: [] } } });
  t.is(rcode(await query(NET.gw, 'web')), 'NXDOMAIN');
  t.deepEqual(dataOf(await query(NET.gw, 'api'), 'A'), ['10.253.19.20'], 'no state file given: always answered');
  writeState(c.dirs.w2, 'running');
  t.deepEqual(await until('web', ['10.253.19.12']), ['10.253.19.12']);
  // Dropped from the records and its directory removed: nothing breaks, others still follow their files.
  await c.dns.removeContainer('w3');
  rmSync(c.dirs.w3, { recursive: true });
  writeState(c.dirs.w1, 'running');
  t.deepEqual(await until('web', ['10.253.19.11', '10.253.19.12']), ['10.253.19.11', '10.253.19.12']);
  const st = await c.dns.status();
  t.true(st.running && (st.rssKb ?? 0) > 0 && st.rssKb! < 5 * 1024, `rss ${st.rssKb} kB`);
});

test.serial('after stop: no server process, bridge removed by teardown', async (t) => {
  const c = ctx!;
  await c.dns.setNetworks({});
  t.true(await c.dns.stopIfIdle());
  const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => isProcess(pid, ['tsstack-dns', c.root]));
  t.deepEqual(left, []);
  delLink(NET.bridge);
  t.false(linkExists(NET.bridge));
});
