// Pure readings of a service's model that both the loader (its checks) and
// reconcile (dependencies, the container config) need: which other services
// it refers to, and which security options apply.

import type { SecurityOpt, ServiceSpec } from './types.js';

/** Where a service names another service of the stack; each implies a dependency (started first). */
export interface ServiceRef {
  key: 'network_mode' | 'pid' | 'ipc' | 'links' | 'volumes_from';
  /** Entry index for the list keys. */
  index?: number;
  service: string;
}

/** The `service:` references of network_mode, pid, ipc, links and volumes_from, in that order. */
export function serviceRefs(s: Pick<ServiceSpec, 'network_mode' | 'pid' | 'ipc' | 'links' | 'volumes_from'>): ServiceRef[] {
  const out: ServiceRef[] = [];
  for (const key of ['network_mode', 'pid', 'ipc'] as const) {
    const v = s[key];
    if (typeof v === 'object' && v.kind === 'service') out.push({ key, service: v.name });
  }
  (s.links ?? []).forEach((l, index) => out.push({ key: 'links', index, service: l.service }));
  (s.volumes_from ?? []).forEach((v, index) => {
    if (v.kind === 'service') out.push({ key: 'volumes_from', index, service: v.name });
  });
  return out;
}

/** The security options applied (the last of a key wins, as in Docker; `seccomp=builtin` is the default profile). */
export function appliedSecurityOpts(entries: readonly SecurityOpt[] | undefined): { noNewPrivileges?: boolean; seccomp?: string } {
  const out: { noNewPrivileges?: boolean; seccomp?: string } = {};
  for (const e of entries ?? []) {
    if (e.key === 'no-new-privileges') out.noNewPrivileges = e.value;
    else if (e.key === 'seccomp') {
      if (e.value === 'builtin') delete out.seccomp;
      else out.seccomp = e.value;
    }
  }
  return out;
}
