// buildOciSpec and its pure helpers; every generated config validates against
// the OCI runtime-spec schema from ../shared/conformance.
import test from 'ava';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv04 from 'ajv-draft-04';
import { DEFAULT_CAPS, buildOciSpec, buildRunStepSpec, capsFromMask, effectiveCaps, rlimitType, type OciSpecInput } from '../../src/engine/runtime/oci-spec.js';
import { parseGroup, parsePasswd, resolveUser } from '../../src/engine/runtime/users.js';
import { skipWhen } from '../helpers/skip.js';
import { makeTemp, rmTemp } from '../helpers/rootfs.js';
import { fileBundle } from '../../src/engine/runtime/kernel-drivers.js';
import { defaultSeccomp } from '../../src/engine/runtime/seccomp-profile.js';

const schemaDir = resolve(process.cwd(), '../shared/conformance/runtime-spec/schema');
const haveSchema = existsSync(join(schemaDir, 'config-schema.json'));

let cached: ReturnType<typeof build> | undefined;
function validator() {
  return (cached ??= build());
}

function build() {
  const ajv = new (Ajv04 as unknown as typeof Ajv04.default)({ strict: false, allErrors: true, validateFormats: false });
  for (const f of readdirSync(schemaDir).filter((x) => x.endsWith('.json'))) {
    const s = JSON.parse(readFileSync(join(schemaDir, f), 'utf8')) as Record<string, unknown>;
    ajv.addSchema({ ...s, id: `https://oci.invalid/schema/${f}` });
  }
  return ajv.getSchema('https://oci.invalid/schema/config-schema.json')!;
}

const root = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
const base: OciSpecInput = { rootfs: '/tmp/x/rootfs', args: ['sh'], env: ['A=1'], cwd: '/', user: root, hostname: 'web-1', cgroupsPath: 'tsstack/abc' };

const cases: [string, OciSpecInput | Record<string, unknown>][] = [
  ['defaults', base],
  ['everything', {
    ...base, user: { uid: 1000, gid: 1000, additionalGids: [10, 20], home: '/home/app' }, tty: true, readOnlyRoot: true, capAdd: ['NET_ADMIN'], capDrop: ['MKNOD'],
    noNewPrivileges: true, domainname: 'example.org',
    mounts: [{ type: 'bind', source: '/srv/data', target: '/data', readOnly: true }, { type: 'tmpfs', target: '/run', size: 1 << 20, mode: 0o755 }, { type: 'bind', source: '/x', target: '/data/sub', propagation: 'shared' }],
    etcFiles: { resolvConf: '/c/resolv.conf', hosts: '/c/hosts', hostname: '/c/hostname' },
    network: { path: '/run/tsstack/netns/abc' }, sysctls: { 'net.core.somaxconn': '1024' }, ulimits: { nofile: { soft: 1024, hard: 2048 }, nproc: { soft: 100, hard: 100 } },
    resources: { memory: 64 << 20, memorySwap: 128 << 20, cpus: 0.5, cpuShares: 512, cpuset: '0', pids: 100, shmSize: 1 << 20, oomScoreAdj: 500 },
  }],
  ['privileged, host network', { ...base, privileged: true, network: 'host' }],
  ['init', { ...base, init: '/opt/tsstack/native/bin/tsstack-init', readOnlyRoot: true }],
  ['run step', buildRunStepSpec({ rootfs: '/b/rootfs', args: ['/bin/sh', '-c', 'echo hi'], env: [], user: root })],
];

for (const [name, input] of cases) {
  skipWhen(!haveSchema, '../shared absent')(`the config for "${name}" validates against the runtime-spec schema`, (t) => {
    const spec = 'process' in input && 'ociVersion' in input ? input : buildOciSpec(input as OciSpecInput);
    const validate = validator();
    const ok = validate(JSON.parse(JSON.stringify(spec)));
    t.true(ok, JSON.stringify(validate.errors, null, 1));
  });
}

skipWhen(!haveSchema, '../shared absent')('the schema validator itself accepts the spec\'s good examples and rejects a bad one', (t) => {
  const v = validator();
  for (const f of ['minimal.json', 'spec-example.json']) t.true(v(JSON.parse(readFileSync(join(schemaDir, 'test/config/good', f), 'utf8'))), f);
  t.false(v({ ociVersion: '1.0.2', process: { args: 'not-an-array' } }));
});

