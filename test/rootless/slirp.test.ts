// slirp4netns, the fallback when pasta is missing (TSSTACK_ROOTLESS_NETWORK=slirp4netns
// hides pasta here): published ports on a loopback address and on every address
// answer from "the host" (a namespace the test makes, _host.ts), a container reaches
// an address outside (the host's 192.0.2.1), forwards change live without cutting
// the others, and `down` ends slirp4netns with the namespace. Plus the pure parts:
// its arguments, the forwards, the network choice at preflight.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { chooseNetwork, preflight, type HostFacts } from '../../src/engine/rootless/preflight.js';
import { hostfwd, slirpArgs } from '../../src/engine/rootless/slirp.js';
import { skipWhen } from '../helpers/skip.js';
import { busyboxProject, curl, HOST_ADDR, liveAddKeepsConnections, tsstack, until, withUserInHost } from './_host.js';
import { rootlessTest } from './_user.js';

test('network choice: pasta when installed, else slirp4netns, else an error naming both packages; the variable forces one', (t) => {
  t.deepEqual(chooseNetwork({ pasta: true, slirp4netns: true }), { driver: 'pasta' });
  t.deepEqual(chooseNetwork({ pasta: false, slirp4netns: true }), { driver: 'slirp4netns' });
  t.deepEqual(chooseNetwork({ pasta: true, slirp4netns: true, forced: 'slirp4netns' }), { driver: 'slirp4netns' });
  const none = chooseNetwork({ pasta: false, slirp4netns: false });
  t.true('error' in none && /apt-get install passt.*apt-get install slirp4netns/.test(none.error), JSON.stringify(none));
  const forced = chooseNetwork({ pasta: true, slirp4netns: false, forced: 'slirp4netns' });
  t.true('error' in forced && /asks for slirp4netns, which is not installed.*apt-get install slirp4netns/.test(forced.error), JSON.stringify(forced));
  const bad = chooseNetwork({ pasta: true, slirp4netns: true, forced: 'vpnkit' });
  t.true('error' in bad && /TSSTACK_ROOTLESS_NETWORK=vpnkit is neither/.test(bad.error), JSON.stringify(bad));
  const facts: HostFacts = { user: 'alice', uid: 1000, newuidmap: true, newgidmap: true, subuid: [{ start: 1e5, count: 65536 }], subgid: [{ start: 1e5, count: 65536 }], maxUserNamespaces: 15000 };
  t.is(preflight({ ...facts, net: { pasta: false, slirp4netns: true } }).network, 'slirp4netns');
  t.regex(preflight({ ...facts, net: { pasta: false, slirp4netns: false } }).errors[0], /neither pasta nor slirp4netns is installed/);
});

test('slirp4netns arguments and forwards: sandboxed where it can be, loopback bindings end on their own address inside', (t) => {
  t.deepEqual(slirpArgs(42, '/r/slirp.sock', true), ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--api-socket', '/r/slirp.sock', '--userns-path', '/proc/42/ns/user', '--ready-fd', '3', '42', 'tap0']);
  t.false(slirpArgs(42, '/s', false).includes('--enable-sandbox'));
  t.deepEqual(hostfwd({ hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp' }), { proto: 'tcp', host_addr: '127.0.0.1', host_port: 6379, guest_addr: '127.0.0.1', guest_port: 6379 });
  t.deepEqual(hostfwd({ hostPort: 80, protocol: 'udp' }), { proto: 'udp', host_addr: '0.0.0.0', host_port: 80, guest_addr: '10.0.2.100', guest_port: 80 });
  t.is(hostfwd({ hostIp: '192.0.2.1', hostPort: 80, protocol: 'tcp' }), undefined, 'one non-loopback address: not carried (a warning says so)');
  t.is(hostfwd({ hostPort: 80, protocol: 'sctp' }), undefined);
});

const haveSlirp = spawnSync('slirp4netns', ['--version']).error === undefined;
const withSlirp = haveSlirp ? rootlessTest : skipWhen(true, 'needs slirp4netns (apt-get install slirp4netns)');
// published TCP ports through slirp4netns itself, not tsstack-portd (portd.test.ts)
const SLIRP = { TSSTACK_ROOTLESS_NETWORK: 'slirp4netns', TSSTACK_ROOTLESS_PORTS: 'forward' };
const PORT = 30000 + (process.pid % 10000);

withSlirp.serial('slirp4netns fallback: published ports answer from the host, a container reaches outside, down ends it', async (t) => {
  await withUserInHost(async (u, h) => {
    // "outside": a server on the host's own address, which the containers reach through slirp4netns
    const outside = h.spawn(['python3', '-c', `import http.server as h; h.HTTPServer(("${HOST_ADDR}", ${PORT + 2}), type("H", (h.BaseHTTPRequestHandler,), {"do_GET": lambda s: (s.send_response(200, "hello from outside"), s.end_headers())})).serve_forever()`]);
    const { proj, status, stderr } = busyboxProject(h, u, SLIRP);
    t.is(status, 0, stderr);
    writeFileSync(join(proj, 'compose.yaml'), `services:
  web:
    image: bb:1
    command: ["sh", "-c", "echo hello from web > /index.html; exec httpd -f -p 8080 -h /"]
    ports: ["127.0.0.1:${PORT}:8080", "${PORT + 1}:8080"]
  client:
    image: bb:1
    command: ["sh", "-c", "until printf 'GET / HTTP/1.0\\\\r\\\\n\\\\r\\\\n' | nc ${HOST_ADDR} ${PORT + 2}; do sleep 0.2; done; exec sleep 300"]
`);
    const up = tsstack(h, u, proj, SLIRP, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    t.notRegex(up.stderr, /not reachable|failed/, up.stderr);
    t.true(spawnSync('sh', ['-c', `grep -qx slirp4netns /proc/[0-9]*/comm`]).status === 0, 'slirp4netns runs');
    t.false(existsSync(`/tmp/tsstack-run-${u.uid}/pasta.json`), 'no pasta');
    t.true(JSON.parse(readFileSync(`/tmp/tsstack-run-${u.uid}/slirp.json`, 'utf8')).sandbox, 'sandboxed (--enable-sandbox --enable-seccomp) where the host allows it');
    for (const port of [PORT, PORT + 1]) {
      let body = '';
      await until(() => (body = curl(h, '-s', '-m', '2', `http://127.0.0.1:${port}/index.html`).stdout ?? '').includes('hello'));
      t.is(body.trim(), 'hello from web', `127.0.0.1:${port} answers from the host`);
    }
    let logs = '';
    await until(() => (logs = tsstack(h, u, proj, SLIRP, 'logs', 'client').stdout).includes('hello from outside'));
    t.regex(logs, /hello from outside/, 'the container reached an address outside its namespace');
    const down = tsstack(h, u, proj, SLIRP, 'down');
    t.is(down.status, 0, down.stderr);
    t.true(await until(() => u.pids().length === 0, 25), `down left: ${u.describe()}`);
    t.not(curl(h, '-s', '-m', '1', `http://127.0.0.1:${PORT}/`).status, 0, 'the port is closed again');
    outside.kill();
  });
});

withSlirp.serial('slirp4netns: a connection held through one published port survives an up that publishes another', async (t) => {
  await withUserInHost(async (u, h) => {
    await liveAddKeepsConnections(t, u, h, SLIRP, PORT + 100);
  });
});
