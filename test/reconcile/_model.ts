// Literal builders for stack models in reconcile/cli tests. Keys the loader parses may be given as
// written in a stack file (`volumes_from: ['db:ro']`, `pid: 'service:db'`); they are parsed as it does.
import type { DeviceCgroupRule, Link, NamespaceMode, Ref, SecurityOpt, ServiceSpec, StackModel, TmpfsEntry, VolumesFromEntry } from '../../src/model/types.js';
import { parseLink, parseNetworkMode, parseRef, parseTmpfs } from '../../src/stack/short-forms.js';
import { parseVolumesFrom } from '../../src/stack/volumes-from.js';
import { parseCgroupRule } from '../../src/stack/devices.js';
import { parseSecurityOpt } from '../../src/stack/security-opt.js';

type Parsed = 'tmpfs' | 'links' | 'network_mode' | 'pid' | 'ipc' | 'security_opt' | 'volumes_from' | 'device_cgroup_rules';

/** A service as a test writes it: the parsed keys also as stack-file strings. */
export type SvcInput = Omit<Partial<ServiceSpec>, Parsed> & {
  tmpfs?: (string | TmpfsEntry)[];
  links?: (string | Link)[];
  network_mode?: string | Ref;
  pid?: string | NamespaceMode;
  ipc?: string | NamespaceMode;
  security_opt?: (string | SecurityOpt)[];
  volumes_from?: (string | VolumesFromEntry)[];
  device_cgroup_rules?: (string | DeviceCgroupRule)[];
};

const mode = (v: string | NamespaceMode): NamespaceMode => (typeof v === 'string' ? parseRef(v) ?? (v as NamespaceMode) : v);

function securityOpt(e: string): SecurityOpt {
  const p = parseSecurityOpt(e);
  if (p.kind !== 'ok') return { key: 'ignored', written: e };
  return p.key === 'seccomp' ? { key: 'seccomp', value: p.value, written: e } : { key: 'no-new-privileges', value: p.value, written: e };
}

function volumesFrom(e: string): VolumesFromEntry {
  const r = parseVolumesFrom(e);
  if ('error' in r) throw new Error(r.error);
  return { ...r, written: e };
}

/** The written forms of `p` parsed. */
export function parsed(p: SvcInput): Partial<ServiceSpec> {
  const { tmpfs, links, network_mode, pid, ipc, security_opt, volumes_from, device_cgroup_rules, ...rest } = p;
  const out: Partial<ServiceSpec> = rest;
  const each = <W, T>(l: (W | T)[] | undefined, f: (w: W) => T, isW: (x: W | T) => x is W) => l?.map((x) => (isW(x) ? f(x) : x));
  const str = (x: unknown): x is string => typeof x === 'string';
  if (tmpfs) out.tmpfs = each(tmpfs, parseTmpfs, str);
  if (links) out.links = each(links, parseLink, str);
  if (network_mode !== undefined) out.network_mode = typeof network_mode === 'string' ? parseNetworkMode(network_mode) : network_mode;
  if (pid !== undefined) out.pid = mode(pid);
  if (ipc !== undefined) out.ipc = mode(ipc);
  if (security_opt) out.security_opt = each(security_opt, securityOpt, str);
  if (volumes_from) out.volumes_from = each(volumes_from, volumesFrom, str);
  if (device_cgroup_rules) out.device_cgroup_rules = each(device_cgroup_rules, (r: string) => parseCgroupRule(r)!, str);
  return out;
}

export function svc(p: SvcInput = {}): ServiceSpec {
  return {
    environment: {}, labels: {}, ports: [], expose: [], volumes: [], tmpfs: [], depends_on: {}, networks: {},
    cap_add: [], cap_drop: [], ulimits: {}, sysctls: {}, extra_hosts: [], dns: [], dns_search: [], group_add: [],
    profiles: [], secrets: [], configs: [], extensions: {}, ...parsed(p),
  };
}

export function model(name: string, services: Record<string, SvcInput>, extra: Partial<StackModel> = {}): StackModel {
  const out: StackModel = {
    name, workingDir: '/srv/' + name, sourceFiles: ['/srv/' + name + '/stack.yaml'], services: {}, networks: {}, volumes: {},
    secrets: {}, configs: {}, allProfiles: [], extensions: {}, warnings: [], ...extra,
  };
  for (const [k, v] of Object.entries(services)) out.services[k] = svc(v);
  return out;
}
