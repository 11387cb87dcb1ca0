// Desired Swarm objects against what the Swarm has → a plan, per object and
// field. Pure. A service is unchanged when its hash label matches and every
// field tsstack sets reads the same on the Swarm (so a hand edit on the Swarm
// is seen and undone); the reasons list the fields in the stack's own words.

import { canonical } from './map.js';
import { HASH_LABEL, OBJECT_LABEL, type Action, type Desired, type Json, type JsonObject, type Live, type Plan } from './types.js';

type Flat = Record<string, string>;

const obj = (v: Json | undefined): JsonObject => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const arr = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);
const str = (v: Json | undefined): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : canonical(v));

/** Engine API ContainerSpec keys → the stack's names for them. */
const CONTAINER_KEYS: Record<string, string> = {
  Image: 'image', Command: 'entrypoint', Args: 'command', Hostname: 'hostname', Dir: 'working_dir', User: 'user', Groups: 'group_add',
  TTY: 'tty', OpenStdin: 'stdin_open', ReadOnly: 'read_only', Init: 'init', Mounts: 'volumes', StopSignal: 'stop_signal',
  StopGracePeriod: 'stop_grace_period', Hosts: 'extra_hosts', DNSConfig: 'dns', Sysctls: 'sysctls', CapabilityAdd: 'cap_add',
  CapabilityDrop: 'cap_drop', Ulimits: 'ulimits',
};

/**
 * The fields of a service spec tsstack sets, flattened to `stack name → value`.
 * Network ids (the Swarm's answer) become names; secret and config ids are dropped (their names carry the content hash).
 */
export function serviceFields(spec: JsonObject, networkNames: Record<string, string> = {}): Flat {
  const f: Flat = {};
  const tt = obj(spec.TaskTemplate);
  const cs = obj(tt.ContainerSpec);
  for (const [k, name] of Object.entries(CONTAINER_KEYS)) if (cs[k] !== undefined) f[name] = str(cs[k]);
  for (const e of arr(cs.Env)) {
    const s = String(e);
    const i = s.indexOf('=');
    f[`environment.${i < 0 ? s : s.slice(0, i)}`] = i < 0 ? '' : s.slice(i + 1);
  }
  for (const [k, v] of Object.entries(obj(cs.Labels))) f[`labels.${k}`] = str(v);
  for (const [k, v] of Object.entries(obj(spec.Labels))) if (k !== HASH_LABEL) f[`deploy.labels.${k}`] = str(v);
  const hc = obj(cs.Healthcheck);
  for (const [k, v] of Object.entries(hc)) f[`healthcheck.${k.toLowerCase()}`] = str(v);
  for (const s of arr(cs.Secrets)) f[`secrets.${str(obj(obj(s).File).Name)}`] = `${str(obj(s).SecretName)} ${canonical({ ...obj(obj(s).File) })}`;
  for (const c of arr(cs.Configs)) f[`configs.${str(obj(obj(c).File).Name)}`] = `${str(obj(c).ConfigName)} ${canonical({ ...obj(obj(c).File) })}`;
  const mode = obj(spec.Mode);
  if (mode.Global) f['deploy.mode'] = 'global';
  else f['deploy.replicas'] = str(obj(mode.Replicated).Replicas ?? 1);
  const res = obj(tt.Resources);
  for (const [kind, r] of [['limits', obj(res.Limits)], ['reservations', obj(res.Reservations)]] as const) {
    if (r.NanoCPUs !== undefined) f[`deploy.resources.${kind}.cpus`] = String(Number(r.NanoCPUs) / 1e9);
    if (r.MemoryBytes !== undefined) f[`deploy.resources.${kind}.memory`] = str(r.MemoryBytes);
    if (r.Pids !== undefined) f[`deploy.resources.${kind}.pids`] = str(r.Pids);
  }
  const rp = obj(tt.RestartPolicy);
  for (const [k, v] of Object.entries(rp)) f[`deploy.restart_policy.${snake(k)}`] = str(v);
  const pl = obj(tt.Placement);
  if (pl.Constraints) f['deploy.placement.constraints'] = str(pl.Constraints);
  if (pl.Preferences) f['deploy.placement.preferences'] = str(pl.Preferences);
  if (pl.MaxReplicas) f['deploy.placement.max_replicas_per_node'] = str(pl.MaxReplicas);
  for (const [cfg, name] of [[obj(spec.UpdateConfig), 'update_config'], [obj(spec.RollbackConfig), 'rollback_config']] as const) {
    for (const [k, v] of Object.entries(cfg)) f[`deploy.${name}.${snake(k)}`] = str(v);
  }
  const ep = obj(spec.EndpointSpec);
  f['deploy.endpoint_mode'] = str(ep.Mode ?? 'vip');
  if (arr(ep.Ports).length) f.ports = arr(ep.Ports).map((p) => { const o = obj(p); return `${str(o.PublishedPort)}:${str(o.TargetPort)}/${str(o.Protocol ?? 'tcp')} ${str(o.PublishMode ?? 'ingress')}`; }).sort().join(', ');
  for (const n of arr(tt.Networks)) {
    const o = obj(n);
    const target = str(o.Target);
    f[`networks.${networkNames[target] ?? target}`] = str([...arr(o.Aliases)].map(String).sort());
  }
  const ld = obj(tt.LogDriver);
  if (ld.Name) f.logging = str(ld);
  return f;
}

