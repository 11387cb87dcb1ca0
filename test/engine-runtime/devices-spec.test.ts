// devices / device_cgroup_rules in the OCI config (pure): linux.devices entries, the allow rules after
// Docker's defaults, the dev_t split, and the result against the runtime-spec schema when available.
import test from 'ava';
import { devMajor, devMinor, deviceAllowRules, type OciDevice } from '../../src/engine/runtime/devices.js';
import { buildOciSpec } from '../../src/engine/runtime/oci-spec.js';
import { ociConfigValidator } from './helpers.js';
import { skipWhen } from '../helpers/skip.js';

const validate = await ociConfigValidator();

const user = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
const zero: OciDevice = { path: '/dev/myzero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0, access: 'r' };
const loop: OciDevice = { path: '/dev/disk0', type: 'b', major: 7, minor: 3, fileMode: 0o660, uid: 0, gid: 6, access: 'rw' };

test('dev_t split as glibc: small and large numbers', (t) => {
  t.deepEqual([devMajor(0x105), devMinor(0x105)], [1, 5]);
  // major 259, minor 300000: minor's low 8 bits in 0-7, its high bits from bit 20; major's low 12 bits in 8-19
  const dev = (300000 & 0xff) | ((259 & 0xfff) << 8) | ((300000 & ~0xff) << 12);
  t.deepEqual([devMajor(dev), devMinor(dev)], [259, 300000]);
});

test('linux.devices lists the nodes; their allow rules come after the defaults, then the extra rules', (t) => {
  const spec = buildOciSpec({ rootfs: '/r', args: ['true'], env: [], user, devices: [zero, loop], deviceRules: [{ type: 'c', major: 10, access: 'rwm' }, { type: 'a', access: 'r' }] });
  const linux = spec.linux as { devices: unknown[]; resources: { devices: { allow: boolean }[] } };
  t.deepEqual(linux.devices, [
    { path: '/dev/myzero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
    { path: '/dev/disk0', type: 'b', major: 7, minor: 3, fileMode: 0o660, uid: 0, gid: 6 },
  ]);
  const rules = linux.resources.devices;
  t.deepEqual(rules[0], { allow: false, access: 'rwm' });
  t.deepEqual(rules.slice(-4), [
    { allow: true, type: 'c', major: 1, minor: 5, access: 'r' },
    { allow: true, type: 'b', major: 7, minor: 3, access: 'rw' },
    { allow: true, type: 'c', major: 10, access: 'rwm' },
    { allow: true, type: 'a', access: 'r' },
  ]);
});

test('no devices: no linux.devices and the default rules only (unchanged configs)', (t) => {
  const plain = buildOciSpec({ rootfs: '/r', args: ['true'], env: [], user });
  const empty = buildOciSpec({ rootfs: '/r', args: ['true'], env: [], user, devices: [], deviceRules: [] });
  t.false('devices' in (plain.linux as object));
  t.deepEqual(empty, plain);
  t.deepEqual(deviceAllowRules([]), []);
});

skipWhen(!validate, '../shared absent')('the config with devices is valid against the runtime-spec schema', (t) => {
  const validate_ = validate!;
  const spec = buildOciSpec({ rootfs: '/r', args: ['true'], env: [], user, devices: [zero, loop], deviceRules: [{ type: 'b', minor: 1, access: 'm' }] });
  t.true(validate_(spec), JSON.stringify(validate_.errors));
});
