// Starting a short-lived helper without fork()ing Node. child_process.spawn forks the whole Node
// process: the kernel copies its page tables (tens of MB mapped), 5–20 ms in which the one JavaScript
// thread waits, once per container that `up` starts. glibc's posix_spawn clones with CLONE_VM|CLONE_VFORK
// instead: the child runs in our memory until it execs, in a fraction of a millisecond whatever Node's size.
//
// Only for what tsstack-monitor needs: argv, the environment, stdin /dev/null, stdout and stderr
// together into one pipe, every signal back to its default and none blocked (Node ignores SIGPIPE; an
// ignored signal survives exec). The result is the output and, when it could be reaped, the exit code.
// The DNS server is started the same way as a daemon (spawnDaemon): its own session, output to its log,
// reaped at its SIGCHLD if it ends before this process does.
// Anything this cannot do (no koffi, a libc without posix_spawn) falls back to child_process.spawn.
//
// The end is learnt from SIGCHLD (one listener for every child waited for, and a look every 50 ms in
// case a signal was merged with another's), the output read from the pipe without blocking then: a
// monitor prints one short line and exits. A net.Socket over each pipe cost ~1 ms of the JavaScript
// thread per monitor (and the first one loaded node:net and streams, ~4 ms of a `run --rm`). A child
// that writes more than the pipe holds is drained at each look, so it is slowed down, never stuck.

import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import koffi from 'koffi';
import { ffiAsync } from '../../util/ffi-async.js';

export interface LightResult {
  /** undefined when someone else reaped the child (its output tells what happened). */
  code: number | undefined;
  output: string;
}

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
/** How often the children waited for are looked at when no SIGCHLD came. */
const LOOK_MS = 50;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const SIGKILL = 9;
const SIGSTOP = 19;

interface Spawn {
  pipe2(fds: Buffer, flags: number): number;
  faInit(fa: Buffer): number;
  faDup2(fa: Buffer, fd: number, to: number): number;
  faOpen(fa: Buffer, fd: number, path: string, oflag: number, mode: number): number;
  faDestroy(fa: Buffer): number;
  attrInit(a: Buffer): number;
  attrFlags(a: Buffer, flags: number): number;
  attrSigmask(a: Buffer, set: Buffer): number;
  attrSigdefault(a: Buffer, set: Buffer): number;
  attrDestroy(a: Buffer): number;
  sigemptyset(set: Buffer): number;
  posixSpawn: ((pid: Buffer, path: string, fa: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]) => number) & {
    async(pid: Buffer, path: string, fa: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[], cb: (err: unknown, rc: number) => void): void;
  };
  waitpid(pid: number, status: Buffer, options: number): number;
  fcntl(fd: number, cmd: number, ...rest: unknown[]): number;
  read(fd: number, buf: Buffer, n: number): number;
  faChdir?(fa: Buffer, path: string): number;
}

let lib: Spawn | null | undefined;
function libc(): Spawn | null {
  if (lib !== undefined) return lib;
  try {
    const l = koffi.load('libc.so.6');
    lib = {
      pipe2: l.func('int pipe2(void *fds, int flags)'),
      faInit: l.func('int posix_spawn_file_actions_init(void *fa)'),
      faDup2: l.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
      faOpen: l.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, unsigned int mode)'),
      faDestroy: l.func('int posix_spawn_file_actions_destroy(void *fa)'),
      attrInit: l.func('int posix_spawnattr_init(void *a)'),
      attrFlags: l.func('int posix_spawnattr_setflags(void *a, short flags)'),
      attrSigmask: l.func('int posix_spawnattr_setsigmask(void *a, void *set)'),
      attrSigdefault: l.func('int posix_spawnattr_setsigdefault(void *a, void *set)'),
      attrDestroy: l.func('int posix_spawnattr_destroy(void *a)'),
      sigemptyset: l.func('int sigemptyset(void *set)'),
      posixSpawn: l.func('int posix_spawn(void *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
      waitpid: l.func('int waitpid(int pid, void *status, int options)'),
      fcntl: l.func('int fcntl(int fd, int cmd, ...)'),
      read: l.func('long read(int fd, void *buf, unsigned long n)'),
    };
    try { lib.faChdir = l.func('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)'); } catch { /* glibc before 2.29 */ }
  } catch {
    lib = null;
  }
  return lib;
}

/** glibc's opaque structs, with room to spare (80 and 336 bytes on x86-64 and arm64). */
function spawnParts(): { fa: Buffer; attr: Buffer } {
  return { fa: Buffer.alloc(256), attr: Buffer.alloc(1024) };
}

/**
 * What every child spawned here gets (on `fa` and `attr`, initialised): stdin /dev/null, stdout and stderr
 * to `out`, every signal at its default and none blocked, plus `flags`.
 */
