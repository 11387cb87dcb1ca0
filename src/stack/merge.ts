// Merging of stack files (`-f a -f b`, `extends`, `include`) on the raw data,
// by the Compose Specification's rules: mappings merge key by key, scalars
// are replaced, sequences are appended; a few keys have their own rule (listed
// in RULES by path pattern). After merging, `enforceUnicity` removes
// duplicates that appending creates (same env var, same volume target, same
// port…): the first position is kept with the last value.

import { parseVolumeShort } from './volumes.js';
import { isOverride, isReset, OVERRIDE_KEY } from './yaml-read.js';

type Obj = Record<string, unknown>;
type Rule = (base: unknown, over: unknown, path: string[]) => unknown;

/** Sets a key safely even when it is `__proto__` (stack files are untrusted input). */
export function setKey(o: Obj, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Mapping form `{K: V}` → sequence form `["K=V"]` (`K` alone for null). */
export function toKeyValueList(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isObj(v)) return Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => (x === null || x === undefined ? k : `${k}=${scalarString(x)}`));
  if (v === undefined || v === null) return [];
  return [v];
}

function scalarString(x: unknown): string {
  return typeof x === 'string' ? x : typeof x === 'object' ? JSON.stringify(x) : String(x);
}

const toSequence: Rule = (b, o) => [...toKeyValueList(b), ...toKeyValueList(o)];
const replace: Rule = (_b, o) => o;

const extraHostsList = (v: unknown): unknown[] => {
  if (!isObj(v)) return toKeyValueList(v);
  const out: string[] = [];
  for (const [k, x] of Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) for (const ip of Array.isArray(x) ? x : [x]) out.push(`${k}=${scalarString(ip)}`);
  return out;
};
const mergeExtraHosts: Rule = (b, o) => [...extraHostsList(b), ...extraHostsList(o)];

const listToMap = (v: unknown, value: (k: string) => unknown): unknown =>
  Array.isArray(v) ? Object.fromEntries(v.map((k) => [String(k), value(String(k))])) : v;

const mergeDependsOn: Rule = (b, o, p) =>
  mergeDefault(
    listToMap(b, () => ({ condition: 'service_started', required: true })),
    listToMap(o, () => ({ condition: 'service_started', required: true })),
    p,
  );
const mergeNetworks: Rule = (b, o, p) => mergeDefault(listToMap(b, () => null), listToMap(o, () => null), p);
const mergeLogging: Rule = (b, o, p) => {
  if (isObj(b) && isObj(o) && b.driver !== undefined && o.driver !== undefined && b.driver !== o.driver) return o;
  return mergeMappings(b as Obj, o as Obj, p);
};
const mergeUlimits: Rule = (b, o) => (isObj(b) && isObj(o) ? { ...b, ...o } : o);
const mergeBuild: Rule = (b, o, p) => mergeDefault(typeof b === 'string' ? { context: b } : b, typeof o === 'string' ? { context: o } : o, p);
const stringToList = (v: unknown) => (typeof v === 'string' ? [v] : v);
const mergeStringOrList: Rule = (b, o) => [...((stringToList(b) as unknown[]) ?? []), ...((stringToList(o) as unknown[]) ?? [])];

const RULES: [string[], Rule][] = [
  [['services', '*', 'annotations'], toSequence],
  [['services', '*', 'build'], mergeBuild],
  [['services', '*', 'build', 'args'], toSequence],
  [['services', '*', 'build', 'labels'], toSequence],
  [['services', '*', 'build', 'additional_contexts'], toSequence],
  [['services', '*', 'build', 'extra_hosts'], mergeExtraHosts],
  [['services', '*', 'command'], replace],
  [['services', '*', 'entrypoint'], replace],
  [['services', '*', 'healthcheck', 'test'], replace],
  [['services', '*', 'depends_on'], mergeDependsOn],
  [['services', '*', 'deploy', 'labels'], toSequence],
  [['services', '*', 'dns'], mergeStringOrList],
  [['services', '*', 'dns_search'], mergeStringOrList],
  [['services', '*', 'tmpfs'], mergeStringOrList],
  [['services', '*', 'env_file'], mergeStringOrList],
  [['services', '*', 'label_file'], mergeStringOrList],
  [['services', '*', 'environment'], toSequence],
  [['services', '*', 'labels'], toSequence],
  [['services', '*', 'sysctls'], toSequence],
  [['services', '*', 'extra_hosts'], mergeExtraHosts],
  [['services', '*', 'logging'], mergeLogging],
  [['services', '*', 'networks'], mergeNetworks],
  [['services', '*', 'ulimits'], mergeUlimits],
  [['services', '*', 'models'], mergeNetworks],
  [['networks', '*', 'labels'], toSequence],
  [['volumes', '*', 'labels'], toSequence],
  [['secrets', '*', 'labels'], toSequence],
  [['configs', '*', 'labels'], toSequence],
  [['networks', '*', 'ipam', 'config'], mergeBySubnet],
  [['models', '*', 'runtime_flags'], replace],
];

