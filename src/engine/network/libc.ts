// The few libc calls the network engine needs, over FFI (koffi). Loaded lazily
// and once per thread (worker threads load their own copy).

import koffi from 'koffi';

export const CLONE_NEWNET = 0x40000000;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

interface Libc {
  setns(fd: number, nstype: number): number;
  unshare(flags: number): number;
  mount(src: string | null, target: string, fstype: string | null, flags: number, data: null): number;
  umount2(target: string, flags: number): number;
  flock(fd: number, op: number): number;
  /** bpf(2), which libc does not wrap: syscall(SYS_bpf, cmd, attr, size). */
  bpf(nr: number, cmd: number, attr: Buffer, size: number): number;
  socket(domain: number, type: number, protocol: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  send: ((fd: number, buf: Buffer, len: number, flags: number) => number) & {
    /** send on libuv's thread pool (koffi's async call). */
    async(fd: number, buf: Buffer, len: number, flags: number, cb: (err: unknown, n: number) => void): void;
  };
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
  /** pthread_sigmask(2): `set` and `old` are sigset_t buffers (SIGSET_BYTES). */
  sigmask(how: number, set: Buffer | null, old: Buffer | null): number;
}

export const SIG_BLOCK = 0;
export const SIG_SETMASK = 2;
/** glibc's sigset_t. */
export const SIGSET_BYTES = 128;

let libc: Libc | undefined;

export function getLibc(): Libc {
  if (!libc) {
    const lib = koffi.load('libc.so.6');
    libc = {
      setns: lib.func('int setns(int fd, int nstype)'),
      unshare: lib.func('int unshare(int flags)'),
      mount: lib.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)'),
      umount2: lib.func('int umount2(const char *target, int flags)'),
      flock: lib.func('int flock(int fd, int op)'),
      // fixed arguments for the variadic syscall(): on x86-64 and arm64 integers and pointers pass the same way
      bpf: lib.func('long syscall(long nr, int cmd, void *attr, unsigned int size)'),
      socket: lib.func('int socket(int domain, int type, int protocol)'),
      getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
      setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
      send: lib.func('long send(int fd, const void *buf, size_t len, int flags)'),
      recv: lib.func('long recv(int fd, _Out_ void *buf, size_t len, int flags)'),
      close: lib.func('int close(int fd)'),
      sigmask: lib.func('int pthread_sigmask(int how, const void *set, _Out_ void *old)'),
    };
  }
  return libc;
}

/** Every signal (the kernel leaves SIGKILL and SIGSTOP out of any mask). */
const ALL_SIGNALS = Buffer.alloc(SIGSET_BYTES, 0xff);

/**
 * Runs `f` with this thread's signals held back, then lets them through as before: for a synchronous
 * call that a signal Node handles would otherwise break off (nftables' wait for its acknowledgements,
 * the BPF verifier, which gives up with EAGAIN when a signal is pending). A signal waits the few
 * milliseconds of the call. Where libc cannot be loaded (no glibc), `f` runs as it is.
 */
export function withSignalsHeld<T>(f: () => T): T {
  let c: Libc;
  try {
    c = getLibc();
  } catch {
    return f();
  }
  const old = Buffer.alloc(SIGSET_BYTES);
  if (c.sigmask(SIG_BLOCK, ALL_SIGNALS, old) !== 0) return f();
  try {
    return f();
  } finally {
    c.sigmask(SIG_SETMASK, old, null);
  }
}

/** Last errno as `ENAME (n)` for messages. */
export function lastErrno(): { errno: number; name: string } {
  const n = koffi.errno();
  const name = Object.entries(koffi.os.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;
  return { errno: n, name };
}

/** Throws an Error naming the call and errno when `rc < 0`. */
export function check(rc: number, what: string): number {
  if (rc < 0) {
    const e = lastErrno();
    const err = new Error(`${what}: ${e.name}`) as Error & { errno?: number; code?: string };
    err.errno = e.errno;
    err.code = e.name;
    throw err;
  }
  return rc;
}
