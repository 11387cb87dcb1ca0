// The masked paths of a default container (pure parts): Docker's list with /proc/interrupts, and the
// host's per-CPU thermal_throttle directories where they exist; none of them for a privileged one.
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOciSpec, DEFAULT_MASKED_PATHS } from '../../src/engine/runtime/oci-spec.js';
import { hostMaskedPaths } from '../../src/engine/runtime/host-masks.js';

const user = { uid: 0, gid: 0, additionalGids: [], home: '/root' };

test('default masked paths are Docker\'s, /proc/interrupts included; extra host paths are added, not for privileged', (t) => {
  for (const p of ['/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'])
    t.true(DEFAULT_MASKED_PATHS.includes(p), p);
  const extra = ['/sys/devices/system/cpu/cpu0/thermal_throttle'];
  const spec = buildOciSpec({ rootfs: '/r', args: ['true'], env: [], user, extraMaskedPaths: extra }) as { linux: { maskedPaths: string[] } };
  t.deepEqual(spec.linux.maskedPaths, [...DEFAULT_MASKED_PATHS, ...extra]);
  const priv = buildOciSpec({ rootfs: '/r', args: ['true'], env: [], user, privileged: true, extraMaskedPaths: extra }) as { linux: { maskedPaths?: string[] } };
  t.is(priv.linux.maskedPaths, undefined);
});

test('hostMaskedPaths: the thermal_throttle dir of each CPU that has one, sorted; none when unreadable', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsstack-masks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['cpu1/thermal_throttle', 'cpu0/thermal_throttle', 'cpu2', 'cpufreq/thermal_throttle']) mkdirSync(join(dir, d), { recursive: true });
  t.deepEqual(hostMaskedPaths(dir), [join(dir, 'cpu0/thermal_throttle'), join(dir, 'cpu1/thermal_throttle')]);
  t.deepEqual(hostMaskedPaths(join(dir, 'absent')), []);
});
