// light-spawn.ts: how tsstack-monitor is started without forking Node (posix_spawn over FFI). What the
// child must get as from child_process.spawn: its argv and environment, stdin /dev/null, stdout and
// stderr in the output, its exit code, no signal ignored or blocked (Node ignores SIGPIPE); a missing
// binary is a rejection with spawn's error code.

import test from 'ava';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCode, runLight, spawnDaemon } from '../../src/engine/runtime/light-spawn.js';

test('argv, environment, stdin, output and exit code', async (t) => {
  process.env.TSSTACK_LIGHT_SPAWN_TEST = 'x y';
  const r = await runLight('/bin/sh', ['-c', 'echo "$0|$1|$TSSTACK_LIGHT_SPAWN_TEST"; echo err >&2; cat; exit 7', 'a b', 'c']);
  delete process.env.TSSTACK_LIGHT_SPAWN_TEST;
  t.is(r.code, 7);
  t.is(r.output, 'a b|c|x y\nerr\n');
});

// The child's environment is what process.env says in the tick of the spawn, whole: a variable added,
// changed or deleted since the process started included, nothing more (as child_process.spawn gives).
test('the environment is process.env as it is at the spawn, whole', async (t) => {
  process.env.TSSTACK_LIGHT_SPAWN_ADDED = 'added';
  process.env.TSSTACK_LIGHT_SPAWN_GONE = 'gone';
  delete process.env.TSSTACK_LIGHT_SPAWN_GONE;
  const home = process.env.HOME;
  process.env.HOME = '/changed home';
  try {
    const want = { ...process.env }; // (the other tests change it too: taken in the tick that spawns)
    const r = await runLight('/usr/bin/env', ['-0']);
    t.is(r.code, 0);
    const got = Object.fromEntries(r.output.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    t.deepEqual(got, want);
    t.is(got.TSSTACK_LIGHT_SPAWN_ADDED, 'added');
    t.false('TSSTACK_LIGHT_SPAWN_GONE' in got);
    t.is(got.HOME, '/changed home');
  } finally {
    delete process.env.TSSTACK_LIGHT_SPAWN_ADDED;
    if (home === undefined) delete process.env.HOME;
    else process.env.HOME = home;
  }
});

test('no signal ignored or blocked in the child, although Node ignores SIGPIPE', async (t) => {
  const r = await runLight('/bin/sh', ['-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status']);
  t.is(r.code, 0);
  t.regex(r.output, /SigBlk:\s+0+\n/);
  t.regex(r.output, /SigIgn:\s+0+\n/);
});

test('a binary that is not there is a rejection (ENOENT); many at once each get their own output', async (t) => {
  const e = await t.throwsAsync(runLight('/nonexistent/tsstack-monitor', []));
  t.is((e as NodeJS.ErrnoException).code, 'ENOENT');
  const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => runLight('/bin/echo', [String(i)])));
  t.deepEqual(rs.map((r) => r.output.trim()), Array.from({ length: 16 }, (_, i) => String(i)));
});

// koffi refuses a 257th asynchronous call in flight ("Too many asynchronous calls are running"): an
// `up --parallel 1000` of 300 services lost 88 creates so. Here 600 at once, each run.
test('600 spawns at once: every one runs', async (t) => {
  const rs = await Promise.all(Array.from({ length: 600 }, (_, i) => runLight('/bin/echo', [String(i)])));
  t.deepEqual(rs.map((r) => r.code), rs.map(() => 0));
  t.deepEqual(rs.map((r) => r.output), rs.map((_, i) => `${i}\n`));
});

// serial, as the daemons' tests: each counts the SIGCHLD listeners of this process
test.serial('a child that writes more than a pipe holds before it ends is drained, not stuck; nothing is left listening', async (t) => {
  const r = await runLight('/bin/sh', ['-c', 'head -c 200000 /dev/zero | tr "\\0" x; exit 3']);
  t.is(r.code, 3);
  t.is(r.output.length, 200000);
  t.is(process.listenerCount('SIGCHLD'), 0);
});

// The DNS server's start (dns/service.ts): as child_process.spawn with detached: true, cwd '/' and its
// output to a log, without loading child_process or forking Node.
test.serial('a daemon: its own session, in /, stdin /dev/null, output appended to the log, no signal ignored; its exit code once it ends', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-daemon-'));
  try {
    const logPath = join(dir, 'log');
    const log = openSync(logPath, 'a', 0o600);
    let pid: number;
    try {
      pid = spawnDaemon('/bin/sh', ['-c', 'echo "sid=$(cut -d" " -f6 /proc/$$/stat) pid=$$ cwd=$(pwd)"; grep -E "^SigIgn" /proc/self/status; cat; echo err >&2; read x < /dev/stdin; sleep 0.3; exit 5'], log);
    } finally {
      closeSync(log);
    }
    t.is(exitCode(pid), undefined, 'running');
    for (let i = 0; i < 200 && exitCode(pid) === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    t.is(exitCode(pid), 5);
    t.is(process.listenerCount('SIGCHLD'), 0, 'its listener went once its end was seen');
    const out = readFileSync(logPath, 'utf8');
    t.regex(out, new RegExp(`^sid=${pid} pid=${pid} cwd=/\n`), 'a session of its own, in /');
    t.regex(out, /SigIgn:\s+0+\n/);
    t.regex(out, /err\n$/);
    const e = t.throws(() => spawnDaemon('/nonexistent/tsstack-dns', [], 2));
    t.is((e as NodeJS.ErrnoException).code, 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('a daemon that ends while this process runs is reaped at its SIGCHLD: no zombie left, its code kept', async (t) => {
  const pid = spawnDaemon('/bin/sh', ['-c', 'exit 7'], 2);
  // nothing here asks exitCode(): only the SIGCHLD listener can reap it
  const gone = () => !existsSync(`/proc/${pid}`);
  for (let i = 0; i < 300 && !gone(); i++) await new Promise((r) => setTimeout(r, 10));
  t.true(gone(), existsSync(`/proc/${pid}/stat`) ? `still there: ${readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]} (Z: a zombie)` : 'still there');
  t.is(exitCode(pid), 7);
  t.is(process.listenerCount('SIGCHLD'), 0, 'the listener went with it');
});
