// Published TCP ports of rootless containers served from the host's own network namespace by
// tsstack-portd (native/portd): the container's server listens on the host (no user-space hop
// for the published path), a container of the same project that connects to it gets a host
// socket too (no hop between containers; not from another network), exec'd processes run under
// the filter too, and everything without it reaches the server through portd's relay. Plus the pure parts (portd.ts).
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { forwardedPorts, kernelCan, portdMeta, portdOff, servedByPortd } from '../../src/engine/rootless/portd.js';
import { skipWhen } from '../helpers/skip.js';
import { busyboxProject, curl, tsstack, until, type Host, withUserInHost } from './_host.js';
import { rootlessTest } from './_user.js';

test('portd serves TCP on every address or an IPv4 one; the forwarder keeps the rest; the kernel needs ADDFD (5.9)', (t) => {
  t.true(servedByPortd({ protocol: 'tcp' }));
  t.true(servedByPortd({ protocol: 'tcp', hostIp: '127.0.0.1' }));
  t.true(servedByPortd({ protocol: 'tcp', hostIp: '0.0.0.0' }));
  t.false(servedByPortd({ protocol: 'udp', hostIp: '127.0.0.1' }));
  t.false(servedByPortd({ protocol: 'tcp', hostIp: '::1' }));
  const ports = [{ hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp' }, { hostPort: 53, protocol: 'udp' }, { hostIp: '::', hostPort: 80, protocol: 'tcp' }];
  t.deepEqual(forwardedPorts(ports, true), [{ hostPort: 53, protocol: 'udp' }, { hostIp: '::', hostPort: 80, protocol: 'tcp' }]);
  t.deepEqual(forwardedPorts(ports, false), ports);
  t.true(kernelCan('6.18.44-fc-v1272'));
  t.true(kernelCan('5.9.0'));
  t.false(kernelCan('5.8.18'));
  t.false(kernelCan('4.19.0-amd64'));
  t.is(portdOff({ TSSTACK_ROOTLESS_PORTS: 'forward' }, '6.1.0'), 'TSSTACK_ROOTLESS_PORTS=forward');
  t.regex(portdOff({}, '5.4.0')!, /Linux 5\.9/);
  t.is(portdOff({}, '6.1.0'), undefined);
});

test('the metadata names the project and each TCP binding portd serves: container port, host address (* for all), host port', (t) => {
  t.is(portdMeta('shop', [
    { hostIp: '127.0.0.1', hostPort: 6379, containerPort: 6379, protocol: 'tcp' },
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostIp: '0.0.0.0', hostPort: 8443, containerPort: 443, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' },
    { hostIp: '::1', hostPort: 9000, containerPort: 9000, protocol: 'tcp' },
  ]), 'project=shop\npub=6379 127.0.0.1 6379\npub=80 * 8080\npub=443 * 8443\n');
  t.is(portdMeta('a\nb', []), 'project=ab\n', 'one line per field, whatever the name holds');
});

const havePasta = spawnSync('pasta', ['--version']).error === undefined;
const withPasta = havePasta ? rootlessTest : skipWhen(true, 'needs pasta (apt-get install passt)');

const PORT = 30000 + (process.pid % 10000);
const STACK = `services:
  web:
    image: bb:1
    command: ["sh", "-c", "echo hello from web > /index.html; exec httpd -f -p 8080 -h /"]
    ports: ["127.0.0.1:${PORT}:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/index.html"]
      interval: 1s
      retries: 30
  echo:
    image: bb:1
    command: ["nc", "-ll", "-p", "7000", "-e", "cat"]
    ports: ["127.0.0.1:${PORT + 1}:7000"]
  client:
    image: bb:1
    # once echo answers, a connection held open (a pipeline with a refused nc would wait for its sleep)
    command: ["sh", "-c", "until echo hi | nc -w 1 echo 7000 | grep -q hi; do sleep 0.2; done; (echo hi; sleep 300) | nc echo 7000"]
`;

/** `ss` in the host's namespaces: sockets matching `filter`, with their processes. */
function ss(h: Host, ...args: string[]): string {
  return spawnSync(h.enter[0], [...h.enter.slice(1), 'ss', '-Hnp', ...args], { encoding: 'utf8' }).stdout ?? '';
}

withPasta.serial('an ordinary user: the published port listens on the host itself, a container connects to another as a host socket, exec and health checks reach it, down leaves nothing', async (t) => {
  await withUserInHost(async (u, h) => {
    const { proj, status, stderr } = busyboxProject(h, u);
    t.is(status, 0, stderr);
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    const up = tsstack(h, u, proj, {}, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    let body = '';
    await until(() => (body = curl(h, '-s', '-m', '2', `http://127.0.0.1:${PORT}/index.html`).stdout ?? '').includes('hello'));
    t.is(body.trim(), 'hello from web');
    // the listening socket is in the host's network namespace and belongs to the container's httpd
    const listening = ss(h, '-lt', `sport = :${PORT}`);
    t.regex(listening, /127\.0\.0\.1\]?:\d+ .*"httpd",pid=\d+/, listening);
    // no pasta carries it (a forwarder would hold the port, not httpd)
    const ps = spawnSync('ps', ['-u', String(u.uid), '-o', 'args='], { encoding: 'utf8' }).stdout;
    t.notRegex(ps, new RegExp(`127\\.0\\.0\\.1/${PORT}\\b`), ps);

    // the client's connection to echo:7000 is a host socket of the client's nc, straight to the published port
    let est = '';
    await until(() => /"nc"/.test(est = ss(h, '-t', 'state', 'established', `dport = :${PORT + 1}`)));
    const why = () => `${est}\nhost sockets:\n${ss(h, '-ta')}\nclient: ${tsstack(h, u, proj, {}, 'logs', 'client').stdout}${tsstack(h, u, proj, {}, 'ps', '-a').stdout}`;
    t.regex(est, /127\.0\.0\.1:\d+\s+127\.0\.0\.1:\d+\s+users:\(\("nc",pid=\d+/, why());
    t.notRegex(est, /tsstack-portd/, 'not through the relay');

    // exec'd processes: by loopback through the relay (their own filter is not the server's), by name as a host socket
    const local = tsstack(h, u, proj, {}, 'exec', 'web', 'wget', '-q', '-O', '-', 'http://127.0.0.1:8080/index.html');
    t.is(local.stdout.trim(), 'hello from web', local.stderr);
    const byName = tsstack(h, u, proj, {}, 'exec', 'client', 'wget', '-q', '-O', '-', 'http://web:8080/index.html');
    t.is(byName.stdout.trim(), 'hello from web', byName.stderr);
    let health = '';
    await until(() => /healthy/.test(health = tsstack(h, u, proj, {}, 'ps', '--format', 'json').stdout));
    t.regex(health, /"healthy"|\(healthy\)|healthy/, health);

    // a restart binds again (the old host socket went with the old process)
    const restart = tsstack(h, u, proj, {}, 'restart', 'web');
    t.is(restart.status, 0, restart.stderr);
    t.true(await until(() => (curl(h, '-s', '-m', '2', `http://127.0.0.1:${PORT}/index.html`).stdout ?? '').includes('hello')), 'answers after a restart');

    const down = tsstack(h, u, proj, {}, 'down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
    t.is(ss(h, '-lt', `sport = :${PORT}`).trim(), '', 'the port is free again');
    t.false(existsSync(join('/tmp', `tsstack-run-${u.uid}`, 'portd.sock')), 'no socket file left');
  });
});

withPasta.serial('portd: a container on another network of the project is not let through to a published server\'s address; one on the same network is', async (t) => {
  await withUserInHost(async (u, h) => {
    const { proj, status, stderr } = busyboxProject(h, u);
    t.is(status, 0, stderr);
    writeFileSync(join(proj, 'compose.yaml'), `services:
  echo:
    image: bb:1
    command: ["nc", "-ll", "-p", "7000", "-e", "cat"]
    ports: ["127.0.0.1:${PORT + 3}:7000"]
    networks:
      default: {ipv4_address: 10.231.7.50}
  friend:
    image: bb:1
    command: ["sh", "-c", "until echo hi | nc -w 1 10.231.7.50 7000 | grep -q hi; do sleep 0.2; done; echo FRIEND; exec sleep 300"]
  stranger:
    image: bb:1
    networks: [side]
    command: ["sh", "-c", "sleep 1; for i in 1 2 3 4 5 6; do echo hi | nc -w 1 10.231.7.50 7000 | grep -q hi && echo REACHED; sleep 0.3; done; echo DONE; exec sleep 300"]
networks:
  default:
    ipam: {config: [{subnet: 10.231.7.0/24}]}
  side: {}
`);
    const up = tsstack(h, u, proj, {}, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    let logs = '';
    t.true(await until(() => /FRIEND/.test(logs = tsstack(h, u, proj, {}, 'logs').stdout) && /DONE/.test(logs), 100), logs);
    t.notRegex(logs, /REACHED/, 'the other network stays apart');
    t.is(tsstack(h, u, proj, {}, 'down').status, 0);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
  });
});

withPasta.serial('portd keeps only seccomp listeners from its own user: another uid, or another kind of descriptor, is refused', async (t) => {
  await withUserInHost(async (u, h) => {
    const { proj, status, stderr } = busyboxProject(h, u);
    t.is(status, 0, stderr);
    writeFileSync(join(proj, 'compose.yaml'), `services:\n  web:\n    image: bb:1\n    command: ["sleep", "300"]\n    ports: ["127.0.0.1:${PORT + 2}:80"]\n`);
    t.is(tsstack(h, u, proj, {}, 'up', '-d').status, 0);
    const sock = join('/tmp', `tsstack-run-${u.uid}`, 'portd.sock');
    t.true(existsSync(sock));
    // sends "project=x" with a pipe's descriptor; prints "accepted" only if portd acknowledged it
    const py = ['import os, socket', 's = socket.socket(socket.AF_UNIX)', 's.settimeout(3)', `s.connect(${JSON.stringify(sock)})`, 'r, w = os.pipe()',
      'try:\n    socket.send_fds(s, [b"project=x\\npub=80 * 8080\\n"], [r])\n    print("accepted" if s.recv(1) == b"k" else "refused")\nexcept OSError:\n    print("refused")'].join('\n');
    const asRoot = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    t.is(asRoot.stdout.trim(), 'refused', `root (another uid) is refused: ${asRoot.stderr}`);
    const asUser = u.run(['python3', '-c', py]);
    t.is(asUser.stdout.trim(), 'refused', `a pipe is not a seccomp listener: ${asUser.stderr}`);
    t.is(ss(h, '-lt', 'sport = :8080').trim(), '', 'nothing bound for them');
    t.is(tsstack(h, u, proj, {}, 'down').status, 0);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
  });
});

withPasta.serial('portd: exec\'d processes run under the filter too: an exec\'d connect to a published server is a host socket of its own, not the relay', async (t) => {
  await withUserInHost(async (u, h) => {
    const { proj, status, stderr } = busyboxProject(h, u);
    t.is(status, 0, stderr);
    mkdirSync(join(proj, 'shared'));
    chownSync(join(proj, 'shared'), u.uid, u.gid);
    // the peer waits for db's address, then holds a connection to it (the container's own process)
    const client = (name: string) => `["sh", "-c", "until [ -s /shared/ip ]; do sleep 0.2; done; (echo hi-${name}; sleep 300) | nc $(cat /shared/ip) 7000 > /shared/${name}"]`;
    writeFileSync(join(proj, 'compose.yaml'), `services:
  db:
    image: bb:1
    command: ["nc", "-ll", "-p", "7000", "-e", "cat"]
    ports: ["127.0.0.1:${PORT + 3}:7000"]
    networks: [back]
  peer:
    image: bb:1
    command: ${client('peer')}
    volumes: ["./shared:/shared"]
    networks: [back]
networks:
  back: {}
`);
    const up = tsstack(h, u, proj, {}, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    t.true(await until(() => /"nc"/.test(ss(h, '-lt', `sport = :${PORT + 3}`))), 'db listens on the host');
    const ip = /inet (\d+\.\d+\.\d+\.\d+)/.exec(tsstack(h, u, proj, {}, 'exec', 'db', 'ip', '-4', 'addr', 'show', 'eth0').stdout)?.[1];
    t.truthy(ip);
    writeFileSync(join(proj, 'shared', 'ip'), `${ip}\n`);
    // the peer on db's network: a host socket of its nc, straight to the published port
    const said = (f: string) => existsSync(join(proj, 'shared', f)) ? readFileSync(join(proj, 'shared', f), 'utf8') : '';
    t.true(await until(() => said('peer').includes('hi-peer')), 'the peer reaches db');
    const est = ss(h, '-t', 'state', 'established', `dport = :${PORT + 3}`);
    t.is((est.match(/"nc"/g) ?? []).length, 1, `the peer's connection is a host socket:\n${est}`);
    // an exec'd process has the filter too: its connect to db is a host socket of its own nc (seen from the host meanwhile)
    const probe = spawn(h.enter[0], [...h.enter.slice(1), 'sh', '-c', `sleep 2.5; ss -Hnpt state established 'dport = :${PORT + 3}'`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const seen = new Promise<string>((res) => {
      let out = '';
      probe.stdout.on('data', (d: Buffer) => (out += d.toString()));
      probe.on('exit', () => res(out));
    });
    const ex = tsstack(h, u, proj, {}, 'exec', 'peer', 'sh', '-c', `(echo hi-exec; sleep 5) | nc ${ip} 7000`);
    t.regex(ex.stdout, /hi-exec/, ex.stderr);
    const during = await seen;
    t.is((during.match(/"nc"/g) ?? []).length, 2, `the exec'd nc holds a host socket beside the peer's:\n${during}`);
    t.is(tsstack(h, u, proj, {}, 'down').status, 0);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
  });
});
