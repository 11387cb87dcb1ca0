// Socket-level translation of published ports (engine/network/socket-lb.ts):
// the pure parts (assembler, entry layout, where the programs go) and the real
// thing — programs verified and attached by the kernel to a cgroup made for the
// test, clients run inside it and outside it, in the test's own namespace.

import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Asm } from '../../src/engine/network/bpf-asm.js';
import { withDirFd, progQuery } from '../../src/engine/network/bpf-sys.js';
import { NetworkManager } from '../../src/engine/network/index.js';
import { forwardKey, forwardValue, restoreProgram, translateProgram } from '../../src/engine/network/socket-lb-programs.js';
import { socketLbCgroup } from '../../src/engine/network/socket-lb.js';
import { freshHost, linkNames, serve, type Env, NFT, sh } from './helpers.js';
import { skipWhen } from '../helpers/skip.js';

const here = dirname(fileURLToPath(import.meta.url));
const PEER_VIEW = join(here, 'fixtures', 'peer-view.js');

// ------------------------------------------------------------ pure

test('the assembler encodes registers, offsets, immediates and two-slot map loads', (t) => {
  const a = new Asm().mov(6, 1).load(4, 2, 6, 24).store(2, 10, -4, 9).storeImm(1, 10, -1, 0).loadMapFd(1, 7).movImm(0, 1).exit();
  t.deepEqual([...a.assemble()], [
    0xbf, 0x16, 0, 0, 0, 0, 0, 0, // r6 = r1
    0x61, 0x62, 24, 0, 0, 0, 0, 0, // r2 = *(u32 *)(r6 + 24)
    0x6b, 0x9a, 0xfc, 0xff, 0, 0, 0, 0, // *(u16 *)(r10 - 4) = r9
    0x72, 0x0a, 0xff, 0xff, 0, 0, 0, 0, // *(u8 *)(r10 - 1) = 0
    0x18, 0x11, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // r1 = map fd 7
    0xb7, 0x00, 0, 0, 1, 0, 0, 0, // r0 = 1
    0x95, 0, 0, 0, 0, 0, 0, 0, // exit
  ]);
});

test('jumps resolve to labels, counting a map load as two slots; bad labels are refused', (t) => {
  const code = new Asm().jeqImm(0, 0, 'end').loadMapFd(1, 3).label('end').exit().assemble();
  t.is(code.readInt16LE(2), 2);
  t.is(code[0], 0x15);
  t.throws(() => new Asm().ja('nowhere').assemble(), { message: /undefined label nowhere/ });
  t.throws(() => new Asm().label('x').label('x'), { message: /defined twice/ });
  t.throws(() => new Asm().label('back').ja('back').assemble(), { message: /backward/ });
});

test('programs end in "r0 = 1; exit" and name both maps', (t) => {
  const maps = { forward: 11, reverse: 12 };
  for (const code of [translateProgram(maps, 'connect4'), translateProgram(maps, 'sendmsg4'), restoreProgram(maps)]) {
    t.is(code.length % 8, 0);
    t.deepEqual([...code.subarray(-16)], [0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  }
  const fds = (code: Buffer) => [...Array(code.length / 8).keys()].filter((i) => code[i * 8] === 0x18).map((i) => code.readInt32LE(i * 8 + 4));
  t.deepEqual(fds(translateProgram(maps, 'connect4')), [11, 11, 12]);
  t.deepEqual(fds(restoreProgram(maps)), [12]);
  // connect4 leaves every protocol but TCP alone (connected UDP stays with the DNAT rules)
  const check = translateProgram(maps, 'connect4').subarray(16, 24); // if r7 (protocol) != 6 goto out
  t.deepEqual([check[0], check[1], check.readInt32LE(4)], [0x55, 0x07, 6]);
  t.true(check.readInt16LE(2) > 0);
  t.is(translateProgram(maps, 'sendmsg4').length, translateProgram(maps, 'connect4').length - 8);
});

test('forward entries are laid out as the programs read them (network byte order, cookie native)', (t) => {
  const k = forwardKey({ netnsCookie: 0x0102030405060708n, hostIp: '127.0.0.1', hostPort: 6379, protocol: 'tcp' });
  t.is(k.toString('hex'), '0807060504030201' + '7f000001' + '18eb' + '06' + '00');
  t.is(forwardKey({ netnsCookie: 1n, hostPort: 53, protocol: 'udp' }).toString('hex'), '0100000000000000' + '00000000' + '0035' + '11' + '00');
  t.is(forwardValue({ address: '10.89.0.2', containerPort: 80 }).toString('hex'), '0a590002' + '0050' + '0000');
  t.throws(() => forwardValue({ address: '::1', containerPort: 80 }), { message: /not an IPv4/ });
});

const HYBRID = [
  '25 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw',
  '33 25 0:28 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755',
  '34 33 0:29 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '35 33 0:30 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory',
].join('\n');

test('the programs go to the cgroup2 root by default, to TSSTACK_SOCKET_LB_CGROUP when set, nowhere when off', (t) => {
  t.is(socketLbCgroup({}, HYBRID), '/sys/fs/cgroup/unified');
  t.is(socketLbCgroup({}, '40 1 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw'), '/sys/fs/cgroup');
  // a cgroup2 bind-mounted from a sub-directory is not the root
  t.is(socketLbCgroup({}, '40 1 0:40 /user.slice /mnt/cg rw - cgroup2 cgroup2 rw'), undefined);
  t.is(socketLbCgroup({}, '35 33 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory'), undefined);
  t.is(socketLbCgroup({ TSSTACK_SOCKET_LB_CGROUP: 'off' }, HYBRID), undefined);
  t.is(socketLbCgroup({ TSSTACK_SOCKET_LB_CGROUP: '/sys/fs/cgroup/unified/x' }, HYBRID), '/sys/fs/cgroup/unified/x');
});

// ------------------------------------------------------------ real

interface View {
  answer?: string;
  peer?: string;
  kernel?: string;
  error?: string;
}

/** Runs the peer-view client, inside `cgroup` when given (moved there before it starts), or in a sandbox's namespace. */
function view(opts: { cgroup?: string; netns?: string }, proto: 'tcp' | 'udp' | 'udp-connected', host: string, port: number, bind?: string): Promise<View> {
  const inner = [process.execPath, PEER_VIEW, proto, host, String(port), ...(bind ? [bind] : [])];
  const cmd = opts.netns ? ['nsenter', '--net=' + opts.netns, ...inner] : inner;
  const argv = opts.cgroup ? ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', opts.cgroup, ...cmd] : cmd;
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.on('exit', () => {
      try {
        resolve(JSON.parse(out) as View);
      } catch {
        resolve({ error: `no answer: ${out}` });
      }
    });
  });
}

