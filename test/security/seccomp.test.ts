// A hostile container against the default seccomp profile, on real containers under each runtime: the
// calls Docker's default refuses (the kernel keyring, which is not namespaced; mount, unshare, setns,
// bpf, perf_event_open, open_by_handle_at, odd personalities, AF_VSOCK, the i386 ABI's keyctl) fail
// with EPERM, clone3 with ENOSYS, while threads and busybox work. `seccomp=unconfined`, a privileged
// container, cap_add and a custom profile each change that as in Docker. A tiny static C probe makes
// the calls busybox cannot; it is bind-mounted read-only into the container.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerCreateSpec } from '../../src/engine/api.js';
import { buildRunSpec, buildRuntime, runContainer } from '../../src/engine/image/build/run-step.js';
import type { Containers } from '../../src/engine/runtime/containers.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { mountsUnder, runtimes } from '../engine-runtime/helpers.js';
import { containerKit, leftovers, plainSpec, runToEnd } from '../engine-runtime/kit.js';
import { skipWhen, noneHere } from '../helpers/skip.js';

const { engine, base } = containerKit('tsstack-seccomp-');

const PROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *thread_main(void *arg) { return arg; }

/* the i386 ABI from a 64-bit process: seccomp sees AUDIT_ARCH_I386 and i386 numbers */
static long i386_call(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  if (ret < 0) errno = (int)-ret;
  return ret;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *n = argv[i];
    long rc = -1;
    errno = 0;
    if (!strcmp(n, "keyctl")) rc = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -2 /* process keyring */, 1);
    else if (!strcmp(n, "add_key")) rc = syscall(SYS_add_key, "user", "tsstack-probe", "x", 1, -2);
    else if (!strcmp(n, "unshare")) rc = unshare(0);
    else if (!strcmp(n, "mount")) rc = mount("none", "/nonexistent-target", "tmpfs", 0, NULL);
    else if (!strcmp(n, "setns")) rc = setns(-1, 0);
    else if (!strcmp(n, "bpf")) rc = syscall(SYS_bpf, 9999, NULL, 0);
    else if (!strcmp(n, "perf_event_open")) rc = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    else if (!strcmp(n, "open_by_handle_at")) rc = syscall(SYS_open_by_handle_at, -1, NULL, 0);
    else if (!strcmp(n, "clone3")) rc = syscall(SYS_clone3, NULL, 0);
    else if (!strcmp(n, "clone_newns")) rc = syscall(SYS_clone, CLONE_NEWNS | 17 /* SIGCHLD */, NULL, NULL, NULL, 0);
    else if (!strcmp(n, "fchmodat2")) rc = syscall(452, -1, "x", 0, 0); /* Linux 6.6, newer than some C headers */
    else if (!strcmp(n, "vsock")) rc = socket(40 /* AF_VSOCK */, SOCK_STREAM, 0);
    else if (!strcmp(n, "personality")) rc = personality(0x0040000 /* ADDR_NO_RANDOMIZE */);
    else if (!strcmp(n, "thread")) {
      pthread_t th;
      void *out = NULL;
      int e = pthread_create(&th, NULL, thread_main, (void *)n);
      if (e == 0) e = pthread_join(th, &out);
      errno = e;
      rc = e == 0 && out == n ? 0 : -1;
    } else if (!strcmp(n, "i386_getpid")) rc = i386_call(20, 0, 0, 0);
    else if (!strcmp(n, "i386_keyctl")) rc = i386_call(288, 0, -2, 1);
    /* the x32 ABI: x86_64's entry with bit 30 in the number (ENOSYS from a kernel built without it) */
    else if (!strcmp(n, "x32_getpid")) rc = syscall(0x40000000 | 39);
    else if (!strcmp(n, "x32_keyctl")) rc = syscall(0x40000000 | 250, 0, -2, 1);
    else { printf("%s=unknown-probe\n", n); continue; }
    if (rc == 0 && !strcmp(n, "clone_newns")) _exit(0); /* the child of an allowed clone */
    printf("%s=%s\n", n, rc >= 0 ? "OK" : strerrorname_np(errno));
    fflush(stdout);
  }
  return 0;
}
`;

/** The probe binary in a directory of its own (mounted at /probe), or why there is none. */
function buildProbe(): string | { skip: string } {
  if (process.arch !== 'x64') return { skip: 'the probe uses the i386 ABI of x86_64' };
  const dir = join(base, 'probe');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'probe.c'), PROBE_C);
  try {
    execFileSync('gcc', ['-static', '-O1', '-pthread', '-o', join(dir, 'probe'), join(dir, 'probe.c')], { stdio: 'pipe' });
  } catch (e) {
    return { skip: `cannot build a static C probe: ${(e as Error).message.split('\n')[0]}` };
  }
  return dir;
}

const probeDir = existsSync(base) ? buildProbe() : { skip: 'no temp dir' };
const CALLS = ['keyctl', 'add_key', 'unshare', 'mount', 'setns', 'bpf', 'perf_event_open', 'open_by_handle_at', 'clone3', 'clone_newns', 'fchmodat2', 'vsock', 'thread', 'personality', 'x32_getpid', 'x32_keyctl', 'i386_getpid', 'i386_keyctl'];

/** Runs the probe (after printing the Seccomp mode of /proc/self/status) in a container made with `extra`. */
async function probe(c: Containers, name: string, extra: Partial<ContainerCreateSpec> = {}): Promise<Record<string, string>> {
  const dir = probeDir as string;
  const script = `grep "^Seccomp:" /proc/self/status | tr -d "\\t "; echo sh-pipe-$(echo ok | tr a-z A-Z); /probe/probe ${CALLS.join(' ')}`;
  const r = await runToEnd(c, plainSpec(name, ['sh', '-c', script], { ...extra, mounts: [{ type: 'bind', source: dir, target: '/probe', readOnly: true }] }));
  await c.remove(r.id);
  const out: Record<string, string> = { exit: String(r.code), ...Object.fromEntries(r.out.map((l) => l.split(/[=:]/, 2) as [string, string])) };
  out.leftovers = leftovers(c, r.id).join(',');
  return out;
}

/** What the kernel answers these probe calls in a container with Docker's default capabilities and no filter. */
const KERNEL_ONLY = {
  keyctl: 'OK', add_key: 'OK', unshare: 'OK', mount: 'ENOENT', setns: 'EBADF', bpf: 'EINVAL', perf_event_open: 'EFAULT', clone3: 'EINVAL', personality: 'OK',
};

noneHere(runtimes(), 'seccomp in real containers', 'runtime');
for (const rt of runtimes()) {
  const t0 = skipWhen(typeof probeDir !== 'string' && probeDir.skip, undefined).serial;

  t0(`${rt}: the default profile refuses the host-reaching calls with EPERM (clone3 ENOSYS); threads, fork and busybox work`, async (t) => {
    const { c } = engine(t, rt);
    const r = await probe(c, 'default');
    t.like(r, {
      exit: '0', Seccomp: '2', leftovers: '',
      keyctl: 'EPERM', add_key: 'EPERM', unshare: 'EPERM', mount: 'EPERM', setns: 'EPERM', bpf: 'EPERM', perf_event_open: 'EPERM', open_by_handle_at: 'EPERM',
      clone3: 'ENOSYS', clone_newns: 'EPERM', vsock: 'EPERM', personality: 'EPERM', thread: 'OK', i386_getpid: 'OK', i386_keyctl: 'EPERM',
    });
    t.true('sh-pipe-OK' in r, JSON.stringify(r));
    t.is(r.x32_keyctl, 'EPERM');
    t.true(['OK', 'ENOSYS'].includes(r.x32_getpid!), r.x32_getpid);
    // a call newer than the runtime's C headers is allowed by name (tsstack-runtime), or ENOSYS (runc's libseccomp
    // may not know it): never EPERM, which would stop the C library from falling back to an older call
    t.true(rt === 'tsstack-runtime' ? r.fchmodat2 === 'EBADF' : ['EBADF', 'ENOSYS'].includes(r.fchmodat2!), r.fchmodat2);
  });

  t0(`${rt}: seccomp=unconfined: the same calls reach the kernel`, async (t) => {
    const { c } = engine(t, rt);
    const r = await probe(c, 'unconfined', { seccomp: 'unconfined' });
    t.like(r, { exit: '0', Seccomp: '0', ...KERNEL_ONLY, thread: 'OK', i386_keyctl: 'OK', leftovers: '' });
    t.true(['OK', 'ENOSYS'].includes(r.x32_keyctl!), r.x32_keyctl);
    t.like(await probe(c, 'beside'), { Seccomp: '2', keyctl: 'EPERM' }, 'what unconfined drops');
    t.not(r.vsock, 'EPERM');
  });

  t0(`${rt}: privileged runs unconfined, as in Docker`, async (t) => {
    const { c } = engine(t, rt);
    const r = await probe(c, 'privileged', { privileged: true });
    t.like(r, { exit: '0', Seccomp: '0', keyctl: 'OK', unshare: 'OK', mount: 'ENOENT', i386_keyctl: 'OK', leftovers: '' });
    t.like(await probe(c, 'beside'), { Seccomp: '2', unshare: 'EPERM' }, 'a container that is not privileged is confined');
  });

  t0(`${rt}: cap_add opens the calls Docker ties to the capability (SYS_ADMIN: mount, unshare, setns, clone flags, clone3; DAC_READ_SEARCH: open_by_handle_at)`, async (t) => {
    const { c } = engine(t, rt);
    const admin = await probe(c, 'sys-admin', { capAdd: ['SYS_ADMIN'] });
    t.like(admin, { exit: '0', Seccomp: '2', unshare: 'OK', mount: 'ENOENT', setns: 'EBADF', clone3: 'EINVAL', bpf: 'EINVAL', keyctl: 'EPERM', thread: 'OK', leftovers: '' });
    t.not(admin.clone_newns, 'EPERM');
    const dac = await probe(c, 'dac-read-search', { capAdd: ['DAC_READ_SEARCH'] });
    t.like(dac, { exit: '0', open_by_handle_at: 'EFAULT', mount: 'EPERM', leftovers: '' });
  });

  t0(`${rt}: a custom profile replaces the default (here: everything allowed but mkdir); an ABI it does not list is killed`, async (t) => {
    const { c, dir } = engine(t, rt);
    const profile = join(dir, 'no-mkdir.json');
    writeFileSync(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const r = await probe(c, 'custom', { seccomp: profile });
    // the i386 ABI is not in the profile: its first call is SIGSYS (128 + 31), not a way around the deny list
    t.like(r, { exit: '159', Seccomp: '2', ...KERNEL_ONLY, leftovers: '' });
    t.false('i386_getpid' in r, JSON.stringify(r));
    const mk = await runToEnd(c, plainSpec('custom-mkdir', ['sh', '-c', 'mkdir /tmp/x 2>&1 || echo refused'], { seccomp: profile }));
    t.regex(mk.out.join('\n'), /Operation not permitted[\s\S]*refused/);
    await c.remove(mk.id);
  });
}

skipWhen(typeof probeDir !== 'string' && probeDir.skip, undefined).serial('a build\'s RUN step runs under the default profile too', async (t) => {
  const dir = join(base, 'run-step');
  const rootfs = makeBusyboxRootfs(join(dir, 'rootfs'));
  mkdirSync(join(dir, 'bundle'), { recursive: true });
  const spec = buildRunSpec({
    rootfs, args: ['/bin/sh', '-c', 'grep "^Seccomp:" /proc/self/status | tr -d "\\t "; /probe keyctl unshare thread'], env: ['PATH=/bin'], cwd: '/',
    uid: 0, gid: 0, additionalGids: [], home: '/root', binds: [{ source: join(probeDir as string, 'probe'), target: '/probe' }], network: 'new',
  });
  const r = await runContainer(buildRuntime(), 'seccomp-run-step', join(dir, 'bundle'), join(dir, 'state'), spec);
  t.is(r.exitCode, 0, r.output);
  t.deepEqual(r.output.trim().split('\n'), ['Seccomp:2', 'keyctl=EPERM', 'unshare=EPERM', 'thread=OK']);
  t.deepEqual(mountsUnder(dir), []);
});
