// Rootless networking as an ordinary user: the project's bridge and DNS in the
// user's network namespace (two services resolve each other), and a published port
// forwarded by pasta so that 127.0.0.1:PORT answers from "the host" (the suite's
// namespace). pasta needs /dev/net/tun open to users and a host interface with a
// route: the test makes a network and mount namespace of its own that has both (a
// 0666 tun node bound over /dev/net/tun, a veth with a default route), and runs the
// user's commands and the "host" client there; the suite's namespaces, shared by the
// test files running beside it, are not changed (there, pasta cannot start). Plus the
// pure argument builder.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { pastaArgs } from '../../src/engine/rootless/pasta.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { skipWhen } from '../helpers/skip.js';
import { makeUser, rootlessTest, type TestUser } from './_user.js';

const CLI = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

test('pasta arguments: one -t/-u per binding, none when there is none, never the host\'s ports inward', (t) => {
  t.deepEqual(pastaArgs([], 42, '/r/pasta.pid'), ['--quiet', '--config-net', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--pid', '/r/pasta.pid', '42']);
  t.deepEqual(pastaArgs([
    { hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp' },
    { hostPort: 8080, protocol: 'tcp' },
    { hostIp: '0.0.0.0', hostPort: 8080, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 53, protocol: 'udp' },
  ], 7, '/p').slice(1, 10), ['--config-net', '-t', '127.0.0.1/6379', '-t', '8080', '-u', '127.0.0.1/53', '-T', 'none']);
});

const havePasta = spawnSync('pasta', ['--version']).error === undefined;

/** A "host" of the test's own: network and mount namespaces held by a process, with what pasta needs. */
interface Host {
  /** nsenter into them (root; put before a command). */
  enter: string[];
  dispose(): Promise<void>;
}

async function makeHost(): Promise<Host> {
  const holder: ChildProcess = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
  const self = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 400 && holder.exitCode === null && readlinkSync(`/proc/${holder.pid}/ns/net`) === self; i++) await new Promise((r) => setTimeout(r, 5));
  const enter = ['nsenter', '-t', String(holder.pid), '-n', '-m', '--'];
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-rl-tun-'));
  // the tmpfs and the bind exist in the holder's mount namespace only: they go with it
  execFileSync(enter[0], [...enter.slice(1), 'sh', '-c', [
    `mount -t tmpfs -o size=4k tmpfs ${dir} && mknod -m 666 ${dir}/tun c 10 200 && mount --bind ${dir}/tun /dev/net/tun`,
    'ip link set lo up && ip link add tsrlext0 type veth peer name tsrlext1 && ip link set tsrlext1 up && ip addr add 192.0.2.1/24 dev tsrlext0 && ip link set tsrlext0 up && ip route add default via 192.0.2.254',
  ].join(' && ')], { stdio: 'pipe' });
  return {
    enter,
    async dispose() {
      if (holder.exitCode === null && holder.signalCode === null) {
        holder.kill('SIGKILL');
        await new Promise((r) => holder.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tsstack(h: Host, u: TestUser, cwd: string, ...args: string[]) {
  return u.run([process.execPath, CLI, ...args], {}, { cwd, wrap: [...h.enter.slice(0, -1), `--wd=${cwd}`, '--'] });
}

function curl(h: Host, ...args: string[]) {
  return spawnSync(h.enter[0], [...h.enter.slice(1), 'curl', ...args], { encoding: 'utf8' });
}

const PORT = 20000 + (process.pid % 10000);
const STACK = `services:
  web:
    image: bb:1
    command: ["sh", "-c", "echo hello from web > /index.html; exec httpd -f -p 8080 -h /"]
    ports: ["127.0.0.1:${PORT}:8080"]
  client:
    image: bb:1
    command: ["sh", "-c", "until wget -q -O - http://web:8080/index.html; do sleep 0.2; done; exec sleep 300"]
`;

(havePasta ? rootlessTest : skipWhen(true, 'needs pasta (apt-get install passt)')).serial('an ordinary user: services resolve each other; 127.0.0.1:PORT answers through pasta; down leaves nothing', async (t) => {
  const u = makeUser();
  const h = await makeHost();
  try {
    const proj = join(u.home, 'proj');
    mkdirSync(join(u.home, 'bb'), { recursive: true });
    makeBusyboxRootfs(join(u.home, 'bb'));
    execFileSync('tar', ['-C', join(u.home, 'bb'), '-cf', join(u.home, 'bb.tar'), '.']);
    mkdirSync(proj);
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, u.home]);
    const imp = tsstack(h, u, proj, 'image', 'import', join(u.home, 'bb.tar'), 'bb:1');
    t.is(imp.status, 0, imp.stderr);
    const up = tsstack(h, u, proj, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    t.notRegex(up.stderr, /pasta failed|not reachable/, up.stderr);
    let body = '';
    for (let i = 0; i < 50 && !body.includes('hello'); i++) {
      body = curl(h, '-s', '-m', '2', `http://127.0.0.1:${PORT}/index.html`).stdout ?? '';
      if (!body.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    t.is(body.trim(), 'hello from web', 'the published port answers on the host\'s loopback');
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('hello'); i++) {
      logs = tsstack(h, u, proj, 'logs', 'client').stdout;
      if (!logs.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    t.regex(logs, /hello from web/, 'client reached web by its service name');
    const down = tsstack(h, u, proj, 'down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
    t.not(curl(h, '-s', '-m', '1', `http://127.0.0.1:${PORT}/`).status, 0, 'the port is closed again');
  } finally {
    u.remove();
    await h.dispose();
  }
});
