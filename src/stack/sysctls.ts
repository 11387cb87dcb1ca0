// `sysctls:` of a service. Only keys the kernel keeps per namespace may be set, and only in a
// namespace that is the container's own: anything else changes the host's kernel for everyone
// (`kernel.core_pattern` runs a program as root on the host). Docker's list: the IPC namespace's
// kernel.msg*/shm*/sem and fs.mqueue.*, the network namespace's net.*.

import type { NamespaceMode, Ref, ServiceSpec, StackModel } from '../model/types.js';
import type { Ctx } from './normalize.js';

type Obj = Record<string, unknown>;

export const SYSCTLS_ALLOWED = 'only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* may be set per container';

const IPC_KEYS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/** Dotted words only: a `/`, `..` or empty part would name another file under /proc/sys. */
const NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Which namespace holds `key`: `net`, `ipc`, `global` (one value for the whole host) or `invalid` (not a sysctl name). Pure. */
export function sysctlNamespace(key: string): 'net' | 'ipc' | 'global' | 'invalid' {
  if (!NAME.test(key)) return 'invalid';
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'net';
  return 'global';
}

/** Namespace modes of a service (`host`, another's, absent = its own). */
export interface SysctlModes { network_mode?: string | Ref; ipc?: NamespaceMode }

/** Why `key` may not be set for a service with these modes (message + hint), or undefined. Pure. */
export function sysctlProblem(key: string, modes: SysctlModes): { message: string; hint: string } | undefined {
  const ns = sysctlNamespace(key);
  if (ns === 'invalid') return { message: `sysctls: ${JSON.stringify(key)} is not a sysctl name`, hint: 'write dotted names like net.core.somaxconn (no "/", no "..")' };
  if (ns === 'global') return { message: `sysctls: ${key} is not namespaced; ${SYSCTLS_ALLOWED}`, hint: 'set it on the host (sysctl -w) if the host should have it, or remove it' };
  if (ns === 'net' && modes.network_mode === 'host') {
    return { message: `sysctls: ${key} cannot be set with network_mode: host (it would change the host's network namespace)`, hint: 'remove it, or give the service a network of its own' };
  }
  if (ns === 'ipc' && modes.ipc === 'host') {
    return { message: `sysctls: ${key} cannot be set with ipc: host (it would change the host's IPC namespace)`, hint: 'remove it, or give the service an IPC namespace of its own' };
  }
  return undefined;
}

/** Where the entry for `key` was written: its key in the map form, its item in the list form. */
function entryPath(name: string, raw: unknown, key: string): (string | number)[] {
  const at = ['services', name, 'sysctls'];
  if (!Array.isArray(raw)) return [...at, key];
  const i = raw.findIndex((x) => String(x).split('=')[0] === key);
  return i < 0 ? at : [...at, i];
}

/** Refuses (with file and line) a sysctl the service may not set. */
export function checkServiceSysctls(ctx: Ctx, name: string, raw: Obj, s: ServiceSpec): void {
  for (const key of Object.keys(s.sysctls)) {
    const p = sysctlProblem(key, s);
    if (p) throw ctx.error(entryPath(name, raw.sysctls, key), p.message, p.hint);
  }
}

/**
 * `network_mode: service:X` / `ipc: service:X` share X's namespace: a sysctl there is X's, allowed as
 * Docker allows it for `container:` — unless X (followed along further `service:` links) is on the host's.
 */
export function checkSysctlPeers(ctx: Ctx, model: StackModel): void {
  const hostOf = (start: string, mode: 'network_mode' | 'ipc'): string | undefined => {
    const seen = new Set<string>();
    for (let n: string | undefined = start; n && !seen.has(n);) {
      seen.add(n);
      const v: string | Ref | undefined = model.services[n]?.[mode];
      if (v === 'host') return n;
      n = typeof v === 'object' && v.kind === 'service' ? v.name : undefined;
    }
    return undefined;
  };
  for (const [name, s] of Object.entries(model.services)) {
    for (const key of Object.keys(s.sysctls)) {
      const ns = sysctlNamespace(key);
      const mode = ns === 'net' ? 'network_mode' : ns === 'ipc' ? 'ipc' : undefined;
      const v = mode && s[mode];
      if (!mode || typeof v !== 'object' || v.kind !== 'service') continue;
      const host = hostOf(v.name, mode);
      if (host === undefined) continue;
      const what = ns === 'net' ? 'network' : 'IPC';
      throw ctx.error(['services', name, 'sysctls', key], `sysctls: ${key} cannot be set: service ${name} shares the ${what} namespace of service ${host}, which is the host's`, 'remove it from this service');
    }
  }
}
