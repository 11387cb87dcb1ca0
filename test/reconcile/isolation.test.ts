// pid / ipc / uts, security_opt, cgroup_parent, platform in the desired state: what is hashed (a change
// recreates), the implicit dependency of service: references, the create spec, and the platform check.
import test from 'ava';
import { createSpec, desiredState, implicitDependencies } from '../../src/reconcile/desired.js';
import { platformMatches, platformProblems } from '../../src/reconcile/platform.js';
import { modelProblems } from '../../src/reconcile/preflight.js';
import type { ServiceSpec } from '../../src/model/types.js';
import { model, svc, type SvcInput } from './_model.js';

function one(s: SvcInput, others: Record<string, SvcInput> = {}) {
  const d = desiredState(model('p', { web: { image: 'busybox', ...s }, ...others }), {});
  const svcD = d.services.web!;
  return { c: svcD.containers[0]!, d: svcD, spec: createSpec('p', svcD.containers[0]!, svcD) };
}

test('unset keys leave the hash as it was (existing containers are not recreated by the upgrade)', (t) => {
  const base = one({});
  const withPrivate = one({ ipc: 'private', security_opt: ['label=disable'] });
  t.is(withPrivate.c.hash, base.c.hash);
  t.false('pid' in base.c.config || 'seccomp' in base.c.config || 'cgroup_parent' in base.c.config);
});

test('each key changes the config hash', (t) => {
  const base = one({}).c.hash;
  const variants: SvcInput[] = [
    { pid: 'host' }, { ipc: 'host' }, { uts: 'host' }, { security_opt: ['no-new-privileges:true'] }, { security_opt: ['seccomp=unconfined'] },
    { security_opt: ['seccomp=/etc/p.json'] }, { cgroup_parent: 'batch' },
  ];
  const hashes = variants.map((v) => one(v).c.hash);
  for (const [i, h] of hashes.entries()) t.not(h, base, JSON.stringify(variants[i]));
  t.is(new Set(hashes).size, hashes.length);
});

test('service: references resolve to the first container and imply a dependency, as network_mode does', (t) => {
  const { c, d, spec } = one({ pid: 'service:db', ipc: 'service:db' }, { db: { image: 'redis' } });
  t.is(c.config.pid, 'container:p-db-1');
  t.is(c.config.ipc, 'container:p-db-1');
  t.deepEqual(d.dependsOn, { db: { condition: 'service_started', required: true } });
  t.is(spec.pidMode, 'container:p-db-1');
  t.is(spec.ipcMode, 'container:p-db-1');
  const named = one({ pid: 'service:db' }, { db: { image: 'redis', container_name: 'the-db' } });
  t.is(named.c.config.pid, 'container:the-db');
  // an explicit depends_on wins
  t.deepEqual(implicitDependencies(svc({ pid: 'service:db', depends_on: { db: { condition: 'service_healthy', required: true } } })), { db: { condition: 'service_healthy', required: true } });
});

test('create spec: namespaces, security options and cgroup parent', (t) => {
  const { spec } = one({ pid: 'host', ipc: 'shareable', uts: 'host', security_opt: ['no-new-privileges', 'seccomp=/x/p.json', 'apparmor=foo'], cgroup_parent: 'batch/jobs' });
  t.like(spec, { pidMode: 'host', utsMode: 'host', noNewPrivileges: true, seccomp: '/x/p.json', cgroupParent: 'batch/jobs' });
  t.is(spec.ipcMode, undefined);
  const plain = one({}).spec;
  for (const k of ['pidMode', 'ipcMode', 'utsMode', 'noNewPrivileges', 'seccomp', 'cgroupParent'] as const) t.false(k in plain, k);
});

test('platform: the host\'s passes, another is a preflight problem naming the service', (t) => {
  t.true(platformMatches('linux/amd64', 'x64'));
  t.true(platformMatches('linux/arm64/v8', 'arm64'));
  t.true(platformMatches('LINUX/ARM64', 'arm64'));
  t.false(platformMatches('linux/arm64', 'x64'));
  t.false(platformMatches('windows/amd64', 'x64'));
  t.false(platformMatches('linux/arm/v6', 'arm'));
  t.deepEqual(platformProblems({ a: { platform: 'linux/amd64' }, b: {} }, ['a', 'b'], 'x64'), []);
  const p = platformProblems({ a: { platform: 'linux/arm64' } }, ['a'], 'x64');
  t.is(p.length, 1);
  t.regex(p[0]!, /service "a": platform linux\/arm64 is not this host's \(linux\/amd64\)/);
  const other = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
  const m = model('p', { a: { image: 'x', platform: other }, b: { image: 'y', platform: other } });
  t.is(modelProblems(m, ['a']).length, 1, 'only selected services');
  // platform is not part of the container's config: the image it selects is (imageId)
  t.is(one({ platform: 'linux/amd64' }).c.hash, one({}).c.hash);
});

// model/uts.ts: without `hostname:` a container is named host after itself, cut to the kernel's 64 bytes.
test('the default hostname is the container name, cut to 64 bytes without a trailing separator; hostname: wins', (t) => {
  t.is(one({}).c.config.hostname, 'p-web-1');
  const name = `${'a'.repeat(63)}-bc`; // the cut falls just after "-": the dash goes too
  t.is(one({ container_name: name }).c.config.hostname, 'a'.repeat(63));
  t.is(one({ container_name: name }).spec.hostname, 'a'.repeat(63));
  t.is(one({ container_name: 'x'.repeat(200) }).c.config.hostname, 'x'.repeat(64));
  t.is(one({ container_name: 'x'.repeat(64) }).c.config.hostname, 'x'.repeat(64));
  t.is(one({ container_name: 'x'.repeat(200), hostname: 'web' }).c.config.hostname, 'web');
});
