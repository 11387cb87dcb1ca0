// pid / ipc / uts, security_opt, platform, cgroup_parent: from the stack file to the model,
// with line-numbered warnings for values tsstack does not apply.
import { join } from 'node:path';
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { parseSecurityOpt } from '../../src/stack/security-opt.js';
import { appliedSecurityOpts } from '../../src/model/service.js';
import { svc as modelSvc } from '../reconcile/_model.js';

const securityOpts = (l: string[] | undefined) => appliedSecurityOpts(l && modelSvc({ security_opt: l }).security_opt);
import { isTsstackError } from '../../src/util/errors.js';
import { project } from './helpers.js';

test('namespace keys: host and service:/container: parsed, other values warned with their line', async (t) => {
  const dir = project(t, {
    'compose.yaml': [
      'services:',
      '  a:',
      '    image: a',
      '    pid: host',
      '    ipc: shareable',
      '    uts: host',
      '  b:',
      '    image: b',
      '    pid: service:a',
      '    ipc: container:other',
      '    uts: private',
      '  c:',
      '    image: c',
      '    pid: private',
      '    ipc: none',
      '',
    ].join('\n'),
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.like(m.services.a, { pid: 'host', ipc: 'shareable', uts: 'host' });
  t.like(m.services.b, { pid: { kind: 'service', name: 'a' }, ipc: { kind: 'container', name: 'other' } });
  t.is(m.services.b!.uts, undefined);
  t.is(m.services.c!.pid, undefined);
  t.is(m.services.c!.ipc, undefined);
  t.deepEqual(m.warnings.map((w) => [w.path, w.line]), [['services.b.uts', 11], ['services.c.pid', 14], ['services.c.ipc', 15]]);
  t.regex(m.warnings[0]!.message, /uts: "private" is not supported.*own uts namespace/);
});

test('pid: service:X names a service of the stack', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    pid: "service:nope"\n' });
  const e = await t.throwsAsync(loadStack({ projectDir: dir, env: {} }));
  t.true(isTsstackError(e));
  t.regex(e!.message, /pid namespace of undefined service nope/);
  t.is((e as { location?: { line?: number } }).location?.line, 4);
});

test('security_opt: supported entries parsed (printed as written), a relative seccomp path made absolute, others warned per entry', async (t) => {
  const dir = project(t, {
    'compose.yaml': [
      'services:',
      '  a:',
      '    image: a',
      '    security_opt:',
      '      - no-new-privileges:true',
      '      - seccomp=./profiles/p.json',
      '      - label=type:svirt_apache_t',
      '      - apparmor:unconfined',
      '      - systempaths=unconfined',
      '',
    ].join('\n'),
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.services.a!.security_opt, [
    { key: 'no-new-privileges', value: true, written: 'no-new-privileges:true' },
    { key: 'seccomp', value: join(dir, 'profiles/p.json'), written: `seccomp=${join(dir, 'profiles/p.json')}` },
    { key: 'ignored', written: 'label=type:svirt_apache_t' },
    { key: 'ignored', written: 'apparmor:unconfined' },
    { key: 'ignored', written: 'systempaths=unconfined' },
  ]);
  t.deepEqual(m.warnings.map((w) => [w.path, w.line]), [['services.a.security_opt[2]', 7], ['services.a.security_opt[3]', 8], ['services.a.security_opt[4]', 9]]);
  t.regex(m.warnings[0]!.message, /SELinux/);
  t.regex(m.warnings[1]!.message, /AppArmor/);
});

test('security_opt: a bad no-new-privileges value is an error at its line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    security_opt:\n      - no-new-privileges=maybe\n' });
  const e = await t.throwsAsync(loadStack({ projectDir: dir, env: {} }));
  t.regex(e!.message, /invalid no-new-privileges value "maybe"/);
  t.is((e as { location?: { line?: number } }).location?.line, 5);
});

test('security_opt parsing: separators, last one wins, unconfined', (t) => {
  t.like(parseSecurityOpt('no-new-privileges'), { kind: 'ok', value: true });
  t.like(parseSecurityOpt('no-new-privileges=false'), { kind: 'ok', value: false });
  t.like(parseSecurityOpt('seccomp:unconfined'), { kind: 'ok', key: 'seccomp', value: 'unconfined' });
  t.like(parseSecurityOpt('seccomp=/p.json'), { kind: 'ok', key: 'seccomp', value: '/p.json' });
  t.like(parseSecurityOpt('seccomp='), { kind: 'invalid' });
  t.like(parseSecurityOpt('label:disable'), { kind: 'ignored' });
  t.like(parseSecurityOpt('whatever'), { kind: 'ignored' });
  t.deepEqual(securityOpts(['no-new-privileges', 'seccomp=/a.json', 'label=x', 'seccomp=unconfined']), { noNewPrivileges: true, seccomp: 'unconfined' });
  t.deepEqual(securityOpts(undefined), {});
});

test('platform and cgroup_parent are read; bad values are errors', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    platform: linux/arm64/v8\n    cgroup_parent: /batch/jobs/\n' });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.is(m.services.a!.platform, 'linux/arm64/v8');
  t.is(m.services.a!.cgroup_parent, 'batch/jobs');
  t.deepEqual(m.warnings, []);
  const bad = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    cgroup_parent: ../escape\n' });
  await t.throwsAsync(loadStack({ projectDir: bad, env: {} }), { message: /not a cgroup path/ });
  const badp = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    platform: amd64\n' });
  await t.throwsAsync(loadStack({ projectDir: badp, env: {} }), { message: /not os\/arch/ });
});

// The kernel takes a hostname or domain name of at most 64 bytes (model/uts.ts): a longer one is said
// with its line at load, not by every start's EINVAL; one the host's UTS namespace leaves unused passes.
test('hostname and domainname longer than 64 bytes: an error with the line; unused with network_mode or uts host, accepted', async (t) => {
  const long = 'h'.repeat(65);
  for (const key of ['hostname', 'domainname']) {
    const dir = project(t, { 'compose.yaml': ['services:', '  a:', '    image: a', `    ${key}: ${long}`, ''].join('\n') });
    const e = await t.throwsAsync(loadStack({ projectDir: dir, env: {} }));
    t.true(isTsstackError(e) && e.code === 'SPEC', String(e));
    t.regex(String(e), new RegExp(`${key} "h{65}" is 65 bytes long: the kernel takes at most 64`));
    t.is((e as { location?: { line?: number } }).location?.line, 4);
  }
  const ok = project(t, { 'compose.yaml': ['services:', '  a:', '    image: a', `    hostname: ${'h'.repeat(64)}`, '  b:', '    image: b', '    network_mode: host', `    hostname: ${long}`, '  c:', '    image: c', '    uts: host', `    domainname: ${long}`, ''].join('\n') });
  const m = await loadStack({ projectDir: ok, env: {} });
  t.is(m.services.a!.hostname, 'h'.repeat(64));
  t.is(m.services.b!.hostname, long);
});
