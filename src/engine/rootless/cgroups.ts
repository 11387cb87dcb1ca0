// Resource limits in rootless mode. The kernel lets an ordinary user's processes
// change cgroups only in a subtree delegated to them (systemd's user@UID.service
// with Delegate=yes on a pure cgroup v2 host). tsstack does not use one yet: in
// rootless mode the limits a stack asks for are dropped from the container's
// config, and every `up` says so once per project, naming what was not applied:
// a stack that asks for 64m of memory must never look as if it got it.

import { insideRootless } from './mode.js';

type Resources = Record<string, unknown>;

/** The keys of ContainerCreateSpec.resources that are cgroup limits (shm size and the OOM score are not). */
export const LIMIT_KEYS = ['memory', 'memorySwap', 'memoryReservation', 'cpus', 'cpuShares', 'cpuset', 'cpuQuota', 'cpuPeriod', 'pids'] as const;

/** The resources without cgroup limits, and the names of the limits taken out. Pure. */
export function withoutLimits<R extends Resources>(r: R): { kept: R; dropped: string[] } {
  const kept = { ...r };
  const dropped: string[] = [];
  for (const k of LIMIT_KEYS) {
    if (kept[k] === undefined) continue;
    delete kept[k];
    dropped.push(k);
  }
  return { kept, dropped };
}

const told = new Set<string>();

/**
 * What a container gets of `resources` here: all of it as root; in rootless mode its cgroup limits are
 * dropped and `warn` is told once per project for this command.
 */
export function applicableResources<R extends Resources>(resources: R, project: string | undefined, warn: (m: string) => void, rootless = insideRootless()): R {
  if (!rootless) return resources;
  const { kept, dropped } = withoutLimits(resources);
  const key = project ?? '';
  if (dropped.length && !told.has(key)) {
    told.add(key);
    warn(`${project ? `project ${project}: ` : ''}resource limits are not applied in rootless mode (asked for: ${dropped.join(', ')}): no cgroup v2 subtree is delegated to tsstack; run as root for them`);
  }
  return kept;
}
