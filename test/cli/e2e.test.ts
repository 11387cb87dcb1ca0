// End to end with the real engine: the CLI's main() against a temporary root,
// inside the test run's private network namespace. Busybox images come from the
// busybox-static rootfs (no download).
import test from 'ava';
import { isolateNetwork } from './_netns.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2E, leftovers, world as baseWorld } from './_world.js';
import { interrupted } from '../../src/cli/context.js';
import { needs } from '../helpers/skip.js';
import { TSSTACK_BIN } from '../helpers/cli-process.js';

isolateNetwork();

/** A world with one stack file `stack.yaml` in project `e2e`. */
function world() {
  const w = baseWorld();
  const stack = (yaml: string) => writeFileSync(join(w.dir, 'stack.yaml'), yaml);
  const T = (...argv: string[]) => w.runEnv({ TSSTACK_PROJECT_NAME: undefined }, '-f', join(w.dir, 'stack.yaml'), '-p', 'e2e', ...argv);
  return { ...w, stack, T };
}

async function importBusybox(w: ReturnType<typeof world>): Promise<void> {
  await w.busybox('busybox:latest');
}

function cgroupsOf(ids: string[]): string[] {
  const out: string[] = [];
  const base = '/sys/fs/cgroup';
  const dirs = existsSync(join(base, 'cgroup.controllers')) ? [base] : readdirSync(base).map((d) => join(base, d));
  for (const d of dirs) {
    const t = join(d, 'tsstack');
    if (!existsSync(t)) continue;
    for (const c of readdirSync(t)) if (ids.some((id) => c.includes(id) || id.includes(c))) out.push(join(t, c));
  }
  return out;
}

const STACK = (env: string) => `
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo web up; httpd -f -p 80 -h /tmp"]
    environment:
      MODE: "${env}"
    ports: ["18080:80"]
    stop_grace_period: 1s
  app:
    image: busybox:latest
    command: ["sh", "-c", "while true; do sleep 1; done"]
    stop_signal: SIGKILL
    depends_on:
      init:
        condition: service_completed_successfully
  init:
    image: busybox:latest
    command: ["sh", "-c", "echo init done"]
    restart: "no"
`;

needs(...E2E).serial('up -d, no-op second up, env change recreates one service, down leaves nothing', async (t) => {
  const w = world();
  try {
    await importBusybox(w);
    w.stack(STACK('one'));
    const up1 = await w.T('up', '-d');
    t.is(up1.code, 0, up1.err);
    const ps = JSON.parse((await w.T('ps', '-a', '--format', 'json')).out) as { Name: string; State: string; ExitCode: number; ID: string }[];
    t.deepEqual(ps.map((c) => `${c.Name} ${c.State}`), ['e2e-app-1 running', 'e2e-init-1 exited', 'e2e-web-1 running']);
    t.is(ps.find((c) => c.Name === 'e2e-init-1')?.ExitCode, 0);
    t.true(leftovers(w.root).length > 0, 'a running stack shows up in the leftovers check');

    const plan = await w.T('plan', '--detailed-exitcode');
    t.is(plan.code, 0, plan.out + plan.err);
    const up2 = await w.T('up', '-d');
    t.is(up2.code, 0);
    t.regex(up2.err, /is up to date/);

    w.stack(STACK('two'));
    const p2 = await w.T('plan', '--detailed-exitcode');
    t.is(p2.code, 2);
    t.is(p2.out, 'recreate service:web:1 (changed: environment.MODE)');
    const up3 = await w.T('up', '-d');
    t.is(up3.code, 0, up3.err);
    t.regex(up3.err, /service:web:1 {2}Recreating \(changed: environment.MODE\)/);
    t.notRegex(up3.err, /service:(app|init)/);

    const logs = await w.T('logs', '--no-color', 'init');
    t.is(logs.out, 'init-1  | init done');
    const port = await w.T('port', 'web', '80');
    t.is(port.out, '0.0.0.0:18080');

    const ids = (JSON.parse((await w.T('ps', '-a', '--format', 'json')).out) as { ID: string }[]).map((c) => c.ID);
    const down = await w.T('down');
    t.is(down.code, 0, down.err);
    t.is((await w.T('ps', '-a', '-q')).out, '');
    t.deepEqual(leftovers(w.root), []);
    t.deepEqual(cgroupsOf(ids), []);
  } finally {
    await w.T('down', '-v').catch(() => {});
    w.dispose();
  }
});

