// A local unprivileged user against tsstack's locks (issue 12): flock(2) needs
// only an open file, so a lock file any user can open is one any user can hold
// for ever, hanging every later command. The user here is made by the test
// (useradd) and removed after it, even when it fails. Each case names its attack.
import test from 'ava';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolateNetwork } from '../cli/_netns.js';
import { canRun, E2E, leftovers, world } from '../cli/_world.js';
import { tsstackProc } from '../helpers/cli-process.js';
import { unsafeAncestor, unsafeOwnDir } from '../../src/engine/store/private-dir.js';
import { dnsServerDir } from '../../src/engine/dns/paths.js';

const PYTHON = '/usr/bin/python3';
const usable = canRun && existsSync(PYTHON) && existsSync('/usr/sbin/useradd') && existsSync('/usr/bin/setpriv');
const e2e = skipWhen(!usable, missing(...E2E) ?? `needs ${PYTHON}, useradd and setpriv`).serial;
if (usable) isolateNetwork();

const USER = `tsslock${process.pid % 100000}`;
let uid = -1;
let gid = -1;

test.before(() => {
  if (!usable) return;
  execFileSync('/usr/sbin/useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  uid = Number(execFileSync('id', ['-u', USER]).toString());
  gid = Number(execFileSync('id', ['-g', USER]).toString());
});

test.after.always(() => {
  if (uid >= 0) spawnSync('/usr/sbin/userdel', [USER]);
});

// What the user tries, one action per run: `open PATH` (read-only, as flock(1) does), `hold PATH`
// (open, creating if it can, flock, say "locked", keep it), `create PATH`, `rename FROM TO`, `symlink TARGET PATH`.
const ATTACKER = String.raw`
import fcntl, os, sys, time
act, path = sys.argv[1], sys.argv[2]
try:
    if act == 'open':
        os.close(os.open(path, os.O_RDONLY))
    elif act == 'hold':
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print('locked', flush=True)
        time.sleep(120)
    elif act == 'create':
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    elif act == 'rename':
        os.rename(path, sys.argv[3])
    elif act == 'symlink':
        os.symlink(path, sys.argv[3])
    print('ok', flush=True)
except OSError as e:
    print(e.strerror, flush=True)
    sys.exit(1)
`;
import { missing, skipWhen } from '../helpers/skip.js';

/** setpriv's arguments that run a command as the user. */
const asUser = (): string[] => ['--reuid', String(uid), '--regid', String(gid), '--clear-groups'];
const userArgv = (): string[] => [...asUser(), PYTHON, '-c', ATTACKER];

/** Runs one attack as the user; its output ("ok", or the error it met). */
function attack(...args: string[]): string {
  const r = spawnSync('setpriv', [...userArgv(), ...args], { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout}${r.stderr}`.trim();
}

/** Starts the user holding a flock on `path`; resolves once it holds it (or says why not). */
function hold(path: string, held: ChildProcess[]): Promise<string> {
  const child = spawn('setpriv', [...userArgv(), 'hold', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  held.push(child);
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('locked')) resolve('locked');
    });
    child.stderr!.on('data', (d) => { out += d; });
    child.on('exit', () => resolve(out.trim()));
  });
}

function release(held: ChildProcess[]): void {
  for (const c of held) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

const STACK = 'services:\n  app:\n    image: busybox:latest\n    command: ["sleep", "300"]\n';
const DENIED = /Permission denied/;

e2e('a local user can neither open, hold, replace nor plant the lock files of a running stack; commands go on', async (t) => {
  const w = world();
  chmodSync(w.base, 0o755); // mkdtemp's 0700 would stop the user before tsstack's own directories do
  const held: ChildProcess[] = [];
  const env = { TSSTACK_ROOT: w.root, TSSTACK_RUN_ROOT: join(w.root, 'run'), TSSTACK_PROJECT_NAME: undefined, TSSTACK_LOCK_TIMEOUT: '20' };
  const file = join(w.dir, 'stack.yaml');
  writeFileSync(file, STACK);
  const T = (...a: string[]) => tsstackProc(env, ['-f', file, '-p', 'sec', ...a], { cwd: w.dir, timeoutMs: 60_000 });
  try {
    await w.busybox();
    const up = await T('up', '-d');
    t.is(up.code, 0, up.err);
    const locks = join(w.root, 'locks');
    const dns = dnsServerDir(join(w.root, 'run')); // the server of this network namespace
    const targets = [join(locks, 'project-sec.lock'), join(locks, 'network.lock'), join(locks, 'images.lock'),
      join(dns, 'locks/dns.lock'), join(dns, 'pid')];
    for (const p of targets) {
      t.true(existsSync(p), `${p} exists`);
      t.regex(attack('open', p), DENIED, `the user cannot open ${p}`);
      t.regex(await hold(p, held), DENIED, `the user cannot hold ${p}`);
    }
    t.regex(attack('create', join(locks, 'project-other.lock')), DENIED, 'the user cannot plant a lock file');
    t.regex(attack('symlink', '/tmp', join(locks, 'project-other.lock')), DENIED, 'the user cannot plant a link');
    t.regex(attack('rename', join(locks, 'project-sec.lock'), join(w.base, 'stolen')), DENIED, 'the user cannot move the lock away');
    t.is(statSync(locks).mode & 0o777, 0o700);
    t.is(statSync(join(locks, 'project-sec.lock')).mode & 0o777, 0o600);
    const down = await T('down', '-v', '-t', '1');
    t.false(down.timedOut, 'down did not hang on the lock');
    t.is(down.code, 0, down.err);
  } finally {
    release(held);
    const d = await T('down', '-v', '-t', '1');
    if (d.code !== 0) t.log(`down: ${d.err}`);
    const left = leftovers(w.root);
    if (!left.length) w.dispose();
    t.deepEqual(left, [], 'nothing left behind');
  }
});

e2e('a lock directory planted by a local user (it owns a parent of the root) is refused with exit 8, never waited on', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-sec-'));
  chmodSync(base, 0o755);
  const evil = join(base, 'evil');
  mkdirSync(evil);
  chownSync(evil, uid, gid); // e.g. a root under the user's home
  const held: ChildProcess[] = [];
  try {
    t.is(spawnSync('setpriv', [...asUser(), 'mkdir', '-p', join(evil, 'root/locks')]).status, 0);
    t.is(await hold(join(evil, 'root/locks/project-sec.lock'), held), 'locked');
    const env = { TSSTACK_ROOT: join(evil, 'root'), TSSTACK_RUN_ROOT: join(evil, 'root/run'), TSSTACK_PROJECT_NAME: undefined };
    const r = await tsstackProc(env, ['-p', 'sec', 'down'], { cwd: base, timeoutMs: 20_000 });
    t.false(r.timedOut, 'down did not wait on the planted lock');
    t.is(r.code, 8, r.err);
    t.regex(r.err, new RegExp(`${evil}.* is owned by uid ${uid}`));
    t.regex(r.err, /parents are all owned by root|only root can change/, 'the hint says what to use instead');
  } finally {
    release(held);
    rmSync(base, { recursive: true, force: true });
  }
});

e2e('a lock directory another user owns or may write, in a safe root, is refused with exit 8, never waited on', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-sec-'));
  chmodSync(base, 0o755);
  const root = join(base, 'root');
  const locks = join(root, 'locks');
  mkdirSync(locks, { recursive: true });
  const held: ChildProcess[] = [];
  try {
    const env = { TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: join(base, 'run'), TSSTACK_PROJECT_NAME: undefined };
    for (const [how, why] of [['mode', /locks is writable by others \(mode 0777\)/], ['owner', new RegExp(`locks is owned by uid ${uid}`)]] as const) {
      if (how === 'mode') chmodSync(locks, 0o777); // an admin's mistake
      else { chmodSync(locks, 0o755); chownSync(locks, uid, gid); } // or a directory handed over
      chmodSync(root, 0o755); // as an older tsstack left it (the command before made it 0700)
      release(held);
      rmSync(join(locks, 'project-sec.lock'), { force: true });
      t.is(await hold(join(locks, 'project-sec.lock'), held), 'locked', `${how}: the user holds a lock file of its own there`);
      const r = await tsstackProc(env, ['-p', 'sec', 'down'], { cwd: base, timeoutMs: 20_000 });
      t.false(r.timedOut, `${how}: down did not wait on the user's lock`);
      t.is(r.code, 8, r.err);
      t.regex(r.err, why);
      t.regex(r.err, /remove .*locks \(it holds only lock files\)/);
    }
  } finally {
    release(held);
    rmSync(base, { recursive: true, force: true });
  }
});