function setUp(c: Spawn, fa: Buffer, attr: Buffer, out: number, flags: number): void {
  const none = Buffer.alloc(256), all = Buffer.alloc(256); // sigset_t: 128 bytes
  c.faOpen(fa, 0, '/dev/null', O_RDONLY, 0);
  c.faDup2(fa, out, 1);
  c.faDup2(fa, out, 2);
  c.sigemptyset(none);
  // every signal but SIGKILL and SIGSTOP, as raw bits (signal n = bit n-1): sigfillset leaves out glibc's
  // own two (32, 33), which the child would then keep ignored as Node's threads do
  all.writeBigUInt64LE(~((1n << BigInt(SIGKILL - 1)) | (1n << BigInt(SIGSTOP - 1))) & 0xffffffffffffffffn, 0);
  c.attrSigmask(attr, none);
  c.attrSigdefault(attr, all);
  c.attrFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | flags);
}

/** This process's environment as `envp`. */
function environ(): (string | null)[] {
  return [...Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])), null];
}

/**
 * Runs `file` with `args` to its exit; rejects (like spawn's 'error') when it cannot be started.
 * posix_spawn itself is called on libuv's thread pool (koffi's async call): the calling thread waits
 * in vfork until the child has exec'd, 1–4 ms of a loaded machine per monitor, which the one JavaScript
 * thread spends on the other containers of an `up` meanwhile. The child's signal mask and dispositions
 * are set explicitly (below), so the pool thread's (all blocked) do not reach it.
 */
export async function runLight(file: string, args: string[]): Promise<LightResult> {
  const c = libc();
  if (!c) return runForked(file, args);
  const fds = Buffer.alloc(8);
  if (c.pipe2(fds, O_CLOEXEC) !== 0) return runForked(file, args);
  const [r, w] = [fds.readInt32LE(0), fds.readInt32LE(4)];
  const { fa, attr } = spawnParts();
  const pidBuf = Buffer.alloc(8);
  let rc: number;
  try {
    c.faInit(fa);
    c.attrInit(attr);
    try {
      setUp(c, fa, attr, w, 0);
      rc = await ffiAsync<number>((done) => c.posixSpawn.async(pidBuf, file, fa, attr, [file, ...args, null], environ(), done));
    } finally {
      c.faDestroy(fa);
      c.attrDestroy(attr);
    }
  } finally {
    closeSync(w);
  }
  if (rc !== 0) {
    closeSync(r);
    const code = Object.entries(koffi.os.errno).find(([, v]) => v === rc)?.[0] ?? `errno ${rc}`;
    throw Object.assign(new Error(`spawn ${file} ${code}`), { code, errno: rc });
  }
  // our end only: the child's stdout stays as it expects. Were this refused, the pipe is read once the
  // child has ended (its writers closed), never while a read could block the thread
  const nonBlocking = c.fcntl(r, F_SETFL, 'int', O_NONBLOCK) === 0;
  return new Promise((resolve) => {
    const w: Waited = { pid: pidBuf.readInt32LE(0), fd: r, nonBlocking, chunks: [], resolve };
    waiting.add(w);
    if (waiting.size === 1) listen(true);
    look(c, w); // (it may have ended before it was waited for)
  });
}

/**
 * Starts `file` as a daemon: a session of its own (as `detached: true`), in `/`, stdin /dev/null and its
 * output appended to `logFd`, not waited for (exitCode() tells whether it ended). For the DNS server that
 * an `up` from nothing starts: child_process would load itself with node:net and node:dgram (~4 ms)
 * and fork the whole Node process (~3 ms more of the one JavaScript thread). Falls back to
 * child_process where posix_spawn cannot do it.
 */
export function spawnDaemon(file: string, args: string[], logFd: number): number {
  const c = libc();
  if (!c?.faChdir) return forkDaemon(file, args, logFd);
  const { fa, attr } = spawnParts();
  const pidBuf = Buffer.alloc(8);
  let rc: number;
  c.faInit(fa);
  c.attrInit(attr);
  watchDaemons(true); // before the spawn: a SIGCHLD that came before its handler would be lost
  try {
    setUp(c, fa, attr, logFd, POSIX_SPAWN_SETSID);
    c.faChdir(fa, '/');
    rc = c.posixSpawn(pidBuf, file, fa, attr, [file, ...args, null], environ());
  } finally {
    c.faDestroy(fa);
    c.attrDestroy(attr);
  }
  if (rc !== 0) {
    watchDaemons(false);
    const code = Object.entries(koffi.os.errno).find(([, v]) => v === rc)?.[0] ?? `errno ${rc}`;
    throw Object.assign(new Error(`spawn ${file} ${code}`), { code, errno: rc });
  }
  const pid = pidBuf.readInt32LE(0);
  ended.delete(pid); // a pid that ended before is this child's now
  daemons.add(pid); // (before the listener can run: it runs from the event loop)
  return pid;
}

