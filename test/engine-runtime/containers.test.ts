// Containers (ContainerApi) end to end on real containers: overlay root over
// busybox, runc (and tsstack-runtime when it runs), no network (network_mode
// none). Every test checks that remove() leaves nothing behind.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec, LogLine } from '../../src/engine/api.js';
import { Containers } from '../../src/engine/runtime/containers.js';
import { cgroupLeftovers, mountsUnder, ociConfigValidator, processGone, runtimes, until } from './helpers.js';
import { containerKit } from './kit.js';
import { noneHere } from '../helpers/skip.js';

const { engine } = containerKit('tsstack-ctr-');

function spec(name: string, args: string[], extra: Partial<ContainerCreateSpec> = {}): ContainerCreateSpec {
  return {
    name, image: 'busybox', imageId: 'sha256:busybox', labels: { 'tsstack.project': 'p1', 'tsstack.service': name }, args, env: ['GREETING=hello'], cwd: '/',
    hostname: name, mounts: [], endpoints: [], networkMode: 'none', ports: [], resources: {}, restart: 'no', stopSignal: 'SIGTERM', stopGracePeriod: 2000, ...extra,
  };
}

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

async function assertGone(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void; false: (v: boolean, m?: string) => void }, c: Containers, dir: string, id: string, pids: number[]) {
  t.deepEqual(mountsUnder(dir), [], 'no mounts');
  t.deepEqual(cgroupLeftovers(id), [], 'no cgroups');
  for (const p of pids) t.true(await until(() => processGone(p)), `process ${p} gone`);
  t.false(existsSync(join(c.root, 'containers', id)), 'container dir removed');
  t.deepEqual(readdirSync(join(c.runRoot, 'monitor')), [], 'monitor dir removed');
}

