// Pure and file-level parts of the runtime layer, with literals.
import test from 'ava';
import { appendFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogLine } from '../../src/engine/api.js';
import { parseProcCgroup } from '../../src/engine/runtime/cgroup-stats.js';
import { parseExtraHost, renderHostsFile, resolvConfFromHost } from '../../src/engine/runtime/etc-files.js';
import { resolveInRoot } from '../../src/engine/runtime/in-root.js';
import { parseLogText, readLogs, selectLines } from '../../src/engine/runtime/logs.js';
import { monitorArgs } from '../../src/engine/runtime/monitor-client.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { needs } from '../helpers/skip.js';

const line = (time: string, stream: string, log: string) => JSON.stringify({ time, stream, log }) + '\n';

test('parseLogText drops the trailing newline (and a pty\'s \\r), keeps partial lines, skips torn ones', (t) => {
  const text = line('2026-01-01T00:00:00.000000001Z', 'stdout', 'a\n') + line('2026-01-01T00:00:01Z', 'stderr', 'b\r\n') + '{"time":"x","str' + '\n' + line('2026-01-01T00:00:02Z', 'stdout', 'part');
  t.deepEqual(parseLogText(text), [
    { time: '2026-01-01T00:00:00.000000001Z', stream: 'stdout', log: 'a' },
    { time: '2026-01-01T00:00:01Z', stream: 'stderr', log: 'b' },
    { time: '2026-01-01T00:00:02Z', stream: 'stdout', log: 'part' },
  ]);
});

test('selectLines applies since, then tail', (t) => {
  const ls: LogLine[] = [1, 2, 3, 4].map((i) => ({ time: `2026-01-01T00:00:0${i}Z`, stream: 'stdout', log: String(i) }));
  t.deepEqual(selectLines(ls, { tail: 2 }).map((l) => l.log), ['3', '4']);
  t.deepEqual(selectLines(ls, { since: new Date('2026-01-01T00:00:02Z') }).map((l) => l.log), ['2', '3', '4']);
  t.deepEqual(selectLines(ls, { since: new Date('2026-01-01T00:00:02Z'), tail: 1 }).map((l) => l.log), ['4']);
  t.deepEqual(selectLines(ls, { tail: 0 }), []);
});

test('readLogs reads rotated files oldest first, and follow continues across a rotation', async (t) => {
  const dir = makeTemp();
  t.teardown(() => rmTemp(dir));
  const p = join(dir, 'log.json');
  writeFileSync(`${p}.2`, line('2026-01-01T00:00:01Z', 'stdout', 'one\n'));
  writeFileSync(`${p}.1`, line('2026-01-01T00:00:02Z', 'stdout', 'two\n'));
  writeFileSync(p, line('2026-01-01T00:00:03Z', 'stdout', 'three\n'));
  let done = false;
  const got: string[] = [];
  const reader = (async () => { for await (const l of readLogs(p, { follow: true }, () => done)) got.push(l.log); })();
  await new Promise((r) => setTimeout(r, 150));
  appendFileSync(p, line('2026-01-01T00:00:04Z', 'stdout', 'four\n'));
  await new Promise((r) => setTimeout(r, 50));
  appendFileSync(p, line('2026-01-01T00:00:05Z', 'stdout', 'five\n'));
  renameSync(p, `${p}.1`); // the writer rotates before the reader saw "five"
  writeFileSync(p, line('2026-01-01T00:00:06Z', 'stderr', 'six\n'));
  await new Promise((r) => setTimeout(r, 250));
  done = true;
  await reader;
  t.deepEqual(got, ['one', 'two', 'three', 'four', 'five', 'six']);
});

test('parseProcCgroup reads hybrid v1 + v2 lines and co-mounted controllers', (t) => {
  const p = parseProcCgroup('12:cpu,cpuacct:/tsstack/a\n4:memory:/x/tsstack/a\n1:name=systemd:/tsstack/a\n0::/tsstack/a\n');
  t.deepEqual(p.v1, { cpu: '/tsstack/a', cpuacct: '/tsstack/a', memory: '/x/tsstack/a', systemd: '/tsstack/a' });
  t.is(p.v2, '/tsstack/a');
  t.deepEqual(parseProcCgroup('0::/user.slice/tsstack/b\n'), { v1: {}, v2: '/user.slice/tsstack/b' });
});

test('etc files: hosts, extra_hosts, resolv.conf from the host without loopback resolvers', (t) => {
  t.deepEqual(parseExtraHost('db:10.0.0.5'), { address: '10.0.0.5', names: ['db'] });
  t.deepEqual(parseExtraHost('v6=::1'), { address: '::1', names: ['v6'] });
  t.is(parseExtraHost('nonsense'), undefined);
  t.deepEqual(parseExtraHost('host.docker.internal:host-gateway', '10.89.0.1'), { address: '10.89.0.1', names: ['host.docker.internal'] });
  t.is(renderHostsFile([{ address: '10.0.0.2', names: ['web', 'web'] }]), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tweb\n');
  t.is(resolvConfFromHost('nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp\noptions ndots:2\n'), 'search corp\nnameserver 192.0.2.1\noptions ndots:2\n');
  t.is(resolvConfFromHost('nameserver 127.0.0.1\n'), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  t.is(resolvConfFromHost('nameserver 192.0.2.1\n', ['9.9.9.9'], ['a.b']), 'search a.b\nnameserver 9.9.9.9\n');
});

test('resolveInRoot keeps symlinks (absolute and ..) inside the root', (t) => {
  const root = makeTemp();
  t.teardown(() => rmTemp(root));
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'data'));
  symlinkSync('/etc', join(root, 'abs'));
  symlinkSync('../../../../etc', join(root, 'data', 'up'));
  t.is(resolveInRoot(root, '/abs/passwd'), join(root, 'etc/passwd'));
  t.is(resolveInRoot(root, '/data/up/passwd'), join(root, 'etc/passwd'));
  t.is(resolveInRoot(root, '/../../etc'), join(root, 'etc'));
  t.is(resolveInRoot(root, '/abs', false), join(root, 'abs'));
});