needs(...E2E).serial('preflight: a host port held by a process is named, nothing is created', async (t) => {
  const w = world();
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(18081, '0.0.0.0', () => r()));
  try {
    await importBusybox(w);
    w.stack(`services:\n  web:\n    image: busybox:latest\n    command: ["sleep", "100"]\n    ports: ["18081:80"]\n    volumes: ["/nonexistent-src:/src"]\n`);
    const r = await w.T('up', '-d');
    t.not(r.code, 0);
    t.regex(r.err, /18081/);
    t.regex(r.err, /nothing was changed/);
    t.is((await w.T('ps', '-a', '-q')).out, '');
    t.deepEqual(leftovers(w.root), []);
  } finally {
    srv.close();
    w.dispose();
  }
});

needs(...E2E, 'redis').serial('the seed example: redis published on 6379 answers PONG from the host; app resolves redis; both healthy', async (t) => {
  const { makeRedisRootfs } = await import('./_redis.js');
  const w = world();
  try {
    await importBusybox(w);
    const fs = join(w.base, 'redisfs');
    makeRedisRootfs(fs);
    t.is((await w.run('image', 'import', fs, 'redis-local:7')).code, 0);
    rmSync(fs, { recursive: true, force: true });
    w.stack(`
services:
  redis:
    image: redis-local:7
    command: ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
    ports: ["6379:6379"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 2s
      retries: 20
  app:
    image: busybox:latest
    command: ["sh", "-c", "while true; do sleep 1; done"]
    stop_signal: SIGKILL
    environment:
      REDIS_URL: redis://redis:6379
    depends_on:
      redis:
        condition: service_healthy
    healthcheck:
      test: ["CMD-SHELL", "printf 'PING\\\\r\\\\n' | nc -w 2 redis 6379 | grep -q PONG"]
      interval: 1s
      timeout: 3s
      retries: 20
`);
    const up = await w.T('up', '-d', '--wait', '--wait-timeout', '60');
    t.is(up.code, 0, up.err);
    t.is(execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping']).toString().trim(), 'PONG');
    const ps = JSON.parse((await w.T('ps', '--format', 'json')).out) as { Service: string; Health: string }[];
    t.deepEqual(ps.map((c) => `${c.Service} ${c.Health}`), ['app healthy', 'redis healthy']);
    const down = await w.T('down');
    t.is(down.code, 0, down.err);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v').catch(() => {});
    w.dispose();
  }
});

/** The DNS server processes of an engine root (tsstack-dns with its records below it). */
function dnsServers(root: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes('tsstack-dns') && cmd.includes(root);
    } catch { return false; }
  }).map(Number);
}

needs(...E2E).serial('run --rm leaves the DNS server running while the project network exists (the next run needs it); down stops it', async (t) => {
  const w = world();
  try {
    await importBusybox(w);
    w.stack('services:\n  t:\n    image: busybox:latest\n    command: ["/bin/true"]\n');
    t.is((await w.T('run', '--rm', 't')).code, 0);
    const first = dnsServers(w.root);
    t.is(first.length, 1, 'started for the run');
    t.is((await w.T('run', '--rm', 't')).code, 0);
    t.deepEqual(dnsServers(w.root), first, 'the same server answers the next run');
    t.is((await w.T('ps', '-a', '--format', 'json')).code, 0);
    t.deepEqual(dnsServers(w.root), first, 'a command that changes no network leaves it');
    t.is((await w.T('down')).code, 0);
    t.deepEqual(dnsServers(w.root), [], 'gone with the last network');
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v').catch(() => {});
    w.dispose();
  }
});

