// Rootless networking as an ordinary user through pasta: the project's bridge and
// DNS in the user's network namespace (two services resolve each other), a published
// port forwarded so that 127.0.0.1:PORT answers from "the host" (a namespace the
// test makes, _host.ts), and published ports that change without cutting the
// connections through the others. Plus the pure argument builders.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { pastaArgs, pastaPlan, SPLICE_INSTANCES, spliceArgs, spliceKey } from '../../src/engine/rootless/pasta.js';
import { skipWhen } from '../helpers/skip.js';
import { busyboxProject, curl, liveAddKeepsConnections, tsstack, until, withUserInHost } from './_host.js';
import { rootlessTest } from './_user.js';

test('pasta arguments: the main instance carries the bindings not on loopback, -t/-u none when there is none, never the host\'s ports inward', (t) => {
  t.deepEqual(pastaArgs([], 42, '/r/pasta.pid'), ['--quiet', '--config-net', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--pid', '/r/pasta.pid', '42']);
  t.deepEqual(pastaArgs([
    { hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp' },
    { hostPort: 8080, protocol: 'tcp' },
    { hostIp: '0.0.0.0', hostPort: 8080, protocol: 'tcp' },
    { hostIp: '192.0.2.1', hostPort: 53, protocol: 'udp' },
  ], 7, '/p').slice(1, 11), ['--config-net', '-t', '8080', '-u', '192.0.2.1/53', '-T', 'none', '-U', 'none', '--pid']);
});

test('pasta plan: each loopback binding has an instance of its own that only splices (no --config-net, its own tap name)', (t) => {
  const redis = { hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp' };
  const plan = pastaPlan([redis, { ...redis }, { hostIp: '127.0.0.1', hostPort: 5353, protocol: 'udp' }, { hostPort: 80, protocol: 'tcp' }, { hostPort: 0, protocol: 'tcp' }], 9, (k) => `/r/${k}.pid`);
  t.deepEqual([...plan.keys()].sort(), ['main', spliceKey(redis), spliceKey({ hostIp: '127.0.0.1', hostPort: 5353, protocol: 'udp' })].sort());
  t.deepEqual(spliceArgs(redis, 9, '/r/x.pid'), ['--quiet', '-I', spliceKey(redis), '-t', '127.0.0.1/6379', '-u', 'none', '-T', 'none', '-U', 'none', '--pid', '/r/x.pid', '9']);
  t.true(spliceKey(redis).length <= 15, 'an interface name');
  t.not(spliceKey(redis), spliceKey({ ...redis, hostIp: '127.0.0.2' }));
  t.deepEqual(plan.get('main')!.ports, [{ hostPort: 80, protocol: 'tcp' }]);
  // a range of loopback ports: SPLICE_INSTANCES instances of their own, the rest on the main one
  const range = Array.from({ length: 100 }, (_, i) => ({ hostIp: '127.0.0.1', hostPort: 9000 + i, protocol: 'tcp' }));
  const big = pastaPlan(range.reverse(), 9, (k) => `/r/${k}.pid`);
  t.is(big.size, SPLICE_INSTANCES + 1);
  t.true(big.has(spliceKey({ hostIp: '127.0.0.1', hostPort: 9000, protocol: 'tcp' })), 'the lowest ports have their own');
  t.is(big.get('main')!.ports.length, 100 - SPLICE_INSTANCES);
  t.true(big.get('main')!.args.includes('127.0.0.1/9099'));
});

const havePasta = spawnSync('pasta', ['--version']).error === undefined;
const withPasta = havePasta ? rootlessTest : skipWhen(true, 'needs pasta (apt-get install passt)');

const PORT = 20000 + (process.pid % 10000);
// published TCP ports through pasta itself, not tsstack-portd (portd.test.ts)
const FWD = { TSSTACK_ROOTLESS_PORTS: 'forward' };
const STACK = `services:
  web:
    image: bb:1
    command: ["sh", "-c", "echo hello from web > /index.html; exec httpd -f -p 8080 -h /"]
    ports: ["127.0.0.1:${PORT}:8080"]
  client:
    image: bb:1
    command: ["sh", "-c", "until wget -q -O - http://web:8080/index.html; do sleep 0.2; done; exec sleep 300"]
`;

withPasta.serial('an ordinary user: services resolve each other; 127.0.0.1:PORT answers through pasta; down leaves nothing', async (t) => {
  await withUserInHost(async (u, h) => {
    const { proj, status, stderr } = busyboxProject(h, u, FWD);
    t.is(status, 0, stderr);
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    const up = tsstack(h, u, proj, FWD, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    t.notRegex(up.stderr, /pasta failed|not reachable/, up.stderr);
    let body = '';
    await until(() => (body = curl(h, '-s', '-m', '2', `http://127.0.0.1:${PORT}/index.html`).stdout ?? '').includes('hello'));
    t.is(body.trim(), 'hello from web', 'the published port answers on the host\'s loopback');
    let logs = '';
    await until(() => (logs = tsstack(h, u, proj, FWD, 'logs', 'client').stdout).includes('hello'));
    t.regex(logs, /hello from web/, 'client reached web by its service name');
    const down = tsstack(h, u, proj, FWD, 'down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
    t.not(curl(h, '-s', '-m', '1', `http://127.0.0.1:${PORT}/`).status, 0, 'the port is closed again');
  });
});

withPasta.serial('pasta: a connection held through one published port survives an up that publishes another', async (t) => {
  await withUserInHost(async (u, h) => {
    await liveAddKeepsConnections(t, u, h, FWD, PORT + 100);
  });
});
