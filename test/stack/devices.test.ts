// devices / device_cgroup_rules: both forms to the long form, errors with their line for bad entries,
// no warning for what is supported.
import test from 'ava';
import { loadStack } from '../../src/stack/load.js';
import { parseCgroupRule, parseDeviceShort, validPermissions } from '../../src/stack/devices.js';
import { isTsstackError } from '../../src/util/errors.js';
import { project } from './helpers.js';

test('short form: HOST, HOST:CONTAINER, HOST:PERMS, HOST:CONTAINER:PERMS', (t) => {
  t.deepEqual(parseDeviceShort('/dev/ttyUSB0'), { source: '/dev/ttyUSB0', target: '/dev/ttyUSB0', permissions: 'rwm' });
  t.deepEqual(parseDeviceShort('/dev/zero:/dev/myzero'), { source: '/dev/zero', target: '/dev/myzero', permissions: 'rwm' });
  t.deepEqual(parseDeviceShort('/dev/zero:r'), { source: '/dev/zero', target: '/dev/zero', permissions: 'r' });
  t.deepEqual(parseDeviceShort('/dev/zero:/dev/myzero:rw'), { source: '/dev/zero', target: '/dev/myzero', permissions: 'rw' });
  t.true('error' in parseDeviceShort('/a:/b:r:x'));
  t.true('error' in parseDeviceShort('/a::r'));
});

test('permissions and cgroup rules', (t) => {
  for (const ok of ['r', 'w', 'm', 'rw', 'mr', 'rwm', 'mwr']) t.true(validPermissions(ok), ok);
  for (const bad of ['', 'rr', 'x', 'rwmx', 'permissions']) t.false(validPermissions(bad), bad);
  t.deepEqual(parseCgroupRule('c 1:3 mr'), { type: 'c', major: 1, minor: 3, access: 'mr' });
  t.deepEqual(parseCgroupRule('a 7:* rmw'), { type: 'a', major: 7, access: 'rmw' });
  t.deepEqual(parseCgroupRule('b *:* m'), { type: 'b', access: 'm' });
  for (const bad of ['c 1:3', 'x 1:3 r', 'c 1 r', 'c 1:3 rx', 'c a:3 r', 'c 1:3 rr']) t.is(parseCgroupRule(bad), undefined, bad);
});

test('both forms become the long form, with their lines remembered; no warning', async (t) => {
  const dir = project(t, {
    'compose.yaml': [
      'services:',
      '  a:',
      '    image: a',
      '    devices:',
      '      - /dev/zero:/dev/myzero:r',
      '      - /dev/null',
      '      - source: /dev/fuse',
      '        permissions: rw',
      '      - source: /dev/loop0',
      '        target: /dev/disk',
      '    device_cgroup_rules:',
      '      - "c 1:3 mr"',
      '      - "a 7:* rmw"',
      '  b:',
      '    image: b',
      '',
    ].join('\n'),
  });
  const m = await loadStack({ projectDir: dir, env: {} });
  t.deepEqual(m.services.a!.devices, [
    { source: '/dev/zero', target: '/dev/myzero', permissions: 'r' },
    { source: '/dev/null', target: '/dev/null', permissions: 'rwm' },
    { source: '/dev/fuse', target: '/dev/fuse', permissions: 'rw' },
    { source: '/dev/loop0', target: '/dev/disk', permissions: 'rwm' },
  ]);
  t.deepEqual(m.services.a!.device_cgroup_rules, [{ type: 'c', major: 1, minor: 3, access: 'mr' }, { type: 'a', major: 7, access: 'rmw' }]);
  t.false('devices' in m.services.b! || 'device_cgroup_rules' in m.services.b!);
  t.deepEqual(m.warnings, []);
  t.deepEqual(Object.fromEntries(Object.entries(m.lines ?? {}).map(([k, v]) => [k, v.line])), {
    'services.a.devices[0]': 5, 'services.a.devices[1]': 6, 'services.a.devices[2]': 7, 'services.a.devices[3]': 9,
  });
});

for (const [entry, want] of [
  ['/dev/zero:/dev/z:rx', /invalid device permissions "rx"/],
  ['dev/zero', /device "dev\/zero" is not an absolute host path/],
  ['/dev/zero:z:r', /device target "z" is not an absolute path/],
  ['vendor.com/class=name', /not an absolute host path \(CDI/],
  ['/a:/b:r:x', /invalid device "\/a:\/b:r:x"/],
] as const) {
  test(`a bad devices entry is an error naming its line: ${entry}`, async (t) => {
    const dir = project(t, { 'compose.yaml': `services:\n  a:\n    image: a\n    devices:\n      - /dev/null\n      - "${entry}"\n` });
    const e = await t.throwsAsync(loadStack({ projectDir: dir, env: {} }));
    t.true(isTsstackError(e));
    t.regex(e!.message, want);
    t.is((e as { location?: { line?: number } }).location?.line, 6);
  });
}

test('a bad device cgroup rule is an error naming its line', async (t) => {
  const dir = project(t, { 'compose.yaml': 'services:\n  a:\n    image: a\n    device_cgroup_rules:\n      - "c 1:3 rwm"\n      - "c 1:3 rwx"\n' });
  const e = await t.throwsAsync(loadStack({ projectDir: dir, env: {} }));
  t.regex(e!.message, /invalid device cgroup rule "c 1:3 rwx"/);
  t.is((e as { location?: { line?: number } }).location?.line, 6);
});