needs(...E2E, 'strace').serial('up -d fsyncs no per-boot file, and each container record at most twice (group of durable writes; issue 14)', async (t) => {
  const w = world();
  const trace = join(w.base, 'fsync.trace');
  try {
    await importBusybox(w);
    w.stack(['services:', ...['a', 'b', 'c'].map((s) => `  ${s}:\n    image: busybox:latest\n    command: ["sleep", "1000"]\n    stop_signal: SIGKILL`)].join('\n') + '\n');
    // the CLI itself, traced; the monitors it starts are let go at their exec (they outlive it)
    const env = { ...process.env, TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), NO_COLOR: '1' };
    const r = spawnSync('strace', ['-f', '--detach-on=execve', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace,
      process.execPath, TSSTACK_BIN, '-f', join(w.dir, 'stack.yaml'), '-p', 'e2e', 'up', '-d'], { env, encoding: 'utf8', timeout: 120_000 });
    t.is(r.status, 0, r.stderr);
    const synced = readFileSync(trace, 'utf8').split('\n').map((l) => /(?:fsync|fdatasync)\(\d+<([^>]*)>/.exec(l)?.[1]).filter((p): p is string => !!p);
    t.deepEqual(synced.filter((p) => p.startsWith(join(w.root, 'run') + '/')), [], 'the run root is per-boot state');
    const records = synced.filter((p) => /\/\.container\.json\.\d+\.[0-9a-z]+\.tmp$/.test(p));
    t.true(records.length > 0 && records.length <= 2 * 3, `container records fsync'd ${records.length} times for 3 containers`);
    t.is((await w.T('down')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v').catch(() => {});
    w.dispose();
  }
});

needs(...E2E).serial('everyday commands on a running container: exec, top, cp, stats, kill, wait, rm, run --rm', async (t) => {
  const w = world();
  try {
    await importBusybox(w);
    w.stack(`services:\n  box:\n    image: busybox:latest\n    command: ["sh", "-c", "echo ready; exec sleep 1000"]\n    stop_signal: SIGKILL\n  job:\n    image: busybox:latest\n    command: ["sh", "-c", "echo a; echo b; echo c; exit 3"]\n`);
    t.is((await w.T('up', '-d')).code, 0);
    const ex = await w.T('exec', '-T', '-e', 'X=42', '-w', '/tmp', 'box', 'sh', '-c', 'test "$X $(pwd)" = "42 /tmp"');
    t.is(ex.code, 0, ex.err); // exec's output goes to the inherited stdout; the exit status carries the check
    const code = await w.T('exec', '-T', 'box', 'sh', '-c', 'exit 7');
    t.is(code.code, 7);
    const top = await w.T('top', 'box');
    t.regex(top.out, /sleep 1000/);
    writeFileSync(join(w.base, 'in.txt'), 'copied in\n');
    t.is((await w.T('cp', join(w.base, 'in.txt'), 'box:/tmp/in.txt')).code, 0);
    t.is((await w.T('cp', 'box:/tmp/in.txt', join(w.base, 'out.txt'))).code, 0);
    t.is(readFileSync(join(w.base, 'out.txt'), 'utf8'), 'copied in\n');
    const st = await w.T('stats', '--no-stream', '--format', 'json');
    t.is(st.code, 0, st.err);
    t.is((JSON.parse(st.out) as { Name: string }[])[0].Name, 'e2e-box-1');
    const wj = await w.T('wait', 'job');
    t.is(wj.out, '3');
    t.is(wj.code, 3);
    t.is((await w.T('logs', '--no-color', '--tail', '1', 'job')).out, 'job-1  | c');
    t.is((await w.T('logs', '--no-color', '--no-log-prefix', '-f', 'job')).out, 'a\nb\nc', 'follow ends when the container has exited');
    // `logs -f` on a running container that writes nothing more: Ctrl-C (main's SIGINT handler calls
    // the interrupt hook) cancels the read and the command returns on its own.
    const following = w.T('logs', '--no-color', '--no-log-prefix', '-f', 'box');
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 100 && !interrupted(); i++) await new Promise((r) => setTimeout(r, 50));
    let guard: NodeJS.Timeout | undefined;
    const followed = await Promise.race([following, new Promise<'hung'>((r) => { guard = setTimeout(() => r('hung'), 10_000); })]);
    clearTimeout(guard);
    t.not(followed, 'hung', 'logs -f ended on Ctrl-C');
    if (followed !== 'hung') t.deepEqual([followed.code, followed.out], [0, 'ready']);
    t.regex((await w.T('logs', '-t', '--no-log-prefix', '--tail', '1', 'job')).out, /^\d{4}-\d\d-\d\dT\S+ c$/);
    const r = await w.T('run', '--rm', '-T', 'box', 'echo', 'one-off');
    t.is(r.code, 0, r.err);
    t.is(r.out, 'one-off');
    const ls = await w.run('ls', '--format', 'json');
    t.deepEqual((JSON.parse(ls.out) as { Name: string; Status: string }[]).map((p) => `${p.Name} ${p.Status}`), ['e2e running(1), exited(1)']);
    const imgs = await w.T('images', '--format', 'json');
    t.deepEqual([...new Set((JSON.parse(imgs.out) as { Repository: string }[]).map((i) => i.Repository))], ['busybox:latest']);
    t.is((await w.T('kill', 'box')).code, 0);
    t.is((await w.T('wait', 'box')).out, '137');
    const rm = await w.T('rm', 'box');
    t.is(rm.code, 0);
    t.regex(rm.err, /e2e-box-1 {2}Removed/);
    t.deepEqual((JSON.parse((await w.T('ps', '-a', '--format', 'json')).out) as { Name: string }[]).map((c) => c.Name), ['e2e-job-1']);
    t.is((await w.T('down')).code, 0);
    t.deepEqual(leftovers(w.root), []);
  } finally {
    await w.T('down', '-v').catch(() => {});
    w.dispose();
  }
});
