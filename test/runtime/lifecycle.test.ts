// The runc command-line contract beyond `run`: create/start/state/kill/delete,
// exec, console sockets, --no-pivot, bind mounts, joined namespaces — under
// every installed runtime where the behaviour is standard, tsstack-runtime only
// where the output format is ours (list, ps).
import test, { type ExecutionContext } from 'ava';
import { skipWhen } from '../helpers/skip.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  baseConfig, cgroupLeftovers, makeTemp, mountsUnder, rmTemp, rt, runtimes, sharedRootfs, uniqueId, writeBundle,
  TSSTACK_RUNTIME, type Runtime,
  caseKit, type Case,
} from './_runtime.js';

const base = makeTemp('tsstack-rt-life-');
const rootfs = sharedRootfs(base);
test.after.always(() => rmTemp(base));

const { prepare, assertClean } = caseKit(base, rootfs);

/** A deliberately bad bundle for tsstack-runtime (exempt from the schema check). */
function prepareInvalid(args: string[], patch: (c: Record<string, any>) => void): Case {
  const id = uniqueId('bad');
  const cg = `/tsstack-rt-${id}`;
  const config = baseConfig(rootfs, args, cg);
  patch(config);
  return { bundle: writeBundle(join(base, id), config, { invalid: true }), stateRoot: join(base, `state-${id}`), id, cg };
}


function status(r: Runtime, c: Case): string {
  const s = rt(r, c.stateRoot, ['state', c.id]);
  return s.code === 0 ? JSON.parse(s.stdout).status : `error: ${s.stderr.trim()}`;
}

async function until(what: () => boolean, ms = 5000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 25) {
    if (what()) return true;
    await new Promise((d) => setTimeout(d, 25));
  }
  return what();
}

const all = runtimes();
const havePyRecvFds = spawnSync('python3', ['-c', 'import socket; socket.recv_fds'], { encoding: 'utf8' }).status === 0;
const tsstack = all.find((r) => r.name === 'tsstack-runtime')!;

