// What following the monitors' state files costs tsstack-dns (records `state` lines):
// local answer latency with and without state lines (no file is read per query, so the
// two should match), the time from a state file's rename to the first answer that
// reflects it (exited → NXDOMAIN, running → answered), the time for a records reload
// with and without state lines, and the resident size.
//
//   npx tsc -p . && node dist/bench/dns-live.js [--containers 500] [--queries 4000]
//
// Runs itself inside `unshare --net --mount`: a bridge 10.254.10.1/24 stands for a
// network; the queries come from this process to the gateway. State files live in a
// temp dir; the running ones name this process as their monitor (so the server holds a
// pidfd for each, as it does for real monitors).

import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import packet from 'dns-packet';

const self = fileURLToPath(import.meta.url);
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const GW = '10.254.10.1';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Sequential A queries over one socket; per-query round trips in µs, and the rcode of each. */
async function queries(names: string[], n: number): Promise<{ times: number[]; rcodes: number[] }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, r));
  const times: number[] = [];
  const rcodes: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = (i % 65535) + 1;
    const msg = packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: names[i % names.length] }] });
    const t0 = process.hrtime.bigint();
    const rc = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => { sock.removeAllListeners('message'); resolve(-1); }, 1000);
      sock.once('message', (m) => { clearTimeout(timer); resolve(m.readUInt16BE(0) === id ? m[3] & 0xf : -1); });
      sock.send(msg, 53, GW);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
    rcodes.push(rc);
  }
  sock.close();
  return { times, rcodes };
}

async function firstRcode(name: string, want: number, timeoutMs = 2000): Promise<number> {
  const t0 = process.hrtime.bigint();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const { rcodes } = await queries([name], 1);
    if (rcodes[0] === want) return Number(process.hrtime.bigint() - t0) / 1e6;
  }
  return NaN;
}

function writeState(dir: string, status: string): void {
  writeFileSync(join(dir, 'state.json.tmp'), JSON.stringify({ monitorPid: process.pid, status }) + '\n');
  renameSync(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
}

async function inner(): Promise<void> {
  const n = arg('containers', 500);
  const nq = arg('queries', 4000);
  const { DnsService } = await import('../src/engine/dns/index.js');
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  execFileSync('ip', ['link', 'add', 'tsbl0', 'type', 'bridge']);
  execFileSync('ip', ['addr', 'add', `${GW}/24`, 'dev', 'tsbl0']);
  execFileSync('ip', ['link', 'set', 'tsbl0', 'up']);
  const root = mkdtempSync(join(tmpdir(), 'tsstack-dns-live-bench-'));
  const dns = new DnsService({ runRoot: join(root, 'run'), upstreams: ['127.0.0.1:9'] });
  const f = (us: number): string => `${(us / 1000).toFixed(3)} ms`;
  try {
    await dns.setNetworks({ bench: `${GW}/24` });
    const dirs: string[] = [];
    const container = (i: number, withState: boolean) => ({
      id: `c${i}`, name: `bench-svc${i % 50}-${i}`, service: `svc${i % 50}`, project: 'bench',
      networks: { bench: { address: `10.255.${Math.floor(i / 250)}.${(i % 250) + 2}`, aliases: [] } },
      ...(withState ? { stateFile: join(dirs[i], 'state.json') } : {}),
    });
    for (let i = 0; i < n; i++) {
      dirs.push(join(root, 'containers', `c${i}`));
      mkdirSync(dirs[i], { recursive: true });
      writeState(dirs[i], i % 2 === 0 ? 'running' : 'exited'); // every service keeps running replicas
    }
    for (let i = 0; i < n; i++) await dns.setContainer(container(i, false));
    const { pid } = await dns.ensureRunning();
    const names = ['svc4', 'svc8.bench', 'bench-svc6-6', 'svc12']; // even services: their replicas are the running half
    await queries(names, 3000); // warm-up (the client's JIT, mostly)
    const plain = (await queries(names, nq)).times.sort((a, b) => a - b);
    const reloadPlain: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = process.hrtime.bigint();
      await dns.setContainer({ id: `x${i}`, name: `bench-x-${i}`, networks: { bench: { address: `10.255.9.${i + 2}`, aliases: [] } } });
      reloadPlain.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    for (let i = 0; i < n; i++) await dns.setContainer(container(i, true));
    await queries(names, 1000);
    const live = await queries(names, nq);
    const liveTimes = [...live.times].sort((a, b) => a - b);
    const failures = live.rcodes.filter((r) => r !== 0).length;
    const reloadLive: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = process.hrtime.bigint();
      await dns.setContainer({ id: `y${i}`, name: `bench-y-${i}`, networks: { bench: { address: `10.255.8.${i + 2}`, aliases: [] } } });
      reloadLive.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    // Reaction: container 0 (running) exits, then runs again; time to the first answer that shows it.
    const quiet: number[] = [];
    const back: number[] = [];
    for (let i = 0; i < 30; i++) {
      writeState(dirs[0], 'exited');
      quiet.push(await firstRcode('bench-svc0-0', 3));
      writeState(dirs[0], 'running');
      back.push(await firstRcode('bench-svc0-0', 0));
    }
    quiet.sort((a, b) => a - b);
    back.sort((a, b) => a - b);
    reloadPlain.sort((a, b) => a - b);
    reloadLive.sort((a, b) => a - b);
    const st = await dns.status();
    console.log(`tsstack-dns (pid ${pid}), ${n} containers (half exited), ${nq} sequential A queries from the host side of the bridge:`);
    console.log(`  without state lines  p50 ${f(pct(plain, 50))}  p99 ${f(pct(plain, 99))}`);
    console.log(`  with state lines     p50 ${f(pct(liveTimes, 50))}  p99 ${f(pct(liveTimes, 99))}  failures ${failures}  ratio p50 ${(pct(liveTimes, 50) / pct(plain, 50)).toFixed(2)}x`);
    console.log(`  state file renamed → first answer reflecting it (30 each): exited→NXDOMAIN median ${pct(quiet, 50).toFixed(2)} ms (max ${quiet.at(-1)?.toFixed(2)}), running→answered median ${pct(back, 50).toFixed(2)} ms (max ${back.at(-1)?.toFixed(2)})`);
    console.log(`  records reload (setContainer → loaded): median ${pct(reloadPlain, 50).toFixed(2)} ms without state lines, ${pct(reloadLive, 50).toFixed(2)} ms with ${n} state lines (known states are taken over, not read again)`);
    console.log(`  VmRSS ${st.rssKb} kB with ${n} state files watched and ${n / 2} monitor pidfds (target < 5120 kB: ${(st.rssKb ?? 1e9) < 5120 ? 'met' : 'NOT met'})`);
  } finally {
    await dns.setNetworks({});
    await dns.stopIfIdle();
    spawnSync('ip', ['link', 'del', 'tsbl0']);
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.env.TSSTACK_DNS_LIVE_BENCH_INNER === '1') {
  await inner();
} else {
  const r = spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', '--', process.execPath, self, ...process.argv.slice(2)], {
    stdio: 'inherit', env: { ...process.env, TSSTACK_DNS_LIVE_BENCH_INNER: '1' },
  });
  process.exit(r.status ?? 1);
}
