// Masked paths that depend on the host: the per-CPU thermal_throttle directories of sysfs (their
// counters let a container watch other workloads' power use, as /sys/devices/virtual/powercap would).
// containerd's default (and Kubernetes') masks the ones present; so does tsstack.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const CPUS = '/sys/devices/system/cpu';

/** `/sys/devices/system/cpu/cpuN/thermal_throttle` of every CPU that has one, sorted; none when unreadable. */
export function hostMaskedPaths(cpus = CPUS): string[] {
  let names: string[];
  try {
    names = readdirSync(cpus);
  } catch {
    return [];
  }
  return names.filter((n) => /^cpu\d+$/.test(n)).map((n) => join(cpus, n, 'thermal_throttle')).filter((p) => existsSync(p)).sort();
}
