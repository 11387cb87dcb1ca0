// Rootless networking as an ordinary user: the project's bridge and DNS in the
// user's network namespace (two services resolve each other), and a published port
// forwarded by pasta so that 127.0.0.1:PORT answers from "the host" (the suite's
// namespace). pasta needs /dev/net/tun open to users and a host interface with a
// route: the test gives the suite's namespaces both (a 0666 tun node bound over
// /dev/net/tun in its mount namespace, a veth with a default route in its network
// namespace) and takes them away afterwards. Plus the pure argument builder.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

function tsstack(u: TestUser, cwd: string, ...args: string[]) {
  return u.run([process.execPath, CLI, ...args], {}, { cwd });
}

/** What pasta needs, in the suite's namespaces only; returns the undo. */
function giveHostNetwork(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-rl-tun-'));
  const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: 'pipe' });
  sh(`mount -t tmpfs -o size=4k tmpfs ${dir} && mknod -m 666 ${dir}/tun c 10 200 && mount --bind ${dir}/tun /dev/net/tun`);
  sh('ip link add tsrlext0 type veth peer name tsrlext1 && ip link set tsrlext1 up && ip addr add 192.0.2.1/24 dev tsrlext0 && ip link set tsrlext0 up && ip route add default via 192.0.2.254');
  return () => {
    spawnSync('ip', ['route', 'del', 'default', 'via', '192.0.2.254']);
    spawnSync('ip', ['link', 'del', 'tsrlext0']);
    spawnSync('umount', ['/dev/net/tun']);
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  };
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
  const undo = giveHostNetwork();
  try {
    const proj = join(u.home, 'proj');
    mkdirSync(join(u.home, 'bb'), { recursive: true });
    makeBusyboxRootfs(join(u.home, 'bb'));
    execFileSync('tar', ['-C', join(u.home, 'bb'), '-cf', join(u.home, 'bb.tar'), '.']);
    mkdirSync(proj);
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, u.home]);
    const imp = tsstack(u, proj, 'image', 'import', join(u.home, 'bb.tar'), 'bb:1');
    t.is(imp.status, 0, imp.stderr);
    const up = tsstack(u, proj, 'up', '-d');
    t.is(up.status, 0, up.stderr);
    t.notRegex(up.stderr, /pasta failed|not reachable/, up.stderr);
    let body = '';
    for (let i = 0; i < 50 && !body.includes('hello'); i++) {
      body = spawnSync('curl', ['-s', '-m', '2', `http://127.0.0.1:${PORT}/index.html`], { encoding: 'utf8' }).stdout ?? '';
      if (!body.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    t.is(body.trim(), 'hello from web', 'the published port answers on the host\'s loopback');
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('hello'); i++) {
      logs = tsstack(u, proj, 'logs', 'client').stdout;
      if (!logs.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    t.regex(logs, /hello from web/, 'client reached web by its service name');
    const down = tsstack(u, proj, 'down');
    t.is(down.status, 0, down.stderr);
    t.deepEqual(u.pids(), [], `down left: ${u.describe()}`);
    t.not(spawnSync('curl', ['-s', '-m', '1', `http://127.0.0.1:${PORT}/`]).status, 0, 'the port is closed again');
  } finally {
    undo();
    u.remove();
  }
});