/** IPAM pools merge entry by entry when they name the same subnet. */
function mergeBySubnet(b: unknown, o: unknown, p: string[]): unknown {
  if (!Array.isArray(b) || !Array.isArray(o)) return o;
  const out = [...b];
  for (const x of o) {
    const at = isObj(x) ? out.findIndex((y) => isObj(y) && y.subnet === x.subnet) : -1;
    if (at >= 0) out[at] = mergeDefault(out[at], x, [...p, String(at)]);
    else out.push(x);
  }
  return out;
}

function ruleFor(path: string[]): Rule | undefined {
  outer: for (const [pat, rule] of RULES) {
    if (pat.length !== path.length) continue;
    for (let i = 0; i < pat.length; i++) if (pat[i] !== '*' && pat[i] !== path[i]) continue outer;
    return rule;
  }
  return undefined;
}

function mergeMappings(b: Obj | undefined, o: Obj | undefined, path: string[]): Obj {
  const out: Obj = { ...(b ?? {}) };
  for (const [k, v] of Object.entries(o ?? {})) {
    if (isReset(v)) delete out[k];
    else setKey(out, k, Object.prototype.hasOwnProperty.call(out, k) ? mergeValue(out[k], v, [...path, k]) : v);
  }
  return out;
}

/** Merges `over` onto `base` at `path` (segments of the raw document). */
export function mergeValue(base: unknown, over: unknown, path: string[] = []): unknown {
  if (over === undefined) return base;
  // A marker only acts on the merge it is part of; on the next merge it is a plain value.
  if (isOverride(base)) base = base[OVERRIDE_KEY];
  if (base === undefined || isOverride(over) || isReset(base)) return over;
  const rule = ruleFor(path);
  if (rule) return rule(base, over, path);
  return mergeDefault(base, over, path);
}

/** The default rule: mappings by key, sequences appended, anything else replaced. */
function mergeDefault(base: unknown, over: unknown, path: string[]): unknown {
  if (over === undefined) return base;
  if (base === undefined) return over;
  if (isObj(base) && isObj(over)) return mergeMappings(base, over, path);
  if (Array.isArray(base) && Array.isArray(over)) return [...base, ...over];
  return over;
}

/** Merges whole documents, later ones winning, then removes duplicates. */
export function mergeDocuments(docs: unknown[]): Obj {
  let out: unknown = {};
  for (const d of docs) out = mergeValue(out, d ?? {}, []);
  out = stripMarkers(out) ?? {};
  enforceUnicity(out as Obj);
  return out as Obj;
}

/** Removes `!reset` values and unwraps `!override` ones once merging is done (in place). */
export function stripMarkers(v: unknown): unknown {
  if (isOverride(v)) return stripMarkers(v[OVERRIDE_KEY]);
  if (isReset(v)) return undefined;
  if (Array.isArray(v)) {
    if (v.some(isReset)) v = v.filter((x) => !isReset(x));
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) a[i] = stripMarkers(a[i]);
    return a;
  }
  if (isObj(v)) {
    for (const k of Object.keys(v)) {
      const x = v[k];
      if (isReset(x)) delete v[k];
      else if (typeof x === 'object' && x !== null) {
        const y = stripMarkers(x);
        if (y !== x) setKey(v, k, y);
      }
    }
    return v;
  }
  return v;
}