e2e('a lock file an older tsstack left readable, held by a local user, is replaced: the command goes on', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'tsstack-sec-'));
  chmodSync(base, 0o755);
  const root = join(base, 'root');
  const locks = join(root, 'locks');
  mkdirSync(locks, { recursive: true, mode: 0o755 });
  chmodSync(locks, 0o755);
  const lock = join(locks, 'project-sec.lock');
  writeFileSync(lock, '', { mode: 0o644 });
  const held: ChildProcess[] = [];
  try {
    t.is(await hold(lock, held), 'locked', 'the user holds the old file');
    const env = { TSSTACK_ROOT: root, TSSTACK_RUN_ROOT: join(root, 'run'), TSSTACK_PROJECT_NAME: undefined, TSSTACK_LOCK_TIMEOUT: '10' };
    const r = await tsstackProc(env, ['-p', 'sec', 'down'], { cwd: base, timeoutMs: 30_000 });
    t.false(r.timedOut);
    t.is(r.code, 0, r.err);
    t.is(statSync(locks).mode & 0o777, 0o700, 'the lock directory is made private');
    t.is(statSync(lock).mode & 0o777, 0o600, 'the lock file is a new private one');
    t.regex(attack('open', lock), DENIED);
  } finally {
    release(held);
    rmSync(base, { recursive: true, force: true });
  }
});

const dir = (mode: number, uid = 0) => ({ uid, mode: 0o40000 | mode, isDirectory: () => true, isSymbolicLink: () => false });

test('lock directory rules: who may own and write it and its parents', (t) => {
  t.is(unsafeOwnDir(dir(0o700), 0), undefined);
  t.is(unsafeOwnDir(dir(0o755), 0), undefined, 'readable is tightened, not refused');
  t.regex(unsafeOwnDir(dir(0o770), 0)!, /writable by its group/);
  t.regex(unsafeOwnDir(dir(0o700, 1001), 0)!, /owned by uid 1001/);
  t.regex(unsafeOwnDir({ ...dir(0o777), isSymbolicLink: () => true, isDirectory: () => false }, 0)!, /symbolic link/);
  t.is(unsafeAncestor(dir(0o755), 0), undefined);
  t.is(unsafeAncestor(dir(0o1777), 0), undefined, '/tmp: sticky, others cannot move our entries');
  t.regex(unsafeAncestor(dir(0o777), 0)!, /writable by others/);
  t.regex(unsafeAncestor(dir(0o755, 1001), 0)!, /owned by uid 1001/);
});
