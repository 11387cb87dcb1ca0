// Masked paths that depend on the host: the per-CPU thermal_throttle directories of sysfs (their
// counters let a container watch other workloads' power use, as /sys/devices/virtual/powercap would).
// containerd's default (and Kubernetes') masks the ones present; so does tsstack.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const CPUS = '/sys/devices/system/cpu';

/**
 * The host's list, looked up once per this long: every create of an `up` asked sysfs again (a readdir
 * and a stat per CPU, ~0.35 ms of the one JavaScript thread each here). A CPU brought online later
 * is seen by the creates after it, also in a long-lived `up --watch`.
 */
const REUSE_MS = 10_000;
let known: { at: number; paths: string[] } | undefined;

/** `/sys/devices/system/cpu/cpuN/thermal_throttle` of every CPU that has one, sorted; none when unreadable. */
export function hostMaskedPaths(cpus = CPUS): string[] {
  if (cpus === CPUS && known && Date.now() - known.at < REUSE_MS) return [...known.paths];
  let names: string[];
  try {
    names = readdirSync(cpus);
  } catch {
    return [];
  }
  const paths = names.filter((n) => /^cpu\d+$/.test(n)).map((n) => join(cpus, n, 'thermal_throttle')).filter((p) => existsSync(p)).sort();
  if (cpus === CPUS) known = { at: Date.now(), paths };
  return [...paths];
}