for (const r of all) {
  const title = (what: string) => `${r.name}: ${what}`;
  if (r.skip) {
    test.skip(`${title('lifecycle')} [skipped: ${r.skip}]`, () => {});
    continue;
  }

  test.serial(title('create waits for start; state, pid file, kill, delete'), async (t) => {
    const c = prepare(r, ['sh', '-c', 'echo started > /tmp/started-$$; sleep 100']);
    const pidFile = join(base, `${c.id}.pid`);
    const created = rt(r, c.stateRoot, ['create', '--bundle', c.bundle, '--pid-file', pidFile, c.id]);
    t.is(created.code, 0, created.stderr);
    t.is(status(r, c), 'created');
    const st = JSON.parse(rt(r, c.stateRoot, ['state', c.id]).stdout);
    t.is(Number(readFileSync(pidFile, 'utf8')), st.pid, 'pid file holds the init pid');
    await new Promise((d) => setTimeout(d, 150));
    t.false(existsSync(join(rootfs, 'tmp/started-1')), 'the process has not run before start');
    t.not(rt(r, c.stateRoot, ['create', '--bundle', c.bundle, c.id]).code, 0, 'a second create with the same id is refused');
    t.is(rt(r, c.stateRoot, ['start', c.id]).code, 0);
    t.true(await until(() => existsSync(join(rootfs, 'tmp/started-1'))), 'the process ran after start');
    t.is(status(r, c), 'running');
    t.not(rt(r, c.stateRoot, ['delete', c.id]).code, 0, 'delete of a running container needs --force');
    t.is(rt(r, c.stateRoot, ['kill', c.id, 'SIGKILL']).code, 0);
    t.true(await until(() => status(r, c) === 'stopped'));
    t.is(rt(r, c.stateRoot, ['delete', c.id]).code, 0);
    t.not(rt(r, c.stateRoot, ['state', c.id]).code, 0, 'state of a deleted container fails');
    rmTemp(join(rootfs, 'tmp/started-1'));
    assertClean(t, c);
  });

  test.serial(title('delete --force removes a running container'), (t) => {
    const c = prepare(r, ['sleep', '100']);
    t.is(rt(r, c.stateRoot, ['run', '--detach', '--bundle', c.bundle, c.id]).code, 0);
    t.is(status(r, c), 'running');
    t.is(rt(r, c.stateRoot, ['delete', '--force', c.id]).code, 0);
    assertClean(t, c);
  });

  test.serial(title('exec: env, cwd, user, exit code, --detach, --process'), (t) => {
    const c = prepare(r, ['sleep', '100']);
    t.is(rt(r, c.stateRoot, ['run', '--detach', '--bundle', c.bundle, c.id]).code, 0);
    try {
      // (start returns once the first process was let go to exec its program: an exec at once may still find
      // pid 1 as the runtime's clone, so it looks again for a while)
      const probe = () => rt(r, c.stateRoot, ['exec', '--env', 'PATH=/bin:/usr/bin', '--env', 'A=one', '--cwd', '/tmp', '--user', '1000:1000', c.id, 'sh', '-c', 'echo "$A $(pwd) $(id -u):$(id -g) $(cat /proc/1/cmdline | tr "\\0" " ")"']);
      let a = probe();
      for (let i = 0; i < 40 && a.code === 0 && !a.stdout.includes('sleep 100'); i++) {
        spawnSync('sleep', ['0.05']);
        a = probe();
      }
      t.is(a.code, 0, a.stderr);
      t.is(a.stdout.trim(), 'one /tmp 1000:1000 sleep 100', 'same pid namespace as init');
      t.is(rt(r, c.stateRoot, ['exec', '--env', 'PATH=/bin', c.id, 'sh', '-c', 'exit 5']).code, 5);
      t.not(rt(r, c.stateRoot, ['exec', c.id, 'no-such-program']).code, 0);
      const proc = join(base, `${c.id}-process.json`);
      writeFileSync(proc, JSON.stringify({ args: ['sh', '-c', 'echo "$B $(hostname)"'], env: ['PATH=/bin', 'B=two'], cwd: '/', user: { uid: 0, gid: 0 } }));
      const b = rt(r, c.stateRoot, ['exec', '--process', proc, c.id]);
      t.is(b.code, 0, b.stderr);
      t.is(b.stdout.trim(), 'two box');
      const caps = rt(r, c.stateRoot, ['exec', '--cap', 'CAP_SYS_ADMIN', '--cap', 'CAP_CHOWN', '--no-new-privs', c.id, 'sh', '-c', "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"]);
      t.is(caps.code, 0, caps.stderr);
      const eff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(caps.stdout)?.[1] ?? '0'}`);
      t.is(eff & 0x200001n, 0x200001n, '--cap CAP_SYS_ADMIN and CAP_CHOWN are in effect');
      // runc (and tsstack-runtime) add them to the config's set; crun 1.8 replaces the set.
      if (r.name !== 'crun') t.is(eff, 0x20200421n, '--cap adds to the config capabilities');
      t.regex(caps.stdout, /^NoNewPrivs:\s+1$/m);
      const pidFile = join(base, `${c.id}-exec.pid`);
      const d = spawnSync(r.argv[0]!, [...r.argv.slice(1), '--root', c.stateRoot, 'exec', '--detach', '--pid-file', pidFile, c.id, '/bin/sleep', '0.2'], { stdio: 'ignore', timeout: 10_000 });
      t.is(d.status, 0);
      t.true(Number(readFileSync(pidFile, 'utf8')) > 0);
    } finally {
      t.is(rt(r, c.stateRoot, ['delete', '--force', c.id]).code, 0);
    }
    assertClean(t, c);
  });

  test.serial(title('pause freezes every process, resume thaws them; delete --force of a paused container'), async (t) => {
    const counter = `counter-${r.name}`;
    const c = prepare(r, ['sh', '-c', `i=0; while :; do i=$((i+1)); echo $i > /tmp/${counter}; sleep 0.02; done`]);
    t.is(rt(r, c.stateRoot, ['run', '-d', '--bundle', c.bundle, c.id]).code, 0);
    const file = join(rootfs, 'tmp', counter);
    const read = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    try {
      t.true(await until(() => read() !== ''), 'the loop runs');
      t.is(rt(r, c.stateRoot, ['pause', c.id]).code, 0);
      t.is(status(r, c), 'paused');
      await new Promise((d) => setTimeout(d, 100)); // a runtime may return while the freezer is still FREEZING
      const frozenAt = read();
      await new Promise((d) => setTimeout(d, 300));
      t.is(read(), frozenAt, 'nothing ran while paused');
      t.is(rt(r, c.stateRoot, ['resume', c.id]).code, 0);
      t.is(status(r, c), 'running');
      t.true(await until(() => read() !== frozenAt), 'it runs again');
      t.is(rt(r, c.stateRoot, ['pause', c.id]).code, 0);
    } finally {
      t.is(rt(r, c.stateRoot, ['delete', '--force', c.id]).code, 0);
      rmTemp(file);
    }
    assertClean(t, c);
  });

  test.serial(title('hooks run in order with the state on stdin'), (t) => {
    const out = join(base, `hooks-${r.name}`);
    mkdirSync(out, { recursive: true });
    const hook = (kind: string, dir = out) => ({ path: '/bin/sh', args: ['sh', '-c', `cat > ${dir}/${kind}.json; date +%s%N > ${dir}/${kind}.t`] });
    const c = prepare(r, ['sh', '-c', 'echo run'], (cfg) => {
      cfg.hooks = {
        prestart: [hook('prestart')], createRuntime: [hook('createRuntime')], createContainer: [hook('createContainer')],
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /tmp/startContainer.json'] }],
        poststart: [hook('poststart')], poststop: [hook('poststop')],
      };
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    t.is(res.stdout.trim(), 'run');
    const kinds = ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'];
    for (const k of kinds) {
      const doc = JSON.parse(readFileSync(join(out, `${k}.json`), 'utf8'));
      t.is(doc.id, c.id, `${k} got the state`);
      if (k === 'createRuntime' || k === 'poststart') t.true(doc.pid > 0, `${k} state has the pid`);
    }
    const at = (k: string) => BigInt(readFileSync(join(out, `${k}.t`), 'utf8').trim());
    t.true(at('createRuntime') <= at('createContainer') && at('createContainer') <= at('poststart') && at('poststart') <= at('poststop'), 'in lifecycle order');
    const inside = join(rootfs, 'tmp/startContainer.json');
    t.is(JSON.parse(readFileSync(inside, 'utf8')).id, c.id, 'startContainer ran inside the container');
    rmTemp(inside);
    assertClean(t, c);
  });

  test.serial(title('a failing createRuntime hook fails create and leaves nothing'), (t) => {
    const c = prepare(r, ['true'], (cfg) => { cfg.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }] }; });
    const res = rt(r, c.stateRoot, ['create', '--bundle', c.bundle, c.id]);
    t.not(res.code, 0);
    rt(r, c.stateRoot, ['delete', '--force', c.id]);
    assertClean(t, c);
  });

  test.serial(title('--no-pivot (MS_MOVE + chroot, the ramfs fallback) runs the container'), (t) => {
    const c = prepare(r, ['sh', '-c', 'echo "pid=$$ $(ls /bin/busybox)"']);
    const res = rt(r, c.stateRoot, ['run', '--no-pivot', '--bundle', c.bundle, c.id]);
    t.is(res.code, 0, res.stderr);
    t.is(res.stdout.trim(), 'pid=1 /bin/busybox');
    assertClean(t, c);
  });

  test.serial(title('read-only root, bind and rbind mounts with ro/nosuid/nodev/noexec, file binds'), (t) => {
    const data = join(base, `data-${r.name}`);
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'hello'), 'hi\n');
    const file = join(base, `file-${r.name}`);
    writeFileSync(file, 'a file\n');
    // A submount: rbind carries it along, a plain bind does not.
    mkdirSync(join(data, 'sub'), { recursive: true });
    t.is(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', join(data, 'sub')]).status, 0);
    writeFileSync(join(data, 'sub', 'inner'), 'inner\n');
    const script = [
      'cat /data/hello', 'cat /etc/extra', 'cat /data/sub/inner', 'ls /data2/sub | wc -l', 'touch /data/x 2>/dev/null && echo data-rw || echo data-ro',
      'touch /rootfile 2>/dev/null && echo root-rw || echo root-ro', 'touch /tmp/x 2>/dev/null && echo tmp-rw || echo tmp-ro',
      "awk '$5 == \"/data\" {print \"opts \" $6}' /proc/self/mountinfo",
    ].join('; ');
    const c = prepare(r, ['sh', '-c', script], (cfg) => {
      cfg.root.readonly = true;
      cfg.mounts.push({ destination: '/data', type: 'bind', source: data, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec', 'rprivate'] });
      cfg.mounts.push({ destination: '/etc/extra', type: 'bind', source: file, options: ['bind', 'ro'] });
      cfg.mounts.push({ destination: '/data2', type: 'bind', source: data, options: ['bind', 'ro'] });
      cfg.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
    });
    const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
    spawnSync('umount', [join(data, 'sub')]);
    t.is(res.code, 0, res.stderr);
    t.deepEqual(res.stdout.trim().split('\n'), ['hi', 'a file', 'inner', '0', 'data-ro', 'root-ro', 'tmp-rw', 'opts ro,nosuid,nodev,noexec,relatime']);
    t.false(existsSync(join(data, 'x')));
    assertClean(t, c);
  });

  test.serial(title('joins a pinned network namespace by path'), (t) => {
    const pin = join(base, `netns-${r.name}`);
    writeFileSync(pin, '');
    const made = spawnSync('unshare', [`--net=${pin}`, 'ip', 'link', 'add', 'tsveth0', 'type', 'veth', 'peer', 'name', 'tsveth1'], { encoding: 'utf8' });
    t.is(made.status, 0, made.stderr);
    try {
      const ino = statSync(pin).ino;
      const c = prepare(r, ['sh', '-c', 'readlink /proc/self/ns/net; ls /sys/class/net | grep tsveth0'], (cfg) => {
        cfg.linux.namespaces = cfg.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: pin } : n));
        cfg.mounts = cfg.mounts.filter((m: { destination: string }) => m.destination !== '/sys/fs/cgroup');
      });
      const res = rt(r, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
      t.is(res.code, 0, res.stderr);
      t.deepEqual(res.stdout.trim().split('\n'), [`net:[${ino}]`, 'tsveth0']);
      for (let i = 0; i < 5 && spawnSync('umount', [pin]).status === 0; i++) { /* unpin every layer */ }
      assertClean(t, c);
    } finally {
      for (let i = 0; i < 5 && spawnSync('umount', [pin]).status === 0; i++) { /* unpin every layer */ }
    }
  });

  skipWhen(!havePyRecvFds, 'python3 with socket.recv_fds is needed to receive the fd').serial(title('process.terminal sends the pty master over --console-socket'), async (t) => {
    const sock = join(base, `console-${r.name}.sock`);
    const receiver = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    receiver.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((d) => receiver.on('exit', d));
    t.true(await until(() => existsSync(sock)), 'receiver listening');
    const c = prepare(r, ['sh', '-c', 'tty; echo size=$(stty size); [ /dev/console -ef /proc/self/fd/0 ] && echo console-is-the-pty'], (cfg) => { cfg.process.terminal = true; cfg.process.consoleSize = { height: 33, width: 101 }; });
    const created = rt(r, c.stateRoot, ['create', '--console-socket', sock, '--bundle', c.bundle, c.id]);
    t.is(created.code, 0, created.stderr);
    t.is(rt(r, c.stateRoot, ['start', c.id]).code, 0);
    const timer = setTimeout(() => receiver.kill('SIGKILL'), 10_000);
    t.is(await exited, 0);
    clearTimeout(timer);
    t.regex(out, /^\/dev\/pts\/0\r?$/m);
    t.regex(out, /^size=33 101\r?$/m, 'process.consoleSize');
    t.regex(out, /^console-is-the-pty\r?$/m, '/dev/console is the pty slave');
    t.true(await until(() => status(r, c) === 'stopped'));
    t.is(rt(r, c.stateRoot, ['delete', c.id]).code, 0);
    assertClean(t, c);
  });
}

/** Accepts one connection, takes the fd sent with SCM_RIGHTS, prints what the pty says. */
const RECEIVER = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
msg, fds, flags, addr = socket.recv_fds(c, 4096, 1)
out = b''
while True:
    try:
        d = os.read(fds[0], 4096)
    except OSError:
        break
    if not d:
        break
    out += d
sys.stdout.write(out.decode(errors='replace'))
`;

test.serial('tsstack-runtime: list, ps and kill --all', async (t) => {
  const c = prepare(tsstack, ['sh', '-c', 'sleep 100 & sleep 100']);
  t.is(rt(tsstack, c.stateRoot, ['run', '-d', '--bundle', c.bundle, c.id]).code, 0);
  try {
    const table = rt(tsstack, c.stateRoot, ['list']);
    t.regex(table.stdout, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/m);
    t.regex(table.stdout, new RegExp(`^${c.id}\\s+\\d+\\s+running\\s+${c.bundle}\\s`, 'm'));
    const list = JSON.parse(rt(tsstack, c.stateRoot, ['list', '--format', 'json']).stdout);
    t.is(list.length, 1);
    t.like(list[0], { id: c.id, status: 'running', bundle: c.bundle });
    t.is(rt(tsstack, c.stateRoot, ['list', '-q']).stdout.trim(), c.id);
    const pids: number[] = JSON.parse(rt(tsstack, c.stateRoot, ['ps', '--format', 'json', c.id]).stdout);
    t.is(pids.length, 2);
    t.true(pids.includes(list[0].pid));
    t.is(rt(tsstack, c.stateRoot, ['kill', '--all', c.id, 'KILL']).code, 0);
    t.true(await until(() => status(tsstack, c) === 'stopped'), 'kill --all stops the container');
    t.true(await until(() => JSON.parse(rt(tsstack, c.stateRoot, ['ps', '--format', 'json', c.id]).stdout).length === 0), 'no process left in its cgroup');
  } finally {
    t.is(rt(tsstack, c.stateRoot, ['delete', '--force', c.id]).code, 0);
  }
  assertClean(t, c);
});

test.serial('tsstack-runtime: kill takes names and numbers, refuses unknown signals', (t) => {
  const c = prepare(tsstack, ['sleep', '100']);
  t.is(rt(tsstack, c.stateRoot, ['run', '-d', '--bundle', c.bundle, c.id]).code, 0);
  try {
    const bad = rt(tsstack, c.stateRoot, ['kill', c.id, 'SIGNOPE']);
    t.is(bad.code, 1);
    t.regex(bad.stderr, /unknown signal "SIGNOPE"/);
    t.is(rt(tsstack, c.stateRoot, ['kill', c.id, 'usr1']).code, 0);
    t.is(status(tsstack, c), 'running', 'init ignores USR1 (no handler in a pid namespace init)');
    t.is(rt(tsstack, c.stateRoot, ['kill', c.id, '9']).code, 0);
  } finally {
    rt(tsstack, c.stateRoot, ['delete', '--force', c.id]);
  }
  assertClean(t, c);
});

// Docker and runc number the real-time signals as glibc does (SIGRTMIN 34): systemd's stop signal,
// SIGRTMIN+3, is 37. The runtime is linked with musl when it can be, whose own SIGRTMIN is 35.
test.serial('tsstack-runtime: kill SIGRTMIN+3 sends signal 37, as Docker and runc number it', async (t) => {
  const out = join(base, uniqueId('rtsig'));
  mkdirSync(out);
  const c = prepare(tsstack, ['sh', '-c', 'for n in 35 36 37 38 39; do trap "echo $n > /tmp/sig; exit 0" $n; done; echo > /tmp/ready; while :; do sleep 0.05; done'], (cfg) => {
    cfg.mounts.push({ destination: '/tmp', type: 'bind', source: out, options: ['rbind', 'rw'] });
  });
  t.is(rt(tsstack, c.stateRoot, ['run', '-d', '--bundle', c.bundle, c.id]).code, 0);
  try {
    t.true(await until(() => existsSync(join(out, 'ready'))), 'the container set its traps');
    const k = rt(tsstack, c.stateRoot, ['kill', c.id, 'SIGRTMIN+3']);
    t.is(k.code, 0, k.stderr);
    // (the shell's redirection makes the file before it writes the number: its content is waited for)
    const sig = () => (existsSync(join(out, 'sig')) ? readFileSync(join(out, 'sig'), 'utf8').trim() : '');
    t.true(await until(() => sig() !== ''), 'a trapped signal came');
    t.is(sig(), '37');
    t.regex(rt(tsstack, c.stateRoot, ['kill', c.id, 'SIGRTMIN+31']).stderr, /invalid signal/, 'past SIGRTMAX (64)');
  } finally {
    rt(tsstack, c.stateRoot, ['delete', '--force', c.id]);
  }
  assertClean(t, c);
});

test.serial('tsstack-runtime: run with a terminal proxies the pty in the foreground', (t) => {
  const c = prepare(tsstack, ['sh', '-c', 'tty; exit 3'], (cfg) => { cfg.process.terminal = true; });
  const res = rt(tsstack, c.stateRoot, ['run', '--bundle', c.bundle, c.id]);
  t.is(res.code, 3, res.stderr);
  t.regex(res.stdout, /\/dev\/pts\/0/);
  assertClean(t, c);
});

skipWhen(existsSync('/sys/fs/cgroup/cgroup.controllers'), 'pure cgroup v2 host').serial('tsstack-runtime: cgroup v1 limits are written and v2 placement is real (hybrid host)', async (t) => {
  const c = prepare(tsstack, ['sleep', '100'], (cfg) => {
    cfg.linux.cgroupsPath += '/inner'; // a parent it makes too (and a cpuset that must inherit cpus/mems)
    cfg.linux.resources.memory = { limit: 64 << 20, swap: 96 << 20, reservation: 32 << 20 };
    cfg.linux.resources.cpu = { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' };
    cfg.linux.resources.pids = { limit: 33 };
  });
  t.is(rt(tsstack, c.stateRoot, ['run', '-d', '--bundle', c.bundle, c.id]).code, 0);
  try {
    const pid = JSON.parse(rt(tsstack, c.stateRoot, ['state', c.id]).stdout).pid;
    const rel = `${c.cg.slice(1)}/inner`;
    const read = (h: string, f: string) => readFileSync(join('/sys/fs/cgroup', h, rel, f), 'utf8').trim();
    t.is(read('memory', 'memory.limit_in_bytes'), String(64 << 20));
    if (existsSync(join('/sys/fs/cgroup/memory', rel, 'memory.memsw.limit_in_bytes'))) t.is(read('memory', 'memory.memsw.limit_in_bytes'), String(96 << 20));
    t.is(read('memory', 'memory.soft_limit_in_bytes'), String(32 << 20));
    t.is(read('cpu', 'cpu.shares'), '512');
    t.is(read('cpu', 'cpu.cfs_quota_us'), '50000');
    t.is(read('cpu', 'cpu.cfs_period_us'), '100000');
    t.is(read('cpuset', 'cpuset.cpus'), '0');
    t.is(read('pids', 'pids.max'), '33');
    for (const h of ['memory', 'cpu', 'pids', 'cpuset', 'freezer']) t.true(read(h, 'cgroup.procs').split('\n').includes(String(pid)), `in ${h}`);
    if (existsSync('/sys/fs/cgroup/unified/cgroup.procs')) t.true(read('unified', 'cgroup.procs').split('\n').includes(String(pid)), 'placed in the v2 unified tree');
  } finally {
    t.is(rt(tsstack, c.stateRoot, ['delete', '--force', c.id]).code, 0);
  }
  assertClean(t, c);
});

test.serial('tsstack-runtime: cgroup v2 files (TSSTACK_CGROUP2_ROOT on a tmpfs stand-in)', (t) => {
  const fake = join(base, 'cg2');
  mkdirSync(fake, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', fake]);
  t.is(m.status, 0);
  try {
    writeFileSync(join(fake, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    const c = prepare(tsstack, ['sleep', '100'], (cfg) => {
      cfg.linux.cgroupsPath = '/tsstack/v2-test';
      cfg.linux.resources.memory = { limit: 64 << 20, swap: 96 << 20, reservation: 16 << 20 };
      cfg.linux.resources.cpu = { shares: 1024, quota: 25000, period: 50000, cpus: '0-1', mems: '0' };
      cfg.linux.resources.pids = { limit: -1 };
    });
    const env = { ...process.env, TSSTACK_CGROUP2_ROOT: fake };
    t.is(rt(tsstack, c.stateRoot, ['run', '-d', '--bundle', c.bundle, c.id], { env }).code, 0);
    const leaf = join(fake, 'tsstack/v2-test');
    const read = (f: string) => readFileSync(join(leaf, f), 'utf8').trim();
    try {
      const pid = JSON.parse(rt(tsstack, c.stateRoot, ['state', c.id], { env }).stdout).pid;
      t.is(read('memory.max'), String(64 << 20));
      t.is(read('memory.swap.max'), String(32 << 20), 'v2 swap excludes memory');
      t.is(read('memory.low'), String(16 << 20));
      t.is(read('cpu.max'), '25000 50000');
      t.is(read('cpu.weight'), '39', 'shares 1024 → weight 1 + (1022 × 9999) / 262142');
      t.is(read('cpuset.cpus'), '0-1');
      t.is(read('cpuset.mems'), '0');
      t.is(read('pids.max'), 'max');
      t.is(read('cgroup.procs'), String(pid));
      for (const dir of [fake, join(fake, 'tsstack')])
        t.is(readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8').trim(), '+cpu +cpuset +memory +pids +io +hugetlb');
      t.false(existsSync(join(leaf, 'cgroup.subtree_control')), 'the leaf enables nothing');
    } finally {
      t.is(rt(tsstack, c.stateRoot, ['delete', '--force', c.id], { env }).code, 0);
    }
    t.false(existsSync(join(fake, 'tsstack')), 'delete removes the dirs it made');
  } finally {
    spawnSync('umount', [fake]);
  }
  t.deepEqual(mountsUnder(base), []);
});

/**
 * Mount-table lines added or gone since `before`, leaving out other tests' own roots (other test files
 * share the suite's mount namespace and mount under their /tmp/tsstack-* dirs meanwhile).
 */
function mountChanges(before: string): string[] {
  const others = (l: string) => {
    const point = l.split(' ')[4] ?? '';
    return /^\/tmp\/tsstack-/.test(point) && !point.startsWith(base);
  };
  const was = new Set(before.split('\n')), now = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const is = new Set(now);
  return [...now.filter((l) => !was.has(l)).map((l) => `+ ${l}`), ...[...was].filter((l) => !is.has(l)).map((l) => `- ${l}`)].filter((l) => !others(l.slice(2)));
}

const BAD: { name: string; patch: (cfg: Record<string, any>, dir: string) => void; error: RegExp }[] = [
  { name: 'missing rootfs', patch: (cfg) => { cfg.root.path = '/nonexistent/rootfs'; }, error: /root\.path \/nonexistent\/rootfs: No such file or directory/ },
  { name: 'unknown namespace type', patch: (cfg) => { cfg.linux.namespaces.push({ type: 'bogus' }); }, error: /unknown namespace type "bogus"/ },
  { name: 'mount target escaping via ..', patch: (cfg) => { cfg.mounts.push({ destination: '/../../../escape', type: 'tmpfs', source: 'tmpfs' }); }, error: /escapes the container root filesystem via "\.\."/ },
  { name: 'mount target escaping via a symlink', patch: (cfg) => { cfg.mounts.push({ destination: '/evil-link/x', type: 'tmpfs', source: 'tmpfs' }); }, error: /escapes the container root filesystem via the symlink \/evil-link -> / },
  { name: 'missing namespace path', patch: (cfg) => { cfg.linux.namespaces[1] = { type: 'network', path: '/nonexistent/netns' }; }, error: /network namespace path \/nonexistent\/netns does not exist/ },
  { name: 'bind source missing', patch: (cfg) => { cfg.mounts.push({ destination: '/x', type: 'bind', source: '/nonexistent/src', options: ['bind'] }); }, error: /bind source \/nonexistent\/src/ },
];

for (const b of BAD) {
  test.serial(`tsstack-runtime: refuses a bad bundle: ${b.name}`, (t) => {
    const before = readFileSync('/proc/self/mountinfo', 'utf8');
    const evil = join(rootfs, 'evil-link');
    if (!existsSync(evil)) spawnSync('ln', ['-s', '../../../../../../../../tmp', evil]);
    const c = prepareInvalid(['true'], (cfg) => b.patch(cfg, base));
    const res = rt(tsstack, c.stateRoot, ['create', '--bundle', c.bundle, c.id]);
    t.is(res.code, 1);
    t.is(res.stderr.trim().split('\n').length, 1, 'one line');
    t.regex(res.stderr, b.error);
    t.deepEqual(mountChanges(before), [], 'nothing left mounted');
    assertClean(t, c);
  });
}

test.serial('tsstack-runtime: refuses malformed JSON naming the line and column', (t) => {
  const dir = join(base, 'malformed');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), '{\n  "ociVersion": "1.0.2",\n  "root": {"path": "rootfs",}\n}\n');
  const stateRoot = join(base, 'state-malformed');
  const res = rt(tsstack, stateRoot, ['create', '--bundle', dir, 'malformed']);
  t.is(res.code, 1);
  t.regex(res.stderr, /config\.json: malformed JSON: line 3 column 29: expected a string object key/);
  t.false(existsSync(join(stateRoot, 'malformed')));
});

skipWhen(spawnSync('strace', ['-V']).status !== 0, 'strace is needed to see pivot_root refused').serial('tsstack-runtime: a root on ramfs (pivot_root refused) falls back to MS_MOVE + chroot', (t) => {
  // The runtime runs chrooted into a ramfs, as from an initramfs: there
  // pivot_root fails with EINVAL and the fallback must take over.
  const before = readFileSync('/proc/self/mountinfo', 'utf8');
  const ram = join(base, 'ramroot');
  mkdirSync(ram, { recursive: true });
  const id = uniqueId('ram');
  const cfg = baseConfig('/bundle/rootfs', ['sh', '-c', 'echo "pid=$$ $(hostname) $(ls /bin/busybox)"'], `/tsstack-rt-${id}`);
  const bundle = writeBundle(join(base, `${id}-bundle`), cfg);
  // Chrooted into a plain directory of the ramfs, "/" is no mount point, so
  // pivot_root fails with EINVAL; the rootfs is a mount of its own, as the
  // engine's overlay is.
  const r = `${ram}/root`;
  const script = [
    'set -e', `mount -t ramfs ramfs ${ram}`, `mkdir -p ${r}/bin ${r}/proc ${r}/sys ${r}/state ${r}/bundle`,
    `cp ${TSSTACK_RUNTIME} ${r}/bin/tsstack-runtime`, `cp -a ${rootfs} ${r}/bundle/rootfs`, `cp ${bundle}/config.json ${r}/bundle/`,
    `mount --bind ${r}/bundle/rootfs ${r}/bundle/rootfs`, `mount --rbind /proc ${r}/proc`, `mount --rbind /sys ${r}/sys`,
    `strace -f -e trace=pivot_root -o ${ram}/trace chroot ${r} /bin/tsstack-runtime --root /state run --bundle /bundle ${id}`,
    `grep -c 'pivot_root.*EINVAL' ${ram}/trace >&2`,
  ].join('\n');
  const res = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
  t.is(res.status, 0, res.stderr);
  t.is(res.stdout.trim(), 'pid=1 box /bin/busybox');
  t.is(res.stderr.trim(), '1', 'pivot_root was refused and the fallback ran');
  t.deepEqual(cgroupLeftovers(`tsstack-rt-${id}`), []);
  t.deepEqual(mountChanges(before), [], 'nothing left mounted');
});

test.serial('tsstack-runtime: --log with --log-format json records errors as JSON lines', (t) => {
  const log = join(base, 'runtime-log.json');
  const stateRoot = join(base, 'state-log');
  const withLog = spawnSync(tsstack.bin, ['--root', stateRoot, '--log', log, '--log-format', 'json', 'state', 'no-such-container'], { encoding: 'utf8' });
  t.is(withLog.status, 1);
  t.regex(withLog.stderr, /container "no-such-container" does not exist/);
  const entry = JSON.parse(readFileSync(log, 'utf8').trim().split('\n').pop()!);
  t.is(entry.level, 'error');
  t.regex(entry.msg, /container "no-such-container" does not exist/);
  t.notThrows(() => new Date(entry.time).toISOString());
});
