// Starting a short-lived helper without fork()ing Node. child_process.spawn forks the whole Node
// process: the kernel copies its page tables (tens of MB mapped), 5–20 ms in which the one JavaScript
// thread waits, once per container that `up` starts. glibc's posix_spawn clones with CLONE_VM|CLONE_VFORK
// instead: the child runs in our memory until it execs, in a fraction of a millisecond whatever Node's size.
//
// Only for what tsstack-monitor needs: argv, the environment, stdin /dev/null, stdout and stderr
// together into one pipe read from the event loop, every signal back to its default and none blocked
// (Node ignores SIGPIPE; an ignored signal survives exec). The result is the output and, when it could
// be reaped, the exit code. Anything this cannot do (no koffi, a libc without posix_spawn) falls back to
// child_process.spawn.

import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import koffi from 'koffi';

export interface LightResult {
  /** undefined when someone else reaped the child (its output tells what happened). */
  code: number | undefined;
  output: string;
}

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const WNOHANG = 1;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
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
    };
  } catch {
    lib = null;
  }
  return lib;
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
  // glibc's opaque structs, with room to spare (80, 336 and 128 bytes on x86-64 and arm64)
  const fa = Buffer.alloc(256), attr = Buffer.alloc(1024), none = Buffer.alloc(256), all = Buffer.alloc(256), pidBuf = Buffer.alloc(8);
  let rc: number;
  try {
    c.faInit(fa);
    c.attrInit(attr);
    try {
      c.faOpen(fa, 0, '/dev/null', O_RDONLY, 0);
      c.faDup2(fa, w, 1);
      c.faDup2(fa, w, 2);
      c.sigemptyset(none);
      // every signal but SIGKILL and SIGSTOP, as raw bits (signal n = bit n-1): sigfillset leaves out glibc's
      // own two (32, 33), which the child would then keep ignored as Node's threads do
      all.writeBigUInt64LE(~((1n << BigInt(SIGKILL - 1)) | (1n << BigInt(SIGSTOP - 1))) & 0xffffffffffffffffn, 0);
      c.attrSigmask(attr, none);
      c.attrSigdefault(attr, all);
      c.attrFlags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
      const env = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
      rc = await new Promise<number>((ok, fail) => c.posixSpawn.async(pidBuf, file, fa, attr, [file, ...args, null], [...env, null], (e, n) => (e ? fail(e) : ok(n))));
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
  const pid = pidBuf.readInt32LE(0);
  return new Promise((resolve) => {
    // a socket over the pipe: read from the event loop, not a thread-pool read held until EOF
    const s = new Socket({ fd: r, readable: true, writable: false });
    let output = '';
    s.on('data', (d: Buffer) => { output += d.toString(); });
    const done = () => reap(c, pid).then((code) => resolve({ code, output }));
    s.on('error', () => { s.destroy(); });
    s.on('close', done);
  });
}

/** Waits for `pid` without blocking (it exits right after closing its output); undefined if it was reaped elsewhere. */
async function reap(c: Spawn, pid: number): Promise<number | undefined> {
  const status = Buffer.alloc(4);
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const got = c.waitpid(pid, status, WNOHANG);
    if (got === pid) {
      const st = status.readInt32LE(0);
      return (st & 0x7f) === 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
    }
    if (got < 0) return undefined; // ECHILD: not ours any more
    await new Promise((res) => setTimeout(res, wait));
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