noneHere(runtimes(), 'containers under a real runtime', 'runtime');
for (const rt of runtimes()) {
  test(`${rt}: create, start, list by label, logs, exec, top, stats, stop, remove — nothing left`, async (t) => {
    const { c, dir } = engine(t, rt);
    const a = await c.create(spec('web', ['sh', '-c', 'echo "$GREETING from $(hostname)"; echo oops >&2; trap "exit 0" TERM; sleep 1000 & wait']));
    const b = await c.create(spec('other', ['true'], { labels: { 'tsstack.project': 'p2' } }));
    t.is(a.status, 'created');
    await t.throwsAsync(c.create(spec('web', ['true'])), { message: /already used/ });
    t.deepEqual((await c.list({ 'tsstack.project': 'p1' })).map((x) => x.name), ['web']);
    t.deepEqual((await c.list()).map((x) => x.name), ['other', 'web']);

    await c.start('web');
    const info = (await c.inspect('web'))!;
    t.is(info.status, 'running');
    t.true(info.pid! > 0);
    t.is((await c.inspect(a.id.slice(0, 8)))!.name, 'web');

    t.true(await until(() => readFileSync(join(c.root, 'containers', a.id, 'log.json'), 'utf8').includes('oops')));
    const lines = await collect(c.logs('web', {}));
    t.deepEqual(lines.map((l) => [l.stream, l.log]), [['stdout', 'hello from web'], ['stderr', 'oops']]);
    t.deepEqual((await collect(c.logs('web', { tail: 1 }))).map((l) => l.log), ['oops']);
    t.deepEqual(await collect(c.logs('web', { since: new Date(Date.now() + 60000) })), []);

    const r = await c.execCapture('web', ['sh', '-c', 'id -u; echo $GREETING; pwd'], { user: 'app', cwd: '/tmp' });
    t.is(r.code, 0);
    t.is(r.stdout, '1000\nhello\n/tmp\n');
    t.is(await c.exec('web', ['sh', '-c', 'exit 5'], {}), 5);

    const top = await c.top('web');
    t.true(top.some((p) => p.cmd === 'sleep 1000'), JSON.stringify(top));
    const st = await c.stats('web');
    t.true(st.memoryUsage > 0);
    t.true(st.pids >= 1);
    t.true(st.cpuPercent >= 0);

    await c.stop('web', 5000);
    const stopped = (await c.inspect('web'))!;
    t.is(stopped.status, 'exited');
    t.is(stopped.exitCode, 0, 'the stop signal ended it (SIGKILL after the grace period would give 137)');
    t.is(await c.wait('web'), 0);

    await c.remove('web');
    await c.remove(b.id);
    await assertGone(t, c, dir, a.id, [info.pid!]);
    t.deepEqual(await c.list(), []);
  });

  test(`${rt}: restart policy and wait; start again after exit; remove --force of a running container`, async (t) => {
    const { c, dir } = engine(t, rt);
    const x = await c.create(spec('job', ['sh', '-c', 'echo run; exit 4'], { restart: 'on-failure:1' }));
    await c.start(x.id);
    t.is(await c.wait(x.id), 4);
    const i = (await c.inspect(x.id))!;
    t.is(i.restartCount, 1);
    t.is(i.exitCode, 4);
    t.is(i.status, 'exited');
    await c.start(x.id); // a second start runs it again
    t.is(await c.wait(x.id), 4);
    t.is((await collect(c.logs(x.id, {}))).filter((l) => l.log === 'run').length, 4);

    const y = await c.create(spec('daemon', ['sleep', '1000'], { restart: 'always', stopGracePeriod: 200 }));
    await c.start('daemon');
    const pid = (await c.inspect('daemon'))!.pid!;
    await t.throwsAsync(c.remove('daemon'), { message: /is running/ });
    await c.remove('daemon', { force: true });
    await c.remove('job');
    await assertGone(t, c, dir, y.id, [pid]);
    t.false(existsSync(join(c.root, 'containers', x.id)));
  });

  test(`${rt}: logs --follow streams until the container exits`, async (t) => {
    const { c } = engine(t, rt);
    await c.create(spec('talker', ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done']));
    await c.start('talker');
    const got = await collect(c.logs('talker', { follow: true }));
    t.deepEqual(got.map((l) => l.log), ['tick 1', 'tick 2', 'tick 3']);
    await c.remove('talker');
  });

  test(`${rt}: copy in and out, through the rootfs and a bind mount; kill`, async (t) => {
    const { c, dir } = engine(t, rt);
    const hostDir = join(dir, 'bind');
    mkdirSync(hostDir, { recursive: true });
    const x = await c.create(spec('files', ['sleep', '1000'], { mounts: [{ type: 'bind', source: hostDir, target: '/data' }] }));
    await c.start('files');
    const src = join(dir, 'in.txt');
    writeFileSync(src, 'copied in\n');
    await c.copy('files', src, 'container:/tmp', 'in');
    await c.copy('files', src, 'container:/data/in.txt', 'in');
    const r = await c.execCapture('files', ['cat', '/tmp/in.txt']);
    t.is(r.stdout, 'copied in\n');
    t.is(readFileSync(join(hostDir, 'in.txt'), 'utf8'), 'copied in\n');
    await c.execCapture('files', ['sh', '-c', 'mkdir -p /out/sub && echo made > /out/sub/f']);
    await c.copy('files', 'container:/out', join(dir, 'got'), 'out');
    t.is(readFileSync(join(dir, 'got', 'sub', 'f'), 'utf8'), 'made\n');
    await t.throwsAsync(c.copy('files', 'container:/nope', join(dir, 'x'), 'out'), { message: /does not exist/ });
    await c.kill('files', 'SIGKILL');
    t.is(await c.wait('files'), 137);
    await c.remove('files');
    await assertGone(t, c, dir, x.id, []);
  });

  test(`${rt}: health check is visible in inspect`, async (t) => {
    const { c } = engine(t, rt);
    await c.create(spec('hc', ['sleep', '1000'], { healthcheck: { test: ['CMD-SHELL', 'test -e /bin/sh'], interval: 100, timeout: 1000, retries: 1, startPeriod: 0, startInterval: 0 } }));
    await c.start('hc');
    let health: string | undefined;
    for (let i = 0; i < 100 && health !== 'healthy'; i++) { health = (await c.inspect('hc'))!.health; await new Promise((r) => setTimeout(r, 50)); }
    t.is(health, 'healthy');
    await c.remove('hc', { force: true });
  });

  test(`${rt}: errors: a bad command fails start with the runtime's reason; an unknown user fails create`, async (t) => {
    const { c } = engine(t, rt);
    await c.create(spec('bad', ['/nonexistent']));
    const e = await t.throwsAsync(c.start('bad'));
    t.regex(e!.message, /could not be started/);
    t.is((await c.inspect('bad'))!.status, 'exited');
    await c.remove('bad');
    await t.throwsAsync(c.create(spec('baduser', ['true'], { user: 'ghost' })), { message: /unable to find user ghost/ });
    t.deepEqual(await c.list(), []);
    t.deepEqual(mountsUnder(join(c.root, 'containers')), []);
    await t.throwsAsync(c.inspect('nope').then((x) => { if (!x) throw new Error('none'); }), { message: 'none' });
    await t.throwsAsync(c.start('nope'), { message: /no such container: nope/ });
  });
}

for (const rt of runtimes()) {
  test(`${rt}: the create spec is in effect inside: user, groups, cwd, env, hostname, caps, ulimits, read-only root, tmpfs, masked paths, limits`, async (t) => {
    const { c } = engine(t, rt);
    await c.create(spec('cfg', ['sleep', '1000'], {
      user: 'app', groupAdd: ['root'], cwd: '/tmp', env: ['FOO=bar baz'], hostname: 'cfg-host', readOnlyRoot: true,
      capAdd: ['NET_ADMIN'], capDrop: ['MKNOD'], ulimits: { nofile: { soft: 1234, hard: 2345 } },
      mounts: [{ type: 'tmpfs', target: '/scratch', size: 1 << 20 }],
      resources: { memory: 64 * 1024 * 1024, pids: 50 },
    }));
    const validate = await ociConfigValidator();
    if (validate) {
      const cfg = JSON.parse(readFileSync(join(c.containerDir('cfg'), 'bundle', 'config.json'), 'utf8'));
      t.true(validate(cfg), `the written config.json is valid OCI: ${JSON.stringify(validate.errors)}`);
    } else t.log('schema check skipped: ../shared absent');
    await c.start('cfg');
    const sh = async (cmd: string, user?: string) => (await c.execCapture('cfg', ['sh', '-c', cmd], user ? { user } : {})).stdout.trim();
    t.is(await sh('id -u; id -g; id -G'), '1000\n1000\n1000 0');
    t.is(await sh('pwd'), '/tmp');
    t.is(await sh('echo "$FOO"'), 'bar baz');
    t.is(await sh('hostname; cat /etc/hostname'), 'cfg-host\ncfg-host');
    // the init's limits (runc 1.1's exec can leak the Go runtime's raised soft NOFILE limit into exec'd processes)
    t.regex(await sh('grep "Max open files" /proc/1/limits'), /^Max open files\s+1234\s+2345\s+files$/);
    const capBnd = BigInt('0x' + (await sh('grep CapBnd /proc/self/status')).split(/\s+/)[1]);
    t.true((capBnd >> 12n & 1n) === 1n, 'CAP_NET_ADMIN kept');
    t.true((capBnd >> 27n & 1n) === 0n, 'CAP_MKNOD dropped');
    t.true((capBnd >> 21n & 1n) === 0n, 'no CAP_SYS_ADMIN by default');
    t.is(await sh('touch /rootfile 2>/dev/null && echo writable || echo read-only', '0'), 'read-only');
    t.is(await sh('echo x > /scratch/f && cat /scratch/f'), 'x');
    t.is(await sh('wc -c < /proc/timer_list', '0'), '0', '/proc/timer_list is masked');
    t.is(await sh('ls -A /proc/acpi | wc -l', '0'), '0', '/proc/acpi is masked');
    t.is(await sh('echo 1 > /proc/sys/kernel/ostype 2>/dev/null && echo rw || echo ro', '0'), 'ro');
    const st = await c.stats('cfg');
    t.is(st.memoryLimit, 64 * 1024 * 1024);
    await c.remove('cfg', { force: true });
  });
}

for (const rt of runtimes()) {
  test(`${rt}: exec -it runs the process on a pty when the caller has a terminal`, async (t) => {
    const { execFileSync } = await import('node:child_process');
    const { c, dir } = engine(t, rt);
    await c.create(spec('term', ['sleep', '1000'], { stopGracePeriod: 0 }));
    await c.start('term');
    // a caller on a terminal: `script` gives this helper a pty as its stdio, as a user's shell would
    const helper = join(dir, 'exec-tty.mjs');
    const mod = new URL('../../src/engine/runtime/containers.js', import.meta.url).href;
    writeFileSync(helper, `import { Containers } from ${JSON.stringify(mod)};
const c = new Containers({ root: ${JSON.stringify(c.root)}, runRoot: ${JSON.stringify(c.runRoot)}, runtime: ${JSON.stringify(rt)},
  images: { mountRootfs: async () => { throw new Error('unused'); }, unmountRootfs: async () => {} } });
process.exitCode = await c.exec('term', ['sh', '-c', 'tty; test -t 0 && echo stdin-is-a-tty; exit 3'], { tty: true, interactive: true });
`);
    let out = '', code = 0;
    try {
      out = execFileSync('script', ['-qec', `${process.execPath} ${helper}`, '/dev/null'], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20000 });
    } catch (e) {
      const x = e as { status: number; stdout: string };
      out = x.stdout; code = x.status;
    }
    t.regex(out, /\/dev\/pts\/\d+/);
    t.regex(out, /stdin-is-a-tty/);
    t.is(code, 3);
    await c.remove('term', { force: true });
  });
}

for (const rt of runtimes()) {
  test(`${rt}: init: true — SIGTERM stops sleep at once, orphans are reaped, the exit code is kept`, async (t) => {
    const { c, dir } = engine(t, rt);
    // a grace period far longer than the test's timeout: only a forwarded SIGTERM (exit 143) lets stop return in time
    const a = await c.create(spec('sleeper', ['sleep', '1000'], { init: true, stopGracePeriod: 60_000 }));
    await c.start('sleeper');
    t.true(await until(() => c.monitorStateOf('sleeper')?.status === 'running'));
    // `running` comes as the runtime's start returns, which is when the container's first process was let go
    // to exec its program (as runc's): an exec at once may still find pid 1 as the runtime's clone
    const cmdline = async () => (await c.execCapture('sleeper', ['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline'])).stdout.trim();
    let seen = await cmdline();
    for (let i = 0; i < 40 && seen !== '/dev/init -- sleep 1000'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await cmdline();
    }
    t.is(seen, '/dev/init -- sleep 1000');
    const pid = (await c.inspect('sleeper'))!.pid!;
    await c.stop('sleeper');
    const info = (await c.inspect('sleeper'))!;
    t.is(info.exitCode, 143, 'sleep died of the forwarded SIGTERM, not of the SIGKILL after the grace period');

    // `( sleep 0.2 & )` leaves an orphan that is re-parented to pid 1: the init reaps it
    await c.create(spec('reaper', ['sh', '-c', '(sleep 0.2 &); sleep 1; ps -o stat= ; exit 7'], { init: true }));
    await c.start('reaper');
    t.is(await c.wait('reaper'), 7, 'the exit code of the program comes through the init');
    const out = (await collect(c.logs('reaper', {}))).map((l) => l.log.trim());
    t.true(out.length >= 3, out.join('|'));
    t.false(out.some((s) => s.startsWith('Z')), `no zombie: ${out.join('|')}`);
    await c.remove('reaper');
    await c.remove('sleeper');
    await assertGone(t, c, dir, a.id, [pid]);
  });

  test(`${rt}: runAttached runs in the foreground on the caller's stdio: stdin piped in, or a pty with a terminal`, async (t) => {
    const { execFileSync } = await import('node:child_process');
    const { c, dir } = engine(t, rt);
    await c.create(spec('cat', ['sh', '-c', 'cat; exit 4'], { stdinOpen: true }));
    await c.create(spec('shell', ['sh', '-c', 'tty; test -t 0 && echo stdin-is-a-tty; exit 5'], { tty: true, stdinOpen: true }));
    const helper = join(dir, 'attach.mjs');
    const mod = new URL('../../src/engine/runtime/containers.js', import.meta.url).href;
    writeFileSync(helper, `import { Containers } from ${JSON.stringify(mod)};
const c = new Containers({ root: ${JSON.stringify(c.root)}, runRoot: ${JSON.stringify(c.runRoot)}, runtime: ${JSON.stringify(rt)},
  images: { mountRootfs: async () => { throw new Error('unused'); }, unmountRootfs: async () => {} } });
process.exitCode = await c.runAttached(process.argv[2]);
`);
    const run = (args: string[], input?: string) => {
      try {
        return { out: execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', input, timeout: 20000 }), code: 0 };
      } catch (e) {
        const x = e as { status: number; stdout: string };
        return { out: x.stdout, code: x.status };
      }
    };
    const piped = run([process.execPath, helper, 'cat'], 'through stdin\n');
    t.is(piped.out, 'through stdin\n');
    t.is(piped.code, 4);
    const info = (await c.inspect('cat'))!;
    t.is(info.status, 'exited');
    t.is(info.exitCode, 4);
    const term = run(['script', '-qec', `${process.execPath} ${helper} shell`, '/dev/null']);
    t.regex(term.out, /\/dev\/pts\/\d+/);
    t.regex(term.out, /stdin-is-a-tty/);
    t.is(term.code, 5);
    await c.remove('cat');
    await c.remove('shell');
  });

  test(`${rt}: an attached run is seen as running and can be stopped`, async (t) => {
    const { c } = engine(t, rt);
    await c.create(spec('fg', ['sleep', '1000'], { stopGracePeriod: 300 }));
    const done = c.runAttached('fg');
    t.true(await until(() => { const st = c.monitorStateOf('fg'); return !!st && st.status === 'running' && st.pid > 0; }, 10000));
    t.is((await c.inspect('fg'))!.status, 'running');
    t.true((await c.top('fg')).some((p) => p.cmd === 'sleep 1000'));
    await c.stop('fg');
    t.is(await done, 137, 'sleep as pid 1 ignores SIGTERM: SIGKILL after the grace period');
    t.is((await c.inspect('fg'))!.status, 'exited');
    await c.remove('fg');
  });
}

for (const rt of runtimes()) {
  test(`${rt}: a container started by a CLI process keeps running after that process exits`, async (t) => {
    const { execFileSync } = await import('node:child_process');
    const { c, dir } = engine(t, rt);
    await c.create(spec('bg', ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'], { stopGracePeriod: 0 }));
    const helper = join(dir, 'start.mjs');
    const mod = new URL('../../src/engine/runtime/containers.js', import.meta.url).href;
    writeFileSync(helper, `import { Containers } from ${JSON.stringify(mod)};
const c = new Containers({ root: ${JSON.stringify(c.root)}, runRoot: ${JSON.stringify(c.runRoot)}, runtime: ${JSON.stringify(rt)},
  images: { mountRootfs: async () => { throw new Error('unused'); }, unmountRootfs: async () => {} } });
await c.start('bg');
console.log(process.pid);
`);
    const cliPid = Number(execFileSync(process.execPath, [helper], { encoding: 'utf8', timeout: 20000 }).trim());
    t.true(processGone(cliPid), 'the CLI process has exited');
    const info = (await c.inspect('bg'))!;
    t.is(info.status, 'running');
    const n0 = (await collect(c.logs('bg', {}))).length;
    t.true(await until(() => readFileSync(join(c.root, 'containers', info.id, 'log.json'), 'utf8').split('\n').length > n0 + 3), 'still logging');
    await c.remove('bg', { force: true });
  });
}

for (const rt of runtimes()) {
  test(`${rt}: a killed monitor shows as dead (137), its container is gone, and remove still cleans up`, async (t) => {
    const { c, dir } = engine(t, rt);
    const x = await c.create(spec('victim', ['sleep', '1000'], { restart: 'always' }));
    await c.start('victim');
    const st = c.monitorStateOf('victim')!;
    process.kill(st.monitorPid, 'SIGKILL');
    t.true(await until(() => processGone(st.pid), 10000));
    t.true(await until(() => c.monitorStateOf('victim')?.status === 'dead', 10000));
    const info = (await c.inspect('victim'))!;
    t.is(info.status, 'dead');
    t.is(info.exitCode, 137);
    await c.remove('victim');
    await assertGone(t, c, dir, x.id, [st.pid]);
  });
}

for (const rt of runtimes()) {
  test(`${rt}: network_mode host shares the caller's network; none has only loopback`, async (t) => {
    const { createServer } = await import('node:net');
    const server = createServer((s) => s.end('from the host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => { server.close(); });
    const port = (server.address() as { port: number }).port;
    const { c } = engine(t, rt);
    await c.create(spec('hostnet', ['sleep', '1000'], { networkMode: 'host', stopGracePeriod: 0 }));
    await c.create(spec('nonet', ['sleep', '1000'], { networkMode: 'none', stopGracePeriod: 0 }));
    await c.start('hostnet');
    await c.start('nonet');
    const r = await c.execCapture('hostnet', ['sh', '-c', `nc 127.0.0.1 ${port} </dev/null`]);
    t.is(r.stdout, 'from the host\n');
    t.is(readFileSync(join(c.containerDir('hostnet'), 'resolv.conf'), 'utf8'), readFileSync('/etc/resolv.conf', 'utf8'));
    const ifs = (await c.execCapture('nonet', ['sh', '-c', 'ls /sys/class/net'])).stdout.trim().split(/\s+/);
    t.deepEqual(ifs, ['lo']);
    await c.remove('hostnet', { force: true });
    await c.remove('nonet', { force: true });
  });
}
