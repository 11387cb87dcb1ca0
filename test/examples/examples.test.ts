// The examples exactly as the README runs them: the README's first command
// (scripts/up-example.sh, minus installing and building, which the test suite
// has done) for examples/redis, then `tsstack -f examples/web-db/stack.yaml …`.
// Each checks what a user would look at, then `down` leaves nothing behind.
import test from 'ava';
import { skipWhen } from '../helpers/skip.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cannotRun, ensureRedisRootfs, get, imageCache, isolateNetwork, parsePs, Sandbox, settledLeftovers, until } from './_cli.js';

// Known before the tests are declared, so that what cannot run here is reported as skipped.
const cache = cannotRun() ? undefined : imageCache();
const skip = cannotRun() ?? await ensureRedisRootfs(cache!.dir);
let box: Sandbox | undefined;

test.before(() => {
  if (skip) return;
  isolateNetwork();
  box = new Sandbox({ TSSTACK_IMAGE_CACHE: cache!.dir });
});

test.after.always(() => {
  box?.dispose();
  cache?.dispose();
});

const REDIS = 'examples/redis/stack.yaml';
const WEBDB = 'examples/web-db/stack.yaml';

skipWhen(skip, skip).serial('README first command: examples/redis answers PONG and counts hits; a second run changes nothing; down leaves nothing', async (t) => {
  const b = box!;
  const first = await b.exec('bash', ['scripts/up-example.sh', '--no-setup'], { timeoutMs: 300_000 });
  t.is(first.code, 0, first.err);
  t.regex(first.out, /examples\/redis is up\. Try:/);
  t.regex(first.out, /redis-cli -h 127\.0\.0\.1 -p 6379 ping/);

  const ping = await b.exec('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping']);
  t.is(ping.out.trim(), 'PONG');
  const hits = async () => Number(/viewed (\d+) times/.exec(await get('http://127.0.0.1:8080/'))?.[1] ?? NaN);
  const h1 = await hits();
  const h2 = await hits();
  t.true(Number.isInteger(h1), 'the page shows a count');
  t.is(h2, h1 + 1, 'the counter rises');

  const ps = parsePs(await b.tsstack('-f', REDIS, 'ps', '--format', 'json'));
  t.deepEqual(ps.map((c) => [c.Service, c.State, c.Health]), [['app', 'running', 'healthy'], ['redis', 'running', 'healthy']]);
  t.deepEqual(ps.map((c) => c.Publishers.map((p) => p.PublishedPort)), [[8080], [6379]]);

  // The app reaches Redis by its service name, through the embedded DNS.
  const resolved = await b.tsstack('-f', REDIS, 'exec', '-T', 'app', 'getent', 'hosts', 'redis');
  t.is(resolved.code, 0, resolved.err);
  const redisAddr = Object.values(ps.find((c) => c.Service === 'redis')!.Addresses)[0];
  t.is(resolved.out.trim().split(/\s+/)[0], redisAddr);

  // Running the README's command again: nothing is recreated.
  const second = await b.exec('bash', ['scripts/up-example.sh', '--no-setup'], { timeoutMs: 300_000 });
  t.is(second.code, 0, second.err);
  t.regex(second.err, /is up to date/);
  const ps2 = parsePs(await b.tsstack('-f', REDIS, 'ps', '--format', 'json'));
  t.deepEqual(ps2.map((c) => c.ID), ps.map((c) => c.ID));
  t.is(await hits(), h2 + 1, 'Redis kept its data');

  const down = await b.tsstack('-f', REDIS, 'down');
  t.is(down.code, 0, down.err);
  t.deepEqual(await settledLeftovers(b.root, ps.map((c) => c.ID)), []);
});

skipWhen(skip, skip).serial('examples/web-db: web waits for a healthy db, limits show in stats, the named volume survives down and goes with down -v', async (t) => {
  const b = box!;
  const images = await b.exec('bash', ['scripts/make-example-images.sh'], { timeoutMs: 300_000 });
  t.is(images.code, 0, images.err);

  const up = await b.tsstack('-f', WEBDB, 'up', '-d', '--wait');
  t.is(up.code, 0, up.err);
  // web was started only once db was healthy.
  const waited = up.err.indexOf('waiting for db (service_healthy)');
  const webStarting = up.err.indexOf('service:web:1  Starting');
  t.true(waited >= 0 && webStarting > waited, up.err);
  const ps = parsePs(await b.tsstack('-f', WEBDB, 'ps', '--format', 'json'));
  t.deepEqual(ps.map((c) => [c.Service, c.State, c.Health]), [['db', 'running', 'healthy'], ['web', 'running', 'healthy']]);
  t.deepEqual(Object.keys(ps[0]!.Addresses), ['web-db_back'], 'db is only on the back network');
  t.deepEqual(Object.keys(ps[1]!.Addresses).sort(), ['web-db_back', 'web-db_front']);

  const hits = async () => Number(/viewed (\d+) times/.exec(await get('http://127.0.0.1:8081/'))?.[1] ?? NaN);
  t.is(await hits(), 1);
  t.is(await hits(), 2);

  const stats = await b.tsstack('-f', WEBDB, 'stats', '--no-stream', '--format', 'json');
  t.is(stats.code, 0, stats.err);
  const limits = Object.fromEntries((JSON.parse(stats.out) as { Name: string; memoryLimit?: number }[]).map((s) => [s.Name, s.memoryLimit]));
  t.deepEqual(limits, { 'web-db-db-1': 128 * 2 ** 20, 'web-db-web-1': 64 * 2 ** 20 });
  const table = await b.tsstack('-f', WEBDB, 'stats', '--no-stream');
  t.regex(table.out, /web-db-db-1 .*\/ 128\.0MiB/);

  const volume = join(b.root, 'volumes/web-db_dbdata');
  let down = await b.tsstack('-f', WEBDB, 'down');
  t.is(down.code, 0, down.err);
  t.deepEqual(await settledLeftovers(b.root, ps.map((c) => c.ID)), []);
  t.true(existsSync(volume), 'down keeps the named volume');

  const again = await b.tsstack('-f', WEBDB, 'up', '-d', '--wait');
  t.is(again.code, 0, again.err);
  t.is(await until(hits, 5000), 3, 'the count survived down + up');
  const ps2 = parsePs(await b.tsstack('-f', WEBDB, 'ps', '--format', 'json'));

  down = await b.tsstack('-f', WEBDB, 'down', '-v');
  t.is(down.code, 0, down.err);
  t.false(existsSync(volume), 'down -v removes the named volume');
  t.deepEqual(await settledLeftovers(b.root, ps2.map((c) => c.ID)), []);
});
