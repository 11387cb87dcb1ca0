// `tsstack ui` with 20 services running (each with a healthcheck, every HEALTH_INTERVAL, default 30s): its RSS and CPU while
// idle with no page and with one page's event stream open (the server does the same work for a
// browser), and the latency from a container's crash (SIGKILL to its processes) to the `services`
// event that shows it, at the page's end of the stream. Run: bash bench/ui.sh
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../test/examples/_cli.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { makeBusyboxRootfs } from '../test/helpers/rootfs.js';
import { ImageStore } from '../src/engine/image/store.js';
import { cli, cliEnv, killContainer } from '../test/ui/_stack.js';
import { takeEvents } from '../test/ui/_sse.js';

const N = Number(process.env.SERVICES ?? 20);
const IDLE_S = Number(process.env.SECONDS_IDLE ?? 30);
const KILLS = Number(process.env.KILLS ?? 10);
/** Each service's healthcheck interval (Compose's default is 30s; every check rewrites the container's state file). */
const HEALTH = process.env.HEALTH_INTERVAL ?? '30s';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICK = 100; // USER_HZ

function stack(): string {
  let s = 'name: uibench\nservices:\n';
  for (let i = 0; i < N; i++) {
    const name = `svc${String(i).padStart(2, '0')}`;
    s += `  ${name}:\n    image: busybox:latest\n    command: ["sh", "-c", "echo ${name} up; exec sleep 86400"]\n    restart: always\n    stop_signal: SIGKILL\n`;
    s += `    healthcheck: { test: ["CMD-SHELL", "true"], interval: ${HEALTH}, timeout: 2s, retries: 3 }\n`;
    s += '    deploy: { resources: { limits: { memory: 64m } } }\n';
  }
  return s;
}

/** CPU seconds (user + system) and RSS (KiB) of a process. */
function usage(pid: number): { cpu: number; rssKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(f[11]) + Number(f[12])) / TICK;
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { cpu, rssKiB };
}

async function idle(pid: number, label: string): Promise<void> {
  const a = usage(pid);
  const t0 = Date.now();
  let peak = a.rssKiB;
  for (let s = 0; s < IDLE_S; s++) {
    await sleep(1000);
    peak = Math.max(peak, usage(pid).rssKiB);
  }
  const b = usage(pid);
  const pct = ((b.cpu - a.cpu) / ((Date.now() - t0) / 1000)) * 100;
  console.log(`ui idle, ${label}: CPU ${pct.toFixed(2)} % of a core over ${IDLE_S} s; RSS ${(b.rssKiB / 1024).toFixed(1)} MiB (peak ${(peak / 1024).toFixed(1)} MiB)`);
}

/** An event-stream reader: calls `on` with each event. */
async function stream(url: string, cookie: string, on: (type: string, data: any) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: { cookie }, signal });
  const reader = res.body!.getReader();
  let buf = '';
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) return;
    const { events, rest } = takeEvents(buf + dec.decode(value));
    buf = rest;
    for (const e of events) on(e.type, e.data);
  }
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-bench-ui-'));
  const w = { root: join(base, 'root'), dir: join(base, 'proj') };
  mkdirSync(w.dir);
  const file = join(w.dir, 'stack.yaml');
  let ui: ReturnType<typeof spawn> | undefined;
  try {
    const fs = join(base, 'bb');
    makeBusyboxRootfs(fs);
    await new ImageStore({ root: w.root }).importRootfs(fs, 'busybox:latest', { config: { Cmd: ['sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'] } });
    writeFileSync(file, stack());
    const up = await cli(w.root, w.dir, file, 'up', '-d', '--wait');
    if (up.code !== 0) throw new Error(`up failed: ${up.err}`);
    ui = spawn(process.execPath, [...(process.env.UI_NODE_ARGS ?? '').split(' ').filter(Boolean), BIN, '-f', file, 'ui'], { cwd: w.dir, env: cliEnv(w.root), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    ui.stdout!.on('data', (d) => { out += d; });
    for (let i = 0; i < 200 && !/dashboard: /.test(out); i++) await sleep(50);
    const url = /dashboard: (\S+)/.exec(out)?.[1];
    if (!url) throw new Error(`no URL from tsstack ui: ${out}`);
    const u = new URL(url);
    const cookie = `tsstack_ui=${u.searchParams.get('token')}`;
    await sleep(2000);
    await idle(ui.pid!, 'no page');

    const abort = new AbortController();
    let bad = new Map<string, number>();
    let events = 0;
    void stream(`${u.origin}/api/events`, cookie, (type, data) => {
      events++;
      if (type !== 'services') return;
      for (const s of data as { name: string; state: string }[]) if (s.state === 'bad' && !bad.has(s.name)) bad.set(s.name, performance.now());
    }, abort.signal);
    await sleep(3000);
    await idle(ui.pid!, `one page (${N} containers, stats every 2 s)`);

    const ps = JSON.parse((await cli(w.root, w.dir, file, 'ps', '--format', 'json')).out) as { ID: string; Service: string }[];
    const lat: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const victim = ps[k % ps.length];
      bad = new Map();
      const t0 = performance.now();
      killContainer(victim.ID);
      while (!bad.has(victim.Service) && performance.now() - t0 < 5000) await sleep(2);
      lat.push((bad.get(victim.Service) ?? Infinity) - t0);
      while (bad.has(victim.Service) && performance.now() - t0 < 60_000) { // back to running before the next kill
        const st = (await (await fetch(`${u.origin}/api/state`, { headers: { cookie } })).json()) as { services: { name: string; state: string }[] };
        if (st.services.find((s) => s.name === victim.Service)?.state !== 'bad') break;
        await sleep(200);
      }
    }
    console.log(`crash → page: median ${median(lat).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms over ${KILLS} kills (${events} events seen)`);
    abort.abort();
  } finally {
    ui?.kill('SIGINT');
    for (let i = 0; i < 100 && ui && ui.exitCode === null; i++) await sleep(50);
    await cli(w.root, w.dir, file, 'down');
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