test('Docker defaults: capabilities, masked and read-only paths, namespaces, cgroupsPath', (t) => {
  const s = buildOciSpec(base) as any;
  t.deepEqual(s.process.capabilities.bounding, [...DEFAULT_CAPS].sort());
  t.deepEqual(s.process.capabilities.inheritable, []);
  t.true(s.linux.maskedPaths.includes('/proc/kcore'));
  t.true(s.linux.readonlyPaths.includes('/proc/sys'));
  t.deepEqual(s.linux.namespaces.map((n: any) => n.type), ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'network']);
  t.is(s.linux.cgroupsPath, 'tsstack/abc');
  t.is(s.hostname, 'web-1');
  t.deepEqual(s.mounts.map((m: any) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  t.true(s.process.env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
  t.true(s.process.env.includes('HOME=/root'));
  t.is(s.process.noNewPrivileges, false);
});

test('init: the init is bind-mounted read-only at /dev/init and runs the args as its child', (t) => {
  const s = buildOciSpec({ ...base, args: ['sleep', '10'], init: '/pkg/native/bin/tsstack-init' }) as any;
  t.deepEqual(s.process.args, ['/dev/init', '--', 'sleep', '10']);
  const m = s.mounts.find((x: any) => x.destination === '/dev/init');
  t.deepEqual(m, { destination: '/dev/init', type: 'bind', source: '/pkg/native/bin/tsstack-init', options: ['bind', 'rprivate', 'ro', 'nosuid', 'nodev'] });
  t.true(s.mounts.indexOf(m) > s.mounts.findIndex((x: any) => x.destination === '/dev'), 'mounted over the /dev tmpfs, after it');
  t.deepEqual((buildOciSpec({ ...base, args: ['sleep', '10'] }) as any).process.args, ['sleep', '10']);
});

test('resources, rlimits, sysctls, network path and mounts are mapped', (t) => {
  const s = buildOciSpec(cases[1]![1] as OciSpecInput) as any;
  t.deepEqual(s.linux.resources.memory, { limit: 64 << 20, swap: 128 << 20 });
  t.deepEqual(s.linux.resources.cpu, { period: 100000, quota: 50000, shares: 512, cpus: '0' });
  t.deepEqual(s.linux.resources.pids, { limit: 100 });
  t.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }, { type: 'RLIMIT_NPROC', soft: 100, hard: 100 }]);
  t.is(s.process.oomScoreAdj, 500);
  t.deepEqual(s.linux.sysctl, { 'net.core.somaxconn': '1024' });
  t.deepEqual(s.linux.namespaces.at(-1), { type: 'network', path: '/run/tsstack/netns/abc' });
  const data = s.mounts.find((m: any) => m.destination === '/data');
  t.deepEqual(data, { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rprivate', 'ro'] });
  const sub = s.mounts.find((m: any) => m.destination === '/data/sub');
  t.deepEqual(sub.options, ['rbind', 'rshared', 'rw']);
  t.true(s.mounts.indexOf(data) < s.mounts.indexOf(sub), 'parents before children');
  t.deepEqual(s.mounts.find((m: any) => m.destination === '/run').options, ['nosuid', 'nodev', 'noexec', 'size=1048576', 'mode=755']);
  t.is(s.mounts.find((m: any) => m.destination === '/dev/shm').options.at(-1), 'size=1048576');
  t.true(s.mounts.some((m: any) => m.destination === '/etc/resolv.conf' && m.source === '/c/resolv.conf'));
  t.true(s.root.readonly);
  t.true(s.process.terminal);
  t.true(s.process.env.includes('TERM=xterm'));
  t.deepEqual(s.process.user, { uid: 1000, gid: 1000, additionalGids: [10, 20] });
  t.true(s.process.capabilities.bounding.includes('CAP_NET_ADMIN'));
  t.false(s.process.capabilities.bounding.includes('CAP_MKNOD'));
});

test('privileged: all capabilities, nothing masked, all devices; host network joins no namespace', (t) => {
  const s = buildOciSpec({ ...base, privileged: true, network: 'host' }) as any;
  t.true(s.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
  t.is(s.linux.maskedPaths, undefined);
  t.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  t.false(s.linux.namespaces.some((n: any) => n.type === 'network'));
});

test('effectiveCaps follows Docker: ALL on either side, names with or without CAP_', (t) => {
  t.deepEqual(effectiveCaps(false, [], ['ALL']), []);
  t.deepEqual(effectiveCaps(false, ['net_admin'], ['ALL']), ['CAP_NET_ADMIN']);
  t.true(effectiveCaps(false, ['ALL'], ['CAP_SYS_ADMIN']).includes('CAP_SYS_PTRACE'));
  t.false(effectiveCaps(false, ['ALL'], ['CAP_SYS_ADMIN']).includes('CAP_SYS_ADMIN'));
  t.is(rlimitType('nofile'), 'RLIMIT_NOFILE');
  t.is(rlimitType('bogus'), undefined);
});

const passwd = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n# comment\nbad:line\n');
const group = parseGroup('root:x:0:\nwheel:x:10:app,root\napp:x:1000:\naudio:x:29:app\n');

const userCases: [string, string | undefined, string[], { uid: number; gid: number; additionalGids: number[] } | RegExp][] = [
  ['default is root', undefined, [], { uid: 0, gid: 0, additionalGids: [10] }],
  ['name', 'app', [], { uid: 1000, gid: 1000, additionalGids: [10, 29] }],
  ['name:group', 'app:wheel', [], { uid: 1000, gid: 10, additionalGids: [] }],
  ['numeric without entry', '4242:4343', [], { uid: 4242, gid: 4343, additionalGids: [] }],
  ['numeric uid with entry takes its gid', '1000', [], { uid: 1000, gid: 1000, additionalGids: [10, 29] }],
  ['group_add by name and number', 'app', ['root', '77'], { uid: 1000, gid: 1000, additionalGids: [0, 10, 29, 77] }],
  ['unknown user', 'nobody2', [], /unable to find user nobody2/],
  ['unknown group', 'app:nogroup2', [], /unable to find group nogroup2/],
];
for (const [name, user, add, want] of userCases) {
  test(`resolveUser: ${name}`, (t) => {
    if (want instanceof RegExp) {
      const e = t.throws(() => resolveUser(user, passwd, group, add));
      t.regex(e!.message, want);
      return;
    }
    const r = resolveUser(user, passwd, group, add);
    t.deepEqual({ uid: r.uid, gid: r.gid, additionalGids: r.additionalGids }, want);
  });
}

test('a bundle\'s config.json: compact, the same text for the same input, the config read back whole, 0600', async (t) => {
  const dir = makeTemp('tsstack-bundle-');
  t.teardown(() => rmTemp(dir));
  const made: OciSpecInput = { rootfs: '/r', args: ['sh'], env: ['SECRET=x'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, hostname: 'h', seccomp: defaultSeccomp(effectiveCaps(false)) };
  const spec = buildOciSpec(made);
  await fileBundle.write(dir, spec);
  const text = readFileSync(join(dir, 'config.json'), 'utf8');
  t.is(text, JSON.stringify(buildOciSpec({ ...made })), 'the same text for the same input');
  t.false(text.includes('\n'), 'compact');
  t.deepEqual(fileBundle.read(dir), JSON.parse(JSON.stringify(spec)));
  t.is(statSync(join(dir, 'config.json')).mode & 0o777, 0o600, 'the environment may hold secrets');
});

test('"every capability" is the host\'s bounding set when given (privileged, cap_add: ALL)', (t) => {
  const bnd = capsFromMask('000001fffeffffff'); // a host without CAP_SYS_RESOURCE (bit 24)
  t.is(bnd.length, 40);
  t.false(bnd.includes('CAP_SYS_RESOURCE'));
  t.true(bnd.includes('CAP_CHECKPOINT_RESTORE') && bnd.includes('CAP_CHOWN'));
  t.deepEqual(capsFromMask('0'), []);
  t.deepEqual(effectiveCaps(true, [], [], bnd), [...bnd].sort());
  t.false(effectiveCaps(false, ['ALL'], [], bnd).includes('CAP_SYS_RESOURCE'));
  t.true(effectiveCaps(false, ['sys_resource'], [], bnd).includes('CAP_SYS_RESOURCE'), 'named on its own it is asked for (and refused by the kernel, as with Docker)');
  const spec = buildOciSpec({ ...base, privileged: true, hostCaps: bnd }) as { process: { capabilities: { bounding: string[] } } };
  t.false(spec.process.capabilities.bounding.includes('CAP_SYS_RESOURCE'));
});

test('a tmpfs mount: Docker\'s defaults first, then the stack\'s flags (so `exec` lifts `noexec`), then size, mode and owner', (t) => {
  const s = buildOciSpec({ ...base, mounts: [{ type: 'tmpfs', target: '/scratch', size: 1 << 20, mode: 0o1770, uid: 33, gid: 44, nrInodes: 1024, flags: ['exec', 'noatime'] }, { type: 'tmpfs', target: '/plain' }] } as OciSpecInput);
  const mounts = s.mounts as { destination: string; options: string[] }[];
  const scratch = mounts.find((m) => m.destination === '/scratch')!;
  t.deepEqual(scratch.options, ['nosuid', 'nodev', 'noexec', 'exec', 'noatime', 'size=1048576', 'mode=1770', 'uid=33', 'gid=44', 'nr_inodes=1024']);
  t.deepEqual(mounts.find((m) => m.destination === '/plain')!.options, ['nosuid', 'nodev', 'noexec']);
});