function snake(k: string): string {
  return k.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase().replace(/^max_replicas$/, 'max_replicas_per_node');
}

/** Fields that differ: `environment.DEBUG`, or `deploy.replicas 2→3` where both values are short and not secret. */
export function changedFields(live: Flat, desired: Flat): string[] {
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(live), ...Object.keys(desired)])].sort()) {
    const a = live[k], b = desired[k];
    if (a === b) continue;
    // environment values may be secrets: named, never shown
    const show = !k.startsWith('environment.') && a !== undefined && b !== undefined && a.length <= 24 && b.length <= 24;
    out.push(show ? `${k} ${a}→${b}` : k);
  }
  return out;
}

/** The plan that turns `live` into `desired`: creations first, then services (callers order them), removals last. */
export function diff(desired: Desired, live: Live): Plan {
  const actions: Action[] = [];
  const missing: string[] = [];
  const liveNet = new Map(live.networks.map((n) => [n.name, n]));
  const allNetNames = new Set(Object.values(live.networkNames));
  for (const n of desired.networks) {
    if (!n.create) {
      if (!allNetNames.has(n.name)) missing.push(`network ${n.name}`);
    } else if (!liveNet.has(n.name)) actions.push({ kind: 'create-network', name: n.name, body: n.create });
  }
  for (const [list, liveList, kind] of [[desired.secrets, live.secrets, 'secret'], [desired.configs, live.configs, 'config']] as const) {
    const have = new Set(liveList.map((x) => x.name));
    for (const o of list) {
      if (o.external) continue; // looked up by the executor: they are not the project's
      if (!have.has(o.name)) actions.push({ kind: kind === 'secret' ? 'create-secret' : 'create-config', name: o.name, key: o.key, body: o.create! });
    }
  }
  const unchanged: string[] = [];
  const liveSvc = new Map(live.services.map((s) => [s.name, s]));
  for (const s of desired.services) {
    const l = liveSvc.get(s.name);
    if (!l) {
      actions.push({ kind: 'create-service', service: s });
      continue;
    }
    const want = serviceFields(s.spec);
    const have = serviceFields(l.spec, live.networkNames);
    // only the fields tsstack sets: the Swarm fills in defaults of its own (Isolation, ForceUpdate, …)
    const changed = changedFields(pick(have, want), want);
    if (l.labels[HASH_LABEL] === s.hash && !changed.length) {
      unchanged.push(s.key);
      continue;
    }
    actions.push({ kind: 'update-service', service: s, id: l.id, version: l.version, changed: changed.length ? changed : ['spec'] });
  }
  const wanted = new Set(desired.services.map((s) => s.name));
  for (const l of live.services) if (!wanted.has(l.name)) actions.push({ kind: 'remove-service', name: l.name, id: l.id });
  for (const [list, liveList, kind] of [[desired.secrets, live.secrets, 'secret'], [desired.configs, live.configs, 'config']] as const) {
    const keep = new Set(list.map((o) => o.name));
    for (const l of liveList) {
      if (keep.has(l.name) || l.labels[OBJECT_LABEL] === undefined) continue;
      actions.push({ kind: kind === 'secret' ? 'remove-secret' : 'remove-config', name: l.name, id: l.id });
    }
  }
  const keepNets = new Set(desired.networks.map((n) => n.name));
  for (const l of live.networks) if (!keepNets.has(l.name)) actions.push({ kind: 'remove-network', name: l.name, id: l.id });
  return { actions, unchanged, missing };
}

/**
 * The live fields to compare: the ones the desired spec sets, plus the live ones
 * tsstack would set in some spec (environment, labels, secrets, …) that the desired spec dropped.
 */
function pick(have: Flat, want: Flat): Flat {
  const out: Flat = {};
  for (const [k, v] of Object.entries(have)) {
    if (k in want || /^(environment|labels|deploy\.labels|secrets|configs|networks)\./.test(k) || ['ports', 'volumes', 'command', 'entrypoint'].includes(k)) out[k] = v;
  }
  return out;
}

/** One line per action, for --plan and progress. */
export function describe(a: Action): string {
  switch (a.kind) {
    case 'create-network': return `create network ${a.name} (overlay)`;
    case 'create-secret': return `create secret ${a.name}`;
    case 'create-config': return `create config ${a.name}`;
    case 'create-service': return `create service ${a.service.key}`;
    case 'update-service': return `update service ${a.service.key} (changed: ${a.changed.join(', ')})`;
    case 'remove-service': return `remove service ${a.name}`;
    case 'remove-secret': return `remove secret ${a.name}`;
    case 'remove-config': return `remove config ${a.name}`;
    case 'remove-network': return `remove network ${a.name}`;
  }
}

/** Services in deployment order: every service after the ones it depends on (a cycle was refused by the loader). */
export function deployOrder(services: { key: string; dependsOn: string[] }[]): string[][] {
  const left = new Map(services.map((s) => [s.key, s.dependsOn.filter((d) => services.some((o) => o.key === d))]));
  const levels: string[][] = [];
  const done = new Set<string>();
  while (left.size) {
    const level = [...left].filter(([, deps]) => deps.every((d) => done.has(d))).map(([k]) => k).sort();
    if (!level.length) { levels.push([...left.keys()].sort()); break; }
    for (const k of level) { left.delete(k); done.add(k); }
    levels.push(level);
  }
  return levels;
}
