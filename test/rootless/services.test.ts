// What a stack asks of its services, as an ordinary user (rootless): health checks
// turn healthy and unhealthy, restart policies restart containers after the CLI
// has exited (the monitors do it in the user's namespace, as for root), `logs`
// shows what the containers printed, `exec` runs in a running one and `cp` copies
// into its own mounts; `top` and
// `stats` show the container alone (it has no cgroup of its own: nothing is
// delegated here); `down` leaves no process behind.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTar, chownTree, tsstack } from './_cli.js';
import { makeUser, rootlessTest } from './_user.js';

const STACK = `services:
  good:
    image: bb:1
    network_mode: none
    command: ["sh", "-c", "echo started; touch /tmp/ready; exec sleep 300"]
    tmpfs: ["/scratch"]
    healthcheck: { test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, timeout: 2s, retries: 3 }
  bad:
    image: bb:1
    network_mode: none
    command: ["sleep", "300"]
    healthcheck: { test: ["CMD-SHELL", "exit 1"], interval: 1s, timeout: 2s, retries: 2 }
  crashy:
    image: bb:1
    network_mode: none
    restart: on-failure
    command: ["sh", "-c", "echo run; sleep 1; exit 3"]
  ticker:
    image: bb:1
    network_mode: none
    restart: always
    command: ["sh", "-c", "echo tick; sleep 1"]
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

rootlessTest.serial('an ordinary user: health checks turn healthy/unhealthy, restart policies act after the CLI exited, logs and exec work', async (t) => {
  const u = makeUser();
  try {
    const proj = join(u.home, 'proj');
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    chownTree(u.home, u);
    const run = (...args: string[]) => tsstack(u, proj, args);
    t.is(run('image', 'import', busyboxTar(u, 'bb'), 'bb:1').status, 0);
    const up = run('up', '-d');
    t.is(up.status, 0, up.stderr);

    // the CLI has exited: only the monitors (and the namespace holder) watch the containers now
    type Row = { Service: string; State: string; Health: string; Status: string };
    const ps = (): Row[] => JSON.parse(run('ps', '-a', '--format', 'json').stdout || '[]') as Row[];
    const logs = (svc: string) => run('logs', svc).stdout;
    const count = (text: string, word: string) => text.split('\n').filter((l) => l.replace(/^.*\| ?/, '').trim() === word).length; // `crashy-1  | run`
    let rows: Row[] = [];
    const deadline = Date.now() + 40_000;
    for (;;) {
      rows = ps();
      const health = Object.fromEntries(rows.map((r) => [r.Service, r.Health]));
      if ((health.good === 'healthy' && health.bad === 'unhealthy' && count(logs('crashy'), 'run') >= 2 && count(logs('ticker'), 'tick') >= 2) || Date.now() > deadline) break;
      await sleep(1000);
    }
    const of = (svc: string) => rows.find((r) => r.Service === svc);
    t.is(of('good')?.Health, 'healthy', JSON.stringify(rows));
    t.is(of('bad')?.Health, 'unhealthy', JSON.stringify(rows));
    t.true(count(logs('crashy'), 'run') >= 2, `on-failure restarted it: ${logs('crashy')}`);
    t.true(count(logs('ticker'), 'tick') >= 2, `always restarted it after a clean exit: ${logs('ticker')}`);
    t.regex(logs('good'), /\| ?started$/m);

    const ex = run('exec', 'good', 'sh', '-c', 'id -u; ls /tmp/ready');
    t.is(ex.status, 0, ex.stderr);
    t.is(ex.stdout, '0\n/tmp/ready\n');
    const code = run('exec', 'good', 'sh', '-c', 'exit 7');
    t.is(code.status, 7, 'exec gives the command\'s status');

    // cp reaches the running container's own mounts (a tmpfs), not only its root filesystem below them
    writeFileSync(join(u.home, 'note.txt'), 'copied in\n');
    chownTree(join(u.home, 'note.txt'), u);
    const cp = run('cp', join(u.home, 'note.txt'), 'good:/scratch/note.txt');
    t.is(cp.status, 0, cp.stderr);
    t.is(run('exec', 'good', 'cat', '/scratch/note.txt').stdout, 'copied in\n', 'the container sees the copy in its tmpfs');

    // no cgroup of its own here (nothing is delegated): top and stats show the container, not the user's
    // cgroup or the host's root cgroup that its v1 lines name
    const top = run('top', 'good');
    t.is(top.status, 0, top.stderr);
    t.deepEqual(top.stdout.split('\n').filter((l) => /^\d+\s/.test(l)).map((l) => l.replace(/^\d+\s+/, '')), ['sleep 300'], top.stdout);
    const stats = run('stats', '--no-stream', '--format', 'json', 'good');
    t.is(stats.status, 0, stats.stderr);
    const s = JSON.parse(stats.stdout) as { pids: number; memoryUsage?: number }[] | { pids: number };
    t.is((Array.isArray(s) ? s[0] : s).pids, 1, stats.stdout);

    const down = run('down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
  } finally {
    u.remove();
  }
});
