// Pure: pid/ipc/uts namespaces and seccomp in the OCI config, and Docker's seccomp profile format → OCI.
import test from 'ava';
import { buildOciSpec, ociNamespaces, type OciSpecInput } from '../../src/engine/runtime/oci-spec.js';
import { dockerSeccompToOci, hostSeccompArch } from '../../src/engine/runtime/seccomp-profile.js';
import { ociConfigValidator } from './helpers.js';

const root = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
const base: OciSpecInput = { rootfs: '/tmp/x/rootfs', args: ['sh'], env: [], cwd: '/', user: root, hostname: 'web-1', domainname: 'example.org', cgroupsPath: 'tsstack/abc' };

test('namespaces: new by default, omitted when shared with the host, joined by path', (t) => {
  t.deepEqual(ociNamespaces({}), [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }, { type: 'network' }]);
  t.deepEqual(ociNamespaces({ pid: 'host', ipc: { path: '/proc/42/ns/ipc' }, uts: 'host', network: 'host' }), [
    { type: 'ipc', path: '/proc/42/ns/ipc' }, { type: 'mount' }, { type: 'cgroup' },
  ]);
  t.deepEqual(ociNamespaces({ pid: { path: '/proc/7/ns/pid' } })[0], { type: 'pid', path: '/proc/7/ns/pid' });
});

test('uts: host leaves hostname and domainname unset (the runtime would set the host\'s)', async (t) => {
  const own = buildOciSpec(base) as any;
  t.is(own.hostname, 'web-1');
  t.is(own.domainname, 'example.org');
  const shared = buildOciSpec({ ...base, uts: 'host', pid: 'host' }) as any;
  t.false('hostname' in shared);
  t.false('domainname' in shared);
  t.deepEqual(shared.linux.namespaces.map((n: any) => n.type), ['ipc', 'mount', 'cgroup', 'network']);
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
  const withSec = buildOciSpec({ ...base, seccomp, noNewPrivileges: true }) as any;
  t.deepEqual(withSec.linux.seccomp, seccomp);
  t.true(withSec.process.noNewPrivileges);
  t.false('seccomp' in (buildOciSpec(base) as any).linux, 'no filter unless asked');
  t.false((buildOciSpec(base) as any).process.noNewPrivileges, 'Docker\'s default');
  const validate = await ociConfigValidator();
  if (!validate) return t.log('skipped: ../shared absent');
  for (const s of [shared, withSec, buildOciSpec({ ...base, pid: { path: '/proc/1/ns/pid' }, ipc: { path: '/proc/1/ns/ipc' } })]) t.true(validate(s), JSON.stringify(validate.errors));
});

const host = { arch: 'SCMP_ARCH_X86_64', kernel: '5.15.0-91-generic', caps: ['CAP_CHOWN', 'CAP_KILL'] };

test('Docker seccomp profile → OCI: archMap for this host, includes/excludes by caps, arch and kernel', async (t) => {
  const profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: {}, excludes: {} },
      { names: ['kill'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_KILL'] } },
      { names: ['reboot'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_BOOT'] } },
      { names: ['chown'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_CHOWN'] } },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'SCMP_ARCH_X86_64'] } },
      { names: ['arm_fadvise64_64'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['SCMP_ARCH_ARM'] } },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['futex_waitv'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.16' } },
      { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
    ],
  };
  const oci = dockerSeccompToOci(profile, host, '/p.json');
  t.deepEqual(oci, {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['kill'], action: 'SCMP_ACT_ALLOW' },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW' },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
    ],
  });
  const validate = await ociConfigValidator();
  if (validate) t.true(validate(buildOciSpec({ ...base, seccomp: oci })), JSON.stringify(validate.errors));
  t.true(['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'].includes(hostSeccompArch()));
});

test('Docker seccomp profile errors name the file and what is wrong', (t) => {
  t.throws(() => dockerSeccompToOci([], host, '/p.json'), { message: /seccomp profile \/p\.json: not a JSON object/ });
  t.throws(() => dockerSeccompToOci({ syscalls: [] }, host, '/p.json'), { message: /defaultAction: action undefined is not supported/ });
  t.throws(() => dockerSeccompToOci({ defaultAction: 'SCMP_ACT_NOTIFY' }, host, '/p.json'), { message: /SCMP_ACT_NOTIFY/ });
  t.throws(() => dockerSeccompToOci({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, host, '/p.json'), { message: /syscalls\[0\] names no system call/ });
  t.throws(() => dockerSeccompToOci({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'EQ' }] }] }, host, '/p.json'), { message: /args\[0\]/ });
  // the older form: architectures listed directly
  t.deepEqual(dockerSeccompToOci({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] }, host, '/p.json'), { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] });
});