/**
 * A daemon that ends while this process still runs (an `up --watch`, an attached `up`) is reaped at the
 * SIGCHLD of its end, not left a zombie until this process exits; its code stays for exitCode(). The
 * listener is there while a daemon of ours runs (a signal listener keeps no process alive: Node unrefs it).
 */
const daemons = new Set<number>();
const reapDaemons = () => { for (const pid of [...daemons]) exitCode(pid); };

let reaping = false;

/** `starting`: a spawn is about to be made (listen from now on); else: listen only while daemons run. */
function watchDaemons(starting: boolean): void {
  const want = starting || daemons.size > 0;
  if (want === reaping) return;
  reaping = want;
  if (want) process.on('SIGCHLD', reapDaemons);
  else process.off('SIGCHLD', reapDaemons);
}

/** The exit code of a child spawnDaemon started once it has ended (reaping it); undefined while it runs. */
export function exitCode(pid: number): number | undefined {
  const known = ended.get(pid);
  if (known !== undefined) return known;
  const c = libc();
  if (!c) return undefined;
  const status = Buffer.alloc(4);
  const got = c.waitpid(pid, status, WNOHANG);
  if (got === 0) return undefined;
  // got < 0: not ours to wait for (any more): gone
  const code = got < 0 ? -1 : statusCode(status.readInt32LE(0));
  ended.set(pid, code); // reaped: its pid may be another process's from now on
  if (daemons.delete(pid)) watchDaemons(false);
  return code;
}

/** The daemons seen to end (reaped here, or by child_process for the fallback's), with their codes. */
const ended = new Map<number, number>();

/** A wait status as a shell gives it: the exit code, or 128 + the signal that ended the process. */
function statusCode(st: number): number {
  return (st & 0x7f) === 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
}

function forkDaemon(file: string, args: string[], logFd: number): number {
  const child = spawn(file, args, { detached: true, cwd: '/', stdio: ['ignore', logFd, logFd] });
  child.unref();
  if (child.pid === undefined) throw Object.assign(new Error(`spawn ${file} failed`), { code: 'ENOENT' });
  const pid = child.pid;
  ended.delete(pid);
  child.on('error', () => { ended.set(pid, -1); });
  child.on('exit', (code) => { ended.set(pid, code ?? -1); });
  return pid;
}

interface Waited { pid: number; fd: number; nonBlocking: boolean; chunks: Buffer[]; resolve: (r: LightResult) => void }
const waiting = new Set<Waited>();
let timer: NodeJS.Timeout | undefined;

const lookAll = () => { const c = libc(); if (c) for (const w of [...waiting]) look(c, w); };

function listen(on: boolean): void {
  if (on) {
    process.on('SIGCHLD', lookAll);
    timer = setInterval(lookAll, LOOK_MS);
  } else {
    process.off('SIGCHLD', lookAll);
    clearInterval(timer);
    timer = undefined;
  }
}

/** Reads what `w`'s pipe holds and, once its child has ended (or another reaped it), settles it. */
function look(c: Spawn, w: Waited): void {
  if (w.nonBlocking) drain(c, w);
  const status = Buffer.alloc(4);
  const got = c.waitpid(w.pid, status, WNOHANG);
  if (got === 0) return;
  drain(c, w); // what it wrote last
  closeSync(w.fd);
  waiting.delete(w);
  if (!waiting.size) listen(false);
  // ECHILD (got < 0): reaped elsewhere, the code unknown
  const code = got < 0 ? undefined : statusCode(status.readInt32LE(0));
  w.resolve({ code, output: Buffer.concat(w.chunks).toString() });
}

/** One read buffer for every drain (they run on the one thread, never two at once). */
const scratch = Buffer.allocUnsafe(4096);

/**
 * Reads what the pipe holds now. read(2) through koffi, which returns its failure as a number: an empty
 * pipe (EAGAIN) made fs.readSync throw, and every SIGCHLD looks at each child still waited for (an
 * `up` of 20: ~200 looks at pipes with nothing new, ~25 us an exception).
 */
function drain(c: Spawn, w: Waited): void {
  const buf = scratch;
  for (;;) {
    const n = c.read(w.fd, buf, buf.length);
    if (n <= 0) return; // 0: its end closed; < 0: EAGAIN (nothing more for now), or EINTR: the next look
    w.chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}

function runForked(file: string, args: string[]): Promise<LightResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? undefined, output }));
  });
}
