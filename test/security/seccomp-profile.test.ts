// Pure: the default seccomp profile → the OCI filter of one container (its capabilities, the host's
// architecture and kernel), Docker-format profiles' arch names, `seccomp=builtin`, RUN steps, and the
// config hash of a custom profile (its content, not only its path).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CAPS, buildRunStepSpec } from '../../src/engine/runtime/oci-spec.js';
import { DEFAULT_PROFILE } from '../../src/engine/runtime/seccomp-default.js';
import { defaultSeccomp, defaultSeccompToOci, dockerSeccompToOci, loadSeccompProfile, type SeccompHost } from '../../src/engine/runtime/seccomp-profile.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { appliedSecurityOpts } from '../../src/model/service.js';
import { svc as modelSvc } from '../reconcile/_model.js';

const securityOpts = (l: string[]) => appliedSecurityOpts(modelSvc({ security_opt: l }).security_opt);
import { model } from '../reconcile/_model.js';

type Rule = { names: string[]; action: string; errnoRet?: number; args?: { index: number; value: number; valueTwo?: number; op: string }[] };

const caps = [...DEFAULT_CAPS].sort();
const amd64: SeccompHost = { arch: 'SCMP_ARCH_X86_64', kernel: '6.18.0', caps };
const rules = (h: SeccompHost) => defaultSeccompToOci(h).syscalls as Rule[];
/** The calls allowed without argument conditions. */
const allowed = (h: SeccompHost) => new Set(rules(h).filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
const rulesFor = (h: SeccompHost, name: string) => rules(h).filter((r) => r.names.includes(name));

test('default profile, Docker\'s default capabilities on x86_64: EPERM by default, the i386 and x32 ABIs, the host-reaching calls absent', (t) => {
  const oci = defaultSeccompToOci(amd64);
  t.like(oci, { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1 });
  t.deepEqual(oci.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const ok = allowed(amd64);
  for (const c of ['read', 'write', 'futex', 'execve', 'rseq', 'io_setup', 'chroot', 'arch_prctl', 'modify_ldt', 'ptrace', 'process_vm_readv', 'chown32', 'socketcall']) t.true(ok.has(c), c);
  const named = new Set(rules(amd64).flatMap((r) => r.names));
  for (const c of ['keyctl', 'add_key', 'request_key', 'mount', 'umount2', 'unshare', 'setns', 'bpf', 'perf_event_open', 'open_by_handle_at', 'reboot', 'init_module', 'kexec_load',
    'syslog', 'settimeofday', 'kcmp', 'iopl', 'mbind', 'acct', 'vhangup', 'swapon', 'pivot_root', 'userfaultfd', 'io_uring_setup', 'arm_fadvise64_64']) t.false(named.has(c), c);
});

test('default profile: argument rules (clone without namespace flags, clone3 ENOSYS, personality values, socket families)', (t) => {
  t.deepEqual(rulesFor(amd64, 'clone'), [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ' }] }]);
  t.deepEqual(rulesFor(amd64, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  t.deepEqual(rulesFor(amd64, 'personality').map((r) => r.args), [0, 8, 0x20000, 0x20008, 0xffffffff].map((value) => [{ index: 0, value, op: 'SCMP_CMP_EQ' }]));
  t.deepEqual(rulesFor(amd64, 'socket').map((r) => r.args), [
    [{ index: 0, value: 38, op: 'SCMP_CMP_LT' }], [{ index: 0, value: 39, op: 'SCMP_CMP_EQ' }], [{ index: 0, value: 40, op: 'SCMP_CMP_GT' }],
  ]);
  // libseccomp (runc) keeps one test per argument: the profile never has two on the same one
  for (const r of DEFAULT_PROFILE) t.is(new Set((r.args ?? []).map((a) => a[0])).size, (r.args ?? []).length, r.calls.join(','));
});

test('default profile: cap_add opens what Docker ties to each capability', (t) => {
  const opens: Record<string, string[]> = {
    CAP_SYS_ADMIN: ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'perf_event_open', 'fsopen', 'open_tree', 'sethostname', 'syslog', 'quotactl', 'clone', 'clone3'],
    CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'ptrace'],
    CAP_SYS_MODULE: ['init_module', 'finit_module', 'delete_module'],
    CAP_SYS_TIME: ['settimeofday', 'clock_settime', 'stime'],
    CAP_SYS_BOOT: ['reboot'], CAP_SYSLOG: ['syslog'], CAP_BPF: ['bpf'], CAP_PERFMON: ['perf_event_open'], CAP_SYS_RAWIO: ['iopl', 'ioperm'],
    CAP_SYS_NICE: ['mbind', 'set_mempolicy'], CAP_SYS_PACCT: ['acct'], CAP_SYS_TTY_CONFIG: ['vhangup'], CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  };
  for (const [cap, calls] of Object.entries(opens)) {
    const ok = allowed({ ...amd64, caps: [...caps, cap] });
    for (const c of calls) t.true(ok.has(c), `${cap} opens ${c}`);
  }
  // with CAP_SYS_ADMIN clone and clone3 are plain allows: the flag test and the ENOSYS answer go
  const admin = { ...amd64, caps: [...caps, 'CAP_SYS_ADMIN'] };
  t.deepEqual(rulesFor(admin, 'clone3').map((r) => r.action), ['SCMP_ACT_ALLOW']);
  t.false(rulesFor(admin, 'clone').some((r) => r.args));
  // cap_drop closes what the capability opened: chroot goes with SYS_CHROOT (a default capability)
  t.false(allowed({ ...amd64, caps: caps.filter((c) => c !== 'CAP_SYS_CHROOT') }).has('chroot'));
});

test('default profile: kernel and architecture conditions', (t) => {
  t.false(allowed({ ...amd64, kernel: '4.4.0' }).has('ptrace'), 'before 4.8 ptrace could bypass seccomp');
  const arm64: SeccompHost = { arch: 'SCMP_ARCH_AARCH64', kernel: '6.1.0', caps };
  t.deepEqual(defaultSeccompToOci(arm64).architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  const ok = allowed(arm64);
  for (const c of ['arm_fadvise64_64', 'set_tls', 'cacheflush']) t.true(ok.has(c), c);
  for (const c of ['arch_prctl', 'modify_ldt']) t.false(ok.has(c), c);
  t.true(allowed(amd64).has('arch_prctl'));
});

test('Docker-format profiles: includes/excludes arches in libseccomp\'s short names (amd64, arm64), excludes.minKernel', (t) => {
  const profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } },
      { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm', 'arm64'] } },
      { names: ['getpid'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      { names: ['old_call'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.0' } },
    ],
  };
  t.deepEqual((dockerSeccompToOci(profile, amd64, '/p.json').syscalls as Rule[]).map((r) => r.names[0]), ['arch_prctl']);
  t.deepEqual((dockerSeccompToOci(profile, { arch: 'SCMP_ARCH_AARCH64', kernel: '4.19', caps }, '/p.json').syscalls as Rule[]).map((r) => r.names[0]), ['set_tls', 'getpid', 'old_call']);
});

test('RUN steps get the default profile for Docker\'s default capabilities', (t) => {
  const spec = buildRunStepSpec({ rootfs: '/b/rootfs', args: ['/bin/sh', '-c', 'true'], env: [], user: { uid: 0, gid: 0, additionalGids: [], home: '/root' } }) as any;
  t.deepEqual(spec.linux.seccomp, defaultSeccomp(caps));
  t.is(spec.linux.seccomp.defaultAction, 'SCMP_ACT_ERRNO');
});

test('security_opt seccomp=builtin is the default profile (the last entry wins)', (t) => {
  t.deepEqual(securityOpts(['seccomp=unconfined', 'seccomp=builtin']), {});
  t.deepEqual(securityOpts(['seccomp=builtin', 'seccomp=unconfined']), { seccomp: 'unconfined' });
});

test('a custom profile\'s content is part of the config hash: editing the file recreates; the default profile is not hashed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-seccomp-hash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'p.json');
  const hash = (opts: string[]) => desiredState(model('p', { web: { image: 'busybox', security_opt: opts } }), {}).services.web!.containers[0]!.hash;
  writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
  const first = hash([`seccomp=${file}`]);
  t.is(hash([`seccomp=${file}`]), first);
  writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }));
  t.not(hash([`seccomp=${file}`]), first);
  t.is(hash([]), hash(['seccomp=builtin']), 'builtin is the default');
  t.is(hash([]), desiredState(model('p', { web: { image: 'busybox' } }), {}).services.web!.containers[0]!.hash);
});

test('a hostile profile path (a device, a FIFO, a huge file) is refused at once, naming the file, never read to the end', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-seccomp-path-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo'), big = join(dir, 'big.json');
  execFileSync('mkfifo', [fifo]);
  writeFileSync(big, Buffer.alloc((1 << 20) + 1, 0x20));
  t.throws(() => loadSeccompProfile('/dev/zero', caps), { message: 'seccomp profile /dev/zero cannot be read: it is not a regular file' });
  t.throws(() => loadSeccompProfile(fifo, caps), { message: `seccomp profile ${fifo} cannot be read: it is not a regular file` });
  t.throws(() => loadSeccompProfile(big, caps), { message: `seccomp profile ${big} cannot be read: it is larger than 1048576 bytes` });
  t.throws(() => loadSeccompProfile(join(dir, 'none.json'), caps), { message: /cannot be read: ENOENT/ });
  const hash = (p: string) => desiredState(model('p', { web: { image: 'busybox', security_opt: [`seccomp=${p}`] } }), {}).services.web!.containers[0]!.hash;
  t.truthy(hash('/dev/zero') && hash(fifo), 'the config hash does not read them either');
});
