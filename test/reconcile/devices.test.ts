// devices / device_cgroup_rules in the desired state: hashed only when set (a change recreates, an
// unset key leaves existing hashes), passed to the engine parsed; the host check of `up` names the line.
import test from 'ava';
import { createSpec, desiredState } from '../../src/reconcile/desired.js';
import { deviceProblems } from '../../src/reconcile/device-check.js';
import type { ServiceSpec } from '../../src/model/types.js';
import { model, type SvcInput } from './_model.js';

function one(s: SvcInput) {
  const d = desiredState(model('p', { web: { image: 'busybox', ...s } }), {});
  const svcD = d.services.web!;
  return { c: svcD.containers[0]!, spec: createSpec('p', svcD.containers[0]!, svcD) };
}

const zero = { source: '/dev/zero', target: '/dev/myzero', permissions: 'r' };

test('unset or empty: the hash is as before and the create spec has no device fields', (t) => {
  const base = one({});
  t.is(one({ devices: [], device_cgroup_rules: [] }).c.hash, base.c.hash);
  t.false('devices' in base.c.config || 'device_cgroup_rules' in base.c.config);
  t.false('devices' in base.spec || 'deviceCgroupRules' in base.spec);
});

test('each change of devices or rules changes the hash', (t) => {
  const variants: SvcInput[] = [
    { devices: [zero] }, { devices: [{ ...zero, permissions: 'rw' }] }, { devices: [{ ...zero, target: '/dev/z2' }] },
    { devices: [zero, { source: '/dev/null', target: '/dev/null', permissions: 'rwm' }] }, { device_cgroup_rules: ['c 1:3 r'] }, { device_cgroup_rules: ['c 1:3 rw'] },
  ];
  const hashes = [one({}).c.hash, ...variants.map((v) => one(v).c.hash)];
  t.is(new Set(hashes).size, hashes.length);
});

test('the create spec carries the devices and the parsed rules', (t) => {
  const { spec } = one({ devices: [zero], device_cgroup_rules: ['c 10:229 rw', 'b *:* m', 'a 7:* rwm'] });
  t.deepEqual(spec.devices, [zero]);
  t.deepEqual(spec.deviceCgroupRules, [{ type: 'c', major: 10, minor: 229, access: 'rw' }, { type: 'b', access: 'm' }, { type: 'a', major: 7, access: 'rwm' }]);
});

test('host check: a missing or non-device source is a problem naming service, entry, file and line', (t) => {
  const m = model('p', {
    web: { image: 'busybox', devices: [zero, { source: '/dev/tsstack-nope', target: '/dev/x', permissions: 'rwm' }, { source: '/etc/hostname', target: '/dev/y', permissions: 'r' }] },
    other: { image: 'busybox', devices: [{ source: '/dev/tsstack-nope2', target: '/dev/x', permissions: 'r' }] },
  }, { lines: { 'services.web.devices[1]': { file: '/srv/p/stack.yaml', line: 9 } } });
  t.deepEqual(deviceProblems(m, ['web']), [
    'service "web": devices[1]: host device /dev/tsstack-nope does not exist on this host (/srv/p/stack.yaml:9)',
    'service "web": devices[2]: host device /etc/hostname is not a device node',
  ]);
  t.deepEqual(deviceProblems(m, []), []);
});
