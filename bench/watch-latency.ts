// Watch-mode latency and idle cost, with the real CLI (`tsstack up --watch` as a
// child process) on a copy of examples/watch. Run through bench/watch-latency.sh,
// which puts it in a network namespace of its own.
//
//   sync:  file saved under a `develop.watch` sync rule → new content served by the container
//          (target < 300 ms)
//   env:   `environment` edited in the stack file → the recreated container's CGI answers
//          with the new value (target < 1 s)
//   idle:  CPU of the watcher process over 10 s with a 10 000-file build context watched
//          (target < 1 % of a core), from /proc/PID/stat
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { get, REPO, Sandbox, until } from '../test/examples/_cli.js';

const SYNC_RUNS = Number(process.argv[2] ?? 15);
const ENV_RUNS = Number(process.argv[3] ?? 7);
const IDLE_SECONDS = 10;
const CLK_TCK = 100; // USER_HZ on Linux

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function watchUntilReady(b: Sandbox, file: string, dir: string): Promise<ChildProcess> {
  const child = b.spawnTsstack(['-f', file, 'up', '--watch'], dir);
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`watcher not ready after 180 s:\n${buf}`)), 180_000);
    const on = (d: Buffer) => {
      buf += d.toString();
      if (/watching for changes/.test(buf)) { clearTimeout(timer); resolve(child); }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`watcher exited (${code}):\n${buf}`)); });
  });
}

async function stop(b: Sandbox, child: ChildProcess, project: string): Promise<void> {
  if (child.exitCode === null) {
    child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => { timer = setTimeout(r, 15_000); })]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  }
  await b.exec('node', [join(REPO, 'bin/tsstack.js'), '-p', project, 'down'], { cwd: b.base });
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return Number(f[11]) + Number(f[12]); // utime (14), stime (15)
}

async function latency(b: Sandbox): Promise<void> {
  const dir = join(b.base, 'watch');
  cpSync(join(REPO, 'examples/watch'), dir, { recursive: true });
  // A CGI that answers with the container's $GREETING: makes an env change observable over HTTP.
  mkdirSync(join(dir, 'site/cgi-bin'));
  writeFileSync(join(dir, 'site/cgi-bin/greeting'), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$GREETING"\n');
  chmodSync(join(dir, 'site/cgi-bin/greeting'), 0o755);
  const file = join(dir, 'stack.yaml');
  const child = await watchUntilReady(b, file, dir);
  try {
    const sync: number[] = [];
    for (let i = 0; i < SYNC_RUNS; i++) {
      const marker = `sync-${i}-${Date.now()}`;
      const t0 = performance.now();
      writeFileSync(join(dir, 'site/index.html'), `<p>${marker}</p>\n`);
      const ok = await until(async () => (await get('http://127.0.0.1:8082/', 1000)).includes(marker), 10_000, 5);
      if (!ok) throw new Error('sync: change not seen within 10 s');
      sync.push(performance.now() - t0);
      await sleep(300);
    }
    console.log(`sync rule, save → served by the container:      ${fmt(sync)}   target < 300 ms`);

    const env: number[] = [];
    let text = readFileSync(file, 'utf8');
    let current = 'hello';
    for (let i = 0; i < ENV_RUNS; i++) {
      const next = `g${i}x${Date.now() % 100000}`;
      text = text.replace(`GREETING: ${current}`, `GREETING: ${next}`);
      current = next;
      const t0 = performance.now();
      writeFileSync(file, text);
      const ok = await until(async () => (await get('http://127.0.0.1:8082/cgi-bin/greeting', 1000)).trim() === next, 30_000, 10);
      if (!ok) throw new Error('env: change not seen within 30 s');
      env.push(performance.now() - t0);
      await sleep(500);
    }
    console.log(`env edit, save → recreated container answers:   ${fmt(env)}   target < 1000 ms`);
  } finally {
    await stop(b, child, 'watch-demo');
  }
}

async function idle(b: Sandbox): Promise<void> {
  const dir = join(b.base, 'idle');
  const ctx = join(dir, 'app');
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(ctx, `src/d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(ctx, `src/d${d}/f${f}.txt`), `${d}/${f}\n`);
  }
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM tsstack.local/busybox:latest\nCMD ["sleep", "86400"]\n');
  writeFileSync(join(dir, 'stack.yaml'), 'name: watch-idle\nservices:\n  app:\n    build: ./app\n    stop_signal: SIGKILL\n');
  const t0 = performance.now();
  const child = await watchUntilReady(b, join(dir, 'stack.yaml'), dir);
  const ready = performance.now() - t0;
  try {
    await sleep(2000);
    const pid = child.pid!;
    const before = cpuTicks(pid);
    await sleep(IDLE_SECONDS * 1000);
    const used = (cpuTicks(pid) - before) / CLK_TCK;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    console.log(`idle watcher, 10 000-file build context:        ${((used / IDLE_SECONDS) * 100).toFixed(2)} % of a core over ${IDLE_SECONDS} s   target < 1 %` +
      `   (RSS ${Math.round(Number(rss) / 1024)} MiB; up + watching ready after ${(ready / 1000).toFixed(1)} s)`);
  } finally {
    await stop(b, child, 'watch-idle');
  }
}

const b = new Sandbox({ TSSTACK_EXAMPLE_IMAGES: 'busybox' });
try {
  const images = await b.exec('bash', ['scripts/make-example-images.sh'], { timeoutMs: 300_000 });
  if (images.code !== 0) throw new Error(`example images: ${images.err}`);
  await latency(b);
  await idle(b);
  console.log('docker compose watch: not installed here (no Docker engine); no reference figures for watch in ../shared/BENCH-NOTES.md');
} finally {
  b.dispose();
}
