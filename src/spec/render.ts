// Prints a StackModel like `docker compose config`: the normalized,
// interpolated stack in YAML or JSON, keys sorted, empty values left out,
// durations as Go-style strings (`1m30s`) and sizes as bytes.

import type { StackModel } from '../model/types.js';
import { formatDuration } from './units.js';

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

/** The printable form (plain data): what `tsstack config` shows. */
export function toConfigObject(model: StackModel): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  for (const [n, s] of Object.entries(model.services)) {
    const { extensions, networks, ...rest } = s;
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
  const obj = toConfigObject(model);
  if (format === 'json') return JSON.stringify(obj, null, 2) + '\n';
  return stringifyYaml(obj);
}

// A small YAML emitter (block style, strings quoted only when needed) so that
// printing does not load the full `yaml` package a second time for one call.
function stringifyYaml(v: unknown): string {
  const lines: string[] = [];
  emit(v, 0, lines);
  return lines.join('\n') + '\n';
}

const PLAIN = /^[A-Za-z_/.][A-Za-z0-9_./@+-]*( [A-Za-z0-9_./@+-]+)*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

function scalar(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s !== '' && PLAIN.test(s) && !RESERVED.test(s) && !/^[0-9.+-]/.test(s)) return s;
  return JSON.stringify(s);
}

function key(k: string): string {
  // Plain only when YAML reads it back as the same string (not a number, bool or null).
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k);
}

/** Appends `v` at `indent`; `first` replaces the indentation of the first line (a `- ` of the parent list). */
function emit(v: unknown, indent: number, lines: string[], first?: string): void {
  const pad = ' '.repeat(indent);
  let lead = first ?? pad;
  const next = () => {
    const l = lead;
    lead = pad;
    return l;
  };
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isNonEmpty(item)) emit(item, indent + 2, lines, next() + '- ');
      else lines.push(next() + '- ' + inline(item));
    }
    return;
  }
  if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      if (isNonEmpty(x)) {
        lines.push(`${next()}${key(k)}:`);
        emit(x, indent + 2, lines);
      } else lines.push(`${next()}${key(k)}: ${inline(x)}`);
    }
    return;
  }
  lines.push(next() + scalar(v));
}

function isNonEmpty(x: unknown): boolean {
  return typeof x === 'object' && x !== null && (Array.isArray(x) ? x.length > 0 : Object.keys(x).length > 0);
}

function inline(x: unknown): string {
  return typeof x === 'object' && x !== null ? (Array.isArray(x) ? '[]' : '{}') : scalar(x);
}