function dedupe(list: unknown[], key: (v: unknown) => string | undefined): unknown[] {
  const pos = new Map<string, number>();
  const out: unknown[] = [];
  for (const v of list) {
    const k = key(v);
    if (k === undefined) {
      out.push(v);
      continue;
    }
    const at = pos.get(k);
    if (at === undefined) {
      pos.set(k, out.length);
      out.push(v);
    } else out[at] = v;
  }
  return out;
}

const envKey = (v: unknown) => (typeof v === 'string' ? v.split('=')[0] : undefined);
const exact = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : `${typeof v}:${String(v)}`);
const volumeKey = (v: unknown) => {
  if (typeof v === 'string') {
    try {
      return parseVolumeShort(v).target;
    } catch {
      return undefined;
    }
  }
  return isObj(v) && typeof v.target === 'string' ? v.target : undefined;
};
const portKey = (v: unknown) => (isObj(v) ? JSON.stringify([v.host_ip ?? '', String(v.published ?? ''), String(v.target), v.protocol ?? 'tcp']) : exact(v));
/** Secrets and configs are keyed by where they appear in the container. */
const fileRefKey = (dir: string) => (v: unknown) => {
  const src = typeof v === 'string' ? v : isObj(v) ? String(v.source) : undefined;
  if (src === undefined) return undefined;
  const target = isObj(v) && v.target !== undefined ? String(v.target) : dir + src;
  return target.startsWith('/') ? target : dir + target;
};
const envFileKey = (v: unknown) => (typeof v === 'string' ? v : isObj(v) ? String(v.path) : undefined);
const deviceKey = (v: unknown) => (typeof v === 'string' ? (v.split(':')[1] ?? v) : isObj(v) ? String(v.target ?? v.source) : undefined);
// As compose-go: keyed by what precedes `=`, so `db` and `db:database` (two links to one service) both stay.
const linkKey = (v: unknown) => (typeof v === 'string' ? v.split('=')[0] : undefined);

const UNICITY: [string, (v: unknown) => string | undefined][] = [
  ['environment', envKey],
  ['labels', envKey],
  ['annotations', envKey],
  ['sysctls', envKey],
  ['volumes', volumeKey],
  ['ports', portKey],
  ['secrets', fileRefKey('/run/secrets/')],
  ['configs', fileRefKey('/')],
  ['env_file', envFileKey],
  ['label_file', exact],
  ['cap_add', exact],
  ['cap_drop', exact],
  ['dns', exact],
  ['dns_opt', exact],
  ['dns_search', exact],
  ['tmpfs', exact],
  ['expose', exact],
  ['extra_hosts', exact],
  ['external_links', exact],
  ['links', linkKey],
  ['volumes_from', exact],
  ['security_opt', exact],
  ['devices', deviceKey],
  ['group_add', exact],
  ['profiles', exact],
];

/** In place: removes duplicates from the list-valued keys of every service and object. */
export function enforceUnicity(doc: Obj): void {
  for (const section of ['networks', 'volumes', 'secrets', 'configs']) {
    const objs = doc[section];
    if (isObj(objs)) for (const o of Object.values(objs)) if (isObj(o) && Array.isArray(o.labels)) o.labels = dedupe(o.labels, envKey);
  }
  const services = doc.services;
  if (!isObj(services)) return;
  for (const svc of Object.values(services)) {
    if (!isObj(svc)) continue;
    for (const [key, fn] of UNICITY) {
      if (Array.isArray(svc[key])) svc[key] = dedupe(svc[key] as unknown[], fn);
    }
    const build = svc.build;
    if (isObj(build)) {
      for (const k of ['args', 'labels', 'additional_contexts']) if (Array.isArray(build[k])) build[k] = dedupe(build[k] as unknown[], envKey);
      for (const k of ['tags', 'platforms', 'platform', 'extra_hosts', 'cache_from', 'cache_to']) if (Array.isArray(build[k])) build[k] = dedupe(build[k] as unknown[], exact);
    }
    if (isObj(svc.networks)) {
      for (const a of Object.values(svc.networks)) {
        if (!isObj(a)) continue;
        for (const k of ['aliases', 'link_local_ips']) if (Array.isArray(a[k])) a[k] = dedupe(a[k] as unknown[], exact);
      }
    }
    const deploy = svc.deploy;
    if (isObj(deploy) && Array.isArray(deploy.labels)) deploy.labels = dedupe(deploy.labels, envKey);
  }
}