const cgroupRoot = socketLbCgroup({});

interface LbEnv extends Env {
  cgroup: string;
}

async function lbSetup(): Promise<LbEnv> {
  await freshHost();
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-lb-'));
  const cgroup = join(cgroupRoot!, `tsstack-test-lb-${process.pid}`);
  mkdirSync(cgroup, { recursive: true });
  const m = new NetworkManager({ root: join(dir, 'lib'), runRoot: join(dir, 'run'), socketLbCgroup: cgroup });
  return { dir, m, children: [], cgroup };
}

function attachedIds(cgroup: string): number[] {
  return withDirFd(cgroup, (fd) => (['connect4', 'sendmsg4', 'recvmsg4', 'getpeername4'] as const).flatMap((h) => progQuery(fd, h)));
}

async function lbTeardown(env: LbEnv): Promise<void> {
  try {
    for (const c of env.children) c.kill('SIGKILL'); // our own children, by their handles (a reaped one is skipped)
    env.children.length = 0;
    for (const id of ['web', 'other']) await env.m.removeSandbox(id).catch(() => undefined);
    for (const n of await env.m.list().catch(() => [])) await env.m.remove(n.name).catch(() => undefined);
    await env.m.close();
    rmSync(env.dir, { recursive: true, force: true });
  } finally {
    // the clients moved into it have exited; a killed server may take a moment to leave
    for (let i = 0; existsSync(env.cgroup); i++) {
      try {
        rmdirSync(env.cgroup);
      } catch (e) {
        if (i >= 50) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
}

const real = skipWhen(!cgroupRoot, 'no cgroup2 mounted on this host').serial;

real('a host process in the cgroup connects straight to the container; it still sees the published address', async (t) => {
  const env = await lbSetup();
  try {
    await env.m.create({ name: 'n', labels: {} });
    const web = await env.m.createSandbox('web');
    const ep = await env.m.connect('web', { network: 'n', aliases: [] });
    await serve(env, web.path, 'tcp', 80, 'web');
    await serve(env, web.path, 'udp', 53, 'web');
    await env.m.publish('web', ep.address, [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp' },
      { hostIp: '127.0.0.1', hostPort: 8181, containerPort: 80, protocol: 'tcp' },
    ]);
    t.deepEqual(env.m.socketLb.status(), { cgroup: env.cgroup, hooks: ['connect4', 'getpeername4', 'recvmsg4', 'sendmsg4'], entries: 3 });
    t.is(env.m.socketLb.lastError, undefined);

    // in the cgroup: translated in connect(); the kernel's peer is the container, the process's is 127.0.0.1:8080
    const inside = await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 8080);
    t.deepEqual(inside, { answer: `web ${ep.gateway}`, peer: '127.0.0.1:8080', kernel: `${ep.address}:80` });
    t.like(await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.2', 8080), { answer: `web ${ep.gateway}`, peer: '127.0.0.2:8080', kernel: `${ep.address}:80` });
    t.like(await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 8181), { answer: `web ${ep.gateway}`, peer: '127.0.0.1:8181', kernel: `${ep.address}:80` });
    // bound to 127.0.0.1 only: 127.0.0.2 is not it, either way
    t.truthy((await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.2', 8181)).error);
    // UDP: the reply comes from where the datagram was sent
    t.deepEqual(await view({ cgroup: env.cgroup }, 'udp', '127.0.0.1', 5353), { answer: `web ${ep.gateway}`, peer: '127.0.0.1:5353' });
    // a connected UDP socket is left to the DNAT rules (they follow a replaced container)
    t.deepEqual(await view({ cgroup: env.cgroup }, 'udp-connected', '127.0.0.1', 5353), { answer: `web ${ep.gateway}`, peer: '127.0.0.1:5353', kernel: '127.0.0.1:5353' });

    // outside the cgroup, and from a socket bound to loopback: the DNAT rules, same answers
    t.deepEqual(await view({}, 'tcp', '127.0.0.1', 8080), { answer: `web ${ep.gateway}`, peer: '127.0.0.1:8080', kernel: '127.0.0.1:8080' });
    t.like(await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 8080, '127.0.0.1'), { answer: `web ${ep.gateway}`, kernel: '127.0.0.1:8080' });
    t.deepEqual(await view({}, 'udp', '127.0.0.1', 5353), { answer: `web ${ep.gateway}`, peer: '127.0.0.1:5353' });

    // a process of the cgroup in another namespace (a container) keeps its own loopback
    t.truthy((await view({ cgroup: env.cgroup, netns: web.path }, 'tcp', '127.0.0.1', 8080)).error);
    t.like(await view({ cgroup: env.cgroup, netns: web.path }, 'tcp', '127.0.0.1', 80), { answer: 'web 127.0.0.1', kernel: '127.0.0.1:80' });

    // the last port gone: nothing attached, and the cgroup can go
    await env.m.unpublish('web');
    t.deepEqual(attachedIds(env.cgroup), []);
    t.truthy((await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 8080)).error);
  } finally {
    await lbTeardown(env);
  }
  t.false(existsSync(env.cgroup));
});

real('ports follow changes in place; removing the network detaches everything', async (t) => {
  const env = await lbSetup();
  try {
    await env.m.create({ name: 'n', labels: {} });
    const web = await env.m.createSandbox('web');
    const a = await env.m.connect('web', { network: 'n', aliases: [] });
    const other = await env.m.createSandbox('other');
    const b = await env.m.connect('other', { network: 'n', aliases: [] });
    await serve(env, web.path, 'tcp', 80, 'web');
    await serve(env, other.path, 'tcp', 80, 'other');
    await env.m.publish('web', a.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    const ids = attachedIds(env.cgroup);
    t.is(ids.length, 4);
    await env.m.publish('other', b.address, [{ hostPort: 9090, containerPort: 80, protocol: 'tcp' }]);
    t.deepEqual(attachedIds(env.cgroup), ids, 'the same programs, their map changed in place');
    t.like(await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 9090), { answer: `other ${b.gateway}`, kernel: `${b.address}:80` });
    // 8080 moves from web to other (a replaced container)
    await env.m.unpublish('web');
    await env.m.publish('other', b.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    t.like(await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 8080), { answer: `other ${b.gateway}`, kernel: `${b.address}:80` });
    t.truthy((await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 9090)).error);
    t.is(env.m.socketLb.status().entries, 1);
    // a second manager on the same root (another tsstack process) finds the same programs
    const m2 = new NetworkManager({ root: join(env.dir, 'lib'), runRoot: join(env.dir, 'run'), socketLbCgroup: env.cgroup });
    t.is(m2.socketLb.status().entries, 1);
    await m2.close();
    await env.m.removeSandbox('web');
    await env.m.removeSandbox('other');
    await env.m.remove('n');
    t.deepEqual(attachedIds(env.cgroup), []);
    t.false(sh(NFT, ['list', 'tables']).includes('tsstack'));
    t.deepEqual((await linkNames()).filter((l) => l !== 'lo'), []);
  } finally {
    await lbTeardown(env);
  }
});

real('without a usable cgroup the DNAT rules carry the traffic and the reason is kept', async (t) => {
  const env = await lbSetup();
  const missing = join(env.cgroup, 'absent');
  const m = new NetworkManager({ root: join(env.dir, 'lib2'), runRoot: join(env.dir, 'run2'), socketLbCgroup: missing });
  try {
    await m.create({ name: 'n', labels: {} });
    const web = await m.createSandbox('web');
    const ep = await m.connect('web', { network: 'n', aliases: [] });
    await serve(env, web.path, 'tcp', 80, 'web');
    await m.publish('web', ep.address, [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    t.regex(m.socketLb.lastError ?? '', /ENOENT/);
    t.like(await view({ cgroup: env.cgroup }, 'tcp', '127.0.0.1', 8080), { answer: `web ${ep.gateway}`, kernel: '127.0.0.1:8080' });
    await m.removeSandbox('web');
    await m.remove('n');
  } finally {
    for (const c of env.children) c.kill('SIGKILL');
    env.children.length = 0;
    await m.removeSandbox('web').catch(() => undefined);
    await m.remove('n').catch(() => undefined);
    await m.close();
    await lbTeardown(env);
  }
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(env.dir));
});
