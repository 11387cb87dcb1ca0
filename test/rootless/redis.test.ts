// The issue's own case, as an ordinary user: a Redis published on the host's 127.0.0.1 answers
// PING there (through tsstack-portd), an app service reaches it by name, and the commands around
// `up` work as for root: `plan` (with its exit code), `watch` reconciling an edit of the stack file,
// the health check (redis-cli ping, an exec'd process), and `down` leaving nothing.
import { spawnSync } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipWhen } from '../helpers/skip.js';
import { haveRedis, makeRedisRootfs } from '../cli/_redis.js';
import { makeHost, tsstack, until } from './_host.js';
import { makeUser, rootlessTest } from './_user.js';

const CLI = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));
const havePasta = spawnSync('pasta', ['--version']).error === undefined;
const run = !havePasta ? skipWhen(true, 'needs pasta (apt-get install passt)') : !haveRedis ? skipWhen(true, 'needs redis-server (apt-get install redis-server)') : rootlessTest;

const PORT = 40000 + (process.pid % 10000);
const stack = (greeting: string) => `services:
  redis:
    image: redis:local
    command: ["redis-server", "--protected-mode", "no", "--save", ""]
    ports: ["127.0.0.1:${PORT}:6379"]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
  app:
    image: redis:local
    environment:
      GREETING: ${greeting}
    command: ["sh", "-c", "until redis-cli -h redis ping; do sleep 0.2; done; redis-cli -h redis set greeting $$GREETING; exec sleep 300"]
`;

run.serial('an ordinary user: Redis answers PING on the host\'s 127.0.0.1, the app reaches it by name; plan, watch, health and down work as for root', async (t) => {
  const u = makeUser();
  const h = await makeHost();
  let watch: ReturnType<typeof h.spawn> | undefined;
  try {
    const proj = join(u.home, 'proj');
    mkdirSync(proj, { recursive: true });
    makeRedisRootfs(join(u.home, 'redis'));
    execFileSync('tar', ['-C', join(u.home, 'redis'), '-cf', join(u.home, 'redis.tar'), '.']);
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, u.home]);
    const imp = tsstack(h, u, proj, {}, 'image', 'import', join(u.home, 'redis.tar'), 'redis:local');
    t.is(imp.status, 0, imp.stderr);
    writeFileSync(join(proj, 'compose.yaml'), stack('hello'));

    const plan = tsstack(h, u, proj, {}, 'plan', '--detailed-exitcode');
    t.is(plan.status, 2, plan.stderr + plan.stdout);
    t.regex(plan.stdout, /create .*redis/);
    const up = tsstack(h, u, proj, {}, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    const ping = () => spawnSync(h.enter[0], [...h.enter.slice(1), 'redis-cli', '-h', '127.0.0.1', '-p', String(PORT), 'ping'], { encoding: 'utf8' }).stdout.trim();
    t.true(await until(() => ping() === 'PONG'), 'PING answered on the host\'s 127.0.0.1');
    const get = () => spawnSync(h.enter[0], [...h.enter.slice(1), 'redis-cli', '-h', '127.0.0.1', '-p', String(PORT), 'get', 'greeting'], { encoding: 'utf8' }).stdout.trim();
    t.true(await until(() => get() === 'hello'), `the app wrote through the name redis: ${get()}; ${tsstack(h, u, proj, {}, 'logs').stdout}`);
    t.true(await until(() => /healthy/.test(tsstack(h, u, proj, {}, 'ps').stdout)), 'redis-cli ping as a health check');
    const again = tsstack(h, u, proj, {}, 'plan', '--detailed-exitcode');
    t.is(again.status, 0, again.stdout);

    // watch: an edit of the stack file is reconciled (the app is recreated with the new value)
    const env = ['env', '-i', `PATH=${process.env.PATH}`, `HOME=${u.home}`, `USER=${u.name}`];
    watch = h.spawn(['setpriv', '--reuid', String(u.uid), '--regid', String(u.gid), '--clear-groups', '--', ...env, 'sh', '-c', `cd ${proj} && exec ${process.execPath} ${CLI} watch --no-up`]);
    let out = '';
    watch.stdout!.on('data', (d) => (out += d.toString()));
    watch.stderr!.on('data', (d) => (out += d.toString()));
    await until(() => /watch/i.test(out), 50);
    await new Promise((r) => setTimeout(r, 500));
    writeFileSync(join(proj, 'compose.yaml'), stack('again'));
    t.true(await until(() => get() === 'again', 100), `watch recreated the app: ${out}`);
    watch.kill('SIGINT');
    await new Promise((r) => watch!.once('exit', r));

    const down = tsstack(h, u, proj, {}, 'down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
    t.not(ping(), 'PONG', 'the port is closed again');
  } finally {
    if (watch && watch.exitCode === null) watch.kill('SIGKILL');
    u.remove();
    await h.dispose();
  }
});
