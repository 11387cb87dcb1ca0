// Prints a StackModel like `docker compose config`: the normalized,
// interpolated stack in YAML or JSON, keys sorted, empty values left out,
// durations as Go-style strings (`1m30s`) and sizes as bytes.

import type { ServiceSpec, StackModel } from '../model/types.js';
import { formatCgroupRule, formatLink, formatMode, formatPortRange, formatTmpfs } from '../model/format.js';
import { stringify } from 'yaml';
import { formatDuration } from '../model/units.js';

const DURATION_KEYS = new Set(['stop_grace_period', 'interval', 'timeout', 'start_period', 'start_interval', 'delay', 'window']);

function clean(v: unknown, key?: string): unknown {
  if (typeof v === 'number' && key && DURATION_KEYS.has(key)) return formatDuration(v);
  if (Array.isArray(v)) return v.map((x) => clean(x));
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined) continue;
      if (Array.isArray(x) && x.length === 0) continue;
      if (typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === 0 && !KEEP_EMPTY.has(k)) continue;
      out[k] = clean(x, k);
    }
    return out;
  }
  return v;
}

/** Mapping values that mean something even when empty (a network attachment with no options). */
const KEEP_EMPTY = new Set<string>();

/** A service's parsed values in the short forms Compose prints (a published range as `"9000-9005"`, `service:db`). */
export function asWritten(s: ServiceSpec): Record<string, unknown> & Pick<ServiceSpec, 'extensions' | 'networks'> {
  const mode = (m: ServiceSpec['network_mode']) => (m === undefined ? undefined : formatMode(m));
  return {
    ...s,
    ports: s.ports.map((p) => (p.published ? { ...p, published: formatPortRange(p.published) } : p)),
    tmpfs: s.tmpfs.map(formatTmpfs),
    links: s.links?.map(formatLink),
    network_mode: mode(s.network_mode),
    pid: mode(s.pid),
    ipc: mode(s.ipc),
    security_opt: s.security_opt?.map((e) => e.written),
    volumes_from: s.volumes_from?.map((e) => e.written),
    device_cgroup_rules: s.device_cgroup_rules?.map(formatCgroupRule),
  };
}

/** The printable form (plain data): what `tsstack config` shows. */
export function toConfigObject(model: StackModel): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const [n, s] of Object.entries(model.services)) {
    const { extensions, networks, ...rest } = asWritten(s);
    const nets: Record<string, unknown> = {};
    for (const [k, a] of Object.entries(networks)) nets[k] = Object.keys(a).length ? clean(a) : null;
    const svc: Record<string, unknown> = { ...(clean(rest) as object), ...(Object.keys(nets).length ? { networks: nets } : {}), ...extensions };
    services[n] = Object.fromEntries(Object.keys(svc).sort().map((k) => [k, svc[k]]));
  }
  const top = (o: Record<string, unknown>) => (Object.keys(o).length ? clean(o) : undefined);
  // An environment-sourced value was resolved into `content` at load time: print where it comes from, not the value.
  const hideResolved = (o: StackModel['secrets']) => Object.fromEntries(Object.entries(o).map(([k, f]) => [k, f.environment !== undefined ? { ...f, content: undefined } : f]));
  const out: Record<string, unknown> = {
    name: model.name,
    services: Object.fromEntries(Object.keys(services).sort().map((k) => [k, services[k]])),
    networks: top(model.networks),
    volumes: top(model.volumes),
    secrets: top(hideResolved(model.secrets)),
    configs: top(hideResolved(model.configs)),
    ...model.extensions,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

export function renderStack(model: StackModel, format: 'yaml' | 'json'): string {
  const obj = escapeDollars(toConfigObject(model));
  if (format === 'json') return JSON.stringify(obj, null, 2) + '\n';
  // The yaml package's own quoting (only where YAML needs it); no folding of long lines.
  return stringify(obj, { lineWidth: 0, minContentWidth: 0, nullStr: 'null' });
}

/**
 * Every literal `$` of a printed value as `$$`, as Compose prints it: the output is a stack file,
 * and loading it again must not interpolate what was already interpolated (`echo $$HOME` stays
 * `echo $HOME` in the container, not the host's HOME). Keys are not interpolated, so they stay.
 */
export function escapeDollars(v: unknown): any {
  if (typeof v === 'string') return v.replaceAll('$', '$$$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeDollars(x)]));
  return v;
}
