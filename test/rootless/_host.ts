// A "host" of the test's own for the rootless network tests: network and mount
// namespaces held by a process, with what pasta and slirp4netns need (a 0666 tun
// node bound over /dev/net/tun, a veth with a default route: 192.0.2.1 is the
// host's address, "outside" for the containers). The test user's commands and the
// host-side clients run there; the suite's namespaces, shared by the test files
// running beside it, are not changed (there, pasta cannot start).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { makeUser, type TestUser } from './_user.js';

const CLI = fileURLToPath(new URL('../../../bin/tsstack.js', import.meta.url));

export const HOST_ADDR = '192.0.2.1';

export interface Host {
  /** nsenter into them (root; put before a command). */
  enter: string[];
  /** A long-running process in the host's namespaces (ended with the host). */
  spawn(argv: string[]): ChildProcess;
  dispose(): Promise<void>;
}

export async function makeHost(): Promise<Host> {
  const holder: ChildProcess = spawn('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
  const self = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 400 && holder.exitCode === null && readlinkSync(`/proc/${holder.pid}/ns/net`) === self; i++) await new Promise((r) => setTimeout(r, 5));
  const enter = ['nsenter', '-t', String(holder.pid), '-n', '-m', '--'];
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-rl-tun-'));
  // the tmpfs and the bind exist in the holder's mount namespace only: they go with it
  execFileSync(enter[0], [...enter.slice(1), 'sh', '-c', [
    `mount -t tmpfs -o size=4k tmpfs ${dir} && mknod -m 666 ${dir}/tun c 10 200 && mount --bind ${dir}/tun /dev/net/tun`,
    `ip link set lo up && ip link add tsrlext0 type veth peer name tsrlext1 && ip link set tsrlext1 up && ip addr add ${HOST_ADDR}/24 dev tsrlext0 && ip link set tsrlext0 up && ip route add default via 192.0.2.254`,
  ].join(' && ')], { stdio: 'pipe' });
  const children: ChildProcess[] = [];
  return {
    enter,
    spawn(argv) {
      const c = spawn(enter[0], [...enter.slice(1), ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    },
    async dispose() {
      for (const c of [...children, holder]) {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await new Promise((r) => c.once('exit', r));
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The user's tsstack in `cwd`, inside the host. */
export function tsstack(h: Host, u: TestUser, cwd: string, env: Record<string, string>, ...args: string[]) {
  return u.run([process.execPath, CLI, ...args], env, { cwd, wrap: [...h.enter.slice(0, -1), `--wd=${cwd}`, '--'] });
}

/** curl in the host. */
export function curl(h: Host, ...args: string[]) {
  return spawnSync(h.enter[0], [...h.enter.slice(1), 'curl', ...args], { encoding: 'utf8' });
}

/** Imports a busybox image `bb:1` for the user and makes `proj/` in their home. */
export function busyboxProject(h: Host, u: TestUser, env: Record<string, string> = {}): { proj: string; status: number | null; stderr: string } {
  const proj = join(u.home, 'proj');
  mkdirSync(join(u.home, 'bb'), { recursive: true });
  makeBusyboxRootfs(join(u.home, 'bb'));
  execFileSync('tar', ['-C', join(u.home, 'bb'), '-cf', join(u.home, 'bb.tar'), '.']);
  mkdirSync(proj);
  execFileSync('chown', ['-R', `${u.uid}:${u.gid}`, u.home]);
  const imp = tsstack(h, u, proj, env, 'image', 'import', join(u.home, 'bb.tar'), 'bb:1');
  return { proj, status: imp.status, stderr: imp.stderr };
}

export async function until(what: () => boolean, tries = 50, ms = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, ms));
  }
  return false;
}

/**
 * A connection held from the host through a published port to an echo server: `say(line)` sends a
 * line and resolves with what came back (or why not).
 */
export function heldConnection(h: Host, port: number): { say(line: string): Promise<string> } {
  const py = [
    'import socket, sys',
    `s = socket.create_connection(("127.0.0.1", ${port}), timeout=5)`,
    'for line in sys.stdin:',
    '    try:',
    '        s.sendall(line.encode()); got = s.recv(100).decode()',
    '        print(got.strip() or "EOF", flush=True)',
    '    except Exception as e:',
    '        print("ERROR " + repr(e), flush=True)',
  ].join('\n');
  const c = h.spawn(['python3', '-c', py]);
  let out = '';
  c.stdout!.on('data', (d) => (out += d.toString()));
  c.stderr!.on('data', (d) => (out += d.toString()));
  return {
    async say(line) {
      const before = out.length;
      c.stdin!.write(`${line}\n`);
      await until(() => out.length > before && out.endsWith('\n') || c.exitCode !== null, 50, 100);
      return out.slice(before).trim() || `(no answer; exit ${c.exitCode})`;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Published ports change without cutting other connections: a connection to one published port is
 * held from the host while an `up` adds a service with another port; it still answers afterwards.
 * `env` picks the forwarder (TSSTACK_ROOTLESS_NETWORK).
 */
export async function liveAddKeepsConnections(t: ExecutionContext, u: TestUser, h: Host, env: Record<string, string>, port: number): Promise<void> {
  const { proj, status, stderr } = busyboxProject(h, u, env);
  t.is(status, 0, stderr);
  const echo = `  echo:\n    image: bb:1\n    command: ["nc", "-ll", "-p", "7000", "-e", "cat"]\n    ports: ["127.0.0.1:${port}:7000"]\n`;
  const web = `  web:\n    image: bb:1\n    command: ["sh", "-c", "echo second > /index.html; exec httpd -f -p 8080 -h /"]\n    ports: ["127.0.0.1:${port + 1}:8080"]\n`;
  writeFileSync(join(proj, 'compose.yaml'), `services:\n${echo}`);
  const up1 = tsstack(h, u, proj, env, 'up', '-d');
  t.is(up1.status, 0, up1.stderr);
  t.notRegex(up1.stderr, /not reachable/, up1.stderr);
  let held = heldConnection(h, port);
  let first = '';
  // the echo server may take a moment to listen: a fresh connection until it echoes
  for (let i = 0; i < 30 && first !== 'one'; i++) {
    if (i) {
      await sleep(200);
      held = heldConnection(h, port);
    }
    first = await held.say('one');
  }
  t.is(first, 'one', 'the echo server answers through the published port');
  writeFileSync(join(proj, 'compose.yaml'), `services:\n${echo}${web}`);
  const up2 = tsstack(h, u, proj, env, 'up', '-d');
  t.is(up2.status, 0, up2.stderr);
  t.true(await until(() => (curl(h, '-s', '-m', '2', `http://127.0.0.1:${port + 1}/index.html`).stdout ?? '').includes('second')), 'the new port answers');
  t.is(await held.say('two'), 'two', 'the connection held through the first port survived the up that published another');
  const down = tsstack(h, u, proj, env, 'down');
  t.is(down.status, 0, down.stderr);
  t.true(await until(() => u.pids().length === 0, 25), `down left: ${u.describe()}`);
}

/** Runs `f` with a new test user and a host of its own; both are removed afterwards, whatever happened. */
export async function withUserInHost(f: (u: TestUser, h: Host) => Promise<void>): Promise<void> {
  const u = makeUser();
  const h = await makeHost();
  try {
    await f(u, h);
  } finally {
    u.remove();
    await h.dispose();
  }
}