test('monitorArgs passes every option, health argv with = so leading dashes survive', (t) => {
  const a = monitorArgs({
    monitor: 'm', runtime: '/r', runtimeRoot: '/rr', id: 'i', bundle: '/b', statePath: '/s', logPath: '/l', socketPath: '/c', pidPath: '/p',
    logMaxSize: 10, logMaxFiles: 2, tty: true, restart: 'on-failure:3', stopSignal: 'SIGINT', stopTimeoutMs: 1500.4,
    health: { argv: ['sh', '-c', 'x'], intervalMs: 1000, timeoutMs: 2000, retries: 3, startPeriodMs: 5000, startIntervalMs: 100 },
  });
  t.deepEqual(a, ['--runtime', '/r', '--runtime-root', '/rr', '--id', 'i', '--bundle', '/b', '--state', '/s', '--log', '/l', '--socket', '/c',
    '--pid-file', '/p', '--log-max-size', '10', '--log-max-files', '2', '--tty', '--restart', 'on-failure:3', '--stop-signal', 'SIGINT', '--stop-timeout', '1500',
    '--health-cmd=sh', '--health-cmd=-c', '--health-cmd=x', '--health-interval', '1000', '--health-timeout', '2000', '--health-retries', '3',
    '--health-start-period', '5000', '--health-start-interval', '100']);
});

test('readRawStats reads cgroup v2 and v1 files (usage minus inactive file cache, "max" = no limit)', async (t) => {
  const { readRawStats, cgroupPids } = await import('../../src/engine/runtime/cgroup-stats.js');
  const d = makeTemp();
  t.teardown(() => rmTemp(d));
  const v2 = join(d, 'v2');
  mkdirSync(v2);
  writeFileSync(join(v2, 'memory.current'), '10485760\n');
  writeFileSync(join(v2, 'memory.stat'), 'anon 1\ninactive_file 2097152\nactive_file 5\n');
  writeFileSync(join(v2, 'memory.max'), 'max\n');
  writeFileSync(join(v2, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\n');
  writeFileSync(join(v2, 'pids.current'), '3\n');
  writeFileSync(join(v2, 'cgroup.procs'), '7\n5\n');
  t.deepEqual(readRawStats({ v1: {}, v2 }), { cpuNs: 1500000, memoryUsage: 8388608, memoryLimit: undefined, pids: 3 });
  t.deepEqual(cgroupPids({ v1: {}, v2 }), [5, 7]);
  writeFileSync(join(v2, 'memory.max'), '67108864\n');
  t.is(readRawStats({ v1: {}, v2 }).memoryLimit, 67108864);

  const mem = join(d, 'memory'), acct = join(d, 'cpuacct'), pids = join(d, 'pids');
  for (const x of [mem, acct, pids]) mkdirSync(x);
  writeFileSync(join(mem, 'memory.usage_in_bytes'), '5000\n');
  writeFileSync(join(mem, 'memory.stat'), 'cache 10\ntotal_inactive_file 1000\n');
  writeFileSync(join(mem, 'memory.limit_in_bytes'), '9223372036854771712\n');
  writeFileSync(join(acct, 'cpuacct.usage'), '123456\n');
  writeFileSync(join(pids, 'pids.current'), '2\n');
  t.deepEqual(readRawStats({ v1: { memory: mem, cpuacct: acct, pids } }), { cpuNs: 123456, memoryUsage: 4000, memoryLimit: undefined, pids: 2 });
});

// copyAt gives the copy the container user's ownership (fchown), which needs root.
needs('root')('copyAt never writes through a symlink the container made', async (t) => {
  const { copyAt } = await import('../../src/engine/runtime/in-root.js');
  const { readFileSync, lstatSync } = await import('node:fs');
  const d = makeTemp();
  t.teardown(() => rmTemp(d));
  const root = join(d, 'root'), outside = join(d, 'outside'), src = join(d, 'src');
  mkdirSync(root); mkdirSync(outside); mkdirSync(join(src, 'app'), { recursive: true });
  writeFileSync(join(outside, 'victim'), 'host data\n');
  symlinkSync(outside, join(root, 'app'));            // a directory link pointing at the host
  symlinkSync(join(outside, 'victim'), join(root, 'f')); // a file link pointing at the host
  writeFileSync(join(src, 'app', 'victim'), 'from copy\n');
  writeFileSync(join(src, 'f'), 'replaced\n');
  // a directory never replaces a link (docker cp: "cannot overwrite non-directory")
  t.throws(() => copyAt(root, 'c', '/app', '/app', join(src, 'app'), 'in'), { message: /not a directory/ });
  copyAt(root, 'c', '/f', '/f', join(src, 'f'), 'in');
  t.is(readFileSync(join(outside, 'victim'), 'utf8'), 'host data\n', 'the host file is untouched');
  t.false(lstatSync(join(root, 'f')).isSymbolicLink());
  t.is(readFileSync(join(root, 'f'), 'utf8'), 'replaced\n');
  // into the directory the absolute link names inside the root, when it exists there
  mkdirSync(join(root, outside), { recursive: true });
  copyAt(root, 'c', '/app/', '/app/', join(src, 'app', 'victim'), 'in');
  t.is(readFileSync(join(root, outside, 'victim'), 'utf8'), 'from copy\n');
  t.is(readFileSync(join(outside, 'victim'), 'utf8'), 'host data\n');
});
